// GEMM variant sweep: builds several variants/configs of the tiled (f32) and subgroup-matrix (f16)
// kernels in one process, checks each (full float64 reference on a ragged shape, sampled float64
// reference on the timed shape), times each (timestamp queries, median), prints a table, writes JSON.
//   node dist/kernels-bench/gemm-sweep.js [--size 4096] [--samples 15] [--repeat 3] [--cublas cublas.json] [--out sweep.json] [--only SUBSTR]
// --repeat: timed on that many fresh sets of buffers (new allocations); min, median and max are reported,
// because the direct-load kernels' time moved 4x between allocations on the H100 (NOTES.md, GEMM).
// cublas.json: {"f32": TFLOP/s, "f16": TFLOP/s} measured on the same card in the same call.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeCaps, fromF16Array, openGpu, timeDispatches, toF16Array, type DType, type Gpu, type HostArray, type Tensor } from '../src/gpu/index.js';
import { hasSubgroupMatrixF16, linear, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import { fillRandom } from './random-fill.js';

interface Variant { name: string; dtype: DType; path: GemmPath; tune: GemmTuning; gated?: boolean }

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '4096' },
    samples: { type: 'string', default: '15' },
    cublas: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
    repeat: { type: 'string', default: '3' },
  },
});

function variants(sgm: boolean): Variant[] {
  const q = (tx: number, ty: number, bk: number, db = false): Variant => ({
    name: `f32 quad ${tx}x${ty} bk${bk}${db ? ' db' : ''}`, dtype: 'f32', path: 'tiled', tune: { tiled: { tx, ty, bk, db } },
  });
  const v: Variant[] = [
    { name: 'f32 classic 128x128 r8 (v0)', dtype: 'f32', path: 'tiled', tune: { tiled: 'classic' } },
    q(16, 16, 8), q(16, 16, 8, true),
  ];
  if (!sgm) return v;
  const d = (tm: 2 | 4, tn: 2 | 4, sgRows: number, sgCols: number, prefetch: boolean, k32 = false): Variant => ({
    name: `f16 sgm direct ${tm}x${tn}${k32 ? ' k32' : ''} sg${sgRows}x${sgCols}${prefetch ? ' pf' : ''}`, dtype: 'f16', path: 'subgroup-matrix',
    tune: { sgm: { tm, tn, sgRows, sgCols, prefetch, k32 } },
  });
  const gd = (tm: 2 | 4, tn: 2 | 4): Variant => ({
    name: `f16 gated sgm direct ${tm}x${tn} sg2x2`, dtype: 'f16', path: 'subgroup-matrix', gated: true,
    tune: { sgm: { tm, tn, sgRows: 2, sgCols: 2, prefetch: false } },
  });
  v.push(
    { name: 'f16 sgm staged 128x128 (v0)', dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: 'staged' } },
    d(4, 4, 2, 2, true), d(2, 4, 2, 2, true), d(2, 4, 2, 2, true, true), d(4, 2, 2, 2, true, true),
    d(4, 4, 2, 2, false, true), d(4, 4, 2, 2, true, true), gd(2, 2), gd(2, 4),
  );
  return v;
}

// ---- host data and references ---------------------------------------------------------------------

function hostRandom(n: number, dtype: DType, seed: number): { vals: Float64Array; host: HostArray } {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f[i] = (s / 2 ** 32) * 2 - 1 || 0.25; }
  const host = dtype === 'f16' ? toF16Array(f) : f;
  const vals = Float64Array.from(dtype === 'f16' ? fromF16Array(host as Uint16Array) : f);
  return { vals, host };
}

async function readF64(gpu: Gpu, t: Tensor): Promise<Float64Array> {
  const raw = await gpu.read(t);
  return Float64Array.from(t.dtype === 'f16' ? fromF16Array(raw as Uint16Array) : raw as Float32Array);
}

function gelu(v: number): number {
  const u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return 0.5 * v * (1 + Math.tanh(u));
}

/** Float64 value of output (m, n): x·wᵀ, or gelu_tanh(x·wgᵀ)·(x·wuᵀ). */
function refAt(x: Float64Array, w: Float64Array, wu: Float64Array | null, K: number, m: number, n: number): number {
  let a = 0, b = 0;
  for (let k = 0; k < K; k++) { a += x[m * K + k]! * w[n * K + k]!; if (wu) b += x[m * K + k]! * wu[n * K + k]!; }
  return wu ? gelu(a) * b : a;
}

/** ‖out − ref‖ / ‖ref‖ over the given outputs (NaN/unwritten poison → Infinity). */
function relErr(out: Float64Array, N: number, pts: [number, number][], ref: (m: number, n: number) => number): number {
  let num = 0, den = 0;
  for (const [m, n] of pts) {
    const o = out[m * N + n]!, r = ref(m, n);
    if (!Number.isFinite(o)) return Infinity;
    num += (o - r) ** 2; den += r * r;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

interface Built { d: ReturnType<typeof linear>; ts: Tensor[]; x: Float64Array; w: Float64Array; wu: Float64Array | null; out: Tensor }

function build(gpu: Gpu, v: Variant, M: number, N: number, K: number, hostData: boolean, seed: number): Built {
  const mk = (shape: number[], label: string, s: number): { t: Tensor; vals: Float64Array } => {
    const t = gpu.tensor(shape, v.dtype, label);
    if (hostData) { const r = hostRandom(shape[0]! * shape[1]!, v.dtype, s); gpu.write(t, r.host); return { t, vals: r.vals }; }
    fillRandom(gpu, t);
    return { t, vals: new Float64Array(0) };
  };
  const x = mk([M, K], 'x', seed), w = mk([N, K], 'w', seed + 1);
  const wu = v.gated ? mk([N, K], 'wu', seed + 2) : null;
  const out = gpu.tensor([M, N], v.dtype, 'out');
  gpu.write(out, v.dtype === 'f16' ? new Uint16Array(M * N).fill(0x7e00) : new Float32Array(M * N).fill(NaN));
  const d = v.gated
    ? gatedLinear(gpu, { x: x.t, wGate: w.t, wUp: wu!.t, out, act: 'gelu_tanh' }, { path: v.path, tune: v.tune })
    : linear(gpu, { x: x.t, w: w.t, out }, { path: v.path, tune: v.tune });
  return { d, ts: [x.t, w.t, ...(wu ? [wu.t] : []), out], x: x.vals, w: w.vals, wu: wu?.vals ?? null, out };
}

async function main(): Promise<void> {
  const gpu = await openGpu({ label: 'gemm-sweep' });
  const sgm = hasSubgroupMatrixF16(gpu.caps);
  console.log(`device: ${describeCaps(gpu.caps)}; subgroup-matrix f16: ${sgm}`);
  const S = Number(args.size), samples = Number(args.samples);
  const cublas = args.cublas ? JSON.parse(readFileSync(args.cublas, 'utf8')) as Record<string, number> : {};
  let list = variants(sgm);
  if (args.only) list = list.filter((v) => v.name.includes(args.only!));
  const rows: Record<string, unknown>[] = [];
  for (const v of list) {
    const row: Record<string, unknown> = { name: v.name };
    rows.push(row);
    try {
      // 1. Ragged shape, full float64 reference (K a multiple of 32 so every variant applies; M, N ragged).
      const [rm, rn, rk] = [333, 197, 288];
      const small = build(gpu, v, rm, rn, rk, true, 7);
      await gpu.run([small.d]);
      const got = await readF64(gpu, small.out);
      const all: [number, number][] = [];
      for (let m = 0; m < rm; m++) for (let n = 0; n < rn; n++) all.push([m, n]);
      row.errRagged = relErr(got, rn, all, (m, n) => refAt(small.x, small.w, small.wu, rk, m, n));
      small.d.release(); gpu.release(...small.ts);
      // 2. The timed shape: filled on the GPU (no large JS-filled host array: dawn.node hazard, see
      // software-gpu.md), read back natively; the sampled reference decodes only the rows it needs.
      const big = build(gpu, v, S, S, S, false, 11);
      await gpu.run([big.d]);
      const out = await readF64(gpu, big.out);
      const rawRows = async (t: Tensor): Promise<(r: number) => Float64Array> => {
        const raw = await gpu.read(t);
        return (r) => Float64Array.from(t.dtype === 'f16' ? fromF16Array((raw as Uint16Array).subarray(r * S, (r + 1) * S)) : (raw as Float32Array).subarray(r * S, (r + 1) * S));
      };
      const xr = await rawRows(big.ts[0]!), wr = await rawRows(big.ts[1]!);
      const ur = v.gated ? await rawRows(big.ts[2]!) : null;
      const pts: [number, number][] = [];
      let s = 99;
      for (let i = 0; i < 128; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; pts.push([s % S, (s >>> 12) % S]); }
      pts.push([0, 0], [S - 1, S - 1], [S - 1, 0], [0, S - 1]);
      let bad = 0;
      for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i]!)) bad++;
      row.unwritten = bad;
      row.errSampled = relErr(out, S, pts, (m, n) => refAt(xr(m), wr(n), ur ? ur(n) : null, S, 0, 0));
      const flops = (v.gated ? 4 : 2) * S * S * S;
      const times: number[] = [];
      let cur = big;
      for (let rep = 0; rep < Number(args.repeat); rep++) {
        if (rep > 0) cur = build(gpu, v, S, S, S, false, 11 + rep);
        const probe = await timeDispatches(gpu, [cur.d], { warmup: 2, samples: 3 });
        const inner = Math.max(1, Math.min(100, Math.ceil(20 / Math.max(probe.medianMs, 1e-3))));
        const t = await timeDispatches(gpu, [cur.d], { warmup: 3, samples, inner });
        times.push(t.medianMs); row.method = t.method;
        cur.d.release(); gpu.release(...cur.ts);
      }
      times.sort((a, b) => a - b);
      row.times = times;
      row.ms = times[Math.floor(times.length / 2)];
      row.msMin = times[0]; row.msMax = times[times.length - 1];
      row.tflops = flops / (row.ms as number) / 1e9;
      row.tflopsBest = flops / times[0]! / 1e9;
      const base = cublas[v.dtype];
      if (base) row.pctCublas = 100 * (row.tflops as number) / base;
    } catch (e) {
      row.error = (e as Error).message.split('\n').slice(0, 3).join(' | ');
    }
    const f = (x: unknown, d: number) => typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : String(x ?? '-');
    console.log(`${v.name.padEnd(34)} ${row.error ? `FAILED: ${row.error as string}` :
      `${f(row.ms, 3).padStart(8)} ms ${f(row.tflops, 1).padStart(7)} TF/s ${f(row.pctCublas, 1).padStart(6)}% cuBLAS  err ragged ${(row.errRagged as number).toExponential(1)} sampled ${(row.errSampled as number).toExponential(1)} unwritten ${row.unwritten as number}`}`);
  }
  const result = { device: describeCaps(gpu.caps), date: new Date().toISOString(), size: S, cublas, rows };
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 1));
  console.log('\nSUMMARY');
  for (const r of rows) console.log(`${String(r.name).padEnd(34)} ${r.error ? 'FAILED' : `${(r.ms as number).toFixed(3)} ms [${(r.msMin as number).toFixed(3)}-${(r.msMax as number).toFixed(3)}] ${(r.tflops as number).toFixed(1)} TF/s ${r.pctCublas !== undefined ? (r.pctCublas as number).toFixed(1) + '%' : ''} err ${(r.errRagged as number).toExponential(1)}/${(r.errSampled as number).toExponential(1)}`}`);
  gpu.destroy();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
