// Regenerates the paper comparison from scratch: calibrates the cost model on each measured sweep
// (results JSON from sweep.js), validates it (fit on half the lengths, predict the other half), predicts
// the paper's A100 configurations, and writes model.json, tpot.svg, tps.svg and ratios.md.
//
//   node dist/kernels-bench/paper/report.js --results kernels-bench/paper/results/lavapipe-tiny.json[,more.json] --out kernels-bench/paper/
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS } from '../../src/model/config.js';
import { benchArgs, inputPath, num, runBench } from '../bench-args.js';
import {
  calibrate, fitKernelRates, H100_KERNELS_V0, predict, type Cluster, type MeasuredPoint, type Placement, type Prediction, type Shape,
} from './cost-model.js';
import { PAPER_TIERS, parseTiers, type PoolPrefill } from '../../src/orchestrator/pool/policy.js';
import { PAPER } from './paper-data.js';
import type { SweepFile, SweepPoint } from './sweep.js';
import { chart, type Series } from './svg.js';

const H100_COPY_GBS = 2968, H100_F16_TFLOPS = 989; // NOTES.md: measured copy bandwidth, datasheet dense f16

/**
 * The paper's cluster: A100 80GB (2.0 TB/s HBM, 312 TFLOP/s f16 dense), NVLink 600 GB/s in a node,
 * InfiniBand 200 GB/s between nodes. Our kernels' efficiencies come from the H100 timings (fraction of
 * the H100's copy bandwidth / f16 peak), applied to the A100's datasheet rates.
 */
export function paperCluster(gemmEff?: number): { cluster: Cluster; notes: string[] } {
  const h = fitKernelRates(H100_KERNELS_V0, { memGBs: 1, attnGBs: 1, tflops: 1, kernelMs: 0.01, stepMs: 0 });
  const memEff = h.memGBs / H100_COPY_GBS, attnEff = h.attnGBs / H100_COPY_GBS, ge = gemmEff ?? h.tflops / H100_F16_TFLOPS;
  const cluster: Cluster = {
    name: 'paper: A100 80GB, NVLink 600 GB/s, IB 200 GB/s',
    device: { memGBs: 2000 * memEff, attnGBs: 2000 * attnEff, tflops: 312 * ge, kernelMs: h.kernelMs, stepMs: 0.3 },
    intra: { gbps: 600, latencyMs: 0.01 }, inter: { gbps: 200, latencyMs: 0.02 }, poolStepMs: 0.2, migrateFixedMs: 1, staticStepMs: 0.2,
  };
  const notes = [
    `our kernels on H100 (NOTES.md v0): GEMV ${h.memGBs.toFixed(0)} GB/s (${(memEff * 100).toFixed(0)}% of copy), decode attention ${h.attnGBs.toFixed(0)} GB/s (${(attnEff * 100).toFixed(0)}%) + ${(h.kernelMs * 1000).toFixed(1)} µs per call, GEMM ${h.tflops.toFixed(1)} TFLOP/s (${(h.tflops / H100_F16_TFLOPS * 100).toFixed(1)}% of f16 peak)`,
    `A100 rates = datasheet × those efficiencies${gemmEff !== undefined ? ` (GEMM efficiency set to ${gemmEff})` : ''}: ${cluster.device.memGBs.toFixed(0)} GB/s weights, ${cluster.device.attnGBs.toFixed(0)} GB/s attention, ${cluster.device.tflops.toFixed(1)} TFLOP/s GEMM`,
    'assumed until H100 sweep results exist: 0.3 ms fixed per decode step, 0.2 ms pool management per pooled step and 0.2 ms static-executor cost per step, 1 ms fixed per KV migration, link latency 10 µs NVLink / 20 µs IB per message',
  ];
  return { cluster, notes };
}

const PAPER_BATCH = 1024, PAPER_NEW_TOKENS = 128;
const paperShape: Shape = PRESETS['seed-4l'];

function paperPredictions(cl: Cluster): { len: number; fapool: Prediction; baseline: Prediction }[] {
  const fap: Placement = { kind: 'fapool', baseTp: 8, threshold: 4096, tiers: PAPER_TIERS };
  const stat: Placement = { kind: 'static', tp: 8, pp: 2 };
  return PAPER.map((r) => {
    const w = { seqLen: r.len, batch: PAPER_BATCH, newTokens: PAPER_NEW_TOKENS, bytesPerEl: 2 };
    return { len: r.len, fapool: predict(paperShape, cl, fap, w), baseline: predict(paperShape, cl, stat, w) };
  });
}

// ---- measured sets
interface Measured { file: string; label: string; shape: Shape; pts: SweepPoint[]; cluster: Cluster; notes: string[]; threshold: number; tiers: string | undefined; replica: boolean; prefill: PoolPrefill; validation: { strategy: string; len: number; measured: number; model: number; errPct: number }[] }

function argOf(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function placementFor(m: { threshold: number; tiers: string | undefined; replica: boolean; prefill: PoolPrefill }, p: MeasuredPoint): Placement {
  if (p.strategy === 'static') return { kind: 'static', tp: p.placement.tp, pp: p.placement.pp };
  return { kind: 'fapool', baseTp: 1, threshold: m.threshold, tiers: m.tiers ? parseTiers(m.tiers) : PAPER_TIERS, maxPool: p.pool, replica: m.replica, prefill: m.prefill };
}

function modelPoint(m: Measured, cl: Cluster, p: MeasuredPoint): Prediction {
  return predict(m.shape, cl, placementFor(m, p), { seqLen: p.seqLen, batch: p.batch, newTokens: p.newTokens, bytesPerEl: p.bytesPerEl });
}

function loadMeasured(file: string): Measured {
  const f = JSON.parse(readFileSync(file, 'utf8')) as SweepFile;
  const pts = f.points.filter((p): p is SweepPoint => !('error' in p));
  const shape = (PRESETS as Record<string, Shape>)[f.preset] ?? PRESETS.tiny;
  const shared = pts.some((p) => /llvmpipe|lavapipe|swiftshader/i.test(p.device)) || !argOf(f.args, '--spawn');
  const start: Cluster = {
    name: f.label, device: { memGBs: 1e9, attnGBs: 1e9, tflops: 1e9, kernelMs: 0, stepMs: 0 },
    intra: { gbps: 1e9, latencyMs: 0 }, inter: { gbps: 1e9, latencyMs: 0 }, poolStepMs: 0, migrateFixedMs: 0, staticStepMs: 0, sharedDevice: shared,
  };
  if (/H100|H200/i.test(pts[0]?.device ?? '')) { start.device.memGBs = fitKernelRates(H100_KERNELS_V0, start.device).memGBs; }
  const m: Measured = {
    file, label: f.label, shape, pts, cluster: start, notes: [], threshold: Number(argOf(f.args, '--threshold') ?? 4096),
    tiers: argOf(f.args, '--tiers'), validation: [], replica: false, prefill: 'local',
  };
  // Sweeps from before prefill-into-pool (or run with a replica) migrated long prompts after their prefill; those
  // whose long prompts went through the ranks layer by layer prefilled on the pool (before KV streaming).
  m.replica = pts.some((p) => p.strategy === 'fapool' && p.seqLen > m.threshold && (p.split.migrateMs ?? 0) > 0);
  m.prefill = pts.some((p) => p.strategy === 'fapool' && (p.split.prefillLayers ?? 0) > 0) ? 'pool' : 'local';
  const lens = [...new Set(pts.map((p) => p.seqLen))].sort((a, b) => a - b);
  // Validation: fit on every other length, predict the rest (out of sample).
  const fitLens = new Set(lens.filter((_, i) => i % 2 === 0));
  const half = calibrate(shape, pts.filter((p) => fitLens.has(p.seqLen)), start);
  for (const p of pts.filter((q) => !fitLens.has(q.seqLen))) {
    const model = modelPoint(m, half.cluster, p).tpotMs;
    m.validation.push({ strategy: p.strategy, len: p.seqLen, measured: p.tpotMs, model, errPct: ((model - p.tpotMs) / p.tpotMs) * 100 });
  }
  const full = calibrate(shape, pts, start);
  m.cluster = full.cluster;
  m.notes = full.notes;
  return m;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));

function byLen(pts: SweepPoint[], s: string): Map<number, SweepPoint> {
  return new Map(pts.filter((p) => p.strategy === s).map((p) => [p.seqLen, p]));
}

export function report(resultFiles: string[], outDir: string, gemmEff = 0.7): void {
  const paper = paperCluster();
  const paperB = paperCluster(gemmEff); // the same, with a cuBLAS-class GEMM rate
  const measured = resultFiles.map(loadMeasured);
  // A real GPU's sweep replaces the assumed per-step constants of the paper cluster.
  // Prefer a multi-GPU run (a real link) over in-process ranks sharing one GPU.
  const gpuRuns = measured.filter((m) => !/llvmpipe|lavapipe|swiftshader/i.test(m.pts[0]?.device ?? 'cpu') && m.pts.length);
  const gpuRun = gpuRuns.find((m) => !m.cluster.sharedDevice) ?? gpuRuns[0];
  if (gpuRun) {
    paper.cluster.device.stepMs = gpuRun.cluster.device.stepMs;
    paper.cluster.poolStepMs = gpuRun.cluster.poolStepMs;
    paper.cluster.staticStepMs = gpuRun.cluster.staticStepMs;
    paper.cluster.migrateFixedMs = gpuRun.cluster.migrateFixedMs;
    Object.assign(paperB.cluster, { poolStepMs: paper.cluster.poolStepMs, staticStepMs: paper.cluster.staticStepMs, migrateFixedMs: paper.cluster.migrateFixedMs });
    paperB.cluster.device.stepMs = paper.cluster.device.stepMs;
    paper.notes.push(`per-step constants from ${gpuRun.label}: step ${gpuRun.cluster.device.stepMs.toFixed(3)} ms, pool management ${gpuRun.cluster.poolStepMs.toFixed(3)} ms, static executor ${gpuRun.cluster.staticStepMs.toFixed(3)} ms, migration ${gpuRun.cluster.migrateFixedMs.toFixed(3)} ms fixed`);
  }
  const pred = paperPredictions(paper.cluster), predB = paperPredictions(paperB.cluster);
  const colors = { base: '#d62728', fap: '#1f77b4' };

  const panels = (metric: 'tpot' | 'tps') => {
    const unit = metric === 'tpot' ? 'TPOT ms/token' : 'TPS tokens/s';
    const pv = (p: Prediction) => (metric === 'tpot' ? p.tpotMs : p.tps);
    const out = [
      { title: 'Paper (A100, reported)', xLabel: 'sequence length', yLabel: unit, logY: true, series: [
        { name: 'baseline TP=8 PP=2 (16 GPUs)', color: colors.base, points: PAPER.map((r) => [r.len, metric === 'tpot' ? r.baseTpot : r.baseTps] as [number, number]) },
        { name: 'FA Pool (8 + pool)', color: colors.fap, points: PAPER.map((r) => [r.len, metric === 'tpot' ? r.fapTpot : r.fapTps] as [number, number]) },
      ] as Series[] },
      { title: `Our model, paper config (B=${PAPER_BATCH})`, xLabel: 'sequence length', yLabel: unit, logY: true, series: [
        { name: 'baseline TP=8 PP=2 (model)', color: colors.base, dash: true, points: pred.map((r) => [r.len, pv(r.baseline)] as [number, number]) },
        { name: 'FA Pool (model)', color: colors.fap, dash: true, points: pred.map((r) => [r.len, pv(r.fapool)] as [number, number]) },
        { name: `baseline, GEMM at ${gemmEff * 100}% peak`, color: '#ff9896', dash: true, points: predB.map((r) => [r.len, pv(r.baseline)] as [number, number]) },
        { name: `FA Pool, GEMM at ${gemmEff * 100}% peak`, color: '#9ecae1', dash: true, points: predB.map((r) => [r.len, pv(r.fapool)] as [number, number]) },
      ] },
    ];
    for (const m of measured) {
      const mp = (s: string) => m.pts.filter((p) => p.strategy === s).sort((a, b) => a.seqLen - b.seqLen);
      const val = (p: SweepPoint) => (metric === 'tpot' ? p.tpotMs : p.tps);
      out.push({ title: `Measured: ${m.label}`, xLabel: 'sequence length (tokens)', yLabel: unit, logY: true, series: [
        { name: 'static (measured)', color: colors.base, points: mp('static').map((p) => [p.seqLen, val(p)] as [number, number]) },
        { name: 'FA Pool (measured)', color: colors.fap, points: mp('fapool').map((p) => [p.seqLen, val(p)] as [number, number]) },
        { name: 'static (model, calibrated)', color: colors.base, dash: true, points: mp('static').map((p) => [p.seqLen, metric === 'tpot' ? modelPoint(m, m.cluster, p).tpotMs : modelPoint(m, m.cluster, p).tps] as [number, number]) },
        { name: 'FA Pool (model, calibrated)', color: colors.fap, dash: true, points: mp('fapool').map((p) => [p.seqLen, metric === 'tpot' ? modelPoint(m, m.cluster, p).tpotMs : modelPoint(m, m.cluster, p).tps] as [number, number]) },
      ] });
    }
    if (!measured.some((m) => /H100|H200/i.test(m.pts[0]?.device ?? ''))) {
      out.push({ title: 'Measured: H100 (pending — see README)', xLabel: 'sequence length', yLabel: unit, logY: true, series: [] });
    }
    return out;
  };
  writeFileSync(join(outDir, 'tpot.svg'), chart('TPOT vs sequence length: paper, our model, our measurements', panels('tpot')));
  writeFileSync(join(outDir, 'tps.svg'), chart('TPS vs sequence length: paper, our model, our measurements', panels('tps')));

  // ---- ratios table
  const md: string[] = ['# FA Pool / baseline ratios', '', 'Generated by `node dist/kernels-bench/paper/report.js`; do not edit by hand.', '',
    '## Paper configuration (A100; paper: reported; model: our cost model, not a measurement)', '',
    `Model workload: seed-4l shape, batch ${PAPER_BATCH} sequences of the given length, ${PAPER_NEW_TOKENS} new tokens each, f16.`,
    `Model A: our kernels' efficiencies (GEMM ${paper.cluster.device.tflops.toFixed(1)} TFLOP/s on an A100). Model B: the same with the GEMM at ${gemmEff * 100}% of the A100's f16 peak (cuBLAS-class).`,
    'TPS = (input + output tokens of the batch) ÷ (prefill + decode time), as the runtime reports it; the prefill runs on the 8 base GPUs in both strategies.', '',
    '| length | pool GPUs | TPOT ratio paper | TPOT ratio model A | TPOT ratio model B | TPS ratio paper | TPS ratio model A | TPS ratio model B | model A TPOT base / FA Pool (ms) | model B TPOT base / FA Pool (ms) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const [i, r] of PAPER.entries()) {
    const p = pred[i]!, q = predB[i]!;
    md.push(`| ${r.len} | ${p.fapool.poolSize} | ${f2(r.baseTpot / r.fapTpot)} | ${f2(p.baseline.tpotMs / p.fapool.tpotMs)} | ${f2(q.baseline.tpotMs / q.fapool.tpotMs)} | ${f2(r.fapTps / r.baseTps)} | ${f2(p.fapool.tps / p.baseline.tps)} | ${f2(q.fapool.tps / q.baseline.tps)} | ${p.baseline.tpotMs.toFixed(1)} / ${p.fapool.tpotMs.toFixed(1)} | ${q.baseline.tpotMs.toFixed(1)} / ${q.fapool.tpotMs.toFixed(1)} |`);
  }
  const a16 = pred.find((r) => r.len === 16384)!.fapool, b16 = predB.find((r) => r.len === 16384)!.fapool;
  const pct = (p: Prediction, k: keyof Prediction['split']) => `${((p.split[k] / p.tpotMs) * 100).toFixed(0)}%`;
  const row = (name: string, paperPct: string, k: keyof Prediction['split']) => `| ${name} | ${paperPct} | ${pct(a16, k)} | ${pct(b16, k)} |`;
  md.push('', '### Overhead split at 16K (FA Pool decode step): paper vs model', '', '| component | paper | model A | model B |', '|---|---:|---:|---:|',
    row('attention (pool)', '78%', 'attentionMs'), row('communication (q/k/v out, O/LSE back)', '12%', 'transferMs'),
    row('synchronization (KV migration, amortised)', '7%', 'syncMs'), row('resource management', '3%', 'managementMs'),
    row('base compute (GEMMs; not in the paper\'s split)', '–', 'computeMs'),
    `| **step (ms)** | 275 | ${a16.tpotMs.toFixed(1)} | ${b16.tpotMs.toFixed(1)} |`, '');
  md.push('Model constants:', '', ...paper.notes.map((n) => `- ${n}`), `- model B: ${paperB.notes[1]}`, '');
  for (const m of measured) {
    const fa = byLen(m.pts, 'fapool'), st = byLen(m.pts, 'static');
    md.push(`## Measured: ${m.label}`, '', `Source: \`${m.file}\` (${m.pts.length} points; ${m.pts[0]?.device ?? ''}; model ${m.pts[0]?.model ?? ''}, ${m.pts[0]?.dtype ?? ''}).`, '',
      '| length | pool ranks | TPOT static / FA Pool (ms) | TPOT ratio measured | TPOT ratio model | TPS ratio measured | TPS ratio model | FA Pool per step: pool wait / transfer / migration / rest (ms) |',
      '|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const len of [...new Set(m.pts.map((p) => p.seqLen))].sort((a, b) => a - b)) {
      const a = fa.get(len), b = st.get(len);
      const ma = a && modelPoint(m, m.cluster, a), mb = b && modelPoint(m, m.cluster, b);
      md.push(`| ${len} | ${a?.poolSize ?? '–'} | ${f2(b?.tpotMs)} / ${f2(a?.tpotMs)} | ${a && b ? f2(b.tpotMs / a.tpotMs) : '–'} | ${ma && mb ? f2(mb.tpotMs / ma.tpotMs) : '–'} | ${a && b ? f2(a.tps / b.tps) : '–'} | ${ma && mb ? f2(ma.tps / mb.tps) : '–'} | ${a ? [a.perStep.attentionPoolMs, a.perStep.transferMs, a.perStep.syncMs, a.perStep.restMs].map(f2).join(' / ') : '–'} |`);
    }
    const err = (s: string) => mean(m.validation.filter((v) => v.strategy === s).map((v) => Math.abs(v.errPct)));
    md.push('', `Calibration (all points): ${m.notes.join('; ')}.`, '',
      `Model vs measured TPOT, out of sample (fitted on every other length, predicting the rest): mean |error| FA Pool ${err('fapool').toFixed(0)}%, static ${err('static').toFixed(0)}%.`, '');
  }
  if (!measured.some((m) => /H100|H200/i.test(m.pts[0]?.device ?? ''))) {
    md.push('## Measured: H100 (pending)', '', 'Not run yet. See README "Paper reproduction" for the two commands (1 GPU with in-process pool ranks; 2 GPUs with a worker via --spawn auto).', '');
  }
  writeFileSync(join(outDir, 'ratios.md'), md.join('\n'));
  writeFileSync(join(outDir, 'model.json'), JSON.stringify({
    paper: { cluster: paper.cluster, notes: paper.notes, batch: PAPER_BATCH, newTokens: PAPER_NEW_TOKENS, predictions: pred },
    paperGemmB: { gemmEff, cluster: paperB.cluster, predictions: predB },
    measured: measured.map((m) => ({ file: m.file, label: m.label, cluster: m.cluster, notes: m.notes, validation: m.validation })),
  }, null, 1));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // One command-line helper as the other benchmark scripts (a bad option was a stack trace; no --help).
  const { values } = benchArgs({
    script: 'paper/report.js',
    about: `Calibrates the cost model on each measured sweep (sweep.js's results JSON), validates it on held-out lengths,
predicts the paper's A100 configurations and writes model.json, tpot.svg, tps.svg and ratios.md.`,
    examples: ['node dist/kernels-bench/paper/report.js --results kernels-bench/paper/results/lavapipe-tiny.json --out kernels-bench/paper/'],
  }, {
    results: { type: 'string', default: 'kernels-bench/paper/results/lavapipe-tiny.json', help: 'sweep results, comma-separated' },
    out: { type: 'string', default: 'kernels-bench/paper/', help: 'folder for model.json, tpot.svg, tps.svg, ratios.md' },
    'gemm-eff': { type: 'string', help: "the GEMMs' fraction of peak in the second set of A100 predictions, in (0, 1] (default 0.7: a cuBLAS-class rate)" },
  });
  runBench(async () => {
    const files = values.results.split(',').map((s) => s.trim()).filter(Boolean);
    for (const f of files) inputPath('results', f);
    const eff = values['gemm-eff'] === undefined ? undefined : num('gemm-eff', values['gemm-eff'], 0, 1, true);
    report(files, values.out, eff);
    console.log(`wrote ${join(values.out, 'ratios.md')}, tpot.svg, tps.svg, model.json from ${files.join(', ')}`);
  });
}
