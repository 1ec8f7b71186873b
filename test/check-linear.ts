// One linear() check shared by the GEMM and GEMV tests: fresh random inputs (and a random `out` when it
// accumulates, else a poisoned one), the float64 reference, the dtype's tolerance.
import type { Gpu } from '../src/gpu/index.js';
import type { Activation } from '../src/kernels/gemm-common.js';
import { linear, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import { download, expectClose, poisoned, randomArray, rng, upload } from './helpers.js';
import { linearRef } from './ref/gemm.js';

export interface LinearCase {
  M: number; N: number; K: number; dtype: 'f32' | 'f16'; path?: GemmPath; tune?: GemmTuning;
  bias?: boolean; act?: Activation; residual?: boolean; accumulate?: boolean;
}

export async function checkLinear(g: Gpu, c: LinearCase, what = 'linear'): Promise<void> {
  const r = rng();
  const { M, N, K, dtype } = c;
  const x = randomArray(r, M * K, dtype), w = randomArray(r, N * K, dtype);
  const bias = c.bias ? randomArray(r, N, dtype) : undefined;
  const residual = c.residual ? randomArray(r, M * N, dtype) : undefined;
  const prev = c.accumulate ? randomArray(r, M * N, dtype) : undefined;
  const xs = upload(g, x, [M, K], dtype, 'x'), ws = upload(g, w, [N, K], dtype, 'w');
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
