// `node run-inference.js serve ...`: the server's options, parsed strictly like the main command's, and
// mapped to engine options the way engine-options.ts maps the main command's. No server code here, so the
// main --help can list the command without loading Fastify.
import type { EngineOptions } from '../orchestrator/create-engine.js';
import { cliRouting } from './routing-args.js';
import { optionLabel, parseOptions, refuseStrategyConflicts, UsageError } from './usage-error.js';

export interface ServeArgs {
  host: string;
  port: number;
  maxQueue: number;
  /** The id clients send as `model` (default: the model config's name). */
  modelName?: string;
  /** ms in-flight requests may take to finish after SIGINT/SIGTERM before they are cancelled. */
  shutdownGraceMs: number;
  engine: EngineOptions;
  quiet: boolean;
  help: boolean;
  /** Notes on options that take effect otherwise than they might seem (logged at start). */
  warnings: string[];
}

const SPEC = {
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)' },
  port: { type: 'string', default: '8000', help: 'TCP port (default 8000; 0 = any free port, printed when ready)' },
  'max-queue': { type: 'string', default: '64', help: 'prompts that may wait for the engine (each prompt of a request one); more are refused with 429, and a request of more prompts than this with 400 (default 64)' },
  'model-name': { type: 'string', help: 'the model id of /v1/models and of requests\' "model" (default: the model config\'s name)' },
  'max-batch': { type: 'string', default: '8', help: 'sequences decoding together (continuous batching: requests join and leave between steps; default 8)' },
  'max-context': { type: 'string', help: 'longest prompt + completion of a request, in tokens (default: the model\'s context; sets the KV cache per batch slot)' },
  'prefill-chunk': { type: 'string', default: '512', help: 'prompt tokens prefilled per step between decode steps (default 512; smaller keeps streams smoother)' },
  'shutdown-grace': { type: 'string', default: '10000', help: 'ms in-flight requests may take to finish after SIGINT/SIGTERM before they are cancelled' },
  preset: { type: 'string', default: 'fortune-4l', help: 'model preset: fortune-4l (shipped weights), tiny or seed-4l (random weights)' },
  model: { type: 'string', help: 'safetensors file, a sharded checkpoint\'s *.index.json, or a folder with model.safetensors or model.safetensors.index.json and its shards (+ config.json, tokenizer.json)' },
  config: { type: 'string', help: 'Hugging Face style config.json (default: config.json in the --model folder, or beside a --model file whose metadata holds no fapool config; else the weights file\'s metadata, else --preset)' },
  init: { type: 'string', help: '"random": deterministic random weights of --preset\'s (or --config\'s) shape, written to --model PATH, else to the cache (reused when it holds them already)' },
  seed: { type: 'string', default: '0', help: 'seed of random weights: which cached file, what --init random writes (default 0); not of sampling (a sampled request without "seed" draws a new random one)' },
  dtype: { type: 'string', help: 'f32 or f16 (default f16 when the GPU has shader-f16 and is not a CPU adapter)' },
  gpu: { type: 'string', default: 'auto', help: 'GPU of this (base) process: a PCI address or nvidia-smi index, or auto or none (the same: Dawn\'s default adapter; default auto)' },
  strategy: { type: 'string', default: 'fapool', help: 'fapool (attention of long sequences on the pool) or static (TP × PP baseline)' },
  placement: { type: 'string', default: 'tp=1,pp=1', help: 'static strategy: tensor × pipeline parallel degrees, e.g. tp=2,pp=2' },
  pool: { type: 'string', default: '0', help: 'attention-pool ranks inside this process (each its own GPUDevice on this adapter)' },
  cluster: { type: 'string', help: 'JSON file listing pool worker endpoints ({"pool": [{"endpoint": "tcp://host:port"}]})' },
  spawn: { type: 'string', help: 'start pool worker processes: PCI addresses (comma-separated), "auto" or "none:N"' },
  threshold: { type: 'string', help: 'sequences longer than this (tokens) have their attention on the pool (default: where --tiers\' 0-rank tiers end, else 4096)' },
  tiers: { type: 'string', help: 'pool size by length, e.g. "4096:0,6144:8,8192:10,inf:32" (default: the paper\'s table)' },
  deadline: { type: 'string', default: '30000', help: 'ms a pool rank may take to answer a request before its sequences fall back to the base (default 30000)' },
  'connect-timeout': { type: 'string', help: 'ms a worker may take to answer the connect handshake (ping, hello), and a failed pool rank a rejoin probe, whatever --deadline (default 3000; 10000 for --spawn workers and --strategy static, whose start fails without them)' },
  'rejoin-backoff': { type: 'string', help: 'ms from a pool rank\'s failure to its first probe; each failed probe doubles the wait, up to 30000 or this value if larger (default 1000). A rank that answers takes new requests again' },
  quiet: { type: 'boolean', default: false, help: 'no start-up or shutdown log on stderr (warnings and errors still: a failed request\'s, a pool worker\'s, the chat template\'s)' },
  help: { type: 'boolean', short: 'h', default: false, help: 'show this help' },
} as const;

export function serveHelpText(): string {
  const lines = [
    'Usage: node run-inference.js serve [options]',
    '       (installed as a package: fapool serve ...)',
    '',
    'An OpenAI-compatible HTTP server over one engine (continuous batching, FA Pool routing per request):',
    '  POST /v1/completions   prompt (text, token ids, or a list of either), max_tokens, temperature, top_p,',
    '                         top_k, seed, stop, stream (server-sent events ending with "data: [DONE]"),',
    '                         stream_options.include_usage, return_token_ids; each choice carries "metrics"',
    '                         (ttft_ms, tpot_ms, queue_ms, base_steps, pool_steps); a request with a seed gives',
    '                         the same text each time, whoever else is served (up to rounding between batch',
    '                         sizes); the body is UTF-8 JSON',
    '  POST /v1/chat/completions',
    '                         messages (roles system, user, assistant; developer as system; content a string or',
    '                         {"type": "text"} parts)',
    '                         made into the prompt by the model\'s chat template (tokenizer_config.json chat_template,',
    '                         or chat_template.jinja; 400 for a model without one, e.g. the byte-level presets) and',
    '                         encoded without adding a BOS (the template writes its own); max_tokens or',
    '                         max_completion_tokens (default: what the context has left) and the parameters above',
    '                         (n only 1); answers chat.completion (message) or chat.completion.chunk (delta) events;',
    '                         return_token_ids adds the prompt\'s prompt_token_ids; values that change nothing are',
    '                         taken (response_format text, tools [], tool_choice none or auto, top_logprobs 0), ones',
    '                         that would (JSON modes, tool calling, logprobs) are 400 unsupported_value',
    '  GET  /v1/models        the served model; GET /v1/models/ID: it, or 404 for another id',
    '  GET  /health           200 while serving, with the engine\'s load; with a pool, "pool": its members, how many',
    '                         are alive and which are down (failed: their requests run on the base until they rejoin);',
    '                         with --strategy static, "static": its ranks, and 503 "degraded" once one is dead',
    '  GET  /metrics          Prometheus text: requests by status, queue, tokens, TTFT/TPOT histograms, attention',
    '                         steps on base vs pool, FA Pool events (to-pool, fault, rebuild, rejoin, ...), pool members',
    '                         alive and down',
    'A full queue answers 429; a bad request 400 with {"error": {message, type, param, code}}. A client that',
    'disconnects cancels its request. Prints "listening on http://HOST:PORT" on stdout when ready; SIGINT or',
    'SIGTERM stop accepting, let in-flight requests finish (--shutdown-grace), then exit.',
    '',
    'Options:',
  ];
  for (const [name, s] of Object.entries(SPEC)) lines.push(`  ${optionLabel(name, s).padEnd(24)} ${s.help}`);
  lines.push('', 'Examples:',
    '  node run-inference.js serve --port 8000',
    '  node run-inference.js serve --preset seed-4l --init random --spawn auto --threshold 4096',
    '  curl -s localhost:8000/v1/completions -H "content-type: application/json" -d \'{"prompt": "Hello", "max_tokens": 32}\'',
    '  curl -s localhost:8000/v1/chat/completions -H "content-type: application/json" -d \'{"messages": [{"role": "user", "content": "Hello"}]}\'');
  return lines.join('\n');
}

/** One line for the main --help: how to start the server. */
export function serveHelpSummary(): string {
  return '  node run-inference.js serve --port 8000 [model and pool options]               OpenAI-compatible HTTP server (serve --help)';
}

function int(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`serve: --${name} must be an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

export function parseServeArgs(argv: string[]): ServeArgs {
  const { values, given } = parseOptions(argv, SPEC, 'serve: ', "Run 'node run-inference.js serve --help' to see the options.");
  const s = (k: string) => values[k] as string | undefined;
  if (s('init') !== undefined && s('init') !== 'random') throw new UsageError(`serve: --init takes only 'random', got '${s('init')}'`);
  const dtype = s('dtype');
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16') throw new UsageError(`serve: --dtype must be f32 or f16, got '${dtype}'`);
  const strategy = s('strategy');
  if (strategy !== 'fapool' && strategy !== 'static') throw new UsageError(`serve: --strategy must be fapool or static, got '${strategy}'`);
  // As the main command refuses them (createEngine would, after the address was probed, in its own words).
  refuseStrategyConflicts(given, strategy, ['pool', 'tiers', 'rejoin-backoff'], 'serve: ');
  const host = s('host')!;
  if (!host.trim()) throw new UsageError('serve: --host is empty');
  const modelName = s('model-name');
  if (modelName !== undefined && !modelName.trim()) throw new UsageError('serve: --model-name is empty');
  const routing = cliRouting(int('threshold', s('threshold'), 1), s('tiers'), 'serve: ');
  return {
    host, port: int('port', s('port'), 0, 65535)!, maxQueue: int('max-queue', s('max-queue'), 1)!, modelName,
    shutdownGraceMs: int('shutdown-grace', s('shutdown-grace'), 0)!,
    engine: {
      preset: s('preset'), model: s('model'), config: s('config'), init: s('init') as 'random' | undefined, seed: int('seed', s('seed'), 0),
      dtype: dtype as 'f32' | 'f16' | undefined, gpu: s('gpu'), strategy, placement: s('placement'),
      pool: {
        inProcess: int('pool', s('pool'), 0), cluster: s('cluster'), spawn: s('spawn'), deadlineMs: int('deadline', s('deadline'), 1),
        connectTimeoutMs: int('connect-timeout', s('connect-timeout'), 1), rejoinBackoffMs: int('rejoin-backoff', s('rejoin-backoff'), 1),
      },
      policy: { threshold: routing.threshold, tiers: s('tiers') },
      schedule: { maxBatch: int('max-batch', s('max-batch'), 1), maxContext: int('max-context', s('max-context'), 2), prefillChunk: int('prefill-chunk', s('prefill-chunk'), 1) },
    },
    quiet: Boolean(values.quiet), help: Boolean(values.help), warnings: routing.warnings,
  };
}
