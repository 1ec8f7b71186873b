// Flash attention: causal prefill (on tensor cores, shaders/flash_attn_prefill_sgm.wgsl, where the device has
// 16×16×16 f16 matrices; else on f32 FMAs, shaders/flash_attn_prefill.wgsl) and split-KV decode with an exact
// merge of (O, LSE) partials (shaders/flash_attn_decode{,_sg}.wgsl). The merge is also the cross-device
// reduce of the attention pool: partials computed on different devices merge exactly.
import {
  LimitError, ShapeError, ceilDiv, defineProgram, type Caps, type Dispatch, type DType, type Gpu, type Tensor,
} from '../gpu/index.js';
import { envChoice, envVar, expectDistinct, fixedSubgroupSize, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';
import { SGM_DIAGNOSTIC, hasSubgroupMatrixF16 } from './gemm-sgm-common.js';

/** Largest head dim: register tiles in the kernels are sized for D/4 ≤ 64 (TC threads × DN ≤ 8 vec4). */
export const MAX_HEAD_DIM = 256;
const MAX_RM = 4, MAX_CN = 4, MAX_DN = 8, MAX_GH = 8;
const F32 = 4;

// ---- prefill ----------------------------------------------------------------------------------------

export interface PrefillTiles {
  br: number; // query rows per workgroup
  bc: number; // keys per KV tile
}

interface PrefillCfg { dtype: DType; d4: number; br: number; bc: number; tr: number; tc: number; lse: boolean }

const prefillProgram = defineProgram<PrefillCfg>({
  name: 'flash_prefill', file: 'flash_attn_prefill.wgsl', entry: 'prefill',
  specialize: (c) => ({
    entry: c.lse ? 'prefill_lse' : 'prefill',
    ...typeSpec(c.dtype),
    constants: {
      D4: c.d4, BR: c.br, BC: c.bc, TR: c.tr, TC: c.tc, WG: c.tr * c.tc,
      RM: c.br / c.tr, CN: c.bc / c.tc, DN: ceilDiv(c.d4, c.tc), QS: c.d4 + 1,
    },
  }),
});

/** Workgroup memory of a prefill tile config, in bytes (mirrors the WGSL declarations). */
export function prefillStorageBytes(dtype: DType, d: number, t: PrefillTiles): number {
  const elem = dtype === 'f16' ? 2 : 4;
  const d4 = d / 4, qs = d4 + 1;
  const { tc } = tileThreads(t);
  return (t.br * qs + t.bc * qs + t.bc * d4) * 4 * elem + (t.br * t.bc + t.br * tc + 2 * t.br) * F32;
}

// Preference order: large query blocks (K/V reuse), then large KV tiles (fewer barriers).
const PREFILL_TILES: readonly PrefillTiles[] = [
  { br: 64, bc: 64 }, { br: 64, bc: 32 }, { br: 32, bc: 32 }, { br: 32, bc: 16 }, { br: 16, bc: 16 },
  { br: 8, bc: 16 }, { br: 4, bc: 16 }, { br: 4, bc: 8 },
];

/** TR × TC threads: RM = 4 query rows each, TC = 16 threads across key / vec4 columns (fewer for tiny tiles). */
function tileThreads(t: PrefillTiles): { tr: number; tc: number } {
  return { tr: Math.max(1, t.br / MAX_RM), tc: Math.min(16, t.bc) };
}

function tilesFit(caps: Caps, dtype: DType, d: number, t: PrefillTiles): boolean {
  const { tr, tc } = tileThreads(t);
  return ceilDiv(d / 4, tc) <= MAX_DN && prefillStorageBytes(dtype, d, t) <= caps.maxWorkgroupStorage
    && tr * tc <= Math.min(caps.maxInvocations, caps.maxWorkgroupSizeX);
}

/** The prefill tile config for this device: the first preferred one that fits its limits. */
export function prefillTiles(caps: Caps, dtype: DType, d: number): PrefillTiles {
  const t = PREFILL_TILES.find((c) => tilesFit(caps, dtype, d, c));
  if (!t) throw new LimitError(`flashPrefill: no tile config for ${dtype} head dim ${d} fits ${caps.maxWorkgroupStorage} bytes of workgroup storage`);
  return t;
}

export interface PrefillArgs {
  q: Tensor; out: Tensor;            // [T, nHeads, D]
  kCache: Tensor; vCache: Tensor;    // [slots, nKvHeads, capacity, D]
  lse?: Tensor;                      // [T, nHeads] f32 — emitted when given
  slot: number;                      // which sequence slot of the cache
  qPos0: number;   // global position of query row 0 (prompt offset: chunked prefill / cached prefix)
  kvBase: number;  // global position of cache index 0 (a pool rank may hold only a block of positions)
  kvLen: number;   // valid cache entries [0, kvLen)
  causal?: boolean; // default true: key j is visible to query t iff kvBase + j <= qPos0 + t
  scale?: number;
  /** Tile override of the f32-FMA kernel (benchmarks, tests); giving it selects that kernel. */
  tiles?: PrefillTiles;
  /** Kernel: default from gpu.caps and the shape (choosePrefillPath). */
  path?: PrefillPath;
  /** Subgroup-matrix kernel config override (benchmarks, tests); default chooseSgmPrefill. */
  sgm?: SgmPrefillConfig;
  /** With sgm.debug: f32 [sgmDebugLayout(...).size] receiving the kernel's intermediate values. */
  debugOut?: Tensor;
}

// ---- prefill on subgroup matrices (tensor cores) ----------------------------------------------------

/** 'tiled': f32 FMAs (any device); 'subgroup-matrix': tensor cores (shaders/flash_attn_prefill_sgm.wgsl). */
export type PrefillPath = 'tiled' | 'subgroup-matrix';

export interface SgmPrefillConfig {
  bc: number;          // keys per KV tile
  subgroups: number;   // subgroups of 32 per workgroup: 16 query rows each
  /** Lazy-rescale threshold in log2 units (default 8): the O accumulators are rescaled only when a row max jumps by more. 0 = classic. */
  lazyThreshold?: number;
  /** The next tile's K/V are loaded into registers while this tile is computed. */
  prefetch?: boolean;
  /** Q fragments re-loaded from workgroup memory before every product (else held in registers). */
  qShared?: boolean;
  /** V staged transposed and loaded column-major like K (else row-major). */
  vTransposed?: boolean;
  /** The score blocks of a tile accumulate interleaved (independent product chains). */
  interleaved?: boolean;
  /** K/V double-buffered by tile parity (one barrier a tile fewer). */
  doubleBuffer?: boolean;
  /** The S scratch's rows BC + 8 floats apart (BC 32 only): the accumulators' 8-byte stores without bank conflicts. */
  scratchPad8?: boolean;
  /** The softmax reads its row's scores once, 4 contiguous columns at a time, into registers, and writes P 4 halves at a time. */
  softmaxContiguous?: boolean;
  /** Timing ablation (entries …_x<stage>, wrong results): the tile loop leaves out sm, s, pv, ld or bar (see the generator). */
  ablation?: string;
  /** Device debugging (entry 128_32_4_dbg): dump the intermediate values of rows 0.. of head 0 into PrefillArgs.debugOut. */
  debug?: boolean;
  /** Scalar emulation of the matrix operations (flash_attn_prefill_sgm_emu.wgsl): tests the control logic where there are no tensor cores. */
  emulate?: boolean;
}

/** A generated entry (shaders/flash_attn_prefill_sgm.gen.mjs CONFIGS). */
export interface SgmPrefillEntry { d: number; bc: number; sg: number; pf: boolean; qs: boolean; vt: boolean; il: boolean; db: boolean; s8: boolean; sc: boolean; x: string; dbg: boolean }

const E = (d: number, bc: number, sg: number, o: Partial<SgmPrefillEntry> = {}): SgmPrefillEntry =>
  ({ d, bc, sg, pf: false, qs: false, vt: false, il: false, db: false, s8: false, sc: false, x: '', dbg: false, ...o });

/** The generated entries, in the generator's order. */
export const SGM_PREFILL_CONFIGS: readonly SgmPrefillEntry[] = [
  E(128, 32, 4), E(128, 32, 4, { pf: true }), E(128, 32, 8), E(128, 32, 8, { pf: true }), E(128, 16, 8, { pf: true }),
  E(128, 32, 4, { pf: true, vt: true }), E(128, 32, 4, { pf: true, qs: true }), E(128, 32, 8, { pf: true, vt: true }),
  E(128, 32, 4, { pf: true, il: true }), E(128, 32, 8, { pf: true, il: true }),
  E(128, 32, 4, { pf: true, il: true, db: true }), E(128, 32, 4, { db: true }),
  E(64, 32, 4, { pf: true, il: true, db: true }), E(64, 16, 4, { pf: true, il: true, db: true }),
  E(64, 64, 4), E(64, 64, 4, { pf: true }), E(64, 32, 4, { pf: true }), E(64, 32, 8, { pf: true }), E(64, 16, 4, { qs: true, vt: true }),
  E(128, 32, 8, { pf: true, s8: true }), E(64, 32, 4, { pf: true, s8: true }),
  E(128, 32, 8, { pf: true, s8: true, sc: true }), E(64, 32, 4, { pf: true, s8: true, sc: true }), E(64, 64, 4, { pf: true, sc: true }),
  ...['sm', 's', 'pv', 'ld', 'bar'].map((x) => E(128, 32, 8, { pf: true, x })),
  E(128, 32, 4, { dbg: true }),
];

export const sgmEntryName = (e: SgmPrefillEntry): string =>
  `${e.d}_${e.bc}_${e.sg}${e.pf ? '_pf' : ''}${e.qs ? '_qs' : ''}${e.vt ? '_vt' : ''}${e.il ? '_il' : ''}${e.db ? '_db' : ''}${e.s8 ? '_s8' : ''}${e.sc ? '_sc' : ''}${e.x ? `_x${e.x}` : ''}${e.dbg ? '_dbg' : ''}`;

function entryOf(d: number, c: SgmPrefillConfig): SgmPrefillEntry {
  return { d, bc: c.bc, sg: c.subgroups, pf: c.prefetch ?? false, qs: c.qShared ?? false, vt: c.vTransposed ?? false, il: c.interleaved ?? false, db: c.doubleBuffer ?? false, s8: c.scratchPad8 ?? false, sc: c.softmaxContiguous ?? false, x: c.ablation ?? '', dbg: c.debug ?? false };
}

/** The config of a generated entry (sweeps and tests enumerate SGM_PREFILL_CONFIGS). */
export function sgmConfigOf(e: SgmPrefillEntry, extra: Partial<SgmPrefillConfig> = {}): SgmPrefillConfig {
  return { bc: e.bc, subgroups: e.sg, prefetch: e.pf, qShared: e.qs, vTransposed: e.vt, interleaved: e.il, doubleBuffer: e.db, scratchPad8: e.s8, softmaxContiguous: e.sc, ablation: e.x || undefined, debug: e.dbg, ...extra };
}

/** Workgroup memory of a generated entry in bytes (mirrors layout() in the generator); +1 KiB for the emulation's exchange array. */
export function sgmPrefillStorageBytes(e: SgmPrefillEntry, emulate = false): number {
  const { halves, ssPer, br } = sgmHalves(e);
  return halves * 2 + e.sg * ssPer * 4 + (e.s8 ? 0 : 2 * br * 4) + 16 + (emulate ? 1024 : 0);   // s8: (m, l) in the scratch
}

/** f16 elements of workgroup memory and the Q rows staged per chunk (mirrors layout() in the generator). */
function sgmHalves(e: SgmPrefillEntry): { halves: number; qc: number; ssPer: number; br: number } {
  const lk = e.d + 8, lv = e.vt ? e.bc + 8 : e.d + 8, lp = e.bc + 8, ss = e.bc + (e.s8 ? 8 : 4), br = 16 * e.sg;
  const kSize = e.bc * lk, vSize = e.vt ? e.d * lv : e.bc * lk;
  const pNeed = e.sg * 16 * lp;
  const halves = (e.db ? 2 : 1) * (kSize + vSize) + (e.qs ? br * lk : 0) + (pNeed > kSize ? pNeed : 0);
  const qc = Math.min(br, Math.floor(halves / lk / 16) * 16);
  return { halves, qc, ssPer: 16 * ss, br };
}

/**
 * The debug dump of a `dbg` entry (f32 elements; mirrors layout() in the generator): S scratch after the
 * first tile, P, O after the first tile (D/BC rounds of the scratch), (m, l) per row, the staged Q rows, the
 * staged K tile. s(t, c): scratch index of row t, column c.
 */
export function sgmDebugLayout(e: SgmPrefillEntry): {
  lk: number; lp: number; ssPer: number; p: number; o: number; ml: number; q: number; qRows: number; k: number; size: number;
  s: (t: number, c: number) => number;
} {
  const ss = e.bc + (e.s8 ? 8 : 4), lp = e.bc + 8, lk = e.d + 8;
  const { qc, ssPer, br } = sgmHalves(e), qRows = e.qs ? br : qc;
  const p = e.sg * ssPer, o = p + e.sg * 16 * lp, ml = o + (e.d / e.bc) * e.sg * ssPer, q = ml + 2 * br, k = q + qRows * lk;
  const s = (t: number, c: number) => (t >> 4) * ssPer + (t & 15) * ss + c;
  return { lk, lp, ssPer, p, o, ml, q, qRows, k, size: k + e.bc * lk, s };
}

/** Tensor cores for prefill: a 16×16×16 f16→f32 config and 32-wide subgroups (the kernel's lane layout). */
export function hasSgmPrefill(caps: Caps): boolean {
  return hasSubgroupMatrixF16(caps) && caps.subgroupMinSize === 32 && caps.subgroupMaxSize === 32;
}

function sgmConfigFits(caps: Caps, d: number, c: SgmPrefillConfig): boolean {
  const e = entryOf(d, c), name = sgmEntryName(e);
  return SGM_PREFILL_CONFIGS.some((g) => sgmEntryName(g) === name)
    && sgmPrefillStorageBytes(e, c.emulate) <= caps.maxWorkgroupStorage
    && 32 * c.subgroups <= Math.min(caps.maxInvocations, caps.maxWorkgroupSizeX);
}

// Default per head dim (kernels-bench/NOTES.md, session 43).
const SGM_DEFAULT: Readonly<Record<number, SgmPrefillConfig>> = {
  // 128_32_8_pf_s8_sc: 133.6 / 166.9 TFLOP/s at 4K / 16K causal (H100, session 43; 128_32_8_pf_s8 106–108 / 131–132,
  // 128_32_8_pf 102.6 / 124.3 on the H200). D = 64 keeps session 3's 64_64_4_pf (its sc twin untimed).
  128: { bc: 32, subgroups: 8, prefetch: true, scratchPad8: true, softmaxContiguous: true }, 64: { bc: 64, subgroups: 4, prefetch: true },
};

/** FAPOOL_FA_PREFILL: unset, `tiled`, or a generated entry by name (any other value is refused). */
export function faPrefillSwitch(): (typeof SGM_PREFILL_CONFIGS)[number] | 'tiled' | undefined {
  const env = envVar('FAPOOL_FA_PREFILL')?.trim();
  if (!env) return undefined;
  if (env === 'tiled') return 'tiled';
  const e = SGM_PREFILL_CONFIGS.find((g) => !g.dbg && !g.x && sgmEntryName(g) === env);
  if (!e) throw new LimitError(`FAPOOL_FA_PREFILL=${env}: not a generated entry (have tiled, ${SGM_PREFILL_CONFIGS.filter((g) => !g.dbg && !g.x).map(sgmEntryName).join(', ')})`);
  return e;
}

/**
 * The subgroup-matrix prefill config for head dim d on this device, or null when none applies.
 * FAPOOL_FA_PREFILL=<generated entry, e.g. 128_32_8_pf> picks another (benchmarks); =tiled turns the path off.
 */
export function chooseSgmPrefill(caps: Caps, d: number): SgmPrefillConfig | null {
  const e = faPrefillSwitch();
  if (e === 'tiled') return null;
  if (e) {
    const env = sgmEntryName(e);
    // Asked for by name: it runs, or the request is refused (never a silent fallback).
    if (e.d !== d) throw new LimitError(`FAPOOL_FA_PREFILL=${env}: an entry for head dim ${e.d}, the model's is ${d}`);
    const c = sgmConfigOf(e);
    if (!sgmConfigFits(caps, d, c)) throw new LimitError(`FAPOOL_FA_PREFILL=${env}: does not fit this device (${sgmPrefillStorageBytes(e)} bytes of workgroup memory, ${32 * e.sg} invocations)`);
    return c;
  }
  const c = SGM_DEFAULT[d];
  return c && sgmConfigFits(caps, d, c) ? c : null;
}

/** On since session 3: correct on the H200 once the matrix offsets in the tile loop are loop-variant. */
export const SGM_PREFILL_DEFAULT = true;

/** Tensor cores when the device has them and the shape suits (f16, head dim 64 or 128); else f32 FMAs. */
export function choosePrefillPath(caps: Caps, dtype: DType, d: number): PrefillPath {
  return SGM_PREFILL_DEFAULT && dtype === 'f16' && hasSgmPrefill(caps) && chooseSgmPrefill(caps, d) ? 'subgroup-matrix' : 'tiled';
}

interface SgmPrefillCfg { entry: string; th: number; lse: boolean }

const sgmEntry = (c: SgmPrefillCfg): string => `fa_sgm_${c.entry}${c.lse ? '_lse' : ''}`;

const sgmPrefillProgram = defineProgram<SgmPrefillCfg>({
  name: 'flash_prefill_sgm', file: 'flash_attn_prefill_sgm.wgsl', entry: 'fa_sgm_128_32_4',
  specialize: (c) => ({
    entry: sgmEntry(c),
    enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: [SGM_DIAGNOSTIC],
    aliases: { T: 'f16', T4: 'vec4<f16>' },
    constants: { TH: c.th },
  }),
});

const sgmPrefillEmuProgram = defineProgram<SgmPrefillCfg>({
  name: 'flash_prefill_sgm_emu', file: 'flash_attn_prefill_sgm_emu.wgsl', entry: 'fa_sgm_128_32_4',
  specialize: (c) => ({ entry: sgmEntry(c), ...typeSpec('f16'), constants: { TH: c.th } }),
});

interface AttnShape { nHeads: number; nKv: number; d: number; slots: number; capacity: number; dtype: DType }

/** Checks shared by prefill and decode: q/out [rows, nHeads, D], caches [slots, nKv, capacity, D]. */
function checkAttention(k: string, q: Tensor, out: Tensor, kCache: Tensor, vCache: Tensor): AttnShape {
  expectRank(q, 3, 'q', k);
  const [rows, nHeads, d] = q.shape as [number, number, number];
  const dtype = q.dtype;
  if (dtype !== 'f32' && dtype !== 'f16') throw new ShapeError(`${k}: q must be f32 or f16, got ${dtype}`);
  if (d % 4 !== 0 || d < 4 || d > MAX_HEAD_DIM) {
    throw new ShapeError(`${k}: head dim must be a multiple of 4 in [4, ${MAX_HEAD_DIM}], got q ${dtype}[${q.shape.join(', ')}]`);
  }
  expectShape(out, [rows, nHeads, d], 'out', k);
  expectRank(kCache, 4, 'kCache', k);
  const [slots, nKv, capacity, kd] = kCache.shape as [number, number, number, number];
  if (kd !== d) throw new ShapeError(`${k}: kCache head dim ${kd} != q head dim ${d} (kCache ${kCache.dtype}[${kCache.shape.join(', ')}])`);
  expectShape(vCache, kCache.shape, 'vCache', k);
  for (const [n, t] of [['out', out], ['kCache', kCache], ['vCache', vCache]] as const) expectDtype(t, dtype, n, k);
  if (nKv < 1 || nHeads % nKv !== 0) {
    throw new ShapeError(`${k}: nHeads ${nHeads} (q) must be a multiple of nKvHeads ${nKv} (kCache [${kCache.shape.join(', ')}])`);
  }
  expectDistinct(k, ['out', out], ['q', q], ['kCache', kCache], ['vCache', vCache]);
  return { nHeads, nKv, d, slots, capacity, dtype };
}

function checkIndex(k: string, name: string, v: number, max = 0xffffffff): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new ShapeError(`${k}: ${name} = ${v} must be an integer in [0, ${max}]`);
}

function defaultScale(d: number, scale: number | undefined, k: string): number {
  const s = scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(s)) throw new ShapeError(`${k}: scale ${s} is not finite`);
  return s;
}

/**
 * Causal (or full) attention of T query rows over one cache slot. Uniforms (slot, qPos0, kvBase,
 * kvLen, causal, scale) can be changed later through dispatch.set(...) for the same tensors.
 */
export function flashPrefill(gpu: Gpu, a: PrefillArgs): Dispatch {
  const k = 'flashPrefill';
  const s = checkAttention(k, a.q, a.out, a.kCache, a.vCache);
  const T = a.q.shape[0]!;
  checkIndex(k, 'slot', a.slot, s.slots - 1);
  checkIndex(k, 'kvLen', a.kvLen, s.capacity);
  checkIndex(k, 'qPos0', a.qPos0, 0x7fffffff);
  checkIndex(k, 'kvBase', a.kvBase, 0x7fffffff);
  if (a.lse) {
    expectShape(a.lse, [T, s.nHeads], 'lse', k);
    expectDtype(a.lse, 'f32', 'lse', k);
    expectDistinct(k, ['lse', a.lse], ['out', a.out], ['q', a.q], ['kCache', a.kCache], ['vCache', a.vCache]);
  }
  const uniforms = {
    T, nHeads: s.nHeads, group: s.nHeads / s.nKv, nKv: s.nKv, capacity: s.capacity, slot: a.slot,
    qPos0: a.qPos0, kvBase: a.kvBase, kvLen: a.kvLen, causal: a.causal === false ? 0 : 1,
    scale: defaultScale(s.d, a.scale, k),
  };
  const bind: Record<string, Tensor> = { q: a.q, kCache: a.kCache, vCache: a.vCache, out: a.out };
  if (a.lse) bind.lse = a.lse;
  const path = a.path ?? (a.tiles ? 'tiled' : a.sgm ? 'subgroup-matrix' : choosePrefillPath(gpu.caps, s.dtype, s.d));
  if (path === 'subgroup-matrix') {
    if (a.tiles) throw new ShapeError(`${k}: tiles are for the tiled kernel, not path 'subgroup-matrix'`);
    if (s.dtype !== 'f16') throw new ShapeError(`${k}: the subgroup-matrix kernel takes f16, got q ${s.dtype}[${a.q.shape.join(', ')}]`);
    const c = a.sgm ?? chooseSgmPrefill(gpu.caps, s.d);
    if (!c) throw new LimitError(`${k}: no subgroup-matrix prefill config for head dim ${s.d} (have ${SGM_PREFILL_CONFIGS.map((g) => g.d).join(', ')})`);
    if (!c.emulate && !hasSgmPrefill(gpu.caps)) throw new LimitError(`${k}: the subgroup-matrix kernel needs a 16x16x16 f16->f32 subgroup-matrix config and 32-wide subgroups`);
    if (!sgmConfigFits(gpu.caps, s.d, c)) {
      throw new LimitError(`${k}: subgroup-matrix config ${JSON.stringify(c)} for head dim ${s.d} is not generated or does not fit this device (${sgmPrefillStorageBytes(entryOf(s.d, c), c.emulate)} bytes of workgroup memory, ${32 * c.subgroups} invocations; have ${gpu.caps.maxWorkgroupStorage}, ${gpu.caps.maxInvocations})`);
    }
    const th = c.lazyThreshold ?? 8;
    if (!Number.isFinite(th) || th < 0 || th > 12) throw new ShapeError(`${k}: lazyThreshold ${th} must be in [0, 12] (P ≤ 2^threshold must stay f16)`);
    const cfg: SgmPrefillCfg = { entry: sgmEntryName(entryOf(s.d, c)), th, lse: a.lse !== undefined };
    const prog = gpu.program(c.emulate ? sgmPrefillEmuProgram : sgmPrefillProgram, cfg);
    if (c.debug) {
      if (!a.debugOut) throw new ShapeError(`${k}: sgm.debug needs debugOut`);
      bind.dbg = a.debugOut;
    }
    return gpu.dispatch(prog, { bind, uniforms: { ...uniforms, zero: 0 }, workgroups: [ceilDiv(T, 16 * c.subgroups), s.nHeads] });
  }
  const tiles = a.tiles ?? prefillTiles(gpu.caps, s.dtype, s.d);
  if (a.tiles) {
    const ok = PREFILL_TILES.some((t) => t.br === a.tiles!.br && t.bc === a.tiles!.bc);
    if (!ok) throw new ShapeError(`${k}: tiles ${JSON.stringify(a.tiles)} not one of ${JSON.stringify(PREFILL_TILES)}`);
    if (!tilesFit(gpu.caps, s.dtype, s.d, a.tiles)) {
      throw new LimitError(`${k}: tiles ${JSON.stringify(a.tiles)} need ${prefillStorageBytes(s.dtype, s.d, a.tiles)} bytes of workgroup storage for ${s.dtype} head dim ${s.d}; this device has ${gpu.caps.maxWorkgroupStorage}`);
    }
  }
  const { tr, tc } = tileThreads(tiles);
  const d4 = s.d / 4;
  if (tiles.br / tr > MAX_RM || tiles.bc / tc > MAX_CN || ceilDiv(d4, tc) > MAX_DN) throw new Error(`${k}: internal tile bounds`);
  const prog = gpu.program(prefillProgram, { dtype: s.dtype, d4, br: tiles.br, bc: tiles.bc, tr, tc, lse: a.lse !== undefined });
  return gpu.dispatch(prog, { bind, uniforms, workgroups: [ceilDiv(T, tiles.br), s.nHeads] });
}

// ---- decode -----------------------------------------------------------------------------------------

interface DecodeCfg { dtype: DType; d4: number; wg: number; td: number; gh: number }

const decodeProgram = defineProgram<DecodeCfg>({
  name: 'flash_decode', file: 'flash_attn_decode.wgsl', entry: 'decode_split',
  specialize: (c) => ({
    ...typeSpec(c.dtype),
    constants: { D4: c.d4, WG: c.wg, TD: c.td, BK: c.wg / c.td, GH: c.gh, NKG: Math.floor(c.wg / c.d4) },
  }),
});

interface DecodeSgCfg { sgs: number; lpk: number; cpl: number; gh: number; nsg: number; u: number; pf: boolean; fit: boolean; srcLast?: boolean; pair?: boolean }

/**
 * The subgroup kernel's per-lane register arrays, as WGSL type aliases: sized to the launch's U, CPL and GH (`fit`) or
 * to the kernel's maxima (MAX_SG_U, MAX_SG_CPL, MAX_GH: the arrays every launch had before session 58). A function
 * array the driver cannot keep in registers goes to local memory whole (session 12: U = 3 and 4 put 2.4 KB a thread
 * there), so the maxima cost registers or memory wherever a launch uses fewer.
 */
function decodeSgArrays(c: DecodeSgCfg): Record<string, string> {
  const u = c.fit ? c.u : MAX_SG_U, cpl = c.fit ? c.cpl : MAX_SG_CPL, gh = c.fit ? c.gh : MAX_GH;
  return {
    KvRows: `array<array<vec4<u32>, ${cpl}>, ${u}>`,
    HeadVecs: `array<array<vec4f, ${2 * cpl}>, ${gh}>`,
    LaneVecs: `array<vec4f, ${2 * cpl}>`,
    HeadVals: `array<f32, ${gh}>`,
    KeyVals: `array<f32, ${u}>`,
  };
}

const decodeSgProgram = defineProgram<DecodeSgCfg>({
  name: 'flash_decode_sg', file: 'flash_attn_decode_sg.wgsl', entry: 'decode_sg',
  specialize: (c) => ({
    entry: c.pair ? 'decode_sg_pair' : 'decode_sg',
    enables: ['f16', 'subgroups'],
    aliases: { T: 'f16', T4: 'vec4<f16>', ...decodeSgArrays(c) },
    constants: { SGS: c.sgs, LPK: c.lpk, CPL: c.cpl, GH: c.gh, NSG: c.nsg, U: c.u, PF: c.pf, SRC_LAST: c.srcLast ?? false },
  }),
});

interface MergeCfg { dtype: DType; wg: number; lse: boolean }

interface MergeSgCfg { sgs: number; entry: 'merge_sg' | 'merge_sg_lse' | 'merge_sg_append' | 'merge_sg_pair' | 'merge_sg_append_pair' }

const mergeSgProgram = defineProgram<MergeSgCfg>({
  name: 'attn_merge_sg', file: 'flash_attn_merge_sg.wgsl', entry: 'merge_sg',
  specialize: (c) => ({ entry: c.entry, enables: ['f16', 'subgroups'], aliases: { T: 'f16', T4: 'vec4<f16>' }, constants: { SGS: c.sgs } }),
});

/**
 * How the subgroup decode kernel's partials are merged: 'sg' (flash_attn_merge_sg.wgsl: subgroup reductions, one
 * subgroup a row and head; with FAPOOL_DECODE_APPEND=after it also appends the step's K/V, one launch where there
 * were two) or 'plain' (flash_attn_decode.wgsl's merge, also the split kernel's and the cross-device one). Set by
 * FAPOOL_DECODE_MERGE; default MERGE_SG_DEFAULT.
 */
export type DecodeMerge = 'sg' | 'plain';
export const MERGE_SG_DEFAULT: DecodeMerge = 'sg';
export function decodeMergeMode(): DecodeMerge {
  return envChoice('FAPOOL_DECODE_MERGE', ['sg', 'plain'], MERGE_SG_DEFAULT, "'sg' (subgroup merge, the default) or 'plain'");
}

/**
 * How a decode step treats two neighbouring KV cache groups where the device can (FAPOOL_DECODE_PAIR): 'on' one
 * attention launch and one merge over both (flashDecodePair, joint), 'merge' an attention launch per group and one
 * merge over both (per-group), 'off' a plan per group, or 'auto' (DECODE_PAIR_DEFAULT): 'on' with robust buffer
 * access, 'merge' without. H200, seed-4l b8 × 32K (7 + 1 rows in two groups), GPU µs a step (session 29,
 * rounds/s28a.sh): robust, off 5145 / 5112 against on 5014 / 5046 (attention 3916 → 3910, merges 89–181 → 41–43);
 * without robustness off 5046 against on 5308 — there decode_sg_pair, its shared body compiled twice (once per pair
 * of cache pointers), takes 4162 µs against decode_sg's 3824, while the pair merge took 22 µs against 100 for two.
 * 'merge' keeps decode_sg and takes the pair merge: without robustness (session 30, rounds/s30a.sh) 4937 / 4937 against
 * off 4959 / 4981 and on 5243 (tokens the same); robust, on 4959 against merge 5014. b64 × 4K (63 + 1) robust: 5603 /
 * 5538 (session 29), without robustness off and merge both 5505: within the run's spread.
 */
export type DecodePair = 'on' | 'merge' | 'off' | 'auto';
export const DECODE_PAIR_DEFAULT: DecodePair = 'auto';
export function decodePairMode(): DecodePair {
  return envChoice('FAPOOL_DECODE_PAIR', ['on', 'merge', 'off', 'auto'], DECODE_PAIR_DEFAULT,
    "'on' (two cache groups' decode attention in one launch and one merge where the device can), 'merge' (a launch per group, one merge), 'off', or 'auto' (on with robust buffer access, merge without)");
}
/** Two cache groups' attention in one launch ('joint') or a launch per group ('per-group'), merged once either way. */
export type PairAttention = 'joint' | 'per-group';
/**
 * How this device pairs cache groups of a model in `dtype` with head dim d, or null: not at all — decodePairMode, 'auto'
 * resolved by the device's robust buffer access, and to 'per-group' where the joint launch's bindings do not fit.
 */
export function decodePairing(caps: Caps, dtype: DType, d: number, mode = decodePairMode()): PairAttention | null {
  if (chooseDecodeKernel(caps, dtype, d) !== 'subgroup') return null;
  const wanted: PairAttention | null = mode === 'auto' ? (caps.robustBufferAccess !== false ? 'joint' : 'per-group')
    : mode === 'on' ? 'joint' : mode === 'merge' ? 'per-group' : null;
  if (wanted && decodePairApplies(caps, dtype, d, wanted)) return wanted;
  return mode === 'auto' && decodePairApplies(caps, dtype, d, 'per-group') ? 'per-group' : null;
}

const mergeProgram = defineProgram<MergeCfg>({
  name: 'attn_merge', file: 'flash_attn_decode.wgsl', entry: 'merge',
  specialize: (c) => ({ entry: c.lse ? 'merge_lse' : 'merge', ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface DecodeArgs {
  q: Tensor; out: Tensor;            // [B, nHeads, D]  (row b reads cache slot b)
  kCache: Tensor; vCache: Tensor;    // [B(slots), nKvHeads, capacity, D]
  lengths: Tensor;                   // [B] u32: valid cache entries per slot (0 = inactive row: out = 0, lse = -inf)
  lse?: Tensor;                      // [B, nHeads] f32, the merged LSE (for merging across devices)
  scale?: number;
  maxSplits?: number;
  /** Fewest keys per split (default two key blocks); tests lower it to force many splits. */
  minChunk?: number;
  /** 'subgroup': subgroup reductions, 16-byte loads (f16, head dim % 8 == 0, a fixed subgroup size);
   *  'split': lanes reduce through workgroup memory (any dtype and head dim). Default: chooseDecodeKernel. */
  kernel?: DecodeKernel;
  /** Subgroup kernel: keys in flight per key group per step (1–4, default 2; FAPOOL_DECODE_SG's u=<n>). */
  unroll?: number;
  /** Subgroup kernel: subgroups per workgroup (default: as many as DECODE_SG_DEFAULT.threads hold, ≤ 16). */
  subgroups?: number;
  /** Subgroup kernel: load the next step's K/V rows before this step's arithmetic (default DECODE_SG_DEFAULT). */
  prefetch?: boolean;
  /**
   * Subgroup kernel: lanes sharing one key — a power of 2 that divides the head's 8-half chunks (D / 8), at most a
   * subgroup, with at most MAX_SG_CPL chunks a lane. Fewer lanes a key take more bytes a lane and repeat each key's
   * softmax on fewer lanes. Default: the most (16 at D = 128 on 32-lane subgroups); FAPOOL_DECODE_SG's lpk=<n>.
   */
  lanesPerKey?: number;
  /**
   * Subgroup kernel: its per-lane register arrays sized to this launch (U, CPL, GH) rather than to the kernel's maxima
   * (decodeSgArrays). The same sums in the same order: the same bits. Default DECODE_SG_DEFAULT.fit; FAPOOL_DECODE_SG's
   * fit=<0|1>.
   */
  fitArrays?: boolean;
  /**
   * Subgroup kernel: query heads of one GQA group per workgroup, sharing each K/V row it reads (default 1). On
   * the H200 4 heads a workgroup put the kernel's per-head arrays in local memory (2.4 KB a thread) and ran at
   * 3–12 % of the copy rate (session 12); one head a workgroup is the MHA kernel, reading each K/V row once per
   * head (from L2 where the group's workgroups run together): 32 query over 8 KV heads, B = 1 at 4K / 32K and
   * B = 8 at 4K, 19.6 / 103 / 113 µs against 74.5 / 368 / 416 with 4 heads a workgroup (session 13).
   */
  headsPerWorkgroup?: number;
  /**
   * Subgroup kernel: each row's last key and value (position length − 1) are read from these rows — the step's
   * fused q/k/v, [B, (nHeads + 2·nKvHeads)·D], k rotated — not from the cache, which the step then appends to
   * after its attention (FAPOOL_DECODE_APPEND=after).
   */
  lastFrom?: Tensor;
  /**
   * With lastFrom and the subgroup merge (decodeMergeMode 'sg'): the merge also copies each row's new K and V from
   * lastFrom into the caches, at rows[rowBase + b] = (slot + slotBase, position) as the RoPE's append would
   * (slots outside the caches' or positions past their capacity are skipped) — FAPOOL_DECODE_APPEND=after without
   * a copy launch of its own. `appendsInMerge` says whether a plan will. Row b is copied from lastFrom's row b to
   * the slot its table entry names, so the two agree where every row's slot is its own row (a decode step's table).
   * Not with `lse`.
   */
  append?: { rows: Tensor /*[tokens, 2] u32*/; rowBase: number; slotBase: number };
}

/** Whether flashDecode with `append` appends in its merge on this device (else the caller must copy the rows). */
export function appendsInMerge(caps: Caps, dtype: DType, d: number): boolean {
  return decodeMergeMode() === 'sg' && sgDecodeApplies(caps, dtype, d);
}

export type DecodeKernel = 'split' | 'subgroup';

/** On: the subgroup kernel passed every test on the H200 (rounds 1–2) and beat the split kernel at every length. */
export const SG_DECODE_DEFAULT = true;

/**
 * The subgroup decode kernel applies: f16, one known subgroup size, WGSL pointers to storage as function parameters
 * (its body and its merge's append serve two cache groups' entries too), head dim a multiple of 8 whose 8-half chunks
 * a key group's lanes (the largest power of 2 dividing them, at most a subgroup) hold at ≤ MAX_SG_CPL a lane — so
 * D = 40 (5 chunks: 1 lane of 5) takes the split kernel.
 */
export function sgDecodeApplies(caps: Caps, dtype: DType, d: number): boolean {
  const sgs = fixedSubgroupSize(caps);
  return dtype === 'f16' && caps.f16 && sgs > 0 && caps.pointerParameters === true
    && d % 8 === 0 && d / 8 / lanesPerKey(d / 8, sgs) <= MAX_SG_CPL && d / 4 <= 1024;
}

/** Lanes sharing one key in the subgroup kernel: the largest power of 2 dividing the head's 8-half chunks, ≤ sgs. */
function lanesPerKey(chunks: number, sgs: number): number {
  let lpk = 1;
  while (lpk * 2 <= Math.min(chunks, sgs) && chunks % (lpk * 2) === 0) lpk *= 2;
  return lpk;
}

export function chooseDecodeKernel(caps: Caps, dtype: DType, d: number): DecodeKernel {
  return SG_DECODE_DEFAULT && sgDecodeApplies(caps, dtype, d) ? 'subgroup' : 'split';
}

const MAX_SG_CPL = 4, MAX_SG_NSG = 16, MAX_SG_U = 4;

/**
 * The subgroup kernel's launch defaults (H200 sweeps, kernels-bench/NOTES.md session 12): the next step's K/V
 * loaded before this step's arithmetic (prefetch: 76 registers, 71 without), ~256 workgroups per sequence's head
 * groups (8 splits for 32 heads) of 512 threads (2 per SM at 64 registers; 16 splits of 256 threads, the old
 * default, ran 512 workgroups as 1.3 waves of 396); 2 keys a step, all lanes a key the head's chunks allow (16 at
 * D = 128), register arrays sized to the kernel's maxima. FAPOOL_DECODE_SG=wgs=<n>,sg=<subgroups>,pf=<0|1>,fit=<0|1>,
 * splits=<n>,lpk=<lanes>,u=<keys> overrides any of them (benchmarks).
 */
export const DECODE_SG_DEFAULT = { workgroups: 256, threads: 512, prefetch: true, fit: false };

interface DecodeSgLaunch { workgroups: number; subgroups?: number; prefetch: boolean; fit: boolean; splits?: number; lpk?: number; unroll?: number }

/** FAPOOL_DECODE_SG: the subgroup decode kernel's launch (refused unless well formed). */
export function decodeSgDefaults(): DecodeSgLaunch {
  const v = envVar('FAPOOL_DECODE_SG')?.trim();
  const out: DecodeSgLaunch = { workgroups: DECODE_SG_DEFAULT.workgroups, prefetch: DECODE_SG_DEFAULT.prefetch, fit: DECODE_SG_DEFAULT.fit };
  if (!v) return out;
  for (const part of v.split(',')) {
    const m = /^(wgs|sg|pf|fit|splits|lpk|u)=(\d+)$/.exec(part.trim());
    const flag = m?.[1] === 'pf' || m?.[1] === 'fit';
    if (!m || (flag && m[2] !== '0' && m[2] !== '1') || (!flag && Number(m[2]) < 1) || (m[1] === 'splits' && Number(m[2]) > 64) || (m[1] === 'u' && Number(m[2]) > MAX_SG_U)) {
      throw new LimitError(`FAPOOL_DECODE_SG=${v}: expected wgs=<workgroups ≥ 1>,sg=<subgroups ≥ 1>,pf=<0|1>,fit=<0|1>,splits=<1..64>,lpk=<lanes a key>,u=<1..${MAX_SG_U}: keys a lane group takes a step> (any may be left out)`);
    }
    if (m[1] === 'wgs') out.workgroups = Number(m[2]);
    else if (m[1] === 'sg') out.subgroups = Number(m[2]);
    else if (m[1] === 'splits') out.splits = Number(m[2]);
    else if (m[1] === 'lpk') out.lpk = Number(m[2]);
    else if (m[1] === 'fit') out.fit = m[2] === '1';
    else if (m[1] === 'u') out.unroll = Number(m[2]);
    else out.prefetch = m[2] === '1';
  }
  return out;
}

/**
 * Split count per (batch row, head group) pair count:
 * - split kernel: ~2048 workgroups (H100, S=32K: 64 splits × 32 heads beat 32 and 128);
 * - subgroup kernel: DECODE_SG_DEFAULT.workgroups, never fewer than 4 splits nor more than 64 (FAPOOL_DECODE_SG's
 *   splits=<n> sets that most; short rows take fewer, update()'s minChunk).
 */
function defaultSplits(sg: DecodeSgLaunch | null, pairs: number): number {
  if (sg?.splits !== undefined) return sg.splits;
  return sg ? Math.min(64, Math.max(4, ceilDiv(sg.workgroups, pairs))) : Math.min(128, Math.max(1, ceilDiv(2048, pairs)));
}

/**
 * The pairs the split count is chosen for. The subgroup kernel by default takes one row's head groups: a
 * sequence's attention is split the same way whatever else its cache group holds, so an FA Pool rank (a one-row
 * shard) sums it exactly as the single device does in an 8-row group — the same bits (with 8 rows' pairs the two
 * split 16 vs 8 ways and could part at a near-tie). Session 12's sweep puts the cost within 1–3% at 8 and 32 rows
 * (8 × 32K: 8 splits 0.977 ms, 16: 0.947; 4 splits would gain ≤ 3% at 4K); its partials are ≤ 64 splits. The
 * split kernel (f32, CPU adapters) keeps the rows' pairs: one row's would give it up to 128 splits a row at any batch. FAPOOL_DECODE_SPLITS=rows chooses
 * per (rows × head groups) for both.
 */
function splitPairs(subgroupKernel: boolean, rows: number, headGroups: number): number {
  return decodeSplitsMode() === 'row' && subgroupKernel ? headGroups : rows * headGroups;
}

/** FAPOOL_DECODE_SPLITS: whose pairs the split count is chosen for (splitPairs). */
export function decodeSplitsMode(): 'row' | 'rows' {
  return envChoice('FAPOOL_DECODE_SPLITS', ['row', 'rows'], 'row', "'row' (one row's head groups, the default) or 'rows' (all rows')");
}

interface DecodeSgChoice { unroll: number; subgroups?: number | undefined; prefetch: boolean; fit: boolean; heads?: number | undefined; lpk?: number | undefined }

function decodeSgConfig(gpu: Gpu, d: number, group: number, { unroll, subgroups, prefetch, fit, heads = 1, lpk: lpkAsked }: DecodeSgChoice): DecodeSgCfg {
  if (!Number.isInteger(heads) || heads < 1 || heads > MAX_GH || group % heads !== 0) {
    throw new ShapeError(`flashDecode: headsPerWorkgroup ${heads} must divide the GQA group (${group}) and be at most ${MAX_GH}`);
  }
  const sgs = gpu.caps.subgroupMaxSize, ch = d / 8, lpk = lpkAsked ?? lanesPerKey(ch, sgs);
  if (lpkAsked !== undefined && (!Number.isInteger(lpk) || lpk < 1 || (lpk & (lpk - 1)) !== 0 || lpk > sgs || ch % lpk !== 0 || ch / lpk > MAX_SG_CPL)) {
    throw new ShapeError(`flashDecode: lanesPerKey ${lpk} must be a power of 2 that divides the head's ${ch} 8-half chunks, at most the subgroup (${sgs}), with at most ${MAX_SG_CPL} chunks a lane`);
  }
  const wg = rowWorkgroupSize(gpu, DECODE_SG_DEFAULT.threads);
  const most = Math.min(MAX_SG_NSG, Math.floor(gpu.caps.maxInvocations / sgs), Math.floor(1024 / (d / 4)));
  if (subgroups !== undefined && (!Number.isInteger(subgroups) || subgroups < 1 || subgroups > most)) {
    throw new ShapeError(`flashDecode: subgroups ${subgroups} must be an integer in [1, ${most}] (head dim ${d}, subgroups of ${sgs})`);
  }
  const nsg = subgroups ?? Math.min(most, Math.floor(wg / sgs));
  if (nsg < 1 || ch / lpk > MAX_SG_CPL) throw new LimitError(`flashDecode: no subgroup-kernel shape for head dim ${d} with subgroups of ${sgs}`);
  return { sgs, lpk, cpl: ch / lpk, gh: heads, nsg, u: unroll, pf: prefetch, fit };
}

export interface DecodePlan {
  dispatches: Dispatch[];            // split partials, then reduce
  /** Call before each step with the current max length over the batch: picks the KV chunk per split (uniform writes only, no allocation). */
  update(maxLen: number): void;
  release(): void;                   // frees the partial buffers
}

/** Decode launch shape: threads, lanes per key, heads per workgroup (a divisor of the GQA group). */
function decodeConfig(gpu: Gpu, dtype: DType, d4: number, group: number): DecodeCfg {
  let gh = 1;
  for (let g = 1; g <= Math.min(group, MAX_GH); g++) if (group % g === 0) gh = g;
  // ~8 vec4 per lane per key: enough loads in flight per thread, few lanes to sum.
  let td = 1;
  while (td * 2 <= d4 / 8 && td < 16) td *= 2;
  for (let wg = rowWorkgroupSize(gpu, 256); wg >= 32; wg /= 2) {
    if (wg < d4 || wg % td) continue;
    const bytes = (gh * d4 * 4 + gh * wg + gh * (wg / td) + wg * 4 + wg + MAX_GH) * F32;
    if (bytes <= gpu.caps.maxWorkgroupStorage) return { dtype, d4, wg, td, gh };
  }
  throw new LimitError(`flashDecode: no workgroup shape for head dim ${d4 * 4} fits this device (${gpu.caps.maxWorkgroupStorage} bytes of workgroup storage, ${gpu.caps.maxInvocations} invocations)`);
}

/**
 * Split-KV decode of one token per batch row. The plan owns f32 partials [B, nHeads, maxSplits, D] and
 * re-picks the split count and chunk on update(maxLen); rows longer than the maxLen given are cut at it.
 */
export function flashDecode(gpu: Gpu, a: DecodeArgs): DecodePlan {
  return decodePlans(gpu, 'flashDecode', a, null)[0];
}

/**
 * The second cache group of flashDecodePair: rows [b2, B) of q, out and lastFrom (b2 = the first group's slots)
 * read these caches at slot b − b2.
 */
export interface DecodeSecondGroup {
  kCache: Tensor; vCache: Tensor;    // [B − b2 (slots), nKvHeads, capacity2, D]
  lengths: Tensor;                   // [B − b2] u32
  /** With `append`: the slot base of this group's rows in the row table (the first group's is append.slotBase). */
  slotBase?: number;
}

/** Whether flashDecodePair runs here: the subgroup kernel and merge, and the storage buffers its launches bind. */
export function decodePairApplies(caps: Caps, dtype: DType, d: number, attention: PairAttention = 'joint'): boolean {
  return appendsInMerge(caps, dtype, d) && caps.maxStorageBuffersPerStage >= PAIR_STORAGE_BUFFERS[attention];
}

/**
 * Storage buffers a stage of flashDecodePair's widest launch: decode_sg_pair (q, two K/V/lengths triples, the
 * partials, src) when joint, else merge_sg_append_pair (the partials, out, src, rows, two K/V pairs).
 */
const PAIR_STORAGE_BUFFERS: Record<PairAttention, number> = { joint: 10, 'per-group': 9 };

/**
 * Two cache groups' decode attention merged in one launch (merge_sg{,_append}_pair), their attention in one launch
 * (`attention` 'joint': decode_sg_pair) or one a group ('per-group': decode_sg twice, the second group's rows written
 * from row b2 on): a's caches hold rows [0, b2) and `second`'s rows [b2, B) of a's q, out and lastFrom (the groups'
 * rows next to each other). Each row's splits are those of flashDecode over its own group — the same chunk for the
 * same longest length, so the same bits — and each group keeps its plan: the first plan holds every launch, the
 * second none; update(maxLen) of either sizes its group. Not with `lse` (an FA Pool rank's reply) nor on the split
 * kernel.
 */
export function flashDecodePair(gpu: Gpu, a: DecodeArgs, second: DecodeSecondGroup, attention: PairAttention = 'joint'): [DecodePlan, DecodePlan] {
  return decodePlans(gpu, 'flashDecodePair', a, { ...second, attention }) as [DecodePlan, DecodePlan];
}

function decodePlans(gpu: Gpu, k: string, a: DecodeArgs, second: (DecodeSecondGroup & { attention: PairAttention }) | null): [DecodePlan] | [DecodePlan, DecodePlan] {
  const s = checkAttention(k, a.q, a.out, a.kCache, a.vCache);
  const B = a.q.shape[0]!;
  const b2 = second ? s.slots : B; // the second group's first row
  const s2 = second ? checkSecondGroup(k, s, a, second) : null;
  if (!second && s.slots !== B) throw new ShapeError(`${k}: kCache has ${s.slots} slots but q has ${B} rows (row b reads slot b): kCache [${a.kCache.shape.join(', ')}], q [${a.q.shape.join(', ')}]`);
  expectShape(a.lengths, [b2], 'lengths', k);
  expectDtype(a.lengths, 'u32', 'lengths', k);
  if (a.lse) {
    if (second) throw new ShapeError(`${k}: no lse with two cache groups (the pair merges write none)`);
    expectShape(a.lse, [B, s.nHeads], 'lse', k);
    expectDtype(a.lse, 'f32', 'lse', k);
    expectDistinct(k, ['lse', a.lse], ['out', a.out]);
  }
  const d4 = s.d / 4;
  const group = s.nHeads / s.nKv;
  const kernel = a.kernel ?? chooseDecodeKernel(gpu.caps, s.dtype, s.d);
  if (kernel === 'subgroup' && !sgDecodeApplies(gpu.caps, s.dtype, s.d)) {
    throw new LimitError(`${k}: the subgroup kernel needs f16 K/V, head dim % 8 == 0 and a fixed power-of-2 subgroup size; got ${s.dtype} D=${s.d}, subgroups ${gpu.caps.subgroupMinSize}-${gpu.caps.subgroupMaxSize}`);
  }
  if (second && (kernel !== 'subgroup' || !decodePairApplies(gpu.caps, s.dtype, s.d, second.attention))) {
    throw new LimitError(`${k}: two cache groups merged in one launch need the subgroup kernel and merge (FAPOOL_DECODE_MERGE=sg) and ${PAIR_STORAGE_BUFFERS[second.attention]} storage buffers a stage (this device: ${gpu.caps.maxStorageBuffersPerStage})`);
  }
  const sgLaunch = kernel === 'subgroup' ? decodeSgDefaults() : null;
  const unroll = a.unroll ?? sgLaunch?.unroll ?? 2;
  if (!Number.isInteger(unroll) || unroll < 1 || unroll > MAX_SG_U) throw new ShapeError(`${k}: unroll ${unroll} must be an integer in [1, ${MAX_SG_U}]`);
  const sgCfg = sgLaunch ? decodeSgConfig(gpu, s.d, group, {
    unroll, subgroups: a.subgroups ?? sgLaunch.subgroups, prefetch: a.prefetch ?? sgLaunch.prefetch, heads: a.headsPerWorkgroup,
    lpk: a.lanesPerKey ?? sgLaunch.lpk, fit: a.fitArrays ?? sgLaunch.fit,
  }) : null;
  const joint = second?.attention === 'joint';
  if (sgCfg && joint) sgCfg.pair = true;
  const rowElems = (s.nHeads + 2 * s.nKv) * s.d;
  if (a.lastFrom) {
    if (!sgCfg) throw new LimitError(`${k}: lastFrom needs the subgroup kernel (f16, head dim % 8 == 0, a fixed subgroup size)`);
    expectShape(a.lastFrom, [B, rowElems], 'lastFrom', k);
    expectDtype(a.lastFrom, s.dtype, 'lastFrom', k);
    sgCfg.srcLast = true;
  }
  const mergeMode = decodeMergeMode(); // read (and checked) on every device
  if (a.append) {
    if (!a.lastFrom) throw new ShapeError(`${k}: append copies the rows of lastFrom; none given`);
    if (a.lse) throw new ShapeError(`${k}: the appending merge writes no LSE; give append or lse, not both`);
    if (a.append.rows.shape[0]! < B) throw new ShapeError(`${k}: append.rows has ${a.append.rows.shape[0]} rows, fewer than the ${B} rows of q`);
    if (!appendsInMerge(gpu.caps, s.dtype, s.d)) throw new LimitError(`${k}: append needs the subgroup merge (FAPOOL_DECODE_MERGE=sg and the subgroup kernel)`);
    expectRank(a.append.rows, 2, 'append.rows', k);
    expectDtype(a.append.rows, 'u32', 'append.rows', k);
    if (a.append.rows.shape[1] !== 2) throw new ShapeError(`${k}: append.rows must be [tokens, 2] (slot, position), got [${a.append.rows.shape.join(', ')}]`);
    checkIndex(k, 'append.rowBase', a.append.rowBase, a.append.rows.shape[0]! - B);
    checkIndex(k, 'append.slotBase', a.append.slotBase);
    if (second) {
      if (second.slotBase === undefined) throw new ShapeError(`${k}: append with two cache groups needs the second group's slotBase`);
      checkIndex(k, 'second.slotBase', second.slotBase);
    }
  }
  const cfg = sgCfg ? null : decodeConfig(gpu, s.dtype, d4, group);
  // Keys a workgroup takes per step: chunks are whole steps once a split spans one.
  const bk = sgCfg ? (sgCfg.sgs * sgCfg.nsg / sgCfg.lpk) * sgCfg.u : cfg!.wg / cfg!.td;
  const headGroups = s.nHeads / (sgCfg ? sgCfg.gh : cfg!.gh);
  // Each group's most splits, as a plan over its rows alone would take (a row's splits do not depend on its pair).
  const groupSplits = (rows: number) => a.maxSplits ?? defaultSplits(sgLaunch, splitPairs(sgCfg !== null, rows, headGroups));
  const maxSplits = [groupSplits(b2), ...(second ? [groupSplits(B - b2)] : [])];
  for (const m of maxSplits) checkIndex(k, 'maxSplits', m, gpu.caps.maxWorkgroupsPerDim);
  if (maxSplits.some((m) => m < 1)) throw new ShapeError(`${k}: maxSplits must be >= 1`);
  const pStride = Math.max(...maxSplits);
  const minChunk = a.minChunk ?? 2 * bk;
  if (!Number.isInteger(minChunk) || minChunk < 1) throw new ShapeError(`${k}: minChunk ${minChunk} must be a positive integer`);
  const scale = defaultScale(s.d, a.scale, k);

  const partO = gpu.tensor([B, s.nHeads, pStride, s.d], 'f32', 'attn.partialO');
  const partLse = gpu.tensor([B, s.nHeads, pStride], 'f32', 'attn.partialLse');
  let split: Dispatch | undefined, split2: Dispatch | undefined, merge: Dispatch | undefined;
  try {
    const bind: Record<string, Tensor> = { q: a.q, kCache: a.kCache, vCache: a.vCache, lengths: a.lengths, partO, partLse };
    const uniforms: Record<string, number> = {
      nHeads: s.nHeads, group, nKv: s.nKv, capacity: s.capacity, chunk: s.capacity || 1, pStride, scale,
    };
    if (sgCfg) {
      // src: the step's q/k/v rows (8 halves an element), or q where nothing is read from it.
      bind.src = a.lastFrom ?? a.q;
      Object.assign(uniforms, {
        srcStride: rowElems / 8, srcK: (s.nHeads * s.d) / 8, srcV: ((s.nHeads + s.nKv) * s.d) / 8,
        b2, capacity2: s2?.capacity ?? 0, chunk2: s2?.capacity || 1, rowBase: 0,
      });
      if (joint) Object.assign(bind, { kCache2: second.kCache, vCache2: second.vCache, lengths2: second.lengths });
    }
    split = gpu.dispatch(sgCfg ? gpu.program(decodeSgProgram, sgCfg) : gpu.program(decodeProgram, cfg!), {
      bind, uniforms, workgroups: [1, headGroups, joint ? B : b2],
    });
    if (second && !joint && s2) {
      // The second group's launch: its caches in the first's bindings, its rows of q, src and the partials from b2 on.
      split2 = gpu.dispatch(gpu.program(decodeSgProgram, sgCfg!), {
        bind: { ...bind, kCache: second.kCache, vCache: second.vCache, lengths: second.lengths },
        uniforms: { ...uniforms, capacity: s2.capacity, chunk: s2.capacity || 1, rowBase: b2 }, workgroups: [1, headGroups, B - b2],
      });
    }
    const parts = { partialO: partO, partialLse: partLse, out: a.out, lse: a.lse };
    const append = a.append && a.lastFrom ? { ...a.append, src: a.lastFrom, k: a.kCache, v: a.vCache } : undefined;
    merge = sgCfg && mergeMode === 'sg'
      ? mergeSgDispatch(gpu, parts, B, s, pStride, sgCfg.sgs, append, second && s2 ? { ...second, ...s2, b2 } : undefined)
      : mergeDispatch(gpu, parts, B, s.nHeads, pStride, s.d);
  } catch (e) {
    split?.release();
    split2?.release();
    gpu.release(partO, partLse);
    throw e;
  }
  const splitD = split, split2D = split2, mergeD = merge;

  // Each group's chunk and split count for its longest row; a joint launch covers the larger count (a workgroup past
  // its group's splits finds no keys and writes an empty partial the merge does not read).
  const capacities = [s.capacity, ...(s2 ? [s2.capacity] : [])];
  const chunks = capacities.map(() => 1), nSplits = capacities.map(() => 1);
  const update = (gi: number, maxLen: number): void => {
    checkIndex(k, 'maxLen', maxLen, capacities[gi]!);
    let chunk = Math.max(ceilDiv(maxLen, maxSplits[gi]!), minChunk);
    if (chunk >= bk) chunk = ceilDiv(chunk, bk) * bk; // whole key blocks once a split spans one
    chunks[gi] = chunk;
    nSplits[gi] = Math.max(1, ceilDiv(maxLen, chunk));
    if (split2D) (gi === 0 ? splitD : split2D).set({ chunk }).setGrid(nSplits[gi]!, headGroups, gi === 0 ? b2 : B - b2, gpu.caps.maxWorkgroupsPerDim);
    else splitD.set(second ? { chunk: chunks[0]!, chunk2: chunks[1]! } : { chunk }).setGrid(Math.max(...nSplits), headGroups, B, gpu.caps.maxWorkgroupsPerDim);
    mergeD.set(second ? { nSplits: nSplits[0]!, nSplits2: nSplits[1]! } : { nSplits: nSplits[0]! });
  };
  capacities.forEach((c, gi) => update(gi, c));
  const first: DecodePlan = {
    dispatches: split2D ? [splitD, split2D, mergeD] : [splitD, mergeD],
    update: (maxLen) => update(0, maxLen),
    release: () => { splitD.release(); split2D?.release(); mergeD.release(); gpu.release(partO, partLse); },
  };
  if (!second) return [first];
  return [first, { dispatches: [], update: (maxLen) => update(1, maxLen), release: () => {} }];
}

/** The second group of a pair: caches like the first's but for their slots and capacity, their lengths, its rows. */
function checkSecondGroup(k: string, s: AttnShape, a: DecodeArgs, g: DecodeSecondGroup): { slots: number; capacity: number } {
  expectRank(g.kCache, 4, 'second.kCache', k);
  const [slots, nKv, capacity, d] = g.kCache.shape as [number, number, number, number];
  if (nKv !== s.nKv || d !== s.d) throw new ShapeError(`${k}: second.kCache [${g.kCache.shape.join(', ')}] must have ${s.nKv} kv heads of dim ${s.d} like kCache [${a.kCache.shape.join(', ')}]`);
  expectShape(g.vCache, g.kCache.shape, 'second.vCache', k);
  for (const [n, t] of [['second.kCache', g.kCache], ['second.vCache', g.vCache]] as const) expectDtype(t, s.dtype, n, k);
  const B = a.q.shape[0]!;
  if (s.slots + slots !== B) throw new ShapeError(`${k}: the groups' slots ${s.slots} + ${slots} must be q's ${B} rows`);
  expectShape(g.lengths, [slots], 'second.lengths', k);
  expectDtype(g.lengths, 'u32', 'second.lengths', k);
  expectDistinct(k, ['out', a.out], ['kCache', a.kCache], ['vCache', a.vCache], ['second.kCache', g.kCache], ['second.vCache', g.vCache]);
  return { slots, capacity };
}

/** Merge P partial (O, LSE) results exactly, e.g. computed on different devices (the split kernel's merge; the subgroup kernel's plans merge with flash_attn_merge_sg.wgsl). */
export interface MergeArgs { partialO: Tensor /*[B, nHeads, P, D] f32*/; partialLse: Tensor /*[B, nHeads, P] f32*/; out: Tensor /*[B, nHeads, D]*/; lse?: Tensor /*[B, nHeads] f32*/ }

export function mergeAttention(gpu: Gpu, a: MergeArgs): Dispatch {
  const k = 'mergeAttention';
  expectRank(a.partialO, 4, 'partialO', k);
  const [B, nHeads, P, d] = a.partialO.shape as [number, number, number, number];
  expectDtype(a.partialO, 'f32', 'partialO', k);
  if (d % 4 !== 0 || d < 4) throw new ShapeError(`${k}: head dim must be a positive multiple of 4, got partialO f32[${a.partialO.shape.join(', ')}]`);
  if (P < 1) throw new ShapeError(`${k}: partialO has no partials: f32[${a.partialO.shape.join(', ')}]`);
  return mergeDispatch(gpu, a, B, nHeads, P, d);
}

function mergeDispatch(gpu: Gpu, a: MergeArgs, B: number, nHeads: number, P: number, d: number): Dispatch {
  const k = 'mergeAttention';
  expectShape(a.partialLse, [B, nHeads, P], 'partialLse', k);
  expectDtype(a.partialLse, 'f32', 'partialLse', k);
  expectShape(a.out, [B, nHeads, d], 'out', k);
  if (a.out.dtype !== 'f32' && a.out.dtype !== 'f16') throw new ShapeError(`${k}: out must be f32 or f16, got ${a.out.dtype}`);
  const ts: [string, Tensor][] = [['out', a.out], ['partialO', a.partialO], ['partialLse', a.partialLse]];
  if (a.lse) {
    expectShape(a.lse, [B, nHeads], 'lse', k);
    expectDtype(a.lse, 'f32', 'lse', k);
    ts.push(['lse', a.lse]);
  }
  expectDistinct(k, ...ts);
  const prog = gpu.program(mergeProgram, { dtype: a.out.dtype, wg: rowWorkgroupSize(gpu, 64), lse: a.lse !== undefined });
  const bind: Record<string, Tensor> = { inO: a.partialO, inLse: a.partialLse, out: a.out };
  if (a.lse) bind.lse = a.lse;
  return gpu.dispatch(prog, {
    bind, uniforms: { nHeads, nSplits: P, pStride: P, d4: d / 4 }, workgroups: [nHeads, B],
  });
}

/**
 * The subgroup merge of a decode plan's partials (flash_attn_merge_sg.wgsl), with the step's K/V append where given;
 * with `second`, over two cache groups' rows (rows from second.b2 on are the second group's).
 */
function mergeSgDispatch(gpu: Gpu, a: MergeArgs, B: number, s: AttnShape, P: number, sgs: number,
  append?: { rows: Tensor; rowBase: number; slotBase: number; src: Tensor; k: Tensor; v: Tensor },
  second?: DecodeSecondGroup & { b2: number; slots: number; capacity: number }): Dispatch {
  const entry = second ? (append ? 'merge_sg_append_pair' : 'merge_sg_pair') : append ? 'merge_sg_append' : a.lse ? 'merge_sg_lse' : 'merge_sg';
  const bind: Record<string, Tensor> = { partO: a.partialO, partLse: a.partialLse, out: a.out };
  if (a.lse) bind.lse = a.lse;
  const d8 = s.d / 8, rowElems8 = (s.nHeads + 2 * s.nKv) * d8;
  if (append) Object.assign(bind, { src: append.src, rows: append.rows, kCache: append.k, vCache: append.v });
  if (append && second) Object.assign(bind, { kCache2: second.kCache, vCache2: second.vCache });
  return gpu.dispatch(gpu.program(mergeSgProgram, { sgs, entry }), {
    bind,
    uniforms: {
      nHeads: s.nHeads, nSplits: P, pStride: P, d4: s.d / 4, nKv: s.nKv, capacity: s.capacity, slots: s.slots,
      slotBase: append?.slotBase ?? 0, rowBase: append?.rowBase ?? 0, srcStride: rowElems8, srcK: s.nHeads * d8, srcV: (s.nHeads + s.nKv) * d8,
      b2: second?.b2 ?? B, nSplits2: P, capacity2: second?.capacity ?? 0, slots2: second?.slots ?? 0, slotBase2: second?.slotBase ?? 0,
    },
    workgroups: [s.nHeads, B],
  });
}

// ---- device probe of the subgroup-matrix operations (shaders/flash_attn_sgm_probe.wgsl) -------------

const sgmProbeProgram = defineProgram<{ shuffle: boolean }>({
  name: 'flash_sgm_probe', file: 'flash_attn_sgm_probe.wgsl', entry: 'probe',
  specialize: (c) => ({
    entry: c.shuffle ? 'probe' : 'probe_ns',
    enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: [SGM_DIAGNOSTIC],
  }),
});

/** Probe slot names (see the WGSL header). */
export const SGM_PROBE_SLOTS = [
  'A·B, B col-major (GEMM pattern)', 'A·B, B row-major', 'store stride 36 offset 16', 'result load round trip',
  'left held across barriers', 'shuffleXor 16 partner', '(A+0)·B subgroup 0', '(A+1)·B subgroup 1', '(A+2)·B subgroup 2',
  '(A+3)·B subgroup 3', 'two accumulating MMAs',
] as const;

/**
 * Runs the probe on 16×16 f16 matrices A and B (row-major, values exactly representable) and returns the
 * max |error| per slot against float64 (slot 5: the number of wrong shuffle partners).
 */
export async function runSgmProbe(gpu: Gpu, A: Float64Array, B: Float64Array, toF16: (v: Float64Array) => Uint16Array,
  read: (t: Tensor) => Promise<Float64Array>, shuffle = true): Promise<number[]> {
  const bt = new Float64Array(256);
  for (let k = 0; k < 16; k++) for (let n = 0; n < 16; n++) bt[n * 16 + k] = B[k * 16 + n]!;
  const host = new Float64Array(768);
  host.set(A, 0); host.set(B, 256); host.set(bt, 512);
  const a = gpu.tensor([768], 'f16', 'probe.a'), o = gpu.tensor([11 * 256], 'f32', 'probe.o');
  gpu.write(a, toF16(host));
  gpu.write(o, new Float32Array(11 * 256).fill(NaN));
  const d = gpu.dispatch(gpu.program(sgmProbeProgram, { shuffle }), { bind: { a, o }, uniforms: { n: 2 }, workgroups: [1] });
  try {
    await gpu.run([d]);
    const out = await read(o);
    const ref = (shift: number) => {
      const r = new Float64Array(256);
      for (let m = 0; m < 16; m++) for (let n = 0; n < 16; n++) {
        let s = 0;
        for (let k = 0; k < 16; k++) s += (A[m * 16 + k]! + shift) * B[k * 16 + n]!;
        r[m * 16 + n] = s;
      }
      return r;
    };
    const err = (slot: number, r: Float64Array) => {
      let e = 0;
      for (let i = 0; i < 256; i++) {
        const x = out[slot * 256 + i]!;
        e = Math.max(e, Number.isFinite(x) ? Math.abs(x - r[i]!) : Infinity);
      }
      return e;
    };
    const ab = ref(0);
    const res = [0, 1, 2, 3, 4].map((s) => err(s, ab));
    let wrong = 0;
    for (let t = 0; t < 128; t++) if (out[5 * 256 + t] !== (t ^ 16)) wrong++;
    res.push(wrong);
    for (let s = 0; s < 4; s++) res.push(err(6 + s, ref(s)));
    res.push(err(10, ab));
    return res;
  } finally {
    d.release();
    gpu.release(a, o);
  }
}
