// FA Pool benchmark: one device vs FA Pool (attention-pool ranks in this process, or a worker process) and the
// static TP × PP baseline (its other ranks in worker processes on the same GPU) on the same batches, same
// weights, greedy. Per configuration: a warm-up generation (same batch size, short prompts: compiles every
// pipeline), then the measured run (--repeat N: N of them on the same engine, the median's figures reported:
// runs of one build spread by ±0.15 ms a layer on the H200). Reports TTFT, TPOT, per-step time, the per-layer
// overhead ((step − single step) ÷ layers), base GPU memory, KV hand-off time, the per-layer breakdown, and
// whether the tokens equal the single device's (where they part: the sequences, the step, and how near a tie the
// single device's logits put the parting, --tie-checks of them). Prints a table; writes JSON.
//
// Configurations (--configs): single, pool (--pool N in-process ranks), pool-shared (the same on the base's own
// GPUDevice: no switching between two devices' contexts), pool-replica, pool-pingpong,
// pool-prefill-pool (long prompts prefilled on the ranks, the mode before KV streaming), pool-worker (one worker
// process, --spawn none:1), pool-worker-prefill-pool, static-tp2 (--spawn none:1), static-tp2pp2 (--spawn none:3).
//
//   node dist/kernels-bench/pool-bench.js --model /tmp/seed-4l-f16.safetensors --batches a,b --pool 1 --out pool.json
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { MAX_LOCAL_RANKS } from '../src/cli/args.js';
import { PRESETS } from '../src/model/config.js';
import { createEngine, type EngineOptions } from '../src/orchestrator/create-engine.js';
import type { GenerationEvent } from '../src/orchestrator/engine.js';
import { syntheticPrompt } from '../src/cli/main.js';
import { replyCounts } from '../src/orchestrator/transport/zmq-link.js';
import { MODEL_OPTIONS, UsageError, allRowsFailed, benchArgs, inputPath, int, nameListOf, num, oneOf, outputPath, runBench } from './bench-args.js';

const CONFIGS = ['single', 'pool', 'pool-shared', 'pool-replica', 'pool-pingpong', 'pool-prefill-pool', 'pool-worker', 'pool-worker-prefill-pool', 'static-tp2', 'static-tp2pp2'];

/** The issue's batches: (a) one long, two short; (b) attention-heavy; (c) all long. */
const BATCHES: Record<string, number[]> = {
  a: [32768, 1024, 256],
  b: [...Array<number>(8).fill(32768), ...Array<number>(56).fill(1024)],
  c: Array<number>(16).fill(32768),
};

interface Row {
  batch: string; config: string; prompts: number; inputTokens: number; outputTokens: number;
  ttftMs: number; tpotMs: number; stepMs: number; stepMsRuns: number[]; tps: number; baseGpuBytes: number; basePeakGpuBytes?: number; poolGpuBytes?: number;
  handoffMs: number; prefillIntoPoolMs: number; streamWaitMs: number; streamBytes: number; pooledSteps: number; perLayerOverheadMs?: number; sameTokens?: boolean;
  /** Where the greedy paths part from the single device's (sequence, first differing step, the two tokens) and, for those checked, the tie. */
  divergences?: Divergence[];
  layer?: Record<string, number>; split?: Record<string, number>; warmupMs: number; error?: string;
  /** Worker replies this process recognised by their bytes (matched) or decoded in full, over the configuration's runs. */
  replies?: { matched: number; decoded: number };
}

/**
 * Sequence `seq` first parts from the single device's path at output step `step`. `gap`: how far from a tie the
 * single device's own logits put it, fed the prompt and the common prefix (batch of one): (top − logit of each
 * token) ÷ max |logit|, the larger of the two (the model tests call a parting with gap < 5e-3 a near-tie).
 */
interface Divergence { seq: number; step: number; single: number; other: number; gap?: number }

/** Each sequence's first parting from the reference tokens. */
export function divergences(ref: number[][], got: number[][]): Divergence[] {
  const out: Divergence[] = [];
  ref.forEach((r, seq) => {
    const g = got[seq] ?? [];
    const step = r.findIndex((t, i) => g[i] !== t);
    if (step >= 0) out.push({ seq, step, single: r[step]!, other: g[step] ?? -1 });
  });
  return out;
}

/** Fills each divergence's gap (up to `limit` of them, earliest steps first) from one device's logits. */
async function measureTies(opts: EngineOptions, prompts: number[][], ref: number[][], ds: Divergence[], limit: number): Promise<void> {
  const todo = [...ds].sort((a, b) => a.step - b.step).slice(0, limit);
  if (!todo.length) return;
  const engine = await createEngine(opts);
  try {
    for (const d of todo) {
      const prompt = [...prompts[d.seq]!, ...ref[d.seq]!.slice(0, d.step)];
      const done = await engine.run({ prompts: [prompt], maxNewTokens: 1, stopAtEos: false, captureLogits: true });
      const L = done.result.firstLogits![0]!;
      let top = -Infinity, scale = 0;
      for (const x of L) { top = Math.max(top, x); scale = Math.max(scale, Math.abs(x)); }
      d.gap = Math.max(top - L[d.single]!, top - L[d.other]!) / scale;
    }
  } finally {
    await engine.dispose();
  }
}

type Done = Extract<GenerationEvent, { type: 'done' }>;

/**
 * A configuration's measured runs: a warm-up, then `repeat` generations of the batch on the same engine; the one
 * with the median decode time is returned whole, every run's decode time beside it.
 */
async function run(opts: EngineOptions, prompts: number[][], newTokens: number, cumulative: boolean, repeat: number, prefillChunk: number):
  Promise<{ done: Done; split: Record<string, number>; warmupMs: number; layers: number; decodeMsRuns: number[] }> {
  const engine = await createEngine(opts);
  try {
    const t0 = performance.now();
    // Warm-up: the same batch size with short prompts compiles the pipelines the measured run needs.
    await engine.run({ prompts: prompts.map((p) => p.slice(0, 64)), maxNewTokens: 4, stopAtEos: false });
    const warmupMs = performance.now() - t0;
    const runs: { done: Done; split: Record<string, number> }[] = [];
    for (let i = 0; i < repeat; i++) {
      // The pool's counters run across generations (the static baseline's restart at each).
      const before = cumulative ? { ...(engine.report().split ?? {}) } : {};
      // The pool's GPU memory while the batch decodes (read once, at the second step: its shards are freed at the end).
      let poolGpuBytes: number | undefined;
      const done = await engine.run({ prompts, maxNewTokens: newTokens, prefillChunk, stopAtEos: false }, (e) => {
        if (e.type === 'token' && e.seq === 0 && e.step === 1) poolGpuBytes = engine.report().split?.poolGpuBytes;
      });
      const split = Object.fromEntries(Object.entries(done.placement.split ?? {}).map(([k, x]) => [k, x - (before[k] ?? 0)]));
      if (poolGpuBytes !== undefined) split.poolGpuBytes = poolGpuBytes; else delete split.poolGpuBytes;
      runs.push({ done, split });
    }
    const median = [...runs].sort((a, b) => a.done.result.decodeMs - b.done.result.decodeMs)[(runs.length - 1) >> 1]!;
    return { ...median, warmupMs, layers: engine.config.nLayers, decodeMsRuns: runs.map((r) => r.done.result.decodeMs) };
  } finally {
    await engine.dispose();
  }
}

/**
 * The host a run measured: the hop's legs depend on how fast a sleeping thread wakes, which differs between the
 * lent machines' runtimes (a gVisor sandbox reports kernel 4.4.0; a Firecracker microVM its own kernel).
 */
function hostFacts(): { kernel: string; cpus: number; cpu: string; hypervisor: boolean } {
  let info = '';
  try { info = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux */ }
  return { kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', hypervisor: /^flags\s*:.*\bhypervisor\b/m.test(info) };
}

async function main(): Promise<number | undefined> {
  const { values: v } = benchArgs({
    script: 'pool-bench.js',
    about: `FA Pool benchmark: one device against FA Pool (pool ranks in this process or a worker process) and the static
TP x PP baseline on the same batches, weights and greedy tokens. Per configuration a warm-up, then --repeat measured
runs (the median's figures): TTFT, TPOT, step time, per-layer overhead against the single device, GPU memory, KV
hand-off, and whether the tokens equal the single device's. Prints a table; --out writes JSON after every row.
Configurations: ${CONFIGS.join(', ')}. Batches: ${Object.entries(BATCHES).map(([k, l]) => `${k} (${l.length} prompts)`).join(', ')}.`,
    examples: ['node dist/kernels-bench/pool-bench.js --preset tiny --dtype f32 --batches a --scale 256 --new-tokens 4 --configs single,pool   # any machine',
      'node dist/kernels-bench/pool-bench.js --model /tmp/seed-4l-f16.safetensors --batches a,b --pool 1 --out pool.json'],
  }, {
    model: MODEL_OPTIONS.model, preset: MODEL_OPTIONS.preset, dtype: MODEL_OPTIONS.dtype,
    batches: { type: 'string', default: 'a', help: `comma-separated: ${Object.keys(BATCHES).join(', ')}` },
    pool: { type: 'string', default: '1', help: 'in-process pool ranks of the pool* configurations' },
    threshold: { type: 'string', default: '4096', help: 'prompt length from which a sequence goes to the pool (divided by --scale)' },
    'new-tokens': { type: 'string', default: '64', help: 'tokens generated per sequence, at least 2 (one decode step)' },
    'prefill-chunk': { type: 'string', default: '2048', help: 'prompt rows per prefill launch, for every configuration' },
    scale: { type: 'string', default: '1', help: 'divide every prompt length and the threshold by this (smoke runs)' },
    configs: { type: 'string', default: 'single,pool,pool-replica,pool-pingpong', help: 'comma-separated configurations (the list above)' },
    out: { type: 'string', help: 'write the rows as JSON (after every row)' },
    'tie-checks': { type: 'string', default: '4', help: 'where tokens part from the single device: how many partings to check for a near-tie' },
    repeat: { type: 'string', default: '1', help: 'measured runs per configuration (the median reported)' },
  });
  // Checked before any engine starts: a bad value once failed every configuration, each a FAILED row, with exit 0.
  const newTokens = int('new-tokens', v['new-tokens'], 2), scale = num('scale', v.scale, 0, Number.MAX_VALUE, true);
  // One prefill chunk for every configuration (engines of different strategies default to different ones).
  const repeat = int('repeat', v.repeat), chunk = int('prefill-chunk', v['prefill-chunk']), tieChecks = int('tie-checks', v['tie-checks'], 0);
  const threshold = int('threshold', v.threshold), pool = int('pool', v.pool, 1, MAX_LOCAL_RANKS);
  if (Math.round(threshold / scale) < 1) throw new UsageError(`--threshold ${threshold} / --scale ${scale} rounds to a threshold of 0`);
  const batchNames = nameListOf('batches', v.batches, Object.keys(BATCHES)), configs = nameListOf('configs', v.configs, CONFIGS);
  oneOf('preset', v.preset, Object.keys(PRESETS));
  const dtype = oneOf('dtype', v.dtype, ['f32', 'f16'] as const);
  if (v.model !== undefined) inputPath('model', v.model, { folder: true });
  if (v.out !== undefined) outputPath('out', v.out, { model: v.model });
  const base: EngineOptions = {
    model: v.model, preset: v.preset, init: v.model ? undefined : 'random', dtype,
  };
  const policy = (ranks: number) => ({ threshold: Math.round(threshold / scale), tiers: `${Math.round(threshold / scale)}:0,inf:${ranks}` });
  /** Engine options and label of a configuration. */
  const configOf = (config: string): { opts: EngineOptions; label: string } => {
    const pooled = (where: NonNullable<EngineOptions['pool']>, ranks: number, what: string) =>
      ({ opts: { ...base, policy: policy(ranks), pool: where }, label: `FA Pool (${what})` });
    switch (config) {
      // No policy: a run without pool ranks keeps every sequence on the base (a table of 0-rank tiers past the
      // threshold is refused since session 32, which left this configuration failing in sessions 33–34).
      case 'single': return { opts: base, label: 'single device' };
      case 'pool': return pooled({ inProcess: pool }, pool, `${pool} in-process rank`);
      case 'pool-shared': return pooled({ inProcess: pool, sharedDevice: true }, pool, `${pool} in-process rank, base device`);
      case 'pool-replica': return pooled({ inProcess: pool, replica: true }, pool, `${pool} in-process rank, base replica`);
      case 'pool-pingpong': return pooled({ inProcess: pool, pingPong: true }, pool, `${pool} in-process rank, ping-pong`);
      case 'pool-prefill-pool': return pooled({ inProcess: pool, prefill: 'pool' }, pool, `${pool} in-process rank, prefill on the pool`);
      case 'pool-worker-prefill-pool': return pooled({ spawn: 'none:1', prefill: 'pool' }, 1, '1 worker process, prefill on the pool');
      case 'pool-worker': return pooled({ spawn: 'none:1' }, 1, '1 worker process');
      case 'static-tp2': return { opts: { ...base, strategy: 'static', placement: 'tp=2', pool: { spawn: 'none:1' } }, label: 'static tp=2 (1 worker process)' };
      case 'static-tp2pp2': return { opts: { ...base, strategy: 'static', placement: 'tp=2,pp=2', pool: { spawn: 'none:3' } }, label: 'static tp=2,pp=2 (3 worker processes)' };
      default: throw new Error(`unknown configuration '${config}' (single, pool, pool-shared, pool-replica, pool-pingpong, pool-prefill-pool, pool-worker, pool-worker-prefill-pool, static-tp2, static-tp2pp2)`);
    }
  };
  const rows: Row[] = [];
  // Written after every row: a run cut short by its time limit still leaves what it measured.
  const host = hostFacts();
  console.log(`host: kernel ${host.kernel}, ${host.cpus} CPUs (${host.cpu})${host.hypervisor ? ', under a hypervisor' : ''}`);
  const save = (r: Row[]) => { if (v.out) writeFileSync(String(v.out), JSON.stringify({ created: new Date().toISOString(), args: process.argv.slice(2), host, rows: r }, null, 1)); };
  for (const name of batchNames) {
    const lens = BATCHES[name]?.map((n) => Math.max(1, Math.round(n / scale)));
    if (!lens) throw new Error(`unknown batch '${name}' (a, b, c)`);
    const prompts = lens.map((n, i) => syntheticPrompt(n, 256, 7 + i));
    let single: Row | null = null, singleTokens: number[][] | null = null;
    for (const config of configs) {
      const { opts, label } = configOf(config);
      try {
        const before = { ...replyCounts };
        const { done, split, warmupMs, layers, decodeMsRuns } = await run(opts, prompts, newTokens, !config.startsWith('static'), repeat, chunk);
        const replies = { matched: replyCounts.matched - before.matched, decoded: replyCounts.decoded - before.decoded };
        const r = done.result;
        const steps = Math.max(1, r.outputTokens / prompts.length - 1);
        const stepMsRuns = decodeMsRuns.map((ms) => ms / steps);
        const row: Row = {
          batch: name, config: label, prompts: prompts.length, inputTokens: r.inputTokens, outputTokens: r.outputTokens,
          ttftMs: r.prefillMs, tpotMs: r.tpotMs, stepMs: r.decodeMs / steps, stepMsRuns, tps: r.tps, baseGpuBytes: r.gpuBytes, basePeakGpuBytes: r.gpuPeakBytes, poolGpuBytes: split.poolGpuBytes,
          handoffMs: split.migrateMs ?? 0, prefillIntoPoolMs: split.prefillIntoPoolMs ?? 0,
          streamWaitMs: split.prefillStreamWaitMs ?? 0, streamBytes: split.prefillStreamBytes ?? 0, pooledSteps: split.pooledSteps ?? 0, warmupMs,
          layer: Object.fromEntries(Object.entries(split).filter(([k]) => k.startsWith('layer.')).map(([k, x]) => [k.slice(6), x])),
          split, replies,
        };
        if (config === 'single') { single = row; singleTokens = r.tokens; }
        else if (single && singleTokens) {
          // Decode-step time without the KV hand-off, against the single device's.
          const pooledStep = (r.decodeMs - row.handoffMs) / steps;
          row.perLayerOverheadMs = (pooledStep - single.stepMs) / layers;
          row.sameTokens = JSON.stringify(r.tokens) === JSON.stringify(singleTokens);
          if (!row.sameTokens) row.divergences = divergences(singleTokens, r.tokens);
        }
        rows.push(row);
        save(rows);
        console.log(`${name} ${label.padEnd(34)} TTFT ${row.ttftMs.toFixed(0).padStart(7)} ms  TPOT ${row.tpotMs.toFixed(2).padStart(7)} ms  step ${row.stepMs.toFixed(2).padStart(7)} ms` +
          (stepMsRuns.length > 1 ? ` (median of ${stepMsRuns.map((x) => x.toFixed(2)).join(' / ')})` : '') +
          `  base mem ${(row.baseGpuBytes / 2 ** 30).toFixed(2)} GiB${row.basePeakGpuBytes !== undefined ? ` (peak ${(row.basePeakGpuBytes / 2 ** 30).toFixed(2)})` : ''}${row.poolGpuBytes !== undefined ? `  pool mem ${(row.poolGpuBytes / 2 ** 30).toFixed(2)} GiB` : ''}  migration ${row.handoffMs.toFixed(0)} ms  prefill into pool ${row.prefillIntoPoolMs.toFixed(0)} ms` +
          (row.streamBytes ? `  KV streamed ${(row.streamBytes / 2 ** 30).toFixed(2)} GiB (waited ${row.streamWaitMs.toFixed(0)} ms)` : '') +
          (row.perLayerOverheadMs !== undefined ? `  per-layer overhead ${row.perLayerOverheadMs.toFixed(3)} ms  tokens ${row.sameTokens ? 'same' : 'DIFFER'}` : ''));
        if (split.allReduces) {
          console.log(`   all-reduces ${split.allReduces} (prefill and decode): rank write ${(split.rankWriteMs ?? 0).toFixed(0)}, rank run ${(split.rankRunMs ?? 0).toFixed(0)}, transport ${(split.transportMs ?? 0).toFixed(0)} ms` +
            (row.perLayerOverheadMs !== undefined ? `; per decode all-reduce (2 a layer) ${(row.perLayerOverheadMs / 2).toFixed(3)} ms` : ''));
        }
        if (row.divergences?.length) {
          // Parted paths: a near-tie (float rounding of a different but valid summation order) or a fault? Ask the single device's logits.
          try {
            await measureTies(configOf('single').opts, prompts, singleTokens!, row.divergences, tieChecks);
          } catch (e) { console.log(`   tie check failed: ${(e as Error)?.message ?? e}`); }
          save(rows);
          const ds = row.divergences;
          const checked = ds.filter((d) => d.gap !== undefined);
          console.log(`   tokens part in ${ds.length} of ${prompts.length} sequences (first at step ${Math.min(...ds.map((d) => d.step))});` +
            ` tie gap of the ${checked.length} earliest (single device's logits, fed the common prefix): ${checked.map((d) => `seq ${d.seq} step ${d.step}: ${d.gap!.toExponential(1)}`).join(', ')}` +
            (checked.every((d) => d.gap! < 5e-3) ? ' — all near-ties (< 5e-3)' : ' — NOT all near-ties'));
        }
        if (row.layer && row.layer.layers) {
          const n = row.layer.layers;
          console.log(`   per pooled layer (ms): ${Object.entries(row.layer).filter(([k]) => k !== 'layers').map(([k, x]) => `${k} ${(x / n).toFixed(3)}`).join(', ')}` +
            (replies.matched + replies.decoded ? `; worker replies matched by their bytes ${replies.matched}, decoded ${replies.decoded}` : ''));
        }
      } catch (e) {
        rows.push({ batch: name, config: label, error: String((e as Error)?.stack ?? e) } as Row);
        console.log(`${name} ${label}: FAILED ${(e as Error)?.message ?? e}`);
      }
    }
  }
  save(rows);
  return allRowsFailed(rows);
}

runBench(main);
