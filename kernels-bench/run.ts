// Kernel microbenchmarks: every kernel at chosen sizes, warm-up, timestamp queries (wall clock where
// the device has none), median of repeats, FLOP/s, GB/s, % of a stated roofline; a table and JSON.
//   node dist/kernels-bench/run.js [--quick] [--only NAME] [--baseline torch.json] [--out ours.json]
import { writeFileSync } from 'node:fs';
import { describeCaps, openGpu, timeDispatchesFor } from '../src/gpu/index.js';
import { MAX_SAMPLES, UsageError, benchArgs, int, num, outputPath, readJson, runBench } from './bench-args.js';
import { fullCases, quickCases, type BenchCase } from './cases.js';

interface Row {
  name: string; shape: string; ms: number; tflops: number | null; gbs: number | null;
  roofPct: number | null; method: string; baseMs?: number; ratio?: number;
}

const { values: args } = benchArgs({
  script: 'run.js',
  about: `kernels-bench: time every kernel (ours) at the issue's sizes (or --quick's small ones): warm-up, timestamp queries
(wall clock where the device has none), median of --samples, FLOP/s, GB/s, % of a roofline; with --baseline, PyTorch's
numbers beside them. Prints a table; --out writes JSON.`,
  examples: ['node dist/kernels-bench/run.js --quick   # any machine', 'node dist/kernels-bench/run.js --baseline torch.json --out ours.json'],
}, {
  quick: { type: 'boolean', default: false, help: 'small shapes (a software GPU)' },
  only: { type: 'string', help: 'only cases whose name contains this' },
  baseline: { type: 'string', help: "JSON from kernels-bench/torch_bench.py (same card, same call); its copy bandwidth and cuBLAS rates become the roofline unless --peak-* are given" },
  out: { type: 'string', help: 'write the table as JSON' },
  samples: { type: 'string', default: '15', help: `timed samples per case (median), 1–${MAX_SAMPLES}` },
  'peak-tflops-f32': { type: 'string', help: 'roofline: f32 TFLOP/s' },
  'peak-tflops-f16': { type: 'string', help: 'roofline: f16 TFLOP/s' },
  'peak-gbs': { type: 'string', help: 'roofline: memory GB/s' },
});

interface Baseline { rows: { name: string; shape: string; ms: number; tflops: number | null; gbs: number | null }[]; info?: unknown }

function loadBaseline(path?: string): Baseline | null {
  if (path === undefined) return null;
  const b = readJson<Baseline>('baseline', path);
  if (!Array.isArray(b.rows)) throw new UsageError(`--baseline ${path}: no "rows" list (not kernels-bench/torch_bench.py's JSON)`);
  return b;
}

async function main(): Promise<void> {
  // Checked before the GPU opens: --samples 0 once failed every case and --peak-gbs abc dropped the roofline, exit 0.
  const samples = int('samples', args.samples, 1, MAX_SAMPLES);
  const peak = (k: 'peak-tflops-f32' | 'peak-tflops-f16' | 'peak-gbs') => (args[k] === undefined ? undefined : num(k, args[k], 0, Number.MAX_VALUE, true));
  const peaks = { f32: peak('peak-tflops-f32'), f16: peak('peak-tflops-f16'), gbs: peak('peak-gbs') };
  if (args.only === '') throw new UsageError("--only '' matches every case: leave it out");
  const base = loadBaseline(args.baseline);
  if (args.out !== undefined) outputPath('out', args.out, { baseline: args.baseline });
  const gpu = await openGpu({ label: 'bench' });
  console.log(`device: ${describeCaps(gpu.caps)}`);
  const baseRow = (name: string, shape: string) => base?.rows.find((r) => r.name === name && r.shape === shape);
  const peakGbs = Number(peaks.gbs ?? base?.rows.find((r) => r.name === 'copy')?.gbs ?? NaN);
  const peakTf = (dt: string) => Number((dt === 'f16' ? peaks.f16 : peaks.f32) ?? base?.rows.find((r) => r.name === `gemm_${dt}`)?.tflops ?? NaN);
  let cases: BenchCase[] = args.quick ? quickCases(gpu.caps.f16) : fullCases(gpu.caps.f16);
  if (args.only) {
    const all = cases.map((c) => c.name);
    cases = cases.filter((c) => c.name.includes(args.only!));
    if (!cases.length) throw new UsageError(`--only '${args.only}' matches no case${args.quick ? ' of --quick' : ''} (the cases: ${[...new Set(all)].join(', ')})`);
  }
  const rows: Row[] = [];
  console.log(`${'kernel'.padEnd(20)} ${'shape'.padEnd(22)} ${'ms'.padStart(9)} ${'TFLOP/s'.padStart(8)} ${'GB/s'.padStart(7)} ${'%roof'.padStart(6)} ${'torch ms'.padStart(9)} ${'torch/ours'.padStart(10)}`);
  for (const c of cases) {
    let built: ReturnType<BenchCase['build']> | null = null;
    try {
      built = c.build(gpu);
      await gpu.sync();
      // Enough launches per sample that one sample takes ~10+ ms.
      const t = await timeDispatchesFor(gpu, built.list, { warmup: 3, samples });
      const tflops = c.flops ? c.flops / t.medianMs / 1e9 : null;
      const gbs = c.bytes ? c.bytes / t.medianMs / 1e6 : null;
      const roofMs = Math.max(c.flops / (peakTf(c.dtype) * 1e9) || 0, c.bytes / (peakGbs * 1e6) || 0);
      const b = baseRow(c.name, c.shape);
      const row: Row = {
        name: c.name, shape: c.shape, ms: t.medianMs, tflops, gbs, method: t.method,
        roofPct: roofMs > 0 ? 100 * roofMs / t.medianMs : null,
        ...(b ? { baseMs: b.ms, ratio: b.ms / t.medianMs } : {}),
      };
      rows.push(row);
      const f = (x: number | null | undefined, d: number, w: number) => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d)).padStart(w);
      console.log(`${c.name.padEnd(20)} ${c.shape.padEnd(22)} ${f(row.ms, 4, 9)} ${f(tflops, 2, 8)} ${f(gbs, 0, 7)} ${f(row.roofPct, 1, 6)} ${f(row.baseMs, 4, 9)} ${f(row.ratio, 3, 10)}`);
    } catch (e) {
      console.log(`${c.name.padEnd(20)} ${c.shape.padEnd(22)} FAILED: ${(e as Error).message.split('\n')[0]}`);
      rows.push({ name: c.name, shape: c.shape, ms: NaN, tflops: null, gbs: null, roofPct: null, method: `error: ${(e as Error).message}` });
    } finally {
      built?.release();
    }
  }
  const result = {
    device: describeCaps(gpu.caps), date: new Date().toISOString(), roofline: { gbs: peakGbs, tflopsF32: peakTf('f32'), tflopsF16: peakTf('f16') },
    baseline: base?.info ?? null, rows,
  };
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 1));
  gpu.destroy();
}

runBench(main);
