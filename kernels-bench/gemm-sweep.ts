// GEMM/GEMV variant sweep: builds many variants in one process, checks each for correctness and times it
// (timestamp queries, median), next to cuBLAS numbers measured by kernels-bench/gemm-cublas.py in the
// same call. Parts (--parts, comma-separated):
//   square   4096³ f32 and f16 (every tile shape, the direct kernel, gated variants): ragged shape against
//            a full float64 reference, 4096³ against float64 on sampled outputs, poisoned output, timed on
//            --repeat buffer sets that every variant shares (min/median/max).
//   prefill  seed-4l prefill projections (M = 2048, 4096: qkv 4096→6144, o 4096→4096, gated 4096→2×16384,
//            down 16384→4096) for the fastest tile shapes of `square` and the current defaults.
//   decode   the same projections at M = 1, 8, 16, 32, 64 (--decode-m): GEMV variants (M ≤ 8), the array skinny
//            tensor-core variants (M ≥ 16), the generated skinny configurations ('sgen <id>', any M they take)
//            and the default path; 3 weight copies rotate so L2 never holds the one read. --decode-shapes
//            'NxK[g],…' replaces the projections (g: gated, N = F), e.g. seed-4l's
//            12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096.
//   f32      f32 quad-kernel shapes at 4096³.
// --robustness on|off (--no-robustness: off; default: the runtime's, off on Node): the device with or without robust
// buffer access (a process of its own): what the bounds clamps Tint adds to every array access cost.
// --pick 'a|b' runs only the variants with these exact names ('gen *': every name with that prefix).
// --prefill-m 2048 (comma-separated M of the prefill part, default 2048,4096); --prefill-all: the prefill
// part times every variant of `square` that --only/--pick leave instead of the --top fastest.
// --splits 2,4,8 (decode part, M ≥ 8): every split-K configuration also with these splits ('gen <id> s<S>').
// --fixk: every generated tile variant also with K fixed in its pipeline ('gen <id> fixk', 'gen <id> s<S> fixk').
// --emulate: the subgroup-matrix variants that have a scalar-emulated twin run emulated (the generated tiles; the
// decode part's big ones too, each 5–25 s of compiling on lavapipe: --pick a round's few), so the sweep runs end to
// end on a CPU adapter (smoke runs only).
//   node dist/kernels-bench/gemm-sweep.js [--parts square,prefill,decode,f32] [--cublas cublas.json]
//        [--out sweep.json] [--md table.md] [--repeat 2] [--samples 8] [--only SUBSTR] [--top 3]
//        [--size 4096] [--shape-div 1]   (smaller square / projection shapes: smoke runs on a CPU adapter)
import { writeFileSync } from 'node:fs';
import {
  describeCaps, fromF16Array, sliceRows, timeDispatchesFor, toF16Array, type Dispatch, type DType, type Gpu, type HostArray, type Tensor,
} from '../src/gpu/index.js';
import { ROBUSTNESS_OPTIONS, openBenchGpu } from './bench-robustness.js';
import {
  MAX_SAMPLES, UsageError, allRowsFailed, benchArgs, int, intList, nameList, nameListOf, outputPath, readJson, refuseOverLimit, runBench, type PlannedTensor,
} from './bench-args.js';
import { chooseGemmPath, linear, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import { gemvSgApplies } from '../src/kernels/gemv.js';
import {
  SGM_SKINNY_SHAPES, SGM_TILE_GATED_SHAPES, SGM_TILE_GEN_BIG, SGM_TILE_GEN_IDS, SGM_TILE_GEN_SPLIT_K, SGM_TILE_SHAPES, sgmSkinnyApplies,
  sgmSkinnyFits, sgmTileFits, sgmTileGenFits, tileGenGeometry, tileReadsWeightBlocks, type SgmDirectShape
} from '../src/kernels/gemm-sgm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import {
  SGM_SKINNY_GEN_BIG, SGM_SKINNY_GEN_IDS, sgmSkinnyGenApplies, sgmSkinnyGenFits, skinnyGenGeometry
} from '../src/kernels/gemm-skinny-gen.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import { fillRandom } from './random-fill.js';
import { weightBlockIndex } from '../src/kernels/weight-blocks.js';
import { activationRows } from '../src/model/run-state.js';
import { weightRows } from '../src/model/weights.js';

const PARTS = ['square', 'prefill', 'decode', 'f32'] as const;
const { values: args, given } = benchArgs({
  script: 'gemm-sweep.js',
  about: `GEMM/GEMV variant sweep: every variant of the chosen parts checked against float64 and timed (timestamp queries,
median), beside cuBLAS numbers from kernels-bench/gemm-cublas.py (--cublas). Parts: square (--size³ f32 and f16 tile
shapes), prefill (seed-4l's projections at --prefill-m rows, subgroup matrices or --emulate), decode (the projections at
--decode-m rows), f32 (f32 quad-kernel shapes at --size³). An unknown part, or a --pick / --only that leaves nothing to
run, is an error.`,
  examples: ["node dist/kernels-bench/gemm-sweep.js --parts f32 --size 128 --samples 2 --pick 'f32 default path'   # any machine",
    "node dist/kernels-bench/gemm-sweep.js --parts square --pick 'default path|gen t128x128*' --cublas cublas.json --out sweep.json"],
}, {
  parts: { type: 'string', default: 'square,decode,prefill,f32', help: `comma-separated: ${PARTS.join(', ')}` },
  cublas: { type: 'string', help: 'JSON from kernels-bench/gemm-cublas.py (same card, same call): cuBLAS times beside ours' },
  out: { type: 'string', help: 'write the rows as JSON (after every row)' },
  md: { type: 'string', help: 'write the rows as a markdown table' },
  only: { type: 'string', help: 'only variants whose name contains this' },
  pick: { type: 'string', help: "only variants with these exact names, '|'-separated ('gen *': every name with that prefix)" },
  repeat: { type: 'string', default: '2', help: 'square/f32: buffer sets each variant is timed on (min/median/max)' },
  samples: { type: 'string', default: '8', help: `timed samples per measurement (median), 1–${MAX_SAMPLES}` },
  top: { type: 'string', default: '3', help: "prefill: the fastest tile shapes of 'square' taken" },
  size: { type: 'string', default: '4096', help: 'square/f32: the M = N = K of the timed square' },
  'shape-div': { type: 'string', default: '1', help: 'prefill/decode: divide every projection shape by this (smoke runs)' },
  copies: { type: 'string', default: '3', help: 'decode: weight copies rotated so L2 never holds the one read' },
  ...ROBUSTNESS_OPTIONS,
  'prefill-m': { type: 'string', default: '2048,4096', help: 'prefill: comma-separated M' },
  'prefill-all': { type: 'boolean', default: false, help: "prefill: every variant of 'square' instead of the --top fastest" },
  emulate: { type: 'boolean', default: false, help: "without subgroup matrices: the generated tiles run emulated (smoke runs; in 'decode' --pick a few: a big tile compiles 5-25 s on lavapipe)" },
  'decode-shapes': { type: 'string', help: "decode: 'NxK[g],…' instead of seed-4l's projections (g: gated, N = F)" },
  'decode-m': { type: 'string', default: '1,8,16,32,64', help: 'decode: comma-separated M' },
  splits: { type: 'string', help: "decode (M >= 8): every split-K configuration also with these splits ('gen <id> s<S>')" },
  wblk: { type: 'boolean', default: false, help: "decode: every generated tile that can also reads its weights in 64 × 64 blocks ('gen <id> wblk'), and the direct kernels (M >= 16) theirs in 16 × 16 blocks ('direct … wb16'); same data, checked as blocked" },
  fixk: { type: 'boolean', default: false, help: "every generated tile variant also with K fixed in its pipeline ('gen <id> fixk')" },
});

/** blocks: the kernel reads its weights in blocks of this size (64: WBLK tiles, 16: WB16 direct; the same random buffer, checked as blocked). */
interface Variant { name: string; dtype: DType; path?: GemmPath; tune: GemmTuning; gated?: boolean; blocks?: 64 | 16 }

interface Row {
  part: string; name: string; M: number; N: number; K: number; gated: boolean;
  ms?: number; msMin?: number; msMax?: number; tflops?: number; gbs?: number;
  errRagged?: number; errSampled?: number; unwritten?: number;
  cublasMs?: number; vsCublas?: number; pctCopy?: number; error?: string;
  /** A generated tile that ran its checked twin instead (a launch's operands too short to bind widened). */
  twin?: boolean;
}

/** --cublas's figures (read in main, after the command line is checked). */
let cublas: { copy_gbs?: number; ms?: Record<string, number> } = {};
const cublasKey = (v: { gated?: boolean; dtype: DType }, M: number, N: number, K: number) => `${v.gated ? 'gated ' : ''}${v.dtype} ${M}x${N}x${K}`;
const rows: Row[] = [];
let SAMPLES = 8, REPEAT = 2, DIV = 1;

// ---- data, references, error -------------------------------------------------------------------

function hostRandom(n: number, dtype: DType, seed: number): { vals: Float64Array; host: HostArray } {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f[i] = (s / 2 ** 32) * 2 - 1 || 0.25; }
  const host = dtype === 'f16' ? toF16Array(f) : f;
  return { vals: Float64Array.from(dtype === 'f16' ? fromF16Array(host as Uint16Array) : f), host };
}

/** Row accessor of a device tensor read back once (rows decoded on demand). */
async function rowsOf(gpu: Gpu, t: Tensor): Promise<(r: number) => Float64Array> {
  const raw = await gpu.read(t);
  const cols = t.shape[1]!;
  return (r) => Float64Array.from(t.dtype === 'f16'
    ? fromF16Array((raw as Uint16Array).subarray(r * cols, (r + 1) * cols)) : (raw as Float32Array).subarray(r * cols, (r + 1) * cols));
}

/** Row accessor of a [N, K] weight stored in B × B blocks (toWeightBlocks), read back once. */
async function blockedRowsOf(gpu: Gpu, t: Tensor, B: number): Promise<(r: number) => Float64Array> {
  const raw = await gpu.read(t) as Uint16Array;
  const K = t.shape[1]!;
  return (n) => {
    const row = new Uint16Array(K);
    for (let k = 0; k < K; k++) row[k] = raw[weightBlockIndex(n, k, K, B)]!;
    return Float64Array.from(fromF16Array(row));
  };
}

function gelu(v: number): number { return 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }

function dot(a: Float64Array, b: Float64Array): number { let s = 0; for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!; return s; }

/** ‖got − ref‖ / ‖ref‖ over points; a non-finite output (poison) gives Infinity. */
function relErr(pts: [number, number][], got: (m: number, n: number) => number, ref: (m: number, n: number) => number): number {
  let num = 0, den = 0;
  for (const [m, n] of pts) {
    const o = got(m, n), r = ref(m, n);
    if (!Number.isFinite(o)) return Infinity;
    num += (o - r) ** 2; den += r * r;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function samplePoints(M: number, N: number, count = 96): [number, number][] {
  const pts: [number, number][] = [[0, 0], [M - 1, N - 1], [M - 1, 0], [0, N - 1]];
  let s = 99;
  for (let i = 0; i < count; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; pts.push([s % M, (s >>> 11) % N]); }
  return pts;
}

/**
 * x for the timed shapes. Gated: values in ±1/64 — the benchmark fill repeats one pool of random values
 * along every row, so rows correlate and gate·up products of ±1 data overflow f16 (round 1: every gated
 * kernel, the defaults included, showed "unwritten" infinities).
 */
function fillX(gpu: Gpu, t: Tensor, small: boolean): void {
  if (!small || t.dtype !== 'f16') { fillRandom(gpu, t); return; }
  const pool = hostRandom(1 << 16, 'f32', 5).vals.map((v) => v / 64);
  const host = toF16Array(pool);
  gpu.writeGenerated(t, (chunk, start) => {
    const c = chunk as Uint16Array;
    let off = (start * 40503) % host.length;
    for (let i = 0; i < c.length;) {
      const n = Math.min(host.length - off, c.length - i);
      c.set(host.subarray(off, off + n), i);
      i += n; off = (off + n + 7919) % host.length;
    }
  });
}

function poison(gpu: Gpu, t: Tensor): void {
  const n = t.shape[0]! * t.shape[1]!;
  gpu.write(t, t.dtype === 'f16' ? new Uint16Array(n).fill(0x7e00) : new Float32Array(n).fill(NaN));
}

function launch(gpu: Gpu, v: Variant, x: Tensor, w: Tensor, wu: Tensor | null, out: Tensor): Dispatch {
  return v.gated
    ? gatedLinear(gpu, { x, wGate: w, wUp: wu!, out, act: 'gelu_tanh' }, { path: v.path, tune: v.tune })
    : linear(gpu, { x, w, out }, { path: v.path, tune: v.tune });
}

/** Full float64 check on a small ragged shape (host data). */
async function raggedCheck(gpu: Gpu, v: Variant, M: number, N: number, K: number): Promise<number> {
  const x = hostRandom(M * K, v.dtype, 7), w = hostRandom(N * K, v.dtype, 8), u = v.gated ? hostRandom(N * K, v.dtype, 9) : null;
  const ts = [gpu.tensor([M, K], v.dtype, 'x'), gpu.tensor([N, K], v.dtype, 'w'), gpu.tensor([N, K], v.dtype, 'wu'), gpu.tensor([M, N], v.dtype, 'out')] as const;
  gpu.write(ts[0], x.host); gpu.write(ts[1], w.host); if (u) gpu.write(ts[2], u.host);
  poison(gpu, ts[3]);
  const d = launch(gpu, v, ts[0], ts[1], ts[2], ts[3]);
  await gpu.run([d]);
  const out = await rowsOf(gpu, ts[3]);
  const pts: [number, number][] = [];
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) pts.push([m, n]);
  const row = (a: Float64Array, r: number) => a.subarray(r * K, (r + 1) * K);
  const err = relErr(pts, (m, n) => out(m)[n]!, (m, n) => {
    const g = dot(row(x.vals, m), row(w.vals, n));
    return u ? gelu(g) * dot(row(x.vals, m), row(u.vals, n)) : g;
  });
  d.release(); gpu.release(...ts);
  return err;
}

type Rows = (r: number) => Float64Array;

/** Sampled float64 check of a big output (operand rows read back by the caller); counts non-finite (unwritten) outputs. */
async function sampledCheck(gpu: Gpu, v: Variant, xr: Rows, wr: Rows, ur: Rows | null, out: Tensor): Promise<{ err: number; unwritten: number }> {
  const [M, N] = out.shape as [number, number];
  const raw = await gpu.read(out);
  const all = v.dtype === 'f16' ? fromF16Array(raw as Uint16Array) : raw as Float32Array;
  let unwritten = 0;
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i]!)) unwritten++;
  const err = relErr(samplePoints(M, N), (m, n) => all[m * N + n]!, (m, n) => {
    const g = dot(xr(m), wr(n));
    return ur ? gelu(g) * dot(xr(m), ur(n)) : g;
  });
  return { err, unwritten };
}

async function timeList(gpu: Gpu, list: Dispatch[]): Promise<number> {
  return (await timeDispatchesFor(gpu, list, { samples: SAMPLES })).medianMs;
}

function finish(row: Row, v: Variant, flops: number, bytes: number): void {
  if (row.ms === undefined) return;
  row.tflops = flops / row.ms / 1e9;
  row.gbs = bytes / row.ms / 1e6;
  const c = cublas.ms?.[cublasKey(v, row.M, row.N, row.K)];
  if (c) { row.cublasMs = c; row.vsCublas = c / row.ms; }
  if (cublas.copy_gbs) row.pctCopy = 100 * row.gbs / cublas.copy_gbs;
}

function save(): void {
  if (args.out) writeFileSync(args.out, JSON.stringify({ device: deviceName, cublas, rows }, null, 1));
  if (args.md) writeFileSync(args.md, markdown(rows));
}
let deviceName = '';

function print(r: Row): void {
  save();
  const f = (x: number | undefined, d: number, w: number) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d)).padStart(w);
  const e = (x: number | undefined) => x === undefined ? '-' : x.toExponential(1);
  const shape = `${r.M}x${r.N}x${r.K}${r.gated ? ' g' : ''}`;
  console.log(`${r.part.padEnd(7)} ${r.name.padEnd(36)} ${shape.padEnd(20)} ${r.error ? `FAILED: ${r.error}` :
    `${f(r.ms, 4, 9)} ms ${f(r.tflops, 1, 6)} TF/s ${f(r.gbs, 0, 5)} GB/s  cuBLAS ${f(r.cublasMs, 4, 8)} ms x${f(r.vsCublas, 2, 5)}  err ${e(r.errRagged)}/${e(r.errSampled)} unwritten ${r.unwritten ?? '-'}${r.twin ? '  RAN ITS CHECKED TWIN' : ''}`}`);
}

function errMsg(e: unknown): string { return (e as Error).message.split('\n').slice(0, 3).join(' | '); }

// ---- parts ----------------------------------------------------------------------------------------

/** Generated staged tile variants ('gen <id>'): the big configurations, or emulated the small ones. */
/** Each generated-tile variant, and with --fixk its twin with K fixed in the pipeline (name + ' fixk'). */
function withFixK(v: Variant[]): Variant[] {
  if (!args.fixk) return v;
  return v.flatMap((x) => {
    const s = x.tune.sgm;
    return typeof s === 'object' && 'kind' in s && s.kind === 'tile-gen'
      ? [{ ...x, tune: { sgm: { ...s, fixK: false } } }, { ...x, name: `${x.name} fixk`, tune: { sgm: { ...s, fixK: true } } }] : [x];
  });
}

/** With --wblk, each generated tile that can read 64 × 64 weight blocks also does so (name + ' wblk'). */
function withWblk(v: Variant[]): Variant[] {
  if (!args.wblk) return v;
  return v.flatMap((x) => {
    const s = x.tune.sgm;
    if (typeof s !== 'object' || !('kind' in s) || s.kind !== 'tile-gen') return [x];
    return tileReadsWeightBlocks(tileGenGeometry(s.id)) ? [x, { ...x, name: `${x.name} wblk`, blocks: 64, tune: { sgm: { ...s, wblk: true } } }] : [x];
  });
}

/** The generated tiles as variants: the big ones, or emulated the small ones (`everyEmulated`: every one). */
function tileGenVariants(gpu: Gpu, gated: boolean, emulate: boolean, everyEmulated = false): Variant[] {
  const ids = !emulate ? SGM_TILE_GEN_BIG : everyEmulated ? SGM_TILE_GEN_IDS : SGM_TILE_GEN_IDS.filter((id) => !SGM_TILE_GEN_BIG.includes(id));
  return withWblk(withFixK(ids.filter((id) => tileGenGeometry(id).gated === gated && sgmTileGenFits(gpu.caps, { kind: 'tile-gen', id, emulate }))
    .map((id): Variant => ({ name: `gen ${id}`, dtype: 'f16', path: 'subgroup-matrix', gated, tune: { sgm: { kind: 'tile-gen', id, emulate } } }))));
}

/** Split-K variants ('gen <id> s<S>') of every configuration with a split-K entry. */
function splitVariants(gpu: Gpu, gated: boolean, splits: number[], emulate: boolean): Variant[] {
  return withWblk(withFixK(SGM_TILE_GEN_SPLIT_K.filter((id) => tileGenGeometry(id).gated === gated && sgmTileGenFits(gpu.caps, { kind: 'tile-gen', id, emulate }))
    .flatMap((id) => splits.map((n): Variant => ({ name: `gen ${id} s${n}`, dtype: 'f16', path: 'subgroup-matrix', gated, tune: { sgm: { kind: 'tile-gen', id, splits: n, emulate } } })))));
}

function squareVariants(gpu: Gpu, sgm: boolean): Variant[] {
  const v: Variant[] = [];
  if (!sgm && args.emulate) {
    return [{ name: 'default path', dtype: 'f16', tune: {} }, ...tileGenVariants(gpu, false, true),
      { name: 'gated default path', dtype: 'f16', gated: true, tune: {} }, ...tileGenVariants(gpu, true, true)];
  }
  if (!sgm) return [{ name: 'default path', dtype: 'f16', tune: {} }];
  v.push({ name: 'default path', dtype: 'f16', tune: {} });
  v.push({ name: 'direct 4x4 sg2x2 pf', dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true } } });
  for (const [name, s] of Object.entries(SGM_TILE_SHAPES)) {
    if (sgmTileFits(gpu.caps, s, false)) v.push({ name, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: s } });
  }
  v.push(...tileGenVariants(gpu, false, false));
  v.push({ name: 'gated default path', dtype: 'f16', gated: true, tune: {} });
  v.push({ name: 'gated direct 2x4', dtype: 'f16', path: 'subgroup-matrix', gated: true, tune: { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false } } });
  for (const [name, s] of Object.entries(SGM_TILE_GATED_SHAPES)) {
    if (sgmTileFits(gpu.caps, s, true)) v.push({ name, dtype: 'f16', path: 'subgroup-matrix', gated: true, tune: { sgm: s } });
  }
  v.push(...tileGenVariants(gpu, true, false));
  return v;
}

function f32Variants(): Variant[] {
  const q = (tx: number, ty: number, bk: number, qm = 2, qn = 2, db = false, pf = true, exact = false): Variant => ({
    name: `f32 quad ${tx}x${ty} bk${bk}${qm !== 2 || qn !== 2 ? ` ${4 * qm}x${4 * qn}/thread` : ''}${db ? ' db' : ''}${pf ? '' : ' nopf'}${exact ? ' exact' : ''}`,
    dtype: 'f32', path: 'tiled', tune: { tiled: { tx, ty, bk, db, qm, qn, pf, exact } },
  });
  return [{ name: 'f32 default path', dtype: 'f32', tune: {} }, q(16, 16, 8), q(16, 16, 8, 2, 2, false, false), q(16, 16, 8, 2, 2, true),
    q(16, 16, 8, 2, 2, true, false), q(16, 16, 8, 4, 2), q(16, 16, 8, 2, 4), q(16, 8, 8, 4, 2), q(16, 16, 16, 4, 2),
    // Around session 30's default (db nopf, 37.2 TFLOP/s against 35.3): its K slice halved and doubled, 16×8 a thread.
    q(16, 16, 4, 2, 2, true, false), q(16, 16, 16, 2, 2, true, false), q(16, 16, 8, 4, 2, true, false),
    // Session 35: the default with the unchecked pipeline where the shape divides into whole tiles (session 34's runtime
    // interior branch lost: 36.2 against 37.7 TFLOP/s, H100).
    q(16, 16, 8, 2, 2, true, false, true), q(16, 16, 8, 2, 2, false, true, true),
    // Around the exact single-buffered prefetching tile (44.4, session 35): buffering, prefetch, slice depth, outputs a thread.
    q(16, 16, 8, 2, 2, true, true, true), q(16, 16, 8, 2, 2, false, false, true), q(16, 16, 16, 2, 2, false, true, true),
    q(16, 16, 4, 2, 2, false, true, true), q(16, 16, 8, 4, 2, false, true, true), q(16, 8, 8, 4, 2, false, true, true)];
}

/**
 * 4096³ (or --size) per variant: ragged full check, sampled big check, timed on --repeat buffer sets. Every
 * variant of a set runs on the same buffers (one set per dtype and gated-ness): a tile's time moved up to 2× with
 * the buffers it got (session 10, H200), so variants are compared on shared ones, each set in turn.
 */
async function squarePart(gpu: Gpu, part: string, all: Variant[], S = 4096): Promise<Row[]> {
  const list = all.filter((v) => !v.blocks);   // blocked weights: the decode part only (its checks read them as blocks)
  const out: Row[] = list.map((v) => ({ part, name: v.name, M: S, N: S, K: S, gated: !!v.gated }));
  rows.push(...out);
  const times: number[][] = list.map(() => []);
  for (const [i, v] of list.entries()) {
    try { out[i]!.errRagged = await raggedCheck(gpu, v, 333, 197, 288); } catch (e) { out[i]!.error = errMsg(e); }
  }
  for (let rep = 0; rep < REPEAT; rep++) {
    const sets = new Map<string, { x: Tensor; w: Tensor; wu: Tensor | null; o: Tensor }>();
    for (const [i, v] of list.entries()) {
      const row = out[i]!;
      if (row.error) continue;
      try {
        const key = `${v.dtype}${v.gated ? ' gated' : ''}`;
        let b = sets.get(key);
        if (!b) {
          b = { x: gpu.tensor([S, S], v.dtype, 'x'), w: gpu.tensor([S, S], v.dtype, 'w'), wu: v.gated ? gpu.tensor([S, S], v.dtype, 'wu') : null, o: gpu.tensor([S, S], v.dtype, 'out') };
          for (const t of [b.w, b.wu]) if (t) fillRandom(gpu, t);
          fillX(gpu, b.x, !!v.gated);
          sets.set(key, b);
        }
        const d = launch(gpu, v, b.x, b.w, b.wu, b.o);
        if (rep === 0) {
          poison(gpu, b.o);
          await gpu.run([d]);
          const c = await sampledCheck(gpu, v, await rowsOf(gpu, b.x), await rowsOf(gpu, b.w), b.wu ? await rowsOf(gpu, b.wu) : null, b.o);
          row.errSampled = c.err; row.unwritten = c.unwritten;
        }
        times[i]!.push(await timeList(gpu, [d]));
        d.release();
      } catch (e) { row.error = errMsg(e); }
    }
    for (const b of sets.values()) gpu.release(b.x, b.w, b.o, ...(b.wu ? [b.wu] : []));
  }
  for (const [i, v] of list.entries()) {
    const row = out[i]!, t = times[i]!.sort((a, b) => a - b);
    if (t.length) {
      row.ms = t[Math.floor(t.length / 2)]; row.msMin = t[0]; row.msMax = t[t.length - 1];
      const el = v.dtype === 'f16' ? 2 : 4;
      finish(row, v, (v.gated ? 4 : 2) * S * S * S, el * S * S * (v.gated ? 4 : 3));
    }
    print(row);
  }
  return out;
}

/** Projections: (N or F, K, gated). The default list (rounds 1–4) took qkv as 4096→6144. */
const SEED: [number, number, boolean][] = [[6144, 4096, false], [4096, 4096, false], [16384, 4096, true], [4096, 16384, false]];

/** --decode-shapes 'NxK[g],…' (g: gated, N = F). */
function parseShapes(v: string): [number, number, boolean][] {
  return v.split(',').filter(Boolean).map((t) => {
    const m = /^([1-9]\d*)x([1-9]\d*)(g?)$/.exec(t.trim());
    if (!m) throw new UsageError(`--decode-shapes: bad shape '${t}' (NxK or NxKg, N and K positive integers)`);
    return [Number(m[1]), Number(m[2]), m[3] === 'g'];
  });
}

/** Generated skinny variants for M rows ('sgen <id>'): the big configurations, or emulated the small ones. */
function skinnyGenVariants(gpu: Gpu, M: number, gated: boolean, emulate: boolean): Variant[] {
  const ids = emulate ? SGM_SKINNY_GEN_IDS.filter((id) => !SGM_SKINNY_GEN_BIG.includes(id)) : SGM_SKINNY_GEN_BIG;
  return ids.filter((id) => skinnyGenGeometry(id).gated === gated && sgmSkinnyGenApplies(id, M, 4096, 4096)
    && sgmSkinnyGenFits(gpu.caps, { kind: 'skinny-gen', id, emulate }))
    .map((id): Variant => ({ name: `sgen ${id}`, dtype: 'f16', path: 'subgroup-matrix', gated, tune: { sgm: { kind: 'skinny-gen', id, emulate } } }));
}

const picked = args.pick ? args.pick.split('|') : null;
const pickedName = (name: string) => !picked || picked.some((p) => p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : p === name);
/** The variants --only / --pick leave. */
function only(l: Variant[]): Variant[] {
  return l.filter((v) => (!args.only || v.name.includes(args.only)) && pickedName(v.name));
}

/** A shape's weights (rotating copies) shared by every variant and M; x per M. */
async function projectionPart(gpu: Gpu, part: string, Ms: number[], variantsFor: (M: number, gated: boolean) => Variant[], copies: number,
  shapes = SEED): Promise<void> {
  for (const [N0, K0, gated] of shapes) {
    const N = N0 / DIV, K = K0 / DIV;
    if (!Ms.some((M) => only(variantsFor(M, gated)).length)) continue;
    const ws: Tensor[] = [], us: Tensor[] = [];
    try {
      for (let c = 0; c < copies; c++) {
        // Weight buffers of whole tiles too (weightRows, as allocWeights), the tensors their first N rows.
        const wt = (label: string) => { const t = gpu.tensor([weightRows(N), K], 'f16', label); fillRandom(gpu, t); return sliceRows(t, 0, N); };
        ws.push(wt('w'));
        if (gated) us.push(wt('wu'));
      }
    } catch (e) {
      console.log(`${part}: cannot allocate weights ${N}x${K}: ${errMsg(e)}`);
      gpu.release(...ws, ...us);
      continue;
    }
    const wr = await rowsOf(gpu, ws[0]!), ur = gated ? await rowsOf(gpu, us[0]!) : null;
    // --wblk: the same buffers read as blocks (random either way; the check reads them as the variant does), per size.
    const blocked = new Map<number, { wr: Rows; ur: Rows | null }>();
    const blockedFor = async (B: number) => {
      let b = blocked.get(B);
      if (!b) { b = { wr: await blockedRowsOf(gpu, ws[0]!, B), ur: gated ? await blockedRowsOf(gpu, us[0]!, B) : null }; blocked.set(B, b); }
      return b;
    };
    for (const M of Ms) {
      // x in a buffer of whole tiles, as the runtime's activations (activationRows): an unchecked tile at a ragged M is
      // then bound widened and runs, not its checked twin (which the sweep timed at such M before session 48).
      const xBuf = gpu.tensor([activationRows(M), K], 'f16', 'x');
      fillX(gpu, xBuf, gated);   // the padding rows random too: the tile multiplies them
      const x = sliceRows(xBuf, 0, M);
      const xr = await rowsOf(gpu, x);
      const outs = Array.from({ length: copies }, () => gpu.tensor([M, N], 'f16', 'out'));
      for (const v of only(variantsFor(M, gated))) {
        const row: Row = { part, name: v.name, M, N, K, gated };
        rows.push(row);
        const ds: Dispatch[] = [];
        try {
          for (const o of outs) poison(gpu, o);
          for (let c = 0; c < copies; c++) ds.push(launch(gpu, v, x, ws[c]!, us[c] ?? null, outs[c]!));
          await gpu.run([ds[0]!]);
          const sgm = v.tune?.sgm;
          const id = sgm && typeof sgm === 'object' && 'kind' in sgm && sgm.kind === 'tile-gen' ? sgm.id : null;
          if (id && !ds[0]!.launches.some((l) => new RegExp(`^tgs?_${id}_`).test(l.label))) row.twin = true;
          // (A blocked launch on N or K not whole blocks was refused above.)
          const b = v.blocks ? await blockedFor(v.blocks) : { wr, ur };
          const chk = await sampledCheck(gpu, v, xr, b.wr, b.ur, outs[0]!);
          row.errSampled = chk.err; row.unwritten = chk.unwritten;
          row.ms = (await timeList(gpu, ds)) / copies;
          finish(row, v, (gated ? 4 : 2) * M * N * K, 2 * ((gated ? 2 : 1) * N * K + M * K + M * N));
        } catch (e) { row.error = errMsg(e); }
        for (const d of ds) d.release();
        print(row);
      }
      gpu.release(xBuf, ...outs);
    }
    gpu.release(...ws, ...us);
  }
}

function bestTiles(square: Row[], gated: boolean, n: number): string[] {
  const ok = (r: Row) => r.ms !== undefined && (r.errRagged ?? 1) < 1e-2 && (r.errSampled ?? 1) < 1e-2 && r.unwritten === 0;
  return square.filter((r) => r.gated === gated && ok(r) && !r.name.includes('default')).sort((a, b) => a.ms! - b.ms!).slice(0, n).map((r) => r.name);
}

function defaultVariant(gated: boolean): Variant {
  return { name: 'default path', dtype: 'f16', tune: {}, gated };
}

/** The decode part's variants for M rows (gated: the FFN's gate/up pair). */
function decodeVariants(gpu: Gpu, sgm: boolean, M: number, g: boolean, splits: number[] | null): Variant[] {
  const v: Variant[] = [{ ...defaultVariant(g), name: `default path (${chooseGemmPath(gpu.caps, M, 4096, 4096, 'f16')})` }];
  if ((sgm || args.emulate) && M >= 8 && splits) v.push(...splitVariants(gpu, g, splits, !sgm));
  if (M <= 8) {
    v.push({ name: 'gemv vec4 (h8 off)', dtype: 'f16', path: 'gemv', gated: g, tune: { gemv: { h8: false } } });
    for (const lanes of [undefined, 32]) {
      v.push({ name: `gemv h8 lanes ${lanes ?? 'auto'}`, dtype: 'f16', path: 'gemv', gated: g, tune: { gemv: { h8: true, lanes } } });
    }
    for (const cpt of [1, 2, 4, 8]) {
      for (const u of [1, 2]) {
        if (gemvSgApplies(gpu.caps, { M, K: 4096, dtype: 'f16', kind: g ? 'gated' : 'linear' }, cpt, u)) {
          v.push({ name: `gemv sg cpt${cpt} u${u}`, dtype: 'f16', path: 'gemv', gated: g, tune: { gemv: { cpt, u } } });
        }
        if (gemvSgApplies(gpu.caps, { M, K: 4096, dtype: 'f16', kind: g ? 'gated' : 'linear' }, cpt, u, true)) {
          v.push({ name: `gemv sg cpt${cpt} u${u} h`, dtype: 'f16', path: 'gemv', gated: g, tune: { gemv: { cpt, u, half: true } } });
        }
      }
    }
  }
  if (sgm && M >= 16) {
    v.push(g ? { name: 'gated direct 2x4', dtype: 'f16', path: 'subgroup-matrix', gated: true, tune: { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false } } }
      : { name: 'direct 4x4 sg2x2 pf', dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true } } });
    if (args.wblk) {
      // Session 41: the direct kernel on weights in 16 × 16 blocks (each right matrix a contiguous 512-byte load), and
      // 64-row blocks of 4 subgroups (64 × 16 or 16 × 64 each), both layouts.
      const direct: [string, SgmDirectShape, boolean][] = g
        ? [['gated direct 2x4', { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false }, true], ['gated direct 2x2 sg2x2', { tm: 2, tn: 2, sgRows: 2, sgCols: 2, prefetch: false }, false]]
        : [['direct 4x4 sg2x2 pf', { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true }, true], ['direct 4x1 sg1x4 pf', { tm: 4, tn: 1, sgRows: 1, sgCols: 4, prefetch: true }, false],
          ['direct 1x4 sg4x1 pf', { tm: 1, tn: 4, sgRows: 4, sgCols: 1, prefetch: true }, false]];
      for (const [name, s, listed] of direct) {
        if (!listed) v.push({ name, dtype: 'f16', path: 'subgroup-matrix', gated: g, tune: { sgm: s } });
        v.push({ name: `${name} wb16`, dtype: 'f16', path: 'subgroup-matrix', gated: g, blocks: 16, tune: { sgm: { ...s, wb16: true } } });
      }
    }
  }
  if (sgm && sgmSkinnyApplies(M, 4096, 4096)) {
    for (const [name, s] of Object.entries(SGM_SKINNY_SHAPES)) {
      if (sgmSkinnyFits(gpu.caps, s, g)) v.push({ name, dtype: 'f16', path: 'subgroup-matrix', gated: g, tune: { sgm: s } });
    }
  }
  if (sgm || args.emulate) v.push(...skinnyGenVariants(gpu, M, g, !sgm));
  // The prefill and decode tiles on decode rows (emulated with --emulate: a smoke run of a round's --pick).
  if ((sgm || args.emulate) && M >= 8) v.push(...tileGenVariants(gpu, g, !sgm, true));
  return v;
}

/** The command line's values, checked before the GPU opens. */
function checkArgs(): { parts: Set<string>; S: number; top: number; copies: number; prefillMs: number[]; decodeMs: number[]; splits: number[] | null; shapes: [number, number, boolean][] } {
  const parts = new Set(nameListOf('parts', args.parts, PARTS));
  SAMPLES = int('samples', args.samples, 1, MAX_SAMPLES);
  REPEAT = int('repeat', args.repeat);
  DIV = int('shape-div', args['shape-div']);
  const S = int('size', args.size), top = int('top', args.top, 0), copies = int('copies', args.copies);
  const prefillMs = intList('prefill-m', args['prefill-m']), decodeMs = intList('decode-m', args['decode-m']);
  const splits = args.splits === undefined ? null : intList('splits', args.splits);
  const shapes = args['decode-shapes'] === undefined ? SEED : parseShapes(args['decode-shapes']);
  if (!shapes.length) throw new UsageError(`--decode-shapes '${args['decode-shapes']}' names no shape`);
  // --shape-div divides every projection shape the prefill and decode parts run: a fraction would be no shape.
  const projected = [...(parts.has('prefill') ? SEED : []), ...(parts.has('decode') ? shapes : [])];
  const odd = projected.find(([N, K]) => N % DIV || K % DIV);
  if (odd) throw new UsageError(`--shape-div ${DIV} does not divide the projection ${odd[0]}x${odd[1]}`);
  if (args.pick !== undefined && args.pick.split('|').some((p) => p === '' || p === '*')) throw new UsageError(`--pick '${args.pick}': an empty name`);
  if (args.only === '') throw new UsageError("--only '' matches every name: leave it out");
  // Options of parts not run change nothing: say so (a sweep's hour is too dear to find out from its table).
  const usedBy: Record<string, string[]> = {
    size: ['square', 'f32'], repeat: ['square', 'f32'], top: ['prefill'], 'prefill-m': ['prefill'], 'prefill-all': ['prefill'],
    'decode-m': ['decode'], 'decode-shapes': ['decode'], copies: ['decode'], splits: ['decode'], 'shape-div': ['prefill', 'decode'],
  };
  for (const [k, ps] of Object.entries(usedBy)) {
    if (given.has(k) && !ps.some((p) => parts.has(p))) console.error(`warning: --${k} has no effect without --parts ${ps.join(' or ')}`);
  }
  cublas = args.cublas === undefined ? {} : readJson('cublas', args.cublas);
  if (args.out !== undefined) outputPath('out', args.out, { cublas: args.cublas, md: args.md });
  if (args.md !== undefined) outputPath('md', args.md, { cublas: args.cublas });
  return { parts, S, top, copies, prefillMs, decodeMs, splits, shapes };
}

/**
 * Every variant name the chosen parts can run on this device (the prefill part's are a superset: its tiles come from
 * the square part's times): a --pick name or an --only string outside them runs nothing, which is an error.
 */
function checkSelection(gpu: Gpu, sgm: boolean, a: ReturnType<typeof checkArgs>): void {
  const names = new Set<string>();
  const add = (vs: Variant[]) => { for (const v of vs) names.add(v.name); };
  if (a.parts.has('square')) add(squareVariants(gpu, sgm));
  if (a.parts.has('prefill')) {
    if (sgm || args.emulate) {
      add(squareVariants(gpu, sgm));
      for (const n of [...Object.keys(SGM_TILE_SHAPES), ...Object.keys(SGM_TILE_GATED_SHAPES), 'default path']) names.add(n);
    } else {
      console.error('warning: the prefill part needs subgroup matrices (this device has none) or --emulate: it is skipped');
    }
  }
  if (a.parts.has('decode')) for (const M of a.decodeMs) for (const g of new Set(a.shapes.map((x) => x[2]))) add(decodeVariants(gpu, sgm, M, g, a.splits));
  if (a.parts.has('f32')) add(f32Variants());
  const all = [...names];
  const where = `--parts ${[...a.parts].join(',')} on this device`;
  if (picked) {
    const unknown = picked.filter((p) => !all.some((n) => (p.endsWith('*') ? n.startsWith(p.slice(0, -1)) : p === n)));
    if (unknown.length) throw new UsageError(`--pick: no variant named ${unknown.map((x) => `'${x}'`).join(', ')} in ${where} (the names: ${nameList(all)})`);
  }
  if (args.only !== undefined && !all.some((n) => n.includes(args.only!))) {
    throw new UsageError(`--only '${args.only}' matches no variant of ${where} (the names: ${nameList(all)})`);
  }
  if (!all.some((n) => (!args.only || n.includes(args.only)) && pickedName(n))) {
    throw new UsageError(`nothing to run: ${args.pick !== undefined && args.only !== undefined ? `--pick and --only together leave no variant of ${where}` : `no variant in ${where}`}`);
  }
}

/**
 * The timed tensors of every shape the chosen parts run (the ragged checks' are small): --size² a square, and per
 * projection and M its weights, x and output. Checked against the device's limit before the first row.
 */
function plannedTensors(gpu: Gpu, sgm: boolean, a: ReturnType<typeof checkArgs>): PlannedTensor[] {
  const t: PlannedTensor[] = [];
  if (a.parts.has('square') && only(squareVariants(gpu, sgm)).length) t.push({ what: `--size ${a.S} (part square)`, dtype: 'f16', shape: [a.S, a.S] });
  if (a.parts.has('f32') && only(f32Variants()).length) t.push({ what: `--size ${a.S} (part f32)`, dtype: 'f32', shape: [a.S, a.S] });
  // variantsFor: the variants a shape may run (projectionPart skips a shape --only / --pick leave none of).
  const projections = (part: string, shapes: [number, number, boolean][], Ms: number[], mOption: string, variantsFor?: (M: number, gated: boolean) => Variant[]) => {
    for (const [N0, K0, gated] of shapes) {
      if (variantsFor && !Ms.some((M) => only(variantsFor(M, gated)).length)) continue;
      const N = N0 / DIV, K = K0 / DIV, what = `part ${part} ${N0}x${K0}${gated ? 'g' : ''}${DIV > 1 ? ` / --shape-div ${DIV}` : ''}`;
      t.push({ what, dtype: 'f16', shape: [N, K] });
      for (const M of Ms) for (const shape of [[M, K], [M, N]]) t.push({ what: `${what} at ${mOption} ${M}`, dtype: 'f16', shape });
    }
  };
  // The prefill part's variants come from the square part's results: its shapes are all checked.
  if (a.parts.has('prefill') && (sgm || args.emulate)) projections('prefill', SEED, a.prefillMs, '--prefill-m');
  if (a.parts.has('decode')) projections('decode', a.shapes, a.decodeMs, '--decode-m', (M, g) => decodeVariants(gpu, sgm, M, g, a.splits));
  return t;
}

async function main(): Promise<number | undefined> {
  const a = checkArgs();
  // One Dawn instance per process: a second create() in the same process has crashed dawn.node.
  const gpu = await openBenchGpu('gemm-sweep', args);
  const sgm = hasSubgroupMatrixF16(gpu.caps);
  checkSelection(gpu, sgm, a);
  refuseOverLimit(gpu.caps, plannedTensors(gpu, sgm, a));
  deviceName = `${describeCaps(gpu.caps)} (${new Date().toISOString()})`;
  console.log(`device: ${deviceName}; subgroup-matrix f16: ${sgm}; cuBLAS file: ${args.cublas ?? 'none'}`);
  const { parts, S } = a;
  let square: Row[] = [];
  if (parts.has('square')) square = await squarePart(gpu, 'square', only(squareVariants(gpu, sgm)), S);
  if (parts.has('prefill') && (sgm || args.emulate)) {
    // The fastest correct tile shapes of `square` (plain and gated), plus the defaults; --prefill-all: every
    // subgroup-matrix variant of `square` (only() filters them per shape).
    const all = (gated: boolean) => squareVariants(gpu, sgm).filter((v) => !!v.gated === gated && !v.name.includes('default'));
    const pick = (gated: boolean) => {
      if (args['prefill-all']) return all(gated);
      const names = bestTiles(square, gated, a.top);
      const table = gated ? SGM_TILE_GATED_SHAPES : SGM_TILE_SHAPES;
      const chosen = names.length ? names : Object.keys(table).slice(0, a.top);
      return chosen.map((n): Variant => ({ name: n, dtype: 'f16', path: 'subgroup-matrix', gated, tune: { sgm: table[n]! } }));
    };
    const plain = pick(false), gatedV = pick(true);
    await projectionPart(gpu, 'prefill', a.prefillMs, (_M, g) => [defaultVariant(g), ...(g ? gatedV : plain)], 1);
  }
  if (parts.has('decode')) {
    await projectionPart(gpu, 'decode', a.decodeMs, (M, g) => decodeVariants(gpu, sgm, M, g, a.splits), a.copies, a.shapes);
  }
  if (parts.has('f32')) await squarePart(gpu, 'f32', only(f32Variants()), S);
  save();
  gpu.destroy();
  return allRowsFailed(rows);
}

function markdown(rs: Row[]): string {
  const f = (x: number | undefined, d: number) => x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);
  const lines = ['| part | variant | M×N×K | ms [min–max] | TFLOP/s | GB/s | cuBLAS ms | cuBLAS/ours | err ragged / sampled | unwritten |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rs) {
    lines.push(`| ${r.part} | ${r.name} | ${r.M}×${r.N}×${r.K}${r.gated ? ' gated' : ''} | ${r.error ? `FAILED: ${r.error}` : `${f(r.ms, 4)}${r.msMin !== undefined ? ` [${f(r.msMin, 4)}–${f(r.msMax, 4)}]` : ''}`} | ${f(r.tflops, 1)} | ${f(r.gbs, 0)} | ${f(r.cublasMs, 4)} | ${f(r.vsCublas, 2)} | ${r.errRagged?.toExponential(1) ?? '-'} / ${r.errSampled?.toExponential(1) ?? '-'} | ${r.unwritten ?? '-'} |`);
  }
  return lines.join('\n') + '\n';
}

runBench(main);
