import { describe, expect, it } from 'vitest';
import { LimitError, type Gpu } from '../src/gpu/index.js';
import { GEMV_MAX_M, chooseGemmPath, linear, type Activation, type GemmTuning } from '../src/kernels/gemm.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { linearRef } from './ref/gemm.js';

const gpu = useGpu();

interface Case {
  M: number; N: number; K: number; dtype: 'f32' | 'f16'; bias?: boolean; act?: Activation; residual?: boolean; accumulate?: boolean;
  tune?: GemmTuning;
}

async function check(g: Gpu, c: Case): Promise<void> {
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
  expect(chooseGemmPath(g.caps, M, N, K, dtype)).toBe('gemv');
  await g.run([linear(g, { x: xs, w: ws, out, bias: bs, residual: rs, act: c.act, accumulate: c.accumulate }, { path: 'gemv', tune: c.tune })]);
  const want = linearRef({ x, w, M, N, K, bias, residual, act: c.act, accumulateInto: prev });
  expectClose(await download(g, out), want, dtype, `gemv ${JSON.stringify(c)} seed=${r.seed}`);
  g.release(xs, ws, bs, rs, out);
}

describe('gemv: decode shapes', () => {
  // K = 4096 takes the vec4 entry, K = 4099 the scalar one (ragged tail).
  for (const dtype of ['f32', 'f16'] as const) {
    for (let M = 1; M <= GEMV_MAX_M; M++) {
      const K = M % 2 ? 4096 : 4099;
      it(`${dtype} M=${M} N=37 K=${K}`, async () => { await check(await gpu(), { M, N: 37, K, dtype }); });
    }
  }
  for (const [M, N, K] of [[1, 1, 1], [2, 3, 5], [5, 64, 8], [8, 129, 1000], [1, 1000, 12]] as const) {
    it(`f32 M=${M} N=${N} K=${K}`, async () => { await check(await gpu(), { M, N, K, dtype: 'f32' }); });
  }
});

describe('gemv: fused epilogue at K=4096', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype} bias + gelu_erf + residual`, async () => {
      await check(await gpu(), { M: 4, N: 45, K: 4096, dtype, bias: true, act: 'gelu_erf', residual: true });
    });
    it(`${dtype} bias + gelu_tanh + accumulate`, async () => {
      await check(await gpu(), { M: 7, N: 33, K: 4098, dtype, bias: true, act: 'gelu_tanh', accumulate: true });
    });
  }
});

describe('gemv: grid and limits', () => {
  it('folds more than 65535 workgroups into a 2D grid', async () => {
    const g = await gpu();
    // K = 1 gives one output column per thread: N = 70·maxWorkgroupsPerDim columns exceeds one grid dimension.
    const N = 70 * g.caps.maxWorkgroupsPerDim;
    await check(g, { M: 1, N, K: 1, dtype: 'f32' });
  });

  it('takes at most 8 rows', async () => {
    const g = await gpu();
    expect(chooseGemmPath(g.caps, GEMV_MAX_M + 1, 64, 64, 'f32')).not.toBe('gemv');
    const x = g.tensor([9, 16], 'f32'), w = g.tensor([4, 16], 'f32'), out = g.tensor([9, 4], 'f32');
    expect(() => linear(g, { x, w, out }, { path: 'gemv' })).toThrow(LimitError);
  });
});

describe('gemv: 16-byte f16 loads (h8)', () => {
  // K = 4096 and 4104 take the h8 entries (4104: a tail after the 4-load unrolled body); 4100 (K % 8 != 0) falls back to vec4.
  for (const [M, K, lanes] of [[1, 4096, undefined], [3, 4104, undefined], [8, 4096, undefined], [2, 4100, undefined],
    [5, 24, undefined], [1, 4104, 32], [1, 4096, 128]] as const) {
    it(`f16 M=${M} K=${K} lanes=${lanes ?? 'auto'}`, async () => {
      await check(await gpu(), { M, N: 45, K, dtype: 'f16', tune: { gemv: { h8: true, lanes } } });
    });
  }
  it('f16 h8 with bias + gelu_erf + residual, and gelu_tanh + accumulate', async () => {
    await check(await gpu(), { M: 4, N: 33, K: 4096, dtype: 'f16', bias: true, act: 'gelu_erf', residual: true, tune: { gemv: { h8: true } } });
    await check(await gpu(), { M: 7, N: 33, K: 1032, dtype: 'f16', bias: true, act: 'gelu_tanh', accumulate: true, tune: { gemv: { h8: true } } });
  });
  it('f16 vec4 entries with h8 off', async () => {
    await check(await gpu(), { M: 3, N: 45, K: 4096, dtype: 'f16', tune: { gemv: { h8: false } } });
  });
  it('f32 ignores h8', async () => {
    await check(await gpu(), { M: 2, N: 20, K: 4096, dtype: 'f32', tune: { gemv: { h8: true } } });
  });
});
