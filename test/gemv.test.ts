import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LimitError, ShapeError, isSoftwareAdapter, type Gpu } from '../src/gpu/index.js';
import { gatedLinear } from '../src/kernels/ffn.js';
import {
  NORM_PROLOGUE_MAX_M, chooseGemmPath, linear, normPrologueApplies, type GemmTuning
} from '../src/kernels/gemm.js';
import { type Activation } from '../src/kernels/gemm-common.js';
import { chooseSgmKernel, isGeneratedChoice } from '../src/kernels/gemm-sgm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { GEMV_MAX_M, gemvCptDefault, gemvSgApplies, gemvSgEntry } from '../src/kernels/gemv.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { gatedRef, linearRef } from './ref/gemm.js';
import { rmsnormRef } from './ref/rmsnorm.js';
import { checkGatedLinear, checkLinear, type LinearCase } from './check-linear.js';

const gpu = useGpu();

type Case = Omit<LinearCase, 'path'>;

/**
 * linear() on the GEMV path against the float64 reference. The shape chooses the GEMV by itself unless a tensor-core
 * decode kernel takes its rows (subgroup matrices only: FAPOOL_DECODE_TILES's tiles take an f16 narrow long-K
 * product from 5 rows, and more from 8); the GEMV runs here either way (the path is given).
 */
async function check(g: Gpu, c: Case): Promise<void> {
  const decodeKernel = c.dtype === 'f16' && hasSubgroupMatrixF16(g.caps) && isGeneratedChoice(chooseSgmKernel(g.caps, c.M, c.N, c.K, false));
  expect(chooseGemmPath(g.caps, c.M, c.N, c.K, c.dtype)).toBe(decodeKernel ? 'subgroup-matrix' : 'gemv');
  await checkLinear(g, { ...c, path: 'gemv' }, 'gemv');
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

// The RMSNorm prologue (NORM): y = (rmsnorm(x) ⊙ g)·Wᵀ in one launch, against rmsnorm then the product in float64
// (no rounding of the normalised x in between). Rows of x at very different scales (2⁻¹⁰ … 2⁵), so a row's
// scale from the wrong sum of squares, or none, is far off; eps = 0.1 makes eps visible on the small rows.
interface NormCase {
  M: number; N: number; K: number; dtype: 'f32' | 'f16'; gated?: boolean; eps?: number; act?: Activation;
  bias?: boolean; residual?: boolean; accumulate?: boolean; tune?: GemmTuning;
}

const ROW_SCALES = [1, 8, 0.25, 32, 2 ** -10, 2, 1 / 16, 4];

async function checkNorm(g: Gpu, c: NormCase): Promise<void> {
  const r = rng();
  const { M, N, K, dtype } = c;
  const eps = c.eps ?? 1e-5;
  const x = new Float64Array(M * K);
  for (let m = 0; m < M; m++) x.set(randomArray(r, K, dtype, -ROW_SCALES[m]!, ROW_SCALES[m]!), m * K);
  const nw = randomArray(r, K, dtype, 0.5, 1.5);
  const w = randomArray(r, N * K, dtype), wu = c.gated ? randomArray(r, N * K, dtype) : undefined;
  const bias = c.bias ? randomArray(r, N, dtype) : undefined;
  const residual = c.residual ? randomArray(r, M * N, dtype) : undefined;
  const prev = c.accumulate ? randomArray(r, M * N, dtype) : undefined;
  const xs = upload(g, x, [M, K], dtype, 'x'), ns = upload(g, nw, [K], dtype, 'norm_w'), ws = upload(g, w, [N, K], dtype, 'w');
  const us = wu && upload(g, wu, [N, K], dtype, 'wu');
  const bs = bias && upload(g, bias, [N], dtype, 'bias');
  const rs = residual && upload(g, residual, [M, N], dtype, 'residual');
  const out = prev ? upload(g, prev, [M, N], dtype, 'out') : poisoned(g, [M, N], dtype);
  // The choice linear() / gatedLinear() make for a product with a norm (normed x: 5..8 rows keep the GEMV's f16-pair
  // products, not the decode tiles); the kernel takes a norm for any GEMV row count.
  expect(chooseGemmPath(g.caps, M, N, K, dtype, c.gated === true, true)).toBe('gemv');
  const norm = { weight: ns, eps };
  const d = us
    ? gatedLinear(g, { x: xs, wGate: ws, wUp: us, out, act: c.act === 'gelu_erf' ? 'gelu_erf' : 'gelu_tanh', norm }, { tune: c.tune })
    : linear(g, { x: xs, w: ws, out, bias: bs, residual: rs, act: c.act, accumulate: c.accumulate, norm }, { tune: c.tune });
  await g.run([d]);
  const xn = rmsnormRef(x, nw, M, K, eps);
  const want = wu
    ? gatedRef(xn, w, wu, M, N, K, c.act === 'gelu_erf' ? 'gelu_erf' : 'gelu_tanh')
    : linearRef({ x: xn, w, M, N, K, bias, residual, act: c.act, accumulateInto: prev });
  expectClose(await download(g, out), want, dtype, `gemv norm ${JSON.stringify(c)} seed=${r.seed}`);
  g.release(xs, ns, ws, us, bs, rs, out);
}

describe('gemv: RMSNorm prologue', () => {
  // Entries: K % 8 == 0 (f16: h8, with and without the 4-load body's tail), K % 4 == 0 (vec4), else scalar.
  const shapes = [[1, 45, 4096], [3, 37, 4104], [8, 33, 264], [2, 29, 4100], [5, 17, 4099], [1, 1, 1], [7, 3, 5], [4, 130, 24]] as const;
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [M, N, K] of shapes) {
      it(`${dtype} linear M=${M} N=${N} K=${K}`, async () => { await checkNorm(await gpu(), { M, N, K, dtype }); });
      it(`${dtype} gated M=${M} F=${N} K=${K}`, async () => { await checkNorm(await gpu(), { M, N, K, dtype, gated: true, act: 'gelu_tanh' }); });
    }
    it(`${dtype} accumulate (the decoder's use), eps 0.1`, async () => {
      for (const M of [2, 6]) await checkNorm(await gpu(), { M, N: 23, K: 4096, dtype, accumulate: true, eps: 0.1 });
    });
    it(`${dtype} with bias + gelu_erf + residual; gated gelu_erf`, async () => {
      await checkNorm(await gpu(), { M: 4, N: 45, K: 1024, dtype, bias: true, act: 'gelu_erf', residual: true });
      await checkNorm(await gpu(), { M: 6, N: 45, K: 1032, dtype, gated: true, act: 'gelu_erf' });
    });
  }
  it('f16 with other lane counts and with h8 off', async () => {
    for (const lanes of [1, 32, 128]) {
      await checkNorm(await gpu(), { M: 3, N: 41, K: 2056, dtype: 'f16', tune: { gemv: { lanes } } });
      await checkNorm(await gpu(), { M: 2, N: 41, K: 2056, dtype: 'f16', gated: true, tune: { gemv: { lanes } } });
    }
    await checkNorm(await gpu(), { M: 5, N: 41, K: 4096, dtype: 'f16', tune: { gemv: { h8: false } } });
  });
  it('only on the GEMV path; norm weight checked', async () => {
    const g = await gpu();
    const x = g.tensor([9, 16], 'f32'), w = g.tensor([4, 16], 'f32'), out = g.tensor([9, 4], 'f32'), nw = g.tensor([16], 'f32');
    expect(normPrologueApplies(g.caps, 9, 4, 16, 'f32')).toBe(false);
    // The forward pass fuses the norm only up to NORM_PROLOGUE_MAX_M rows (H200: slower than norm + GEMV at 8).
    expect(normPrologueApplies(g.caps, 1, 4, 16, 'f32')).toBe(true);
    expect(normPrologueApplies(g.caps, NORM_PROLOGUE_MAX_M, 4, 16, 'f32')).toBe(true);
    expect(normPrologueApplies(g.caps, NORM_PROLOGUE_MAX_M + 1, 4, 16, 'f32')).toBe(false);
    // f16 from 2 rows: where the subgroup kernel takes the product, it (and a norm launch) runs instead.
    const sg = gemvSgApplies(g.caps, { M: 2, K: 16, dtype: 'f16' }, 2, 2);
    expect(normPrologueApplies(g.caps, 2, 4, 16, 'f16')).toBe(g.caps.f16 && !sg);
    expect(normPrologueApplies(g.caps, 1, 4, 16, 'f16')).toBe(true);
    expect(() => linear(g, { x, w, out, norm: { weight: nw, eps: 1e-5 } })).toThrow(LimitError);
    expect(() => gatedLinear(g, { x, wGate: w, wUp: w, out, act: 'gelu_tanh', norm: { weight: nw, eps: 1e-5 } })).toThrow(LimitError);
    const x1 = g.tensor([1, 16], 'f32'), out1 = g.tensor([1, 4], 'f32');
    expect(() => linear(g, { x: x1, w, out: out1, norm: { weight: g.tensor([15], 'f32'), eps: 1e-5 } })).toThrow(/norm.weight must be \[16\]/);
    expect(() => linear(g, { x: x1, w, out: out1, norm: { weight: nw, eps: 0 } })).toThrow(ShapeError);
    expect(() => linear(g, { x: x1, w, out: out1, norm: { weight: g.tensor([16], 'f16'), eps: 1e-5 } })).toThrow(/norm.weight must be f32/);
  });
});

// The subgroup kernel (shaders/gemv_sg.wgsl, generated): CPT columns per subgroup, x read once for all of them,
// sums by subgroupAdd. Every generated entry on a ragged shape (columns past N clamp their loads and are not
// written; K's vectors not a whole number of U·SGS trips, so the tail loop runs), the plain ones with epilogues
// in turn, and the generator's entry list equals the host's rule. A CPU adapter compiles each unrolled entry in
// ~0.5–2 s, so there a spread of them runs (every M, CPT and U value at least once); GPUs run all.
const CPU_SUBSET = new Set(['gsg_p_m1_c1_u1', 'gsg_p_m2_c8_u2', 'gsg_p_m3_c2_u1', 'gsg_p_m5_c1_u2', 'gsg_p_m6_c4_u1', 'gsg_p_m8_c2_u1',
  'gsg_p_m8_c4_u2', 'gsg_g_m1_c2_u2', 'gsg_g_m4_c4_u1', 'gsg_g_m7_c1_u1', 'gsg_g_m8_c2_u2', 'gsg_p_m5_c2_u2_h', 'gsg_p_m8_c1_u1_h',
  'gsg_g_m6_c1_u2_h', 'gsg_g_m8_c2_u2_h']);
describe('gemv: subgroup kernel (columns per subgroup)', () => {
  const epis: Partial<Case>[] = [{}, { bias: true, act: 'gelu_erf', residual: true }, { bias: true, act: 'gelu_tanh', accumulate: true }];
  for (const gated of [false, true]) {
    for (let M = 1; M <= GEMV_MAX_M; M++) {
      for (const cpt of [1, 2, 4, 8]) {
        for (const u of [1, 2]) {
          for (const half of [false, true]) {
            const id = gemvSgEntry(gated, M, cpt, u, half);
            if (!id) continue;
            // K: 8·(odd vector count) so no subgroup size divides it; N: a few subgroups' columns and a short last one.
            const K = 8 * (2 * ((M + cpt + u) % 5) + 37), N = 3 * cpt + (M % 3) + 1, extra = epis[(M + cpt) % epis.length]!;
            it(`${gated ? 'gated' : 'plain'} M=${M} cpt=${cpt} u=${u}${half ? ' f16 products' : ''} (N=${N}, K=${K})`, async (ctx) => {
              const g = await gpu();
              const soft = isSoftwareAdapter(g.caps) && !CPU_SUBSET.has(id);
              if (soft || !gemvSgApplies(g.caps, { M, K, dtype: 'f16', kind: gated ? 'gated' : 'linear' }, cpt, u, half)) { ctx.skip(); return; }
              const tune = { gemv: { cpt, u, half } };
              if (gated) await checkGatedLinear(g, M, N, K, 'gelu_tanh', { path: 'gemv', tune }, 'gemv sg gated');
              else await checkLinear(g, { M, N, K, dtype: 'f16', path: 'gemv', tune, ...extra }, 'gemv sg');
            });
          }
        }
      }
    }
  }
  it('the generator writes exactly the entries the host may ask for, and the file is its output', async () => {
    const gen = await import(new URL('../shaders/gemv_sg.gen.mjs', import.meta.url).href) as { CONFIGS: string[]; file(): string };
    const host: string[] = [];
    for (const gated of [false, true]) for (let M = 1; M <= 8; M++) for (let c = 1; c <= 8; c++) for (const u of [1, 2, 3]) for (const half of [false, true]) {
      const id = gemvSgEntry(gated, M, c, u, half);
      if (id) host.push(id);
      if (id && !gated && c === 2) host.push(`${id}_r`);   // the QKV product's RoPE epilogue (launchGemvSg)
    }
    expect(host.sort()).toEqual([...gen.CONFIGS].sort());
    expect(gen.file() === readFileSync(new URL('../shaders/gemv_sg.wgsl', import.meta.url), 'utf8'), 'run node shaders/gemv_sg.gen.mjs').toBe(true);
  });
  it('FAPOOL_GEMV_CPT: 0..8 with an optional u1/u2, else a LimitError; a cpt the kernel cannot take is refused', async () => {
    expect(gemvCptDefault(undefined)).toBeUndefined();
    expect(gemvCptDefault('0')).toEqual({ cpt: 0, u: 1 });
    expect(gemvCptDefault('4')).toEqual({ cpt: 4, u: 1 });
    expect(gemvCptDefault(' 2u2 ')).toEqual({ cpt: 2, u: 2 });
    for (const bad of ['9', '-1', '2.5', 'sg', '4u3', 'u2']) expect(() => gemvCptDefault(bad), bad).toThrow(LimitError);
    const g = await gpu();
    const x = g.tensor([8, 16], 'f16'), w = g.tensor([4, 16], 'f16'), out = g.tensor([8, 4], 'f16');
    expect(() => linear(g, { x, w, out }, { path: 'gemv', tune: { gemv: { cpt: 8 } } })).toThrow(LimitError);   // no 8-row entry with 8 columns
    g.release(x, w, out);
  });
});
