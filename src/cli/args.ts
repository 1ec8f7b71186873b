// Command-line options of run-inference.js: parsed strictly (unknown flags are an error), validated,
// and documented in one table that --help prints.
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';
import { serveHelpSummary } from './serve-args.js';
import { workerHelpSummary } from './worker-cli.js';

export { UsageError };

export interface CliOptions {
  preset: string;
  model?: string;
  config?: string;
  init?: 'random';
  seed: number;
  prompt?: string;
  promptLen?: number;
  promptLens?: number[];
  maxNewTokens: number;
  batch: number;
  dtype?: 'f32' | 'f16';
  temperature: number;
  topK: number;
  topP: number;
  prefillChunk: number;
  json: boolean;
  dumpLogits?: string;
  strategy: 'fapool' | 'static';
  pool: number;
  cluster?: string;
  spawn?: string;
  threshold: number;
  tiers?: string;
  placement: string;
  deadlineMs: number;
  gpu: string;
  quiet: boolean;
  help: boolean;
}

const SPEC = {
  preset: { type: 'string', default: 'fortune-4l', help: 'model preset: fortune-4l (default: trained weights shipped in src/model/default/), tiny (random weights, fast on a CPU) or seed-4l (the paper\'s 4-layer 4096-wide model)' },
  model: { type: 'string', help: 'safetensors file, or a folder with model.safetensors (+ config.json, tokenizer.json)' },
  config: { type: 'string', help: 'Hugging Face style config.json (default: beside the weights, else the file\'s metadata, else --preset)' },
  init: { type: 'string', help: '"random": first write deterministic random weights for --preset (to --model, or the cache)' },
  seed: { type: 'string', default: '0', help: 'seed for --init random and for sampling (default 0)' },
  prompt: { type: 'string', help: 'prompt text (default: a short sentence)' },
  'prompt-len': { type: 'string', help: 'synthetic prompt of N tokens instead of --prompt' },
  'prompt-lens': { type: 'string', help: 'a batch of synthetic prompts with these lengths, e.g. 32768,512,128 (a mixed batch)' },
  'max-new-tokens': { type: 'string', default: '32', help: 'tokens to generate per sequence (default 32)' },
  batch: { type: 'string', default: '1', help: 'sequences decoding together; sequence i gets a shorter prefix of the prompt (different lengths)' },
  dtype: { type: 'string', help: 'f32 or f16 weights/activations (default f16 when the GPU has shader-f16 and is not a CPU adapter)' },
  temperature: { type: 'string', default: '0', help: 'sampling temperature; 0 = greedy (default)' },
  'top-k': { type: 'string', default: '0', help: 'top-k sampling (0 = off)' },
  'top-p': { type: 'string', default: '1', help: 'nucleus sampling mass (1 = off)' },
  'prefill-chunk': { type: 'string', default: '2048', help: 'prompt tokens per prefill launch (bounds activation memory)' },
  json: { type: 'boolean', default: false, help: 'print one JSON object (tokens, text, metrics) instead of text' },
  gpu: { type: 'string', default: 'auto', help: 'GPU of this (base) process: a PCI address or nvidia-smi index (needs the Mesa device-select layer on multi-GPU hosts), or auto' },
  strategy: { type: 'string', default: 'fapool', help: 'fapool (attention of long sequences on the pool) or static (TP × PP baseline over the same ranks)' },
  pool: { type: 'string', default: '0', help: 'attention-pool ranks inside this process (each its own GPUDevice on this adapter; tests, one-GPU runs)' },
  cluster: { type: 'string', help: 'JSON file listing pool worker endpoints ({"pool": [{"endpoint": "tcp://host:port"}]}), started with `node run-inference.js worker`' },
  spawn: { type: 'string', help: 'start one pool worker process per listed GPU (PCI addresses, comma-separated; "auto" = every GPU but the first; "none:N" = N workers on the default adapter)' },
  threshold: { type: 'string', default: '4096', help: 'sequences longer than this (tokens) have their attention on the pool (default 4096)' },
  tiers: { type: 'string', help: 'pool size by length, e.g. "4096:0,6144:8,8192:10,inf:32" (default: the paper\'s table, capped by the ranks that exist)' },
  placement: { type: 'string', default: 'tp=1,pp=1', help: 'static strategy: tensor × pipeline parallel degrees over in-process ranks, e.g. tp=2,pp=2' },
  deadline: { type: 'string', default: '30000', help: 'ms a pool rank may take to answer before its sequences fall back to the base' },
  'dump-logits': { type: 'string', help: 'write sequence 0\'s prompt ids, first-token logits and tokens to this JSON file (fidelity checks)' },
  quiet: { type: 'boolean', default: false, help: 'no progress bars' },
  help: { type: 'boolean', short: 'h', default: false, help: 'show this help' },
} as const;

export function helpText(): string {
  const lines = ['Usage: node run-inference.js [options]', '',
    'Runs the dense decoder on WebGPU and streams the generated text; prints TTFT, TPOT',
    '(generation time ÷ output tokens) and TPS ((input + output tokens) ÷ total time) at the end.',
    'With no options: fortune-4l, a small byte-level model trained on Debian\'s fortune files (shipped weights).',
    'Other presets, and --init random, use deterministic random weights (written once to the cache).', '', 'Options:'];
  for (const [name, s] of Object.entries(SPEC)) {
    const flag = `--${name}${s.type === 'string' ? ' VALUE' : ''}`;
    lines.push(`  ${flag.padEnd(24)} ${s.help}`);
  }
  lines.push('', workerHelpSummary(), serveHelpSummary(), '', 'Examples:',
    '  node run-inference.js',
    '  node run-inference.js --preset seed-4l --init random --prompt-len 4096 --max-new-tokens 64',
    '  node run-inference.js --model ./my-model --prompt "Hello" --temperature 0.8 --top-p 0.9',
    '  node run-inference.js --prompt-len 64 --batch 3 --pool 2 --threshold 32      # FA Pool, 2 in-process pool ranks',
    '  node run-inference.js --spawn auto --prompt-len 32768                         # a pool worker on every other GPU',
    '  node run-inference.js --strategy static --placement tp=2,pp=2 --prompt-len 64 # the static baseline');
  return lines.join('\n');
}

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

function num(name: string, v: string, lo: number, hi: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${name} must be a number in [${lo}, ${hi}], got '${v}'`);
  return n;
}

function strategy(v: string): 'fapool' | 'static' {
  if (v !== 'fapool' && v !== 'static') throw new UsageError(`--strategy must be fapool or static, got '${v}'`);
  return v;
}

export function parseCli(argv: string[]): CliOptions {
  const options = Object.fromEntries(Object.entries(SPEC).map(([k, s]) => [k, { type: s.type, ...('short' in s ? { short: s.short } : {}), ...('default' in s ? { default: s.default } : {}) }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/, '')}\nRun with --help to see the options.`);
  }
  const s = (k: string) => values[k] as string | undefined;
  if (s('init') !== undefined && s('init') !== 'random') throw new UsageError(`--init takes only 'random', got '${s('init')}'`);
  const dtype = s('dtype');
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, got '${dtype}'`);
  if ([s('prompt'), s('prompt-len'), s('prompt-lens')].filter((v) => v !== undefined).length > 1) throw new UsageError('give one of --prompt, --prompt-len, --prompt-lens');
  const promptLens = s('prompt-lens')?.split(',').map((v) => int('prompt-lens', v.trim(), 1)!);
  return {
    preset: s('preset')!, model: s('model'), config: s('config'), init: s('init') as 'random' | undefined,
    seed: int('seed', s('seed'), 0)!, prompt: s('prompt'), promptLen: int('prompt-len', s('prompt-len'), 1), promptLens,
    maxNewTokens: int('max-new-tokens', s('max-new-tokens'), 1)!, batch: int('batch', s('batch'), 1)!,
    dtype: dtype as CliOptions['dtype'],
    temperature: num('temperature', s('temperature')!, 0, 100), topK: int('top-k', s('top-k'), 0)!,
    topP: num('top-p', s('top-p')!, 0, 1), prefillChunk: int('prefill-chunk', s('prefill-chunk'), 1)!,
    json: Boolean(values.json), dumpLogits: s('dump-logits'),
    strategy: strategy(s('strategy')!), pool: int('pool', s('pool'), 0)!, cluster: s('cluster'), spawn: s('spawn'),
    gpu: s('gpu')!, threshold: int('threshold', s('threshold'), 1)!, tiers: s('tiers'), placement: s('placement')!, deadlineMs: int('deadline', s('deadline'), 1)!,
    quiet: Boolean(values.quiet), help: Boolean(values.help),
  };
}
