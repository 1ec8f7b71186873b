// The paper's sweep: for each sequence length × strategy, one generation in its own process (memory of
// one point never leaks into the next), through the same code as run-inference.js (parseCli, engineOptions,
// createEngine). Records TTFT, TPOT, TPS and the decode-only time split, and appends to --out as JSON.
//
//   node dist/kernels-bench/paper/sweep.js --preset tiny --lengths 16,64,128,320 --strategies fapool,static \
//     --pool 2 --threshold 64 --placement tp=2,pp=2 --new-tokens 8 --out kernels-bench/paper/results/lavapipe-tiny.json
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PREFILL_CHUNK_MIN, type GenerateResult } from '../../src/model/generation.js';
import { childEnv } from '../../src/cli/parent-watch.js';
import { UsageError, allRowsFailed, int, intList, nameListOf, outputPath, runBench } from '../bench-args.js';
import type { MeasuredPoint } from './cost-model.js';

export interface SweepPoint extends MeasuredPoint {
  device: string; model: string; dtype: string; ranks: string[]; outputTokens: number; inputTokens: number;
  /** Decode-only split per decode step (ms): the paper's categories. */
  perStep: { attentionPoolMs: number; transferMs: number; syncMs: number; computeMs: number; restMs: number };
}

export interface SweepFile {
  label: string; created: string; preset: string; args: string[];
  points: (SweepPoint | { strategy: string; seqLen: number; error: string })[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

// ---- child: one point (argv: --point <run-inference flags as JSON>)
async function runPoint(flags: string[], batch: number, repeat: number): Promise<SweepPoint> {
  const { parseCli } = await import('../../src/cli/args.js');
  const { engineOptions } = await import('../../src/cli/engine-options.js');
  const { syntheticPrompt } = await import('../../src/cli/main.js');
  const { createEngine } = await import('../../src/orchestrator/create-engine.js');
  const { parsePlacement } = await import('../../src/orchestrator/baselines/placement.js');
  const o = parseCli(flags);
  const engine = await createEngine(engineOptions(o));
  try {
    const dtype = engine.dtype;
    const vocab = Math.min(engine.config.vocab, engine.tokenizer.vocabSize);
    const len = o.promptLen!;
    const prompts = Array.from({ length: batch }, (_, i) => syntheticPrompt(len, vocab, o.seed + i));
    // One prefill chunk for every strategy (their engines default to different ones).
    const gen = { prompts, maxNewTokens: o.maxNewTokens, sampling: { temperature: 0, topK: 0, topP: 1, seed: o.seed }, prefillChunk: o.prefillChunk ?? PREFILL_CHUNK_MIN, stopAtEos: false };
    // Warm-up: compiles every pipeline (and the pool's) so the measured run times steady state.
    await engine.run({ ...gen, maxNewTokens: Math.min(3, o.maxNewTokens) });
    // Several measured runs; keep the fastest: on a shared machine noise only ever adds time.
    const runs: { res: GenerateResult; dec: Record<string, number> }[] = [];
    for (let r = 0; r < repeat; r++) {
      const before = { ...(engine.report().split ?? {}) };
      let atPrefill: Record<string, number> = before;
      const { result: res } = await engine.run(gen, (e) => {
        if (e.type === 'prefill' && e.doneTokens === e.totalTokens) atPrefill = { ...(engine.report().split ?? {}) };
      });
      // Static stats restart at each generate and include the prefill; pool stats accumulate across runs.
      const after = engine.report().split ?? {};
      const base = o.strategy === 'static' ? atPrefill : before;
      const dec: Record<string, number> = {};
      for (const [k, v] of Object.entries(after)) if (typeof v === 'number') dec[k] = v - (base[k] ?? 0);
      runs.push({ res, dec });
    }
    runs.sort((a, b) => a.res.tpotMs - b.res.tpotMs);
    const { res, dec } = runs[0]!;
    const rep = engine.report();
    const decodeSteps = Math.max(1, res.outputTokens / batch - 1);
    const pl = o.strategy === 'static' ? parsePlacement(o.placement) : { tp: 1, pp: 1 };
    // Ranks the sequences actually used (a sequence may cross the threshold during the decode).
    const poolSize = Math.max(0, ...(rep.perSeq ?? []).map((q) => q?.ranks.length ?? 0));
    const attn = dec.poolWaitMs ?? 0, xfer = (dec.transferMs ?? 0) + (dec.transportMs ?? 0);
    const sync = dec.migrateMs ?? 0, compute = (dec.rankRunMs ?? 0) + (dec.rankWriteMs ?? 0);
    return {
      strategy: o.strategy, seqLen: len, batch, newTokens: o.maxNewTokens, bytesPerEl: dtype === 'f16' ? 2 : 4,
      pool: o.pool, poolSize, placement: pl,
      ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, decodeMs: res.decodeMs, decodeSteps,
      split: dec, device: engine.device, model: engine.config.name, dtype, ranks: rep.ranks,
      outputTokens: res.outputTokens, inputTokens: res.inputTokens,
      perStep: {
        attentionPoolMs: attn / decodeSteps, transferMs: xfer / decodeSteps, syncMs: sync / decodeSteps, computeMs: compute / decodeSteps,
        restMs: (res.decodeMs - attn - xfer - sync - compute) / decodeSteps,
      },
    };
  } finally {
    await engine.dispose();
  }
}

const SPEC = {
  preset: { type: 'string', default: 'tiny' },
  model: { type: 'string' },
  config: { type: 'string' },
  lengths: { type: 'string', default: '16,32,64,96,128,192,256,320' },
  strategies: { type: 'string', default: 'fapool,static' },
  pool: { type: 'string', default: '2' },
  spawn: { type: 'string' },
  placement: { type: 'string', default: 'tp=2,pp=2' },
  threshold: { type: 'string', default: '64' },
  tiers: { type: 'string' },
  'new-tokens': { type: 'string', default: '8' },
  batch: { type: 'string', default: '1' },
  repeat: { type: 'string', default: '3' },
  dtype: { type: 'string' },
  gpu: { type: 'string' },
  label: { type: 'string' },
  out: { type: 'string', default: 'kernels-bench/paper/results/sweep.json' },
  point: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const HELP = `Usage: node dist/kernels-bench/paper/sweep.js [options]
  --preset tiny|seed-4l       model (random weights, written once to the cache)
  --model FILE                a safetensors file of the preset's shapes instead of random weights
  --config FILE               a Hugging Face config.json instead of the preset (with --model: its weights file)
  --lengths 512,...,40960     prompt lengths (one process per length × strategy)
  --strategies fapool,static  which runs; fapool uses --pool/--spawn/--threshold/--tiers, static --placement
  --pool N                    in-process pool ranks (default 2)   --spawn auto|none:N|PCI,...  worker processes
  --threshold T --tiers SPEC  routing (as run-inference.js)       --placement tp=a,pp=b  static baseline
  --new-tokens K --batch B    tokens per sequence; B sequences of the same length
  --repeat R                  measured runs per point after one warm-up; the fastest is kept (default 3)
  --dtype f32|f16 --gpu ID    as run-inference.js
  --label TEXT                what the points are (e.g. "software GPU, tiny model")
  --out FILE                  results JSON (written after every point)`;

function cliFlags(v: Record<string, string | boolean | undefined>, strategy: string, len: number): string[] {
  const f = [...(v.config ? ['--config', String(v.config)] : ['--preset', String(v.preset)]), ...(v.model ? ['--model', String(v.model)] : ['--init', 'random']), '--prompt-len', String(len), '--max-new-tokens', String(v['new-tokens']),
    '--strategy', strategy, '--threshold', String(v.threshold), '--quiet', '--json'];
  if (v.dtype) f.push('--dtype', String(v.dtype));
  if (v.gpu) f.push('--gpu', String(v.gpu));
  if (strategy === 'static') f.push('--placement', String(v.placement));
  else {
    f.push('--pool', String(v.pool));
    if (v.spawn) f.push('--spawn', String(v.spawn));
    if (v.tiers) f.push('--tiers', String(v.tiers));
  }
  return f;
}

async function main(argv: string[]): Promise<number | undefined> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = (parseArgs({ args: argv, options: SPEC as never, strict: true }) as { values: Record<string, string | boolean | undefined> }).values;
  } catch (e) { throw new UsageError(`${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (--help lists the options)`); }
  if (v.help) { console.log(HELP); return; }
  // Checked before the first point's process (--batch abc and --repeat abc once ran every point on NaN).
  const batch = int('batch', String(v.batch)), repeat = int('repeat', String(v.repeat));
  if (v.point) {
    const p = await runPoint(JSON.parse(String(v.point)) as string[], batch, repeat);
    process.stdout.write(`@@POINT ${JSON.stringify(p)}\n`);
    process.exit(0); // worker processes / GPU handles must not keep the child alive
  }
  const lengths = intList('lengths', String(v.lengths));
  const strategies = nameListOf('strategies', String(v.strategies), ['fapool', 'static']);
  int('new-tokens', String(v['new-tokens']));
  const out: SweepFile = { label: String(v.label ?? `${v.preset} sweep`), created: new Date().toISOString(), preset: String(v.preset), args: argv, points: [] };
  mkdirSync(dirname(String(v.out)), { recursive: true });
  outputPath('out', String(v.out), { model: v.model as string | undefined, config: v.config as string | undefined });
  for (const len of lengths) {
    for (const s of strategies) {
      const flags = cliFlags(v, s, len);
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--point', JSON.stringify(flags), '--batch', String(batch), '--repeat', String(repeat)],
        { cwd: `${HERE}/../../..`, encoding: 'utf8', maxBuffer: 1 << 26, env: childEnv() });
      const line = r.stdout.split('\n').find((l) => l.startsWith('@@POINT '));
      if (line) {
        const p = JSON.parse(line.slice(8)) as SweepPoint;
        out.points.push(p);
        console.log(`${s.padEnd(7)} len ${String(len).padStart(6)}: TTFT ${p.ttftMs.toFixed(1)} ms, TPOT ${p.tpotMs.toFixed(2)} ms, TPS ${p.tps.toFixed(1)} (pool ${p.poolSize}) [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
      } else {
        // The error's own line (not only the stack's tail), then the last lines.
        const lines = (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n');
        const first = lines.find((l) => /error/i.test(l) && !/^\s+at /.test(l));
        const error = [...(first ? [first] : []), ...lines.slice(-3)].join(' | ');
        out.points.push({ strategy: s, seqLen: len, error });
        console.log(`${s.padEnd(7)} len ${String(len).padStart(6)}: FAILED ${error}`);
      }
      writeFileSync(String(v.out), JSON.stringify(out, null, 1));
    }
  }
  console.log(`wrote ${v.out} (${out.points.length} points)`);
  return allRowsFailed(out.points as { error?: string }[]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) runBench(() => main(process.argv.slice(2)));
