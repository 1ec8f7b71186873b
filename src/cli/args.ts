// Command-line options of run-inference.js: parsed strictly (unknown flags are an error), validated,
// and documented in one table that --help prints.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parsePciAddress } from '../gpu/select.js';
import { GEMM_PREFILL_DEFAULT, GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS } from '../kernels/gemm-sgm.js';
import { PRESETS } from '../model/config.js';
import { PREFILL_CHUNK_MIN, PREFILL_CHUNKS } from '../model/generation.js';
import { isRandomSource, randomWeightsFileKind } from '../model/model-files.js';
import { parsePlacement, placementStr, type StaticPlacement } from '../orchestrator/baselines/placement.js';
import { POOL_PREFILL_MODES, type PoolPrefill } from '../orchestrator/pool/policy.js';
import { cliRouting } from './routing-args.js';
import { optionLabel, parseOptions, refuseStrategyConflicts, UsageError } from './usage-error.js';
import { serveHelpSummary } from './serve-args.js';
import { workerHelpSummary } from './worker-cli.js';

export { UsageError };

export interface CliOptions {
  preset: string;
  model?: string;
  config?: string;
  init?: 'random';
  /** --init random --model PATH may replace a file that --init random wrote before. */
  force: boolean;
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
  /** Rows per prefill launch; undefined: the engine's default (Engine.prefillChunk). */
  prefillChunk?: number;
  json: boolean;
  /** --json as JSON lines: token events as they come, then the result. */
  stream: boolean;
  dumpLogits?: string;
  strategy: 'fapool' | 'static';
  pool: number;
  /** --pool-device shared: the in-process ranks use this process's GPUDevice. */
  poolSharedDevice: boolean;
  cluster?: string;
  spawn?: string;
  threshold: number;
  tiers?: string;
  placement: string;
  deadlineMs: number;
  /** The workers' connect handshake and the pool's rejoin probes (undefined: the engine's defaults). */
  connectTimeoutMs?: number;
  /** FA Pool: ms from a rank's failure to its first probe (undefined: the engine's default). */
  rejoinBackoffMs?: number;
  /** FA Pool: keep a base copy of pooled caches; decode in two ping-pong micro-batches. */
  kvReplica: boolean;
  pingPong: boolean;
  poolPrefill: PoolPrefill;
  gpu: string;
  quiet: boolean;
  help: boolean;
  /** --preset was given (not the default): the preflight says when the weights file's own config makes it unused. */
  presetGiven?: boolean;
  /** Options given that change nothing here (one line each on stderr). */
  warnings: string[];
}

const SPEC = {
  preset: { type: 'string', default: 'fortune-4l', help: 'model preset: fortune-4l (default: trained weights shipped in src/model/default/), tiny (random weights, fast on a CPU) or seed-4l (the paper\'s 4-layer 4096-wide model)' },
  model: { type: 'string', help: 'safetensors file, a sharded checkpoint\'s *.index.json, or a folder with model.safetensors or model.safetensors.index.json and its shards (+ config.json, tokenizer.json)' },
  config: { type: 'string', help: 'Hugging Face style config.json (default: config.json in the --model folder, or beside a --model file whose metadata holds no fapool config; else the weights file\'s metadata, else --preset); without --model, the shape of random weights (any preset)' },
  init: { type: 'string', help: '"random": deterministic random weights of --preset\'s (or --config\'s) shape, written to --model PATH, else to the cache (reused when it holds them already)' },
  force: { type: 'boolean', default: false, help: 'with --init random --model PATH: replace PATH when --init random wrote it before (other files are never overwritten)' },
  seed: { type: 'string', default: '0', help: 'seed of random weights (which cached file, what --init random writes), of the synthetic prompts (--prompt-len, --prompt-lens) and of sampling, 0..4294967295 (default 0)' },
  prompt: { type: 'string', help: 'prompt text (default: a short sentence)' },
  'prompt-len': { type: 'string', help: 'synthetic prompt of N tokens instead of --prompt' },
  'prompt-lens': { type: 'string', help: 'a batch of synthetic prompts with these lengths, e.g. 32768,512,128 (a mixed batch)' },
  'max-new-tokens': { type: 'string', default: '32', help: 'tokens to generate per sequence (default 32)' },
  batch: { type: 'string', default: '1', help: 'sequences decoding together; sequence i gets a shorter prefix of the prompt (different lengths)' },
  dtype: { type: 'string', help: 'f32 or f16 weights/activations (default f16 when the GPU has shader-f16 and is not a CPU adapter)' },
  temperature: { type: 'string', default: '0', help: 'sampling temperature; 0 = greedy (default)' },
  'top-k': { type: 'string', default: '0', help: 'top-k sampling (0 = off)' },
  'top-p': { type: 'string', default: '1', help: 'nucleus sampling mass (1 = off)' },
  'prefill-chunk': { type: 'string', help: `prompt tokens per prefill launch (bounds activation memory; default on one GPU: the largest of ${PREFILL_CHUNKS.join(', ')} whose widest activation takes at most half of its storage-binding limit — lower it on a GPU short of memory; with an attention pool or the static baseline: ${PREFILL_CHUNK_MIN})` },
  json: { type: 'boolean', default: false, help: 'print one JSON object (tokens, text, metrics) instead of text' },
  stream: { type: 'boolean', default: false, help: 'with --json: JSON lines, one {"type":"token","seq","step","token","text"} per token as it is generated, a {"type":"tail","seq","text"} where a text ends inside a UTF-8 character (its U+FFFD), then the result object' },
  gpu: { type: 'string', default: 'auto', help: 'GPU of this (base) process: a PCI address or nvidia-smi index (needs the Mesa device-select layer on multi-GPU hosts), or auto or none (the same: Dawn\'s default adapter, GPU 0 on a multi-GPU host; default auto)' },
  strategy: { type: 'string', default: 'fapool', help: 'fapool (attention of long sequences on the pool) or static (TP × PP baseline over the same ranks)' },
  pool: { type: 'string', default: '0', help: 'attention-pool ranks inside this process (each its own GPUDevice on this adapter unless --pool-device shared; tests, one-GPU runs; at most 64)' },
  'pool-device': { type: 'string', default: 'own', help: 'with --pool N: own (each in-process rank opens a GPUDevice of its own, the default) or shared (they use this process\'s: no switching between two devices\' contexts on one GPU, ≈ 0.35 ms a pooled layer on an H200; their KV counts as the base\'s memory, and a GPU error in their work ends the run instead of failing over; not offered by serve)' },
  cluster: { type: 'string', help: 'JSON file listing worker endpoints ({"pool": [{"endpoint": "tcp://host:port"}]}), started with `node run-inference.js worker`: pool ranks, or the static baseline\'s ranks 1..' },
  spawn: { type: 'string', help: 'start one worker process per listed GPU (PCI addresses, comma-separated; "auto" = every GPU but the first; "none:N" = N workers on the default adapter, N <= 64): pool ranks, or the static baseline\'s ranks 1..' },
  threshold: { type: 'string', default: '4096', help: 'sequences longer than this (tokens) have their attention on the pool (default: where --tiers\' 0-rank tiers end, else 4096)' },
  tiers: { type: 'string', help: 'pool size by length, e.g. "4096:0,6144:8,8192:10,inf:32" (default: the paper\'s table, capped by the ranks that exist)' },
  placement: { type: 'string', default: 'tp=1,pp=1', help: 'static strategy: tensor × pipeline parallel degrees, e.g. tp=2,pp=2; rank 0 runs here, ranks 1.. in the --spawn/--cluster workers (one per GPU), or without workers on more devices of this process\'s adapter' },
  deadline: { type: 'string', default: '30000', help: 'ms a pool rank may take to answer a request before its sequences fall back to the base (static: before a worker rank\'s silence fails the run; default 30000)' },
  'connect-timeout': { type: 'string', help: 'ms a worker may take to answer the connect handshake (ping, hello), and a failed pool rank a rejoin probe, whatever --deadline (default 3000 for --cluster pool workers and probes; 10000 for --spawn workers and --strategy static, whose start fails without them)' },
  'rejoin-backoff': { type: 'string', help: 'FA Pool: ms from a rank\'s failure to its first probe; each failed probe doubles the wait, up to 30000 or this value if larger (default 1000). A rank that answers takes sequences placed after that' },
  'kv-replica': { type: 'boolean', default: false, help: 'FA Pool: keep a copy of pooled sequences\' KV caches on the base too (faster fallback, no memory saved on the base)' },
  'pool-prefill': { type: 'string', default: 'local', help: 'FA Pool: where a prompt longer than --threshold is prefilled: local (on the base, its KV streamed to the pool as it is made; the base holds one such prompt\'s KV meanwhile) or pool (on the ranks, a round trip per chunk and layer; for a base that cannot hold one prompt\'s KV)' },
  'ping-pong': { type: 'boolean', default: false, help: 'FA Pool: decode in two micro-batches, the base computing one while the pool answers for the other (pays when the pool\'s round trip exceeds a micro-batch\'s layer)' },
  'dump-logits': { type: 'string', help: 'write sequence 0\'s prompt ids, first-token logits and tokens to this JSON file (fidelity checks; never an input of the run or a *.safetensors file)' },
  quiet: { type: 'boolean', default: false, help: 'no progress bars or load log on stderr (warnings and errors still)' },
  help: { type: 'boolean', short: 'h', default: false, help: 'show this help' },
} as const;

export function helpText(): string {
  const lines = ['Usage: node run-inference.js [options]', '',
    'Runs the dense decoder on WebGPU and streams the generated text; prints TTFT, TPOT',
    '(generation time ÷ output tokens) and TPS ((input + output tokens) ÷ total time) at the end.',
    'With no options: fortune-4l, a small byte-level model trained on Debian\'s fortune files (shipped weights).',
    'Other presets, and --init random, run deterministic random weights: without --model they are written to the cache',
    'once per preset (or --config shape), seed and dtype, and reused after; --init random --model PATH writes them to PATH.',
    '', 'Options:'];
  for (const [name, s] of Object.entries(SPEC)) {
    lines.push(`  ${optionLabel(name, s).padEnd(24)} ${s.help}`);
  }
  lines.push('', workerHelpSummary(), serveHelpSummary(), '', 'Examples:',
    '  node run-inference.js',
    '  node run-inference.js --preset seed-4l --init random --prompt-len 4096 --max-new-tokens 64',
    '  node run-inference.js --model ./my-model --prompt "Hello" --temperature 0.8 --top-p 0.9',
    '  node run-inference.js --prompt-len 64 --batch 3 --pool 2 --threshold 32      # FA Pool, 2 in-process pool ranks',
    '  node run-inference.js --preset seed-4l --init random --spawn auto --prompt-len 32768   # a pool worker on every other GPU',
    '  node run-inference.js --strategy static --placement tp=2,pp=2 --prompt-len 64 # the static baseline, in-process ranks',
    '  node run-inference.js --strategy static --placement tp=2 --spawn auto         # its rank 1 in a worker on GPU 1',
    '', 'Environment (kernel choices default to what measured best on an H200):',
    '  FAPOOL_CACHE          where random weights and other generated files are kept (default: the package\'s .cache)',
    '  FAPOOL_SPIN_MS        ms a process busy-polls its links after each message (default 3 on a hardware GPU, 0 on a CPU adapter)',
    '  FAPOOL_KEEPALIVE_MS   while a rank\'s reply is awaited, send it a one-way keep-alive every this many ms (default 0: none)',
    '  FAPOOL_ROBUSTNESS     off (default: Dawn\'s disable_robustness, as native WebGPU runtimes of vetted kernels use, with',
    '                        the tiles made for it; a tile whose unclamped loads past a ragged M or N would leave a',
    '                        buffer runs checked) or on (every array index clamped, every matrix load and store checked;',
    '                        on the H200 a 32K prompt\'s TTFT +16 %, a batch-8 decode step +3 %)',
    '  FAPOOL_DAWN_TOGGLES   more Dawn toggles, comma-separated, for diagnostics (e.g. disable_symbol_renaming: WGSL names kept',
    '                        in the SPIR-V; disable_robustness is already set unless FAPOOL_ROBUSTNESS=on); none by default',
    '  FAPOOL_PIPELINES      async (pipelines created concurrently at load, default) or sync',
    '  FAPOOL_READ_PACING    on (default: a batch generation reads a step\'s tokens shortly before the step is due, so Dawn',
    '                        does not tick the whole step and garbage-collection pauses stay out of the token stream) or off',
    '  FAPOOL_GEMM_PREFILL   prefill GEMM on tensor cores: tile-gen:<id>[,<id>] or direct (default: the unchecked 128×128',
    '                        tiles, the plain one prefetching with 16-byte staging, the gated one without register prefetch,',
    `                        ${GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS};`,
    '                        with FAPOOL_ROBUSTNESS=on the prefetching ones with 16-byte staging,',
    `                        ${GEMM_PREFILL_DEFAULT};`,
    '                        their checked twins where K % 32 != 0)',
    '  FAPOOL_TILE_FIXK      on (default: the generated tensor-core tiles take K as a pipeline constant, one pipeline per K)',
    '                        or off (K read at run time)',
    '  FAPOOL_TILE_STS       how the tensor-core tiles stage without bank conflicts, comma-separated tokens:',
    '                        alt (default: the 16-byte staging tiles with 8 or 16 chunks a row, BK 64 / 128, store each chunk\'s',
    '                        two 8-byte halves in an order alternating between lanes) or plain; rows (default: the 8-byte',
    '                        staging tiles of BK 32, the prefill\'s, pair rows 4 apart in a store phase) or seq;',
    '                        rows16 (default: the same for the 16-byte staging tiles of BK 32) or seq16;',
    '                        mask, sub or xor: how alt and rows16 compute a chunk\'s store offsets (the same values; what',
    '                        the GPU compiler proves of their alignment, so whether it merges the stores, differs);',
    '                        pad or nopad: whether the 16-byte staging rows start past their row pad (default: mask,pad',
    '                        on the rows16 tiles, sub,nopad on the others and with robust buffer access: FAPOOL_ROBUSTNESS=on,',
    '                        a browser; a token given applies to every tile)',
    '  FAPOOL_TILE_CS        the decode tiles\' epilogue scratch: tile (default: auto on the gated and 64 x 32 tiles, whole',
    '                        on the others), whole, auto (flushed in the fewest turns that fit one more workgroup a SM in',
    '                        the device\'s workgroup memory) or 1, 2 or 4 turns (on the tiles whose subgroups the count divides)',
    '  FAPOOL_TILE_DEBUG     measurement only, wrong products: xfix, wfix or xfix,wfix — the unchecked tiles\' x or weight',
    '                        loads read K-slice 0 every slice (L1 hits), to time them without that operand\'s memory traffic',
    '  FAPOOL_GEMM_SKINNY    decode rows 9-64 on the skinny tensor-core kernels: gen[:<id>,min=M,max=M] or array (unset:',
    '                        the decode tiles of FAPOOL_DECODE_TILES; set to any value: no decode tiles)',
    '  FAPOOL_DECODE_TILES   decode rows on the staged tensor-core tiles: split (default: 9-64 rows, K split over workgroups',
    '                        where a product has few tiles; down from 5 rows; O and the products of normed x stay on the',
    '                        GEMV up to 8, FAPOOL_GEMV_HALF), split:rows=N (every product from N rows), then optionally',
    '                        :gated=N, :plain=N, :narrow=N in that order (the gated products; the plain ones on 16-byte',
    '                        tiles, default 9; the narrow long-K ones such as down, default 5: from N rows; plain= and',
    '                        narrow= at most rows=), or',
    '                        nosplit (products of 8192+ columns only,',
    '                        one workgroup per tile); then :un8 (16-byte staging loads; the default but as said next), :u8 (the same',
    '                        with the next slice prefetched into registers: the default with FAPOOL_ROBUSTNESS=on, and',
    '                        for unsplit products of 33-64 rows while FAPOOL_TILE_FIXK is on), :u8p2 (two slices',
    '                        prefetched ahead, every 16-byte tile; the default for split tiles of up to 32 rows and',
    '                        gated ones of up to 8, where :un8 would be) or :u4',
    '                        (8-byte);',
    '                        then :ks2=gated|all|off (which unsplit products of 33-64 rows run on tiles whose K slice',
    '                        two subgroup groups share, where their tile has such a twin — the plain :u8p2 one has none;',
    '                        default gated: gate+up; :ks2 alone is all); then :bn32 (every plain product of 33-64 rows on',
    '                        64 x 32 tiles, twice the workgroups; 16-byte staging, not :u8p2) or :bn64 (none; by default',
    '                        those of 8192-12288 columns, e.g. QKV, 16-byte staging, not :u8p2); then :n128 (O and down',
    '                        of up to 16 rows on 16 x 128 tiles; with :u8p2 or :un8), :n128=all (every plain product of',
    '                        up to 16 rows, QKV and the LM head too: from 8 rows they leave the GEMV; a split QKV takes',
    '                        its RoPE in the split-K reduce) or :n128=off (the default); then :emu (on a device',
    '                        without subgroup matrices, their scalar-emulated twins: slow, for tests on CPU adapters)',
    '  FAPOOL_NORM_EPILOGUE  on (default: where a decode step\'s O or down projection is a split-K tile, its reduce also',
    '                        writes the next block\'s RMSNorm, and the embedding the first layer\'s, so those norms need',
    '                        no launch of their own) or off',
    '  FAPOOL_ROPE_EPILOGUE  on (default: where a decode step\'s QKV product is a GEMV or an unsplit decode tile, its',
    '                        epilogue rotates q and k and appends k, v to the cache: no RoPE launch) or off',
    '  FAPOOL_GEMV_CPT       columns per subgroup of the decode GEMV for 2-8 rows, optionally with vectors per trip: 2, 4u2',
    '                        (default: per row count and product, gemvSgDefault; 0: the per-column kernel; where the subgroup',
    '                        kernel cannot take a product, e.g. f32 or 8 rows × 8 columns, the per-column one runs)',
    '  FAPOOL_GEMV_HALF      0: the decode GEMV of 5-8 rows forms its products in f32 (default 1: where x is an RMSNorm output',
    '                        — QKV, gate/up, LM head — in f16 pairs, an f16 partial a trip summed in f32: faster, up to ~3x',
    '                        the rounding error of f32 products)',
    '  FAPOOL_GEMV_HALF_O    on (default): the O projection\'s GEMV of 5-8 rows in f16 pairs too (its x, the attention\'s',
    '                        output, is bounded by V; it then stays on the GEMV unless FAPOOL_DECODE_TILES names every',
    '                        product of its rows: rows=, :n128=all); off: f32 products (FAPOOL_GEMV_HALF=0 turns every',
    '                        f16-pair product off, this one with them)',
    '  FAPOOL_FA_PREFILL     flash-attention prefill: a generated tensor-core entry (e.g. 128_32_8_pf) or tiled',
    '  FAPOOL_DECODE_SPLITS  decode attention split count chosen per row (row, default: the same split whatever the batch) or per batch (rows)',
    '  FAPOOL_DECODE_SG      decode attention (subgroup kernel) launch: wgs=<workgroups per row, default 256>,',
    '                        sg=<subgroups per workgroup, default 512 threads\' worth>,pf=<0|1: prefetch, default 1>,',
    '                        fit=<0|1: register arrays sized to the launch, default 0>,',
    '                        splits=<1..64: most splits a row, default from wgs; short rows take fewer>,',
    '                        lpk=<lanes sharing a key: a power of 2 dividing head dim / 8, default the most>,',
    '                        u=<1..4: keys a lane group loads a step, default 2>',
    '  FAPOOL_DECODE_APPEND  where a decode step writes its new K/V into the cache: rope (in the RoPE launch, before the',
    '                        attention), after (after it; the attention reads them from the qkv rows) or auto (default:',
    '                        after where the subgroup kernel runs and a layer\'s K/V cache holds >= 2 GiB, else rope)',
    '  FAPOOL_DECODE_MERGE   how the subgroup decode kernel\'s split partials are merged: sg (default: subgroup reductions,',
    '                        and the append after the attention in the same launch) or plain (the split kernel\'s merge,',
    '                        then a copy launch for the append)',
    '  FAPOOL_DECODE_PAIR    on: two neighbouring KV cache groups (a cache cut past 2 GiB a layer, or sequences of very',
    '                        different lengths) take one decode-attention launch and one merge, same results; merge: an',
    '                        attention launch a group, one merge; off; auto (default: on with robust buffer access, merge',
    '                        without it, where the one-launch kernel ran slower on the H200)',
    '  FAPOOL_KV_GROUPS      fill (default: a KV cache past one storage binding a layer is cut into groups of as many slots as',
    '                        fit, e.g. 63 + 1) or even (as many groups, of equal slots, e.g. 32 + 32, where every slot has the',
    '                        same capacity); each group is one decode-attention launch a layer',
    '  FAPOOL_WG_PAD         measurement only: off (default) or N bytes (a multiple of 4): every kernel that uses no workgroup',
    '                        memory declares N bytes of it and stores one word there (does a change of the driver\'s',
    '                        shared-memory carveout between launches cost? kernels-bench/seam-probe.js)',
    '  FAPOOL_PIPESTATS_DIR  with the pipeline-statistics Vulkan layer on (kernels-bench/pipeline-stats): keep WGSL names in the',
    '                        SPIR-V so the layer can write each pipeline\'s registers and shared memory into this folder',
    '  FAPOOL_PARENT_PID     set by the package\'s own spawners (a benchmark\'s server, the soak\'s workers): the process stops',
    '                        (SIGTERM to itself) when that pid is no longer its parent, even one killed by SIGKILL',
    '', 'Exit status:',
    '  0    done',
    '  1    failed while running: unreadable or corrupt model files, non-finite weights or logits, a GPU or pool worker failure',
    '  2    the command cannot run as given: an unknown or invalid option, options that would be ignored, a preset, policy or',
    '       placement that does not exist, a size over the model\'s context or the device\'s limits, a file that is missing',
    '       or would be overwritten (all before any work is done)',
    '  130  interrupted (SIGINT); 143: terminated (SIGTERM)');
  return lines.join('\n');
}


// ---- values ------------------------------------------------------------------------------------------

/** Decimal digits only: no sign, no hex (0x10), no exponent, no empty string (Number('') is 0). The benchmark scripts' too. */
export function int(name: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got '${v}'`);
  }
  return n;
}

/** A plain decimal number (1, 0.9, .5, 1e-3) in [lo, hi] ((lo, hi] with loOpen); no hex, no empty string, no Infinity. */
export function num(name: string, v: string, lo: number, hi = Number.MAX_VALUE, loOpen = false): number {
  const n = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < lo || n > hi || (loOpen && n === lo)) {
    throw new UsageError(`--${name} must be a number ${hi === Number.MAX_VALUE ? (loOpen ? `> ${lo}` : `>= ${lo}`) : `in ${loOpen ? '(' : '['}${lo}, ${hi}]`}, got '${v}'`);
  }
  return n;
}

/** An optional positive integer option (undefined when not given). */
function optInt(name: string, v: string | undefined): number | undefined {
  return v === undefined ? undefined : int(name, v, 1);
}

function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got '${v}'`);
  return v as T;
}

/** Largest `--pool N` / `--spawn none:N`: each in-process rank is a GPUDevice of its own (host memory, start-up time). */
export const MAX_LOCAL_RANKS = 64;
/** The sampling seed is a u32 (the GPU's counter-based RNG); --init random takes the same value. */
const MAX_SEED = 0xffffffff;

/** --spawn: auto, none:N, or PCI addresses / nvidia-smi indices, comma-separated. */
function spawnList(v: string): string {
  if (v === 'auto') return v;
  if (v.startsWith('none')) {
    const m = /^none:(.*)$/.exec(v);
    if (!m) throw new UsageError(`--spawn ${v}: expected none:N (N workers on the default adapter)`);
    int('spawn none:N', m[1]!, 1, MAX_LOCAL_RANKS);
    return v;
  }
  const items = v.split(',').map((s) => s.trim());
  for (const item of items) {
    if (/^\d+$/.test(item)) continue; // an nvidia-smi index, resolved by the worker
    try { parsePciAddress(item); } catch (e) { throw new UsageError(`--spawn: ${(e as Error).message}`); }
  }
  if (new Set(items).size !== items.length) throw new UsageError(`--spawn ${v}: a GPU is listed twice`);
  return v;
}

/** Number of workers a valid --spawn value starts (auto: unknown here, counted as 0). */
export function spawnCount(v: string | undefined): number {
  if (!v || v === 'auto') return 0;
  return v.startsWith('none:') ? Number(v.slice(5)) : v.split(',').length;
}

// ---- files -------------------------------------------------------------------------------------------

/** A file this run will write: its folder must exist and be writable, and it must not be a folder. */
export function checkWritableFile(path: string, what: string): void {
  const dir = dirname(resolve(path));
  let st;
  try { st = statSync(dir); } catch { throw new UsageError(`${what} ${path}: folder ${dir} does not exist`); }
  if (!st.isDirectory()) throw new UsageError(`${what} ${path}: ${dir} is not a folder`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`${what} ${path} is a folder; give a file path`);
  try {
    accessSync(existsSync(path) ? path : dir, constants.W_OK);
  } catch {
    throw new UsageError(`${what} ${path}: ${existsSync(path) ? 'the file' : `folder ${dir}`} is not writable`);
  }
}

/** Two paths naming one file: the same inode where both exist, else the same resolved path. */
export function sameFile(a: string, b: string): boolean {
  if (existsSync(a) && existsSync(b)) {
    const x = statSync(a), y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  }
  return resolve(a) === resolve(b);
}

/** The files of a model folder the loader reads besides its weights (*.safetensors) and a shard index (*.index.json). */
const MODEL_COMPANIONS = new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json']);

/**
 * --dump-logits PATH is written after the run: it must not be one of the run's inputs (--model, its folder's files,
 * --config, --cluster) nor any weights file (a cached one, the shipped one), which the JSON would replace for good.
 */
function checkDumpTarget(path: string, inputs: { model?: string; config?: string; cluster?: string }): void {
  if (!existsSync(path)) return;
  const same = (p: string | undefined) => p !== undefined && sameFile(path, p);
  const named = (['model', 'config', 'cluster'] as const).find((k) => same(inputs[k]));
  const m = inputs.model;
  const modelDir = m === undefined || !existsSync(m) ? undefined : statSync(m).isDirectory() ? m : dirname(m);
  const inModelDir = modelDir !== undefined && same(resolve(modelDir, basename(path))) && (MODEL_COMPANIONS.has(basename(path)) || /\.index\.json$/.test(path));
  const why = named ? `it is the --${named} file`
    : /\.safetensors$/i.test(path) ? 'it is a weights file'
    : inModelDir ? `it is a file of the model (${modelDir})` : null;
  if (why) throw new UsageError(`--dump-logits ${path}: ${why}, which the dump would overwrite; choose another path`);
}

/** --init random --model PATH: the file may be replaced only when this tool wrote it, and only with --force. */
function checkInitTarget(path: string, force: boolean): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError('--init random writes a file: give --model a file path, not a folder');
  checkWritableFile(path, '--init random --model');
  const kind = randomWeightsFileKind(path);
  if (kind.kind === 'absent') return;
  if (kind.kind === 'foreign') {
    throw new UsageError(`--init random --model ${path}: the file exists and was not written by --init random (${kind.why}); ` +
      'it is never overwritten: choose another path');
  }
  if (!force) throw new UsageError(`--init random --model ${path}: the file exists (random weights written earlier); add --force to replace it, or drop --init to load it`);
}

// ---- the command line --------------------------------------------------------------------------------

export function parseCli(argv: string[]): CliOptions {
  const { values, given } = parseOptions(argv, SPEC, '', 'Run with --help to see the options.');
  const s = (k: string) => values[k] as string | undefined;
  const warnings: string[] = [];

  const preset = s('preset')!;
  if (!Object.prototype.hasOwnProperty.call(PRESETS, preset)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got '${preset}'`);
  if (s('init') !== undefined && s('init') !== 'random') throw new UsageError(`--init takes only 'random', got '${s('init')}'`);
  const init = s('init') as 'random' | undefined;
  const dtype = s('dtype') === undefined ? undefined : oneOf('dtype', s('dtype')!, ['f32', 'f16'] as const);
  if ([s('prompt'), s('prompt-len'), s('prompt-lens')].filter((v) => v !== undefined).length > 1) throw new UsageError('give one of --prompt, --prompt-len, --prompt-lens');
  const promptLens = s('prompt-lens')?.split(',').map((v) => int('prompt-lens', v.trim(), 1));
  const strat = oneOf('strategy', s('strategy')!, ['fapool', 'static'] as const);
  const poolPrefill = oneOf('pool-prefill', s('pool-prefill')!, POOL_PREFILL_MODES);
  const pool = int('pool', s('pool')!, 0, MAX_LOCAL_RANKS);
  const poolDevice = oneOf('pool-device', s('pool-device')!, ['own', 'shared'] as const);
  const spawn = s('spawn') === undefined ? undefined : spawnList(s('spawn')!);
  const cluster = s('cluster');
  const temperature = num('temperature', s('temperature')!, 0, 100);
  // Digits past 2⁵³ are a top-k over any vocabulary: off, as any top-k at or above the vocabulary is (it was refused as
  // "must be an integer >= 0").
  const topK = /^\d+$/.test(s('top-k')!) && Number(s('top-k')) > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : int('top-k', s('top-k')!, 0);
  const topP = num('top-p', s('top-p')!, 0, 1, true);
  const force = Boolean(values.force);

  // Options that would be ignored: an error, or a warning where ignoring them changes nothing.
  const hasPool = pool > 0 || cluster !== undefined || spawn !== undefined;
  refuseStrategyConflicts(given, strat, ['pool', 'pool-device', 'tiers', 'kv-replica', 'ping-pong', 'pool-prefill', 'rejoin-backoff']);
  if (strat === 'static') {
    if (given.has('threshold')) warnings.push('--threshold has no effect with --strategy static');
    let pl: StaticPlacement;
    try { pl = parsePlacement(s('placement')!); } catch (e) { throw new UsageError(`--placement: ${(e as Error).message}`); }
    const need = pl.tp * pl.pp - 1, workers = spawnCount(spawn);
    if (!spawn && !cluster && given.has('deadline')) warnings.push('--deadline has no effect with --strategy static in one process (it bounds a worker rank\'s reply)');
    if (!spawn && !cluster && given.has('connect-timeout')) warnings.push('--connect-timeout has no effect with --strategy static in one process (it bounds a worker\'s handshake)');
    if (need === 0 && (spawn || cluster)) throw new UsageError(`--placement ${placementStr(pl)} has one rank (this process): --spawn/--cluster workers would be unused`);
    if (spawn && !cluster && spawn !== 'auto' && workers < need) {
      throw new UsageError(`--placement ${placementStr(pl)} needs ${need} worker process${need === 1 ? '' : 'es'} besides this one; --spawn ${spawn} starts ${workers}`);
    }
  } else {
    if (!hasPool) for (const k of ['kv-replica', 'ping-pong', 'pool-prefill']) if (given.has(k)) throw new UsageError(`--${k} is an FA Pool option, but there is no pool: add --pool N, --cluster FILE or --spawn`);
    if (given.has('pool-device') && pool === 0) throw new UsageError('--pool-device chooses the device of --pool N\'s in-process ranks, but there are none: add --pool N (worker processes always have their own)');
    if (!hasPool) {
      if (given.has('tiers')) throw new UsageError('--tiers sizes the attention pool, but there is none: add --pool N, --cluster FILE or --spawn');
      for (const k of ['threshold', 'deadline', 'connect-timeout', 'rejoin-backoff']) if (given.has(k)) warnings.push(`--${k} has no effect without a pool (--pool, --cluster or --spawn)`);
    }
  }
  if (given.has('batch') && promptLens) throw new UsageError('--batch with --prompt-lens: the batch is the list of lengths (one sequence each); drop --batch');
  if (temperature === 0) for (const k of ['top-k', 'top-p']) if (given.has(k)) warnings.push(`--${k} has no effect at --temperature 0 (greedy)`);
  if (values.stream && !values.json) throw new UsageError('--stream writes JSON lines: add --json (the text output already streams)');
  if (force && init !== 'random') throw new UsageError('--force only applies to --init random --model PATH (replacing weights it wrote before)');

  const { threshold, warnings: routing } = cliRouting(given.has('threshold') ? int('threshold', s('threshold')!, 1) : undefined, s('tiers'));
  warnings.push(...routing);

  const model = s('model');
  if (init === 'random' && model !== undefined) checkInitTarget(model, force);
  const dumpLogits = s('dump-logits');
  if (dumpLogits !== undefined) {
    checkWritableFile(dumpLogits, '--dump-logits');
    checkDumpTarget(dumpLogits, { model, config: s('config'), cluster });
  }

  // --seed and --preset where nothing reads them (the preflight adds --preset under a --model whose own config rules).
  const randomWeights = isRandomSource({ model, preset, config: s('config'), init });
  const synthetic = s('prompt-len') !== undefined || promptLens !== undefined;
  if (given.has('seed') && temperature === 0 && !randomWeights && !synthetic) {
    warnings.push('--seed has no effect: it seeds sampling (--temperature 0 is greedy), random weights and synthetic prompts (--prompt-len, --prompt-lens), and this run has none');
  }
  if (given.has('preset') && s('config') !== undefined) warnings.push('--preset has no effect with --config: the model\'s shape is --config\'s');

  return {
    preset, model, config: s('config'), init, force,
    seed: int('seed', s('seed')!, 0, MAX_SEED), prompt: s('prompt'), promptLen: s('prompt-len') === undefined ? undefined : int('prompt-len', s('prompt-len')!, 1), promptLens,
    maxNewTokens: int('max-new-tokens', s('max-new-tokens')!, 1), batch: int('batch', s('batch')!, 1),
    dtype, temperature, topK, topP, prefillChunk: s('prefill-chunk') === undefined ? undefined : int('prefill-chunk', s('prefill-chunk')!, 1),
    json: Boolean(values.json), stream: Boolean(values.stream), dumpLogits,
    strategy: strat, pool, poolSharedDevice: poolDevice === 'shared', cluster, spawn,
    gpu: s('gpu')!, threshold, tiers: s('tiers'), placement: s('placement')!, deadlineMs: int('deadline', s('deadline')!, 1),
    connectTimeoutMs: optInt('connect-timeout', s('connect-timeout')), rejoinBackoffMs: optInt('rejoin-backoff', s('rejoin-backoff')),
    kvReplica: Boolean(values['kv-replica']), pingPong: Boolean(values['ping-pong']), poolPrefill,
    quiet: Boolean(values.quiet), help: Boolean(values.help), presetGiven: given.has('preset'), warnings,
  };
}
