// RoPE fused with the QKV split and the KV-cache append (shaders/rope.wgsl).
import { ceilDiv, defineProgram, LimitError, ShapeError, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

/** neox = HF Llama "rotate_half": pairs (i, i + ropeDim/2); gptj: pairs (2i, 2i+1). */
export type RopeStyle = 'neox' | 'gptj';

interface RopeCfg { dtype: DType; neox: boolean; writeBack: boolean; rotate: boolean; wg: number }

const program = defineProgram<RopeCfg>({
  name: 'rope_qkv', file: 'rope.wgsl', includes: ['rope_angle.wgsl'], entry: 'rope_qkv',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg, NEOX: c.neox, WRITE_BACK: c.writeBack, ROTATE: c.rotate } }),
});

export interface RopeQkvArgs {
  qkv: Tensor;     // [T, (nHeads + 2*nKvHeads) * D]
  rows: Tensor;    // [T, 2] u32: (cache slot, absolute position) of each token row
  q: Tensor;       // [T, nHeads, D] out (rotated)
  kCache: Tensor;  // [slots, nKvHeads, capacity, D]: k rotated at [slot − slotBase, kvh, pos, :]
  vCache: Tensor;  // [slots, nKvHeads, capacity, D]: v copied at [slot − slotBase, kvh, pos, :]
  /** The first batch slot the caches hold (a cache group; default 0). */
  slotBase?: number;
  /** Write q (and qkv's rotated values): false for all but the last cache group's dispatch (default true). */
  writeQ?: boolean;
  nHeads: number; nKvHeads: number; headDim: number; theta: number; style?: RopeStyle;
  ropeDim?: number; // partial rotary: the first ropeDim dims of each head rotate (default headDim)
  /** Also store the rotated q and k back into qkv (each qkv row then holds what attention sees). */
  writeBack?: boolean;
  /**
   * false: no rotation — k and v are copied into the caches as qkv holds them (a decode step's K/V append after
   * its attention, from rows an earlier pass rotated and wrote back; give writeQ: false). Default true.
   */
  rotate?: boolean;
}

/**
 * Turns per position of each rotary frequency, inv_freq_i / 2π with inv_freq_i = theta^(-2i/ropeDim),
 * as 64-bit fixed-point fractions [hi, lo] (u32 words). Computed in float64 (53 significant bits).
 */
export function ropeFrequencyWords(theta: number, ropeDim: number): Uint32Array {
  const out = new Uint32Array(ropeDim);
  for (let i = 0; i < ropeDim / 2; i++) {
    const turns = theta ** (-(2 * i) / ropeDim) / (2 * Math.PI); // < 1/(2π): the integer part is 0
    const fixed = BigInt(Math.round(turns * 2 ** 64)); // exact: turns * 2^64 < 2^62 has <= 53 significant bits
    out[2 * i] = Number(fixed >> 32n);
    out[2 * i + 1] = Number(fixed & 0xffffffffn);
  }
  return out;
}

/** One frequency table per (device, theta, ropeDim), shared by every layer; freed with the Gpu. */
const tables = new WeakMap<Gpu, Map<string, Tensor>>();

function frequencyTable(gpu: Gpu, theta: number, ropeDim: number): Tensor {
  let perGpu = tables.get(gpu);
  if (!perGpu) tables.set(gpu, (perGpu = new Map()));
  const key = `${theta}/${ropeDim}`;
  let t = perGpu.get(key);
  if (!t) {
    t = gpu.tensor([ropeDim / 2, 2], 'u32', `rope_freqs(${key})`);
    gpu.write(t, ropeFrequencyWords(theta, ropeDim));
    perGpu.set(key, t);
  }
  return t;
}

/**
 * RoPE and the K/V append of a fused QKV product, done in the product's epilogue (LinearArgs.rope; the model asks
 * where ropeEpilogueApplies says the product's kernel can): the results of ropeQkv with writeBack and writeQ —
 * the rotated q and k in the product's output (qkv), q in its tensor, k and v in the cache — without its launch.
 */
export type RopeEpilogue = Omit<RopeQkvArgs, 'qkv' | 'writeQ' | 'writeBack' | 'rotate'>;

/** The shapes a RoPE over `qkv` [T, (nHeads + 2·nKvHeads)·D] needs (ropeQkv's operands or a RopeEpilogue's). */
function checkRope(k: string, a: RopeEpilogue, qkv: Tensor): { T: number; dtype: DType; slots: number; capacity: number; ropeDim: number } {
  const { nHeads, nKvHeads, headDim: D, theta } = a;
  const ropeDim = a.ropeDim ?? D;
  for (const [n, v] of [['nHeads', nHeads], ['nKvHeads', nKvHeads], ['headDim', D]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(`${k}: ${n} must be a positive integer, got ${v}`);
  }
  if (D % 2) throw new ShapeError(`${k}: headDim must be even, got ${D}`);
  if (!Number.isInteger(ropeDim) || ropeDim < 2 || ropeDim % 2 || ropeDim > D) {
    throw new ShapeError(`${k}: ropeDim must be even and in [2, headDim=${D}], got ${ropeDim}`);
  }
  if (!(theta > 1) || !Number.isFinite(theta)) throw new ShapeError(`${k}: theta must be a finite number > 1, got ${theta}`);
  expectRank(qkv, 2, 'qkv', k);
  const [T] = qkv.shape as [number];
  const dtype = qkv.dtype;
  expectShape(qkv, [T, (nHeads + 2 * nKvHeads) * D], 'qkv', k);
  expectShape(a.rows, [T, 2], 'rows', k);
  expectDtype(a.rows, 'u32', 'rows', k);
  expectShape(a.q, [T, nHeads, D], 'q', k);
  expectRank(a.kCache, 4, 'kCache', k);
  const [slots, , capacity] = a.kCache.shape as [number, number, number, number];
  expectShape(a.kCache, [slots, nKvHeads, capacity, D], 'kCache', k);
  expectShape(a.vCache, [slots, nKvHeads, capacity, D], 'vCache', k);
  for (const [n, t] of [['q', a.q], ['kCache', a.kCache], ['vCache', a.vCache]] as const) expectDtype(t, dtype, n, k);
  expectDistinct(k, ['q', a.q], ['kCache', a.kCache], ['vCache', a.vCache], ['qkv', qkv]);
  if (slots * nKvHeads * capacity * D >= 2 ** 32) throw new LimitError(`${k}: cache of ${slots * nKvHeads * capacity * D} elements exceeds u32 indexing`);
  return { T, dtype, slots, capacity, ropeDim };
}

/** A RopeEpilogue checked against the product's output `qkv` (throws as ropeQkv would). */
export function expectRopeEpilogue(kernel: string, r: RopeEpilogue, qkv: Tensor): void { checkRope(kernel, r, qkv); }

/** The pipeline constants of a RoPE epilogue (shaders/rope_epilogue.wgsl's overrides; part of the program's config). */
export function ropeEpilogueConstants(r: RopeEpilogue): Record<string, number | boolean> {
  return {
    ROPE_NH: r.nHeads, ROPE_NKV: r.nKvHeads, ROPE_D: r.headDim, ROPE_HALF: (r.ropeDim ?? r.headDim) / 2,
    ROPE_NEOX: (r.style ?? 'neox') === 'neox', ROPE_F16: r.q.dtype === 'f16',
  };
}

/** The RoPE epilogue's uniforms in a launch without one (the GEMV and tile families' Params declare them): unused, 0. */
export const NO_ROPE_UNIFORMS: Readonly<Record<string, number>> = { slots: 0, capacity: 0, slotBase: 0 };

/** The bindings and uniforms a RoPE epilogue adds to its product's dispatch. */
export function ropeEpilogueOperands(gpu: Gpu, r: RopeEpilogue): { bind: Record<string, Tensor>; uniforms: Record<string, number> } {
  const [slots, , capacity] = r.kCache.shape as [number, number, number, number];
  return {
    bind: { rope_rows: r.rows, rope_freqs: frequencyTable(gpu, r.theta, r.ropeDim ?? r.headDim), rope_q: r.q, rope_k: r.kCache, rope_v: r.vCache },
    uniforms: { slots, capacity, slotBase: r.slotBase ?? 0 },
  };
}

/**
 * Split the fused QKV rows, rotate q and k, write q to its tensor and k, v into the cache.
 * Rows whose slot is outside [slotBase, slotBase + slots) or whose position >= capacity write q only.
 * The token count is the uniform `tokens`: `dispatch.set({ tokens: n })` (n <= T) reuses the dispatch.
 */
export function ropeQkv(gpu: Gpu, a: RopeQkvArgs): Dispatch {
  const { T, dtype, slots, capacity, ropeDim } = checkRope('ropeQkv', a, a.qkv);
  const { nHeads, nKvHeads, headDim: D, theta } = a;
  const items = (nHeads + 2 * nKvHeads) * (D / 2);
  const wg = rowWorkgroupSize(gpu, Math.max(32, Math.min(128, items)));
  const prog = gpu.program(program, { dtype, neox: (a.style ?? 'neox') === 'neox', writeBack: a.writeBack ?? false, rotate: a.rotate ?? true, wg });
  return gpu.dispatch(prog, {
    bind: { qkv: a.qkv, rows: a.rows, freqs: frequencyTable(gpu, theta, ropeDim), q: a.q, kCache: a.kCache, vCache: a.vCache },
    uniforms: { tokens: T, nHeads, nKvHeads, headDim: D, ropeDim, slots, capacity, slotBase: a.slotBase ?? 0, writeQ: a.writeQ === false ? 0 : 1 },
    workgroups: [ceilDiv(items, wg), Math.min(T, gpu.caps.maxWorkgroupsPerDim)],
  });
}
