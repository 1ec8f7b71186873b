// Kernel microbenchmarks: every kernel at chosen sizes, warm-up, timestamp queries (wall clock where
// the device has none), median of repeats, FLOP/s, GB/s, % of a stated roofline; a table and JSON.
//   node dist/kernels-bench/run.js [--quick] [--only NAME] [--baseline torch.json] [--out ours.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeCaps, openGpu, timeDispatchesFor } from '../src/gpu/index.js';
import { fullCases, quickCases, type BenchCase } from './cases.js';

interface Row {
  name: string; shape: string; ms: number; tflops: number | null; gbs: number | null;
  roofPct: number | null; method: string; baseMs?: number; ratio?: number;
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    baseline: { type: 'string' },
    out: { type: 'string' },
    samples: { type: 'string', default: '15' },
    'peak-tflops-f32': { type: 'string' },
    'peak-tflops-f16': { type: 'string' },
    'peak-gbs': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`kernels-bench: time every kernel (ours) and, with --baseline, print PyTorch's numbers beside them.
  --quick            small shapes (software GPU)
  --only SUBSTR      only cases whose name contains SUBSTR
  --baseline FILE    JSON from kernels-bench/torch_bench.py (same card, same call); its copy bandwidth and
                     cuBLAS rates become the roofline unless --peak-* are given
  --out FILE         write the table as JSON
  --samples N        timed samples per case (median reported; default 15)
  --peak-tflops-f32 / --peak-tflops-f16 / --peak-gbs   roofline figures`);
  process.exit(0);
}

interface Baseline { rows: { name: string; shape: string; ms: number; tflops: number | null; gbs: number | null }[]; info?: unknown }

function loadBaseline(path?: string): Baseline | null {
  return path ? JSON.parse(readFileSync(path, 'utf8')) as Baseline : null;
}

async function main(): Promise<void> {
  const gpu = await openGpu({ label: 'bench' });
  console.log(`device: ${describeCaps(gpu.caps)}`);
  const base = loadBaseline(args.baseline);
  const baseRow = (name: string, shape: string) => base?.rows.find((r) => r.name === name && r.shape === shape);
  const peakGbs = Number(args['peak-gbs'] ?? base?.rows.find((r) => r.name === 'copy')?.gbs ?? NaN);
  const peakTf = (dt: string) => Number(args[`peak-tflops-${dt}` as 'peak-tflops-f32'] ?? base?.rows.find((r) => r.name === `gemm_${dt}`)?.tflops ?? NaN);
  let cases: BenchCase[] = args.quick ? quickCases(gpu.caps.f16) : fullCases(gpu.caps.f16);
  if (args.only) cases = cases.filter((c) => c.name.includes(args.only!));
  const rows: Row[] = [];
  const samples = Number(args.samples);
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

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
