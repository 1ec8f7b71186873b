// One linear() check and one gatedLinear() check shared by the GEMM and GEMV tests: fresh random inputs (and a
// random `out` when it accumulates, else a poisoned one), the float64 reference, the dtype's tolerance.
import type { Gpu } from '../src/gpu/index.js';
import type { Activation } from '../src/kernels/gemm-common.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import { linear, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import { toWeightBlocks } from '../src/kernels/weight-blocks.js';
import { download, expectClose, poisoned, randomArray, rng, upload } from './helpers.js';
import { gatedRef, linearRef } from './ref/gemm.js';

export interface LinearCase {
  M: number; N: number; K: number; dtype: 'f32' | 'f16'; path?: GemmPath; tune?: GemmTuning;
  bias?: boolean; act?: Activation; residual?: boolean; accumulate?: boolean;
}

/** A weight as the kernel reads it: in 64 × 64 blocks for a tile with wblk, 16 × 16 for the direct kernel with wb16. */
export function stored(w: Float64Array, N: number, K: number, tune: GemmTuning | undefined): Float64Array {
  const s = tune?.sgm;
  if (typeof s !== 'object') return w;
  if ('kind' in s) return s.kind === 'tile-gen' && s.wblk ? toWeightBlocks(w, N, K) : w;
  return 'wb16' in s && s.wb16 ? toWeightBlocks(w, N, K, 16) : w;
}

export async function checkLinear(g: Gpu, c: LinearCase, what = 'linear'): Promise<void> {
  const r = rng();
  const { M, N, K, dtype } = c;
  const x = randomArray(r, M * K, dtype), w = randomArray(r, N * K, dtype);
  const bias = c.bias ? randomArray(r, N, dtype) : undefined;
  const residual = c.residual ? randomArray(r, M * N, dtype) : undefined;
  const prev = c.accumulate ? randomArray(r, M * N, dtype) : undefined;
  const xs = upload(g, x, [M, K], dtype, 'x'), ws = upload(g, stored(w, N, K, c.tune), [N, K], dtype, 'w');
  const bs = bias && upload(g, bias, [N], dtype, 'bias');
  const rs = residual && upload(g, residual, [M, N], dtype, 'residual');
  const out = prev ? upload(g, prev, [M, N], dtype, 'out') : poisoned(g, [M, N], dtype);
  const d = linear(g, { x: xs, w: ws, out, bias: bs, residual: rs, act: c.act, accumulate: c.accumulate }, { path: c.path, tune: c.tune });
  await g.run([d]);
  const want = linearRef({ x, w, M, N, K, bias, residual, act: c.act, accumulateInto: prev });
  expectClose(await download(g, out), want, dtype, `${what} ${JSON.stringify(c)} seed=${r.seed}`);
  d.release();
  g.release(xs, ws, bs, rs, out);
}

/** gatedLinear() in f16, act(x·wgᵀ) ⊙ (x·wuᵀ) for M rows and F columns, on the given path and kernel tuning. */
export async function checkGatedLinear(g: Gpu, M: number, F: number, K: number, act: 'gelu_tanh' | 'gelu_erf',
  o: { path: GemmPath; tune: GemmTuning }, what = 'gated'): Promise<void> {
  const r = rng();
  const x = randomArray(r, M * K, 'f16'), wg = randomArray(r, F * K, 'f16'), wu = randomArray(r, F * K, 'f16');
  const xs = upload(g, x, [M, K], 'f16', 'x'), gs = upload(g, stored(wg, F, K, o.tune), [F, K], 'f16', 'wg'), us = upload(g, stored(wu, F, K, o.tune), [F, K], 'f16', 'wu');
  const out = poisoned(g, [M, F], 'f16');
  const d = gatedLinear(g, { x: xs, wGate: gs, wUp: us, out, act }, o);
  await g.run([d]);
  expectClose(await download(g, out), gatedRef(x, wg, wu, M, F, K, act), 'f16', `${what} ${JSON.stringify(o.tune)} ${M}x${F}x${K} seed=${r.seed}`);
  d.release();
  g.release(xs, gs, us, out);
}
