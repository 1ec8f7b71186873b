// Attention variant sweep: every prefill and decode variant built in one process, checked against float64
// (small ragged shapes on every output; the timed shapes on sampled rows, or against the reference
// kernel where the caches are too big to read back) and timed (timestamp queries, median), next to
// PyTorch SDPA from the same call (kernels-bench/torch_bench.py --only attention).
//   node dist/kernels-bench/attention-sweep.js [--torch torch.json] [--out sweep.json] [--only 'SUBSTR|SUBSTR'] [--keep 6] [--quick] [--defaults]
// --defaults: only the default selection (what flashPrefill / flashDecode pick with no options) and the v0
// kernels, no probe: the last device round's proof of the defaults. --robustness on|off (--no-robustness: off;
// default: the runtime's, off on Node): with or without robust buffer access (what Tint's bounds checks cost); --emulate: without subgroup matrices, the tensor-core prefill
// variants run emulated (their indexing, not their speed).
// The JSON is rewritten after every row, so a run cut short by a timeout still leaves its results.
import { writeFileSync } from 'node:fs';
import { ROBUSTNESS_OPTIONS, openBenchGpu } from './bench-robustness.js';
import {
  MAX_SAMPLES, UsageError, allRowsFailed, benchArgs, int, nameList, outputPath, readJson, refuseOverLimit, runBench, type PlannedTensor,
} from './bench-args.js';
import { tensorLimit } from '../src/model/load-weights.js';
import {
  describeCaps, fromF16Array, timeDispatchesFor, toF16Array, type Dispatch, type Gpu, type Tensor,
} from '../src/gpu/index.js';
import {
  SGM_PREFILL_CONFIGS, SGM_PROBE_SLOTS, flashDecode, flashPrefill, hasSgmPrefill, runSgmProbe, sgDecodeApplies, sgmConfigOf,
  sgmEntryName, type DecodeArgs, type PrefillArgs,
} from '../src/kernels/attention.js';
import { fillRandom } from './random-fill.js';

const { values: args, given } = benchArgs({
  script: 'attention-sweep.js',
  about: `Attention variant sweep: every flash-attention prefill and decode variant checked against float64 (small ragged
shapes on every output; the timed shapes on sampled rows) and timed (timestamp queries, median), beside PyTorch SDPA
(--torch: kernels-bench/torch_bench.py --only attention, same card). The JSON is rewritten after every row.`,
  examples: ['node dist/kernels-bench/attention-sweep.js --quick --defaults   # any machine',
    "node dist/kernels-bench/attention-sweep.js --only 'sgm 128' --torch torch.json --out sweep.json"],
}, {
  torch: { type: 'string', help: "JSON of kernels-bench/torch_bench.py (same card): SDPA's times beside ours" },
  out: { type: 'string', help: 'write the rows as JSON (after every row)' },
  only: { type: 'string', help: "only variants whose name contains one of these '|'-separated strings" },
  keep: { type: 'string', default: '6', help: 'prefill: at the larger sizes only this many fastest of the previous size' },
  quick: { type: 'boolean', default: false, help: 'small timed shapes (a software GPU)' },
  samples: { type: 'string', default: '10', help: `timed samples per measurement (median), 1–${MAX_SAMPLES}` },
  defaults: { type: 'boolean', default: false, help: 'only the default selection and the v0 kernels, no probe (the defaults\' proof)' },
  dec: { type: 'string', help: 'decode variants instead of the built-in list: comma-separated u<U>s<splits>[n<subgroups>][p][h<heads>][l<lanes>][f] (p: prefetch, h: query heads per workgroup under GQA, l: lanes sharing a key, f: register arrays sized to the launch), e.g. u2s12n8,u2s16n4p,u1s8n16pl8f' },
  'dec-shapes': { type: 'string', help: 'decode shapes instead of the built-in list: comma-separated <context>x<batch>, e.g. 4096x1,32768x8' },
  'dec-kv': { type: 'string', default: '32', help: 'KV heads of the timed decode shapes (32 query heads; a divisor of 32)' },
  ...ROBUSTNESS_OPTIONS,
  emulate: { type: 'boolean', default: false, help: 'without subgroup matrices: the subgroup-matrix prefill variants run emulated (indexing, not speed)' },
  'prefill-d': { type: 'string', default: '128', help: 'the head dim of the timed prefill shapes (32 heads, causal): 128 or 64' },
  'prefill-geos': { type: 'string', help: "the prefill check's geometries instead of the one ragged shape: ';'-separated T,qPos0,kvLen,cap,H,nKv[,grow] (grow: key j scaled by 1 + j/grow, so the scores keep growing and the lazy rescale runs), e.g. '256,0,256,256,8,8;300,37,337,345,8,2,8'" },
});

interface TorchRow { name: string; shape: string; ms: number }
/** --torch's rows (read in main, after the command line is checked: a missing file was skipped without a word). */
let torch: TorchRow[] = [];
const torchMs = (name: string, shape: string) => torch.find((r) => r.name === name && r.shape === shape)?.ms;
let copyGbs: number | undefined;

const rows: Record<string, unknown>[] = [];
let device = '';
function save(): void {
  if (args.out) writeFileSync(args.out, JSON.stringify({ device, date: new Date().toISOString(), copyGbs, rows }, null, 1));
}
const T0 = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${line}`);
const fmt = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : String(x ?? '-'));

// ---- float64 reference on host arrays ---------------------------------------------------------------

// Converted row by row into small scratch arrays: a ≥ 64 MiB typed array filled by a JS loop crashes
// dawn.node (software-gpu.md), so the caches are never converted whole.
interface Host { q: Uint16Array; k: Uint16Array; v: Uint16Array }
interface Geo { T: number; H: number; nKv: number; D: number; cap: number; qPos0: number; kvLen: number; causal: boolean }

/** Row (t, h) of attention (slot 0 for prefill; decode passes b·… through the offsets). */
function refRow(h: Host, g: Geo, t: number, head: number, qOff: number, kvOff: number): Float64Array {
  const { D } = g;
  const q = fromF16Array(h.q.subarray(qOff, qOff + D));
  const kr = new Float32Array(D), vr = new Float32Array(D);
  const scale = 1 / Math.sqrt(D);
  const n = g.causal ? Math.min(g.kvLen, g.qPos0 + t + 1) : g.kvLen;
  const s = new Float64Array(n);
  let m = -Infinity;
  const kvh = Math.floor(head / (g.H / g.nKv));
  const base = kvOff + kvh * g.cap * D;
  for (let j = 0; j < n; j++) {
    fromF16Array(h.k.subarray(base + j * D, base + (j + 1) * D), kr);
    let d = 0;
    for (let c = 0; c < D; c++) d += q[c]! * kr[c]!;
    s[j] = d * scale;
    m = Math.max(m, s[j]!);
  }
  const o = new Float64Array(D);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(s[j]! - m);
    sum += e;
    fromF16Array(h.v.subarray(base + j * D, base + (j + 1) * D), vr);
    for (let c = 0; c < D; c++) o[c]! += e * vr[c]!;
  }
  for (let c = 0; c < D; c++) o[c]! /= sum || 1;
  return o;
}

function relErr(got: Float64Array, want: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i]!)) return Infinity;
    num += (got[i]! - want[i]!) ** 2; den += want[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** Uniform [-1, 1) values as f16 (never 0), element i times scale(i) when given. */
function hostRandom(n: number, seed: number, scale?: (i: number) => number): Uint16Array {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f[i] = ((s / 2 ** 32) * 2 - 1 || 0.25) * (scale ? scale(i) : 1); }
  return toF16Array(f);
}

async function readF16(gpu: Gpu, t: Tensor): Promise<Uint16Array> { return await gpu.read(t) as Uint16Array; }

async function time(gpu: Gpu, list: Dispatch[]): Promise<{ ms: number; method: string }> {
  const t = await timeDispatchesFor(gpu, list, { samples: SAMPLES });
  return { ms: t.medianMs, method: t.method };
}

// ---- prefill ----------------------------------------------------------------------------------------

interface PVariant { name: string; opt: Partial<PrefillArgs>; d?: number }

function prefillVariants(gpu: Gpu): PVariant[] {
  const v: PVariant[] = [{ name: 'tiled (f32 FMA, v0)', opt: { path: 'tiled' } }];
  const emulate = !hasSgmPrefill(gpu.caps);
  if (emulate && !args.emulate) return v;
  for (const c of SGM_PREFILL_CONFIGS.filter((e) => !e.dbg)) { // the dump entries need a debugOut (vitest's stage dump)
    const name = sgmEntryName(c);
    for (const th of name === '128_32_4' ? [8, 0] : [8]) {
      v.push({ name: `sgm ${name} th${th}`, d: c.d, opt: { sgm: sgmConfigOf(c, { lazyThreshold: th, emulate }) } });
    }
  }
  return v;
}

/** The prefill check's geometries without D: --prefill-geos, else one ragged shape with a cached prefix and GQA. */
type GeoNoD = Omit<Geo, 'D'> & { grow?: number };
const RAGGED_GEO: GeoNoD = { T: 300, H: 8, nKv: 2, cap: 345, qPos0: 37, kvLen: 337, causal: true };
function prefillGeos(spec: string | undefined): GeoNoD[] {
  if (!spec) return [RAGGED_GEO];
  return spec.split(';').map((part) => {
    const n = part.split(',').map(Number);
    const [T, qPos0, kvLen, cap, H, nKv, grow] = n as [number, number, number, number, number, number, number?];
    if ((n.length !== 6 && n.length !== 7) || !n.every((x) => Number.isInteger(x) && x >= 0) || T < 1 || H < 1 || nKv < 1 || H % nKv !== 0 || kvLen > cap || qPos0 + T > kvLen || grow === 0) {
      throw new UsageError(`--prefill-geos '${part}': expected T,qPos0,kvLen,cap,H,nKv[,grow] (integers; H a multiple of nKv; qPos0 + T ≤ kvLen ≤ cap; grow ≥ 1)`);
    }
    return { T, qPos0, kvLen, cap, H, nKv, causal: true, ...(grow ? { grow } : {}) };
  });
}
const geoStr = (g: GeoNoD, D: number) => `T=${g.T} qPos0=${g.qPos0} kv=${g.kvLen} cap=${g.cap} H=${g.H}/${g.nKv} D=${D}${g.grow ? ` grow=${g.grow}` : ''}`;

/** Causal prefill of geometry g, every output checked (reference computed once per shape). */
const raggedRef = new Map<string, { g: Geo; h: Host; want: Float64Array }>();
async function prefillRagged(gpu: Gpu, v: PVariant, D: number, g0: GeoNoD = RAGGED_GEO): Promise<number> {
  let R = raggedRef.get(geoStr(g0, D));
  if (!R) {
    const g: Geo = { ...g0, D };
    const h: Host = { q: hostRandom(g.T * g.H * D, 3), k: hostRandom(g.nKv * g.cap * D, 5, g0.grow ? (i) => 1 + (Math.floor(i / D) % g.cap) / g0.grow! : undefined), v: hostRandom(g.nKv * g.cap * D, 7) };
    const want = new Float64Array(g.T * g.H * D);
    for (let t = 0; t < g.T; t++) for (let hd = 0; hd < g.H; hd++) want.set(refRow(h, g, t, hd, (t * g.H + hd) * D, 0), (t * g.H + hd) * D);
    R = { g, h, want };
    raggedRef.set(geoStr(g0, D), R);
  }
  const { g, h, want } = R;
  const q = gpu.tensor([g.T, g.H, D], 'f16'), k = gpu.tensor([1, g.nKv, g.cap, D], 'f16'), vv = gpu.tensor([1, g.nKv, g.cap, D], 'f16');
  const out = gpu.tensor([g.T, g.H, D], 'f16');
  gpu.write(q, h.q); gpu.write(k, h.k); gpu.write(vv, h.v); gpu.write(out, new Uint16Array(g.T * g.H * D).fill(0x7e00));
  const d = flashPrefill(gpu, { q, kCache: k, vCache: vv, out, slot: 0, qPos0: g.qPos0, kvBase: 0, kvLen: g.kvLen, ...v.opt });
  try {
    await gpu.run([d]);
    const got = Float64Array.from(fromF16Array(await readF16(gpu, out)));
    return relErr(got, want);
  } finally {
    d.release(); gpu.release(q, k, vv, out);
  }
}

async function prefillBig(gpu: Gpu, vs: PVariant[], S: number, D: number): Promise<void> {
  const H = 32;
  const q = gpu.tensor([S, H, D], 'f16'), k = gpu.tensor([1, H, S, D], 'f16'), v = gpu.tensor([1, H, S, D], 'f16');
  const out = gpu.tensor([S, H, D], 'f16');
  for (const t of [q, k, v]) fillRandom(gpu, t);
  await gpu.sync();
  const h: Host = { q: await readF16(gpu, q), k: await readF16(gpu, k), v: await readF16(gpu, v) };
  const g: Geo = { T: S, H, nKv: H, D, cap: S, qPos0: 0, kvLen: S, causal: true };
  const pts: [number, number][] = [[0, 0], [S - 1, H - 1], [S - 1, 0], [63, 5], [64, 6], [S / 2 + 17, 9]];
  let sd = 77;
  for (let i = 0; i < 10; i++) { sd = (Math.imul(sd, 1664525) + 1013904223) >>> 0; pts.push([sd % S, (sd >>> 16) % H]); }
  const refs = pts.map(([t, hd]) => refRow(h, g, t, hd, (t * H + hd) * D, 0));
  const flops = 4 * H * D * S * S / 2;
  const base = torchMs('fa_prefill_f16', `S=${S} ${H}x${D} causal`);
  for (const vr of vs) {
    if (vr.d !== undefined && vr.d !== D) continue;
    if (!args.defaults && vr.name.startsWith('tiled') && S > 4096) continue; // v0: 141 ms at 16K (NOTES.md): not worth a sweep round's time
    const row: Record<string, unknown> = { kind: 'prefill', name: vr.name, shape: `S=${S} ${H}x${D} causal f16` };
    rows.push(row);
    try {
      gpu.write(out, new Uint16Array(S * H * D).fill(0x7e00));
      const d = flashPrefill(gpu, { q, kCache: k, vCache: v, out, slot: 0, qPos0: 0, kvBase: 0, kvLen: S, ...vr.opt });
      await gpu.run([d]);
      const o = await readF16(gpu, out);
      let num = 0, den = 0, bad = 0;
      for (let i = 0; i < o.length; i += 97) if ((o[i]! & 0x7c00) === 0x7c00) bad++;
      pts.forEach(([t, hd], i) => {
        const got = fromF16Array(o.subarray((t * H + hd) * D, (t * H + hd + 1) * D));
        refs[i]!.forEach((w, c) => { num += (got[c]! - w) ** 2; den += w * w; });
      });
      row.errSampled = Math.sqrt(num / den);
      row.nonFiniteSampled = bad;
      const tm = await time(gpu, [d]);
      row.ms = tm.ms; row.method = tm.method;
      row.tflops = flops / tm.ms / 1e9;
      if (base) { row.torchMs = base; row.torchTflops = flops / base / 1e9; row.pctTorch = 100 * base / tm.ms; }
      d.release();
    } catch (e) {
      row.error = (e as Error).message.split('\n').slice(0, 4).join(' | ');
    }
    log(`prefill ${String(row.shape).padEnd(26)} ${vr.name.padEnd(26)} ${row.error ? `FAILED ${String(row.error)}` :
      `${fmt(row.ms, 3)} ms ${fmt(row.tflops, 1)} TF/s (SDPA ${fmt(row.torchTflops, 1)}) err ${(row.errSampled as number).toExponential(1)}`}`);
    save();
  }
  gpu.release(q, k, v, out);
}

// ---- decode -----------------------------------------------------------------------------------------

interface DVariant { name: string; opt: Partial<DecodeArgs> }

/** --dec's variants: comma-separated u<U>s<splits>[n<subgroups>][p][h<heads>][l<lanes a key>][f] (f: register arrays fit the launch). */
function parseDec(list: string): DVariant[] {
  return list.split(',').map((spec) => {
    const m = /^u(\d)s(\d+)(?:n(\d+))?(p?)(?:h(\d))?(?:l(\d+))?(f?)$/.exec(spec.trim());
    if (!m) throw new UsageError(`--dec ${spec}: expected u<U>s<splits>[n<subgroups>][p][h<heads>][l<lanes a key>][f]`);
    const opt: Partial<DecodeArgs> = { kernel: 'subgroup', unroll: Number(m[1]), maxSplits: Number(m[2]), prefetch: m[4] === 'p' };
    if (m[3]) opt.subgroups = Number(m[3]);
    if (m[5]) opt.headsPerWorkgroup = Number(m[5]);
    if (m[6]) opt.lanesPerKey = Number(m[6]);
    opt.fitArrays = m[7] === 'f';
    return { name: `sg u${m[1]} s${m[2]}${m[3] ? ` n${m[3]}` : ''}${m[4] ? ' pf' : ''}${m[5] ? ` h${m[5]}` : ''}${m[6] ? ` l${m[6]}` : ''}${m[7] ? ' fit' : ''}`, opt };
  });
}

function decodeVariants(gpu: Gpu): DVariant[] {
  if (args.dec) return parseDec(args.dec);
  const v: DVariant[] = [{ name: 'split (v0 default)', opt: { kernel: 'split' } }, { name: 'split s64', opt: { kernel: 'split', maxSplits: 64 } }];
  if (!sgDecodeApplies(gpu.caps, 'f16', 128)) return v;
  for (const s of [16, 32, 64]) v.push({ name: `sg u2 s${s}`, opt: { kernel: 'subgroup', unroll: 2, maxSplits: s } });
  for (const s of [16, 32]) v.push({ name: `sg u4 s${s}`, opt: { kernel: 'subgroup', unroll: 4, maxSplits: s } });
  v.push({ name: 'sg u2 default', opt: { kernel: 'subgroup', unroll: 2 } });
  return v;
}

/** Small ragged batch with GQA, every output checked (reference computed once). */
let decRef: { h: Host; want: Float64Array } | null = null;
async function decodeRagged(gpu: Gpu, v: DVariant): Promise<number> {
  const lengths = [1000, 3, 0, 517, 64, 999, 1, 250], B = lengths.length, H = 8, nKv = 2, D = 128, cap = 1000;
  if (!decRef) {
    const h: Host = { q: hostRandom(B * H * D, 11), k: hostRandom(B * nKv * cap * D, 13), v: hostRandom(B * nKv * cap * D, 17) };
    const want = new Float64Array(B * H * D);
    for (let b = 0; b < B; b++) {
      const g: Geo = { T: 1, H, nKv, D, cap, qPos0: 0, kvLen: lengths[b]!, causal: false };
      for (let hd = 0; hd < H; hd++) want.set(refRow(h, g, 0, hd, (b * H + hd) * D, b * nKv * cap * D), (b * H + hd) * D);
    }
    decRef = { h, want };
  }
  const { h, want } = decRef;
  const q = gpu.tensor([B, H, D], 'f16'), k = gpu.tensor([B, nKv, cap, D], 'f16'), vv = gpu.tensor([B, nKv, cap, D], 'f16');
  const out = gpu.tensor([B, H, D], 'f16'), lt = gpu.tensor([B], 'u32');
  gpu.write(q, h.q); gpu.write(k, h.k); gpu.write(vv, h.v); gpu.write(lt, Uint32Array.from(lengths));
  gpu.write(out, new Uint16Array(B * H * D).fill(0x7e00));
  const plan = flashDecode(gpu, { q, kCache: k, vCache: vv, out, lengths: lt, ...v.opt });
  try {
    plan.update(cap);
    await gpu.run(plan.dispatches);
    const got = Float64Array.from(fromF16Array(await readF16(gpu, out)));
    return relErr(got, want);
  } finally {
    plan.release(); gpu.release(q, k, vv, out, lt);
  }
}

/**
 * Positions the caches of a timed decode shape hold: S, or the most (a multiple of 8) one tensor may hold on this
 * device (on an H100 one binding holds 2 GiB − 4 bytes: batch 8 at 32K takes 32760 positions). 0: not even 8 fit.
 */
function decodePositions(S: number, B: number, limit: number): number {
  const position = B * DEC_KV * 128 * 2;
  return S * position > limit ? Math.floor(limit / position / 8) * 8 : S;
}

async function decodeBig(gpu: Gpu, vs: DVariant[], S: number, B: number): Promise<void> {
  const H = 32, D = 128, nKv = DEC_KV;
  const cap = decodePositions(S, B, tensorLimit(gpu.caps));
  const q = gpu.tensor([B, H, D], 'f16'), k = gpu.tensor([B, nKv, cap, D], 'f16'), v = gpu.tensor([B, nKv, cap, D], 'f16');
  const out = gpu.tensor([B, H, D], 'f16'), lt = gpu.tensor([B], 'u32');
  for (const t of [q, k, v]) { fillRandom(gpu, t); await gpu.sync(); }
  gpu.write(lt, new Uint32Array(B).fill(cap));
  // float64 reference on sampled rows where the caches can be read back (≤ 300 MB each); else the first variant's output.
  const sampled: [number, number][] = [[0, 0], [0, 13], [B - 1, H - 1]];
  let want: Float64Array[] | null = null;
  if (B * nKv * cap * D * 2 <= 300e6) {
    const h: Host = { q: await readF16(gpu, q), k: await readF16(gpu, k), v: await readF16(gpu, v) };
    const g: Geo = { T: 1, H, nKv, D, cap, qPos0: 0, kvLen: cap, causal: false };
    want = sampled.map(([b, hd]) => refRow(h, g, 0, hd, (b * H + hd) * D, b * nKv * cap * D));
  }
  const bytes = 2 * 2 * B * nKv * cap * D;
  const shape = `S=${S} B=${B} ${H}${nKv === H ? '' : `/${nKv}`}x${D}`;
  const base = nKv === H ? torchMs('fa_decode_f16', `S=${S} B=${B} ${H}x${D}`) : undefined;   // SDPA was timed without GQA
  for (const vr of vs) {
    const row: Record<string, unknown> = { kind: 'decode', name: vr.name, shape, positions: cap };
    rows.push(row);
    try {
      gpu.write(out, new Uint16Array(B * H * D).fill(0x7e00));
      const plan = flashDecode(gpu, { q, kCache: k, vCache: v, out, lengths: lt, ...vr.opt });
      plan.update(cap);
      row.splits = plan.dispatches[0]!.workgroups[0];
      await gpu.run(plan.dispatches);
      const all = fromF16Array(await readF16(gpu, out));
      const got = sampled.map(([b, hd]) => Float64Array.from(all.subarray((b * H + hd) * D, (b * H + hd + 1) * D)));
      if (!want) { want = got; row.checkedAgainst = 'first variant'; }
      const cat = (a: Float64Array[]) => { const r = new Float64Array(a.length * D); a.forEach((x, i) => r.set(x, i * D)); return r; };
      row.err = relErr(cat(got), cat(want));
      const tm = await time(gpu, plan.dispatches);
      row.ms = tm.ms; row.method = tm.method;
      row.gbs = bytes / tm.ms / 1e6;
      if (copyGbs) row.pctCopy = 100 * (row.gbs as number) / copyGbs;
      if (base) { row.torchMs = base; row.pctTorch = 100 * base / tm.ms; }
      plan.release();
    } catch (e) {
      row.error = (e as Error).message.split('\n').slice(0, 4).join(' | ');
    }
    log(`decode ${shape.padEnd(20)} ${vr.name.padEnd(20)} ${row.error ? `FAILED ${String(row.error)}` :
      `${fmt(row.ms, 4)} ms ${fmt(row.gbs, 0)} GB/s ${fmt(row.pctCopy, 0)}% copy (SDPA ${fmt(base, 4)} ms) splits ${String(row.splits)} err ${(row.err as number).toExponential(1)}`}`);
    save();
  }
  gpu.release(q, k, v, out, lt);
}

let SAMPLES = 10, DEC_KV = 32;

/** The command line's values, checked before the GPU opens. */
function checkArgs(): { keep: number; geos: GeoNoD[]; decShapes: number[][] | null; prefillD: number } {
  SAMPLES = int('samples', args.samples, 1, MAX_SAMPLES);
  const prefillD = int('prefill-d', args['prefill-d']);
  if (prefillD !== 64 && prefillD !== 128) throw new UsageError(`--prefill-d ${prefillD}: 128 or 64`);
  const keep = int('keep', args.keep);
  DEC_KV = int('dec-kv', args['dec-kv'], 1, 32);
  if (32 % DEC_KV) throw new UsageError(`--dec-kv ${DEC_KV}: a divisor of the 32 query heads`);
  if (args.dec !== undefined) parseDec(args.dec);
  const geos = prefillGeos(args['prefill-geos']);
  const decShapes = args['dec-shapes'] === undefined ? null : args['dec-shapes'].split(',').map((x) => {
    const m = /^\s*([1-9]\d*)x([1-9]\d*)\s*$/.exec(x);
    if (!m) throw new UsageError(`--dec-shapes: bad shape '${x}' (<context>x<batch>, positive integers)`);
    return [Number(m[1]), Number(m[2])];
  });
  if (args.only === '') throw new UsageError("--only '' matches every name: leave it out");
  // --defaults runs its own two variants a kind: these would be ignored.
  if (args.defaults) for (const k of ['only', 'dec', 'keep']) if (given.has(k)) console.error(`warning: --${k} has no effect with --defaults`);
  if (args.torch !== undefined) {
    const t = readJson<{ rows?: unknown }>('torch', args.torch);
    if (!Array.isArray(t.rows)) throw new UsageError(`--torch ${args.torch}: no "rows" list (not kernels-bench/torch_bench.py's JSON)`);
    torch = t.rows as TorchRow[];
    copyGbs = (torch.find((r) => r.name === 'copy') as (TorchRow & { gbs?: number }) | undefined)?.gbs;
  }
  if (args.out !== undefined) outputPath('out', args.out, { torch: args.torch });
  return { keep, geos, decShapes, prefillD };
}

/** The timed and checked shapes' tensors (the decode check's are fixed and small), for the device-limit check. */
function plannedTensors(gpu: Gpu, pv: PVariant[], dv: DVariant[], geos: GeoNoD[], big: { pre: number[]; dec: number[][] }, prefillD: number): PlannedTensor[] {
  const t: PlannedTensor[] = [];
  const geoOption = args['prefill-geos'] === undefined ? '' : ' (--prefill-geos)';
  for (const D of new Set(pv.flatMap((v) => (v.d ? [v.d] : [64, 128])))) {
    for (const g of geos) {
      const what = `prefill check ${geoStr(g, D)}${geoOption}`;
      t.push({ what, dtype: 'f16', shape: [g.T, g.H, D] }, { what, dtype: 'f16', shape: [1, g.nKv, g.cap, D] });
    }
  }
  if (pv.length && !(args.emulate && !hasSgmPrefill(gpu.caps))) {
    for (const S of big.pre) t.push({ what: `prefill S=${S}${args.quick ? ' (--quick)' : ''}`, dtype: 'f16', shape: [S, 32, prefillD] });
  }
  const limit = tensorLimit(gpu.caps), decOption = args['dec-shapes'] === undefined ? '' : ' (--dec-shapes)';
  for (const [S, B] of dv.length ? big.dec : []) {
    const what = `decode ${S}x${B}${decOption}`;
    // The caches shrink to what one tensor holds, down to 8 positions: fewer do not fit at all.
    t.push({ what, dtype: 'f16', shape: [B!, 32, 128] }, { what, dtype: 'f16', shape: [B!, DEC_KV, Math.max(decodePositions(S!, B!, limit), Math.min(S!, 8)), 128] });
  }
  return t;
}

async function main(): Promise<number | undefined> {
  const a = checkArgs();
  const gpu = await openBenchGpu('attention-sweep', args);
  device = describeCaps(gpu.caps);
  console.log(`device: ${device}; sgm prefill: ${hasSgmPrefill(gpu.caps)}; sg decode: ${sgDecodeApplies(gpu.caps, 'f16', 128)}`);
  const only = (s: string) => !args.only || args.only.split('|').some((x) => s.includes(x));
  // With --defaults: the default selection, plus the tiled (f32-FMA) prefill as the baseline it replaced.
  const pv: PVariant[] = args.defaults
    ? [{ name: 'default', opt: {} }, { name: 'tiled (f32 FMA, v0)', opt: { path: 'tiled' } }]
    : prefillVariants(gpu).filter((v) => only(v.name));
  const dv = args.defaults ? [{ name: 'default', opt: {} }, { name: 'split (v0)', opt: { kernel: 'split' as const } }] : decodeVariants(gpu).filter((v) => only(v.name));
  if (!pv.length && !dv.length) {
    const names = [...prefillVariants(gpu), ...decodeVariants(gpu)].map((v) => v.name);
    throw new UsageError(`--only '${args.only}' matches no variant on this device (the names: ${nameList(names)})`);
  }
  const big = args.quick ? { pre: [512], dec: [[1024, 1], [1024, 4]] } : { pre: [4096, 16384], dec: [[4096, 1], [8192, 1], [16384, 1], [32768, 1], [4096, 8], [8192, 8], [16384, 8], [32768, 8]] };
  if (a.decShapes) big.dec = a.decShapes;
  refuseOverLimit(gpu.caps, plannedTensors(gpu, pv, dv, a.geos, big, a.prefillD));
  for (const shuffle of hasSgmPrefill(gpu.caps) && !args.defaults ? [true, false] : []) {
    const row: Record<string, unknown> = { kind: 'probe', shuffle };
    rows.push(row);
    try {
      let sd = 5;
      const q4 = () => Float64Array.from({ length: 256 }, () => { sd = (Math.imul(sd, 1664525) + 1013904223) >>> 0; return ((sd >>> 8) % 33 - 16) / 8; });
      const errs = await runSgmProbe(gpu, q4(), q4(), (v) => toF16Array(Float32Array.from(v)), async (t) => Float64Array.from(await gpu.read(t) as Float32Array), shuffle);
      row.slots = Object.fromEntries(errs.map((e, i) => [SGM_PROBE_SLOTS[i]!, e]));
      log(`probe${shuffle ? '' : ' (no subgroup ops)'} ${errs.map((e, i) => `${SGM_PROBE_SLOTS[i]}=${e}`).join('; ')}`);
    } catch (e) {
      row.error = (e as Error).message.split('\n').slice(0, 6).join(' | ');
      log(`probe FAILED ${String(row.error)}`);
    }
  }
  // Correctness on small ragged shapes (every output), then the timed shapes.
  const geos = a.geos;
  for (const v of pv) {
    for (const D of v.d ? [v.d] : [64, 128]) {
      for (const g of geos) {
        const row: Record<string, unknown> = { kind: 'prefill-ragged', name: v.name, shape: geoStr(g, D) };
        rows.push(row);
        try { row.err = await prefillRagged(gpu, v, D, g); } catch (e) { row.error = (e as Error).message.split('\n').slice(0, 4).join(' | '); }
        log(`ragged prefill ${geoStr(g, D)} ${v.name.padEnd(26)} ${row.error ? `FAILED ${String(row.error)}` : `err ${(row.err as number).toExponential(2)}`}`);
      }
    }
  }
  save();
  // Prefill variants that passed the ragged check (and the f32-FMA baseline) are timed first.
  // Ablations (…_x<stage>) are wrong by design: timed whatever their check says.
  const okPre = pv.filter((v) => v.name.startsWith('tiled') || v.name === 'default' || /_x[a-z]+ /.test(v.name) || rows.some((r) => r.kind === 'prefill-ragged' && r.name === v.name && typeof r.err === 'number' && (r.err as number) < 2e-2));
  log(`prefill variants passing the ragged check: ${okPre.map((v) => v.name).join(', ')}`);
  // Emulated variants are for their indexing: the ragged check is their result, not a time.
  for (const S of args.emulate && !hasSgmPrefill(gpu.caps) ? [] : big.pre) {
    // At the larger sizes only the --keep (6) fastest of the previous size.
    let list = okPre;
    const keep = a.keep;
    const prev = rows.filter((r) => r.kind === 'prefill' && typeof r.tflops === 'number');
    if (prev.length > keep) {
      const best = new Set(prev.sort((x, y) => (y.tflops as number) - (x.tflops as number)).slice(0, keep).map((r) => r.name as string));
      list = okPre.filter((v) => best.has(v.name));
    }
    await prefillBig(gpu, list, S, a.prefillD);
  }
  for (const v of dv) {
    const row: Record<string, unknown> = { kind: 'decode-ragged', name: v.name, shape: 'B=8 ragged H=8/2 D=128' };
    rows.push(row);
    try { row.err = await decodeRagged(gpu, v); } catch (e) { row.error = (e as Error).message.split('\n').slice(0, 4).join(' | '); }
    log(`ragged decode ${v.name.padEnd(20)} ${row.error ? `FAILED ${String(row.error)}` : `err ${(row.err as number).toExponential(2)}`}`);
  }
  save();
  for (const [S, B] of big.dec) await decodeBig(gpu, dv, S!, B!);
  console.log('\nSUMMARY');
  for (const r of rows) {
    if (r.kind === 'prefill' || r.kind === 'decode') {
      console.log(`${String(r.kind).padEnd(8)} ${String(r.shape).padEnd(26)} ${String(r.name).padEnd(26)} ${r.error ? 'FAILED' : `${fmt(r.ms, 4)} ms ${r.kind === 'prefill' ? `${fmt(r.tflops, 1)} TF/s` : `${fmt(r.gbs, 0)} GB/s`} ${fmt(r.pctTorch, 0)}% of SDPA`}`);
    }
  }
  save();
  gpu.destroy();  return allRowsFailed(rows);
}

runBench(main);
