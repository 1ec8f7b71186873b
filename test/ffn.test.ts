import { describe, expect, it } from 'vitest';
import { LimitError, ShapeError, type Gpu } from '../src/gpu/index.js';
import { chooseGatedPath, gatedLinear } from '../src/kernels/ffn.js';
import { chooseGemmPath, linear, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import {
  SGM_SKINNY_SHAPES, SGM_TILE_GATED_SHAPES, chooseSgmKernel, isGeneratedChoice, sgmSkinnyFits, sgmTileFits, type SgmSkinnyShape, type SgmTileShape
} from '../src/kernels/gemm-sgm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { gatedRef, linearRef } from './ref/gemm.js';

const gpu = useGpu();
type Act = 'gelu_erf' | 'gelu_tanh' | 'silu';
const ACTS = ['gelu_erf', 'gelu_tanh', 'silu'] as const;

async function checkGated(g: Gpu, M: number, F: number, K: number, dtype: 'f32' | 'f16', act: Act, path?: GemmPath, tune?: GemmTuning): Promise<void> {
  const r = rng();
  const x = randomArray(r, M * K, dtype), wg = randomArray(r, F * K, dtype), wu = randomArray(r, F * K, dtype);
  const xs = upload(g, x, [M, K], dtype, 'x'), gs = upload(g, wg, [F, K], dtype, 'wGate'), us = upload(g, wu, [F, K], dtype, 'wUp');
  const out = poisoned(g, [M, F], dtype);
  await g.run([gatedLinear(g, { x: xs, wGate: gs, wUp: us, out, act }, { path, tune })]);
  expectClose(await download(g, out), gatedRef(x, wg, wu, M, F, K, act), dtype,
    `gated M=${M} F=${F} K=${K} ${act} ${path ?? 'auto'} seed=${r.seed}`);
  g.release(xs, gs, us, out);
}

describe('gatedLinear', () => {
  const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 33, 65], [70, 130, 64], [8, 300, 1000]];
  for (const path of ['tiled', 'gemv'] as const) {
    for (const dtype of ['f32', 'f16'] as const) {
      SHAPES.forEach(([M, F, K], i) => {
        if (path === 'gemv' && M > 8) return;
        const act: Act = ACTS[(i + (dtype === 'f16' ? 1 : 0) + (path === 'gemv' ? 2 : 0)) % 3]!;
        it(`${path} ${dtype} M=${M} F=${F} K=${K} ${act}`, async () => { await checkGated(await gpu(), M, F, K, dtype, act, path); });
      });
    }
  }
  it('default path, every activation', async () => {
    const g = await gpu();
    for (const act of ACTS) {
      await checkGated(g, 2, 40, 96, 'f32', act);
      await checkGated(g, 21, 40, 97, 'f32', act);
    }
  });

  it('rejects bad shapes, dtypes, activations and aliasing', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32'), wGate = g.tensor([6, 8], 'f32'), wUp = g.tensor([6, 8], 'f32'), out = g.tensor([4, 6], 'f32');
    expect(() => gatedLinear(g, { x, wGate, wUp: g.tensor([5, 8], 'f32'), out, act: 'gelu_erf' })).toThrow(/wUp must be \[6, 8\]/);
    expect(() => gatedLinear(g, { x, wGate: g.tensor([6, 9], 'f32'), wUp, out, act: 'gelu_erf' })).toThrow(/wGate must be \[F, 8\]/);
    expect(() => gatedLinear(g, { x, wGate, wUp: g.tensor([6, 8], 'f16'), out, act: 'gelu_erf' })).toThrow(/wUp must be f32/);
    expect(() => gatedLinear(g, { x, wGate, wUp, out: g.tensor([4, 5], 'f32'), act: 'gelu_erf' })).toThrow(ShapeError);
    expect(() => gatedLinear(g, { x, wGate, wUp, out, act: 'none' as Act })).toThrow(/act must be/);
    const sq = g.tensor([6, 6], 'f32'), w6 = g.tensor([6, 6], 'f32');
    expect(() => gatedLinear(g, { x: sq, wGate: w6, wUp: g.tensor([6, 6], 'f32'), out: sq, act: 'gelu_tanh' })).toThrow(/out and x must not alias/);
    expect(() => gatedLinear(g, { x: sq, wGate: w6, wUp: w6, out: w6, act: 'gelu_tanh' })).toThrow(/out and wGate must not alias/);
  });
});

describe('gatedLinear: subgroup-matrix path', () => {
  it('runs the direct-load gated kernel where available, else refuses', async () => {
    const g = await gpu();
    if (!hasSubgroupMatrixF16(g.caps)) {
      console.info('[ffn] no 16x16x16 f16 subgroup-matrix config on this device: checked refusal and the tiled fallback only');
      const x = g.tensor([32, 32], 'f16'), w = g.tensor([32, 32], 'f16'), out = g.tensor([32, 32], 'f16');
      expect(() => gatedLinear(g, { x, wGate: w, wUp: w, out, act: 'gelu_tanh' }, { path: 'subgroup-matrix' })).toThrow(LimitError);
      await checkGated(g, 40, 48, 64, 'f16', 'gelu_tanh');
      return;
    }
    expect(chooseGemmPath(g.caps, 64, 64, 64, 'f16')).toBe('subgroup-matrix');
    // The default choice and the direct-load gated kernel by name (2x4 matrices a subgroup, 2x2 subgroups), ragged M/F.
    for (const [M, F, K] of [[64, 64, 64], [333, 197, 272], [16, 17, 16], [45, 130, 96], [30, 70, 64]] as const) {
      await checkGated(g, M, F, K, 'f16', 'gelu_tanh');
      await checkGated(g, M, F, K, 'f16', 'gelu_erf', 'subgroup-matrix', { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false } });
    }
    // K % 16 != 0: no direct kernel. A generated decode tile (checked staging, any K % 4 == 0) takes 40 rows where
    // FAPOOL_DECODE_TILES gives them one (split, the default: 9..64 rows); else the default is the tiled kernel and
    // the subgroup-matrix path refuses the shape.
    const tile = isGeneratedChoice(chooseSgmKernel(g.caps, 40, 48, 36, true));
    expect(chooseGatedPath(g.caps, 40, 48, 36, 'f16')).toBe(tile ? 'subgroup-matrix' : 'tiled');
    await checkGated(g, 40, 48, 36, 'f16', 'gelu_erf');
    const x = g.tensor([40, 36], 'f16'), w = g.tensor([48, 36], 'f16'), out = g.tensor([40, 48], 'f16');
    if (tile) await checkGated(g, 40, 48, 36, 'f16', 'gelu_tanh', 'subgroup-matrix');
    else expect(() => gatedLinear(g, { x, wGate: w, wUp: w, out, act: 'gelu_tanh' }, { path: 'subgroup-matrix' })).toThrow(ShapeError);
    // K % 4 != 0: no tensor-core kernel takes it, whatever the policy.
    const x34 = g.tensor([40, 34], 'f16'), w34 = g.tensor([48, 34], 'f16');
    const forced34 = () => gatedLinear(g, { x: x34, wGate: w34, wUp: w34, out, act: 'gelu_tanh' }, { path: 'subgroup-matrix' });
    expect(forced34).toThrow(ShapeError);
    expect(forced34).toThrow(/K % 4 == 0/);
    g.release(x, w, out, x34, w34);
    console.info(`[ffn] subgroup-matrix gated: 5 shapes x 2 variants, K % 16 != 0 on ${tile ? 'a decode tile' : 'the tiled fallback (refused when forced)'}, K % 4 != 0 refused`);
  });
});

describe('gatedLinear: tile and skinny subgroup-matrix kernels (scalar-emulated without subgroup matrices)', () => {
  // Named shapes where the adapter has subgroup matrices; one small emulated shape each elsewhere.
  const EMU_TILE: SgmTileShape = { kind: 'tile', tm: 1, tn: 1, sgRows: 1, sgCols: 2, bk: 16, nbuf: 1 };
  const EMU_SKINNY: SgmSkinnyShape = { kind: 'skinny', sn: 1, sk: 2, tn: 1, u: 1 };
  it('gated tile shapes on ragged shapes, both activations', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const ran: string[] = [];
    for (const [name, shape] of real ? Object.entries(SGM_TILE_GATED_SHAPES) : [['emu 16x32 sg1x2', EMU_TILE] as const]) {
      const sgm = { ...shape, emulate: !real };
      if (!sgmTileFits(g.caps, sgm, true)) continue;
      await checkGated(g, 333, 197, 288, 'f16', 'gelu_tanh', 'subgroup-matrix', { sgm });
      await checkGated(g, 17, 45, 36, 'f16', 'gelu_erf', 'subgroup-matrix', { sgm });
      ran.push(name);
    }
    console.info(`[ffn] gated tile (${real ? 'subgroup matrices' : 'emulated'}): ${ran.join(', ')}`);
    expect(ran.length).toBeGreaterThan(0);
  }, 300_000);
  it('gated skinny shapes', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const ran: string[] = [];
    for (const [name, shape] of real ? Object.entries(SGM_SKINNY_SHAPES) : [['emu sn1 sk2 tn1 u1', EMU_SKINNY] as const]) {
      const sgm = { ...shape, emulate: !real };
      if (!sgmSkinnyFits(g.caps, sgm, true)) continue;
      await checkGated(g, 16, 50, 272, 'f16', 'gelu_tanh', 'subgroup-matrix', { sgm });
      if (real) await checkGated(g, 45, 130, 96, 'f16', 'gelu_erf', 'subgroup-matrix', { sgm });
      ran.push(name);
    }
    console.info(`[ffn] gated skinny (${real ? 'subgroup matrices' : 'emulated'}): ${ran.join(', ')}`);
    expect(ran.length).toBeGreaterThan(0);
  }, 300_000);
  it('gated GEMV with 16-byte loads', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    for (const [M, F, K] of [[1, 40, 4096], [5, 33, 4104], [8, 17, 24]] as const) {
      await checkGated(g, M, F, K, 'f16', 'gelu_erf', 'gemv', { gemv: { h8: true } });
    }
  }, 300_000);
});

describe('FFN block: h += down(act(gate·x) ⊙ up·x)', () => {
  // Two kernels: gatedLinear into a scratch [M, F], then linear(down, accumulate) onto h in place.
  for (const [M, H, F, dtype, act] of [
    [1, 48, 96, 'f32', 'gelu_tanh'], [5, 40, 72, 'f16', 'gelu_erf'], [19, 36, 100, 'f32', 'gelu_erf'], [33, 24, 52, 'f16', 'gelu_tanh'],
    [2, 40, 88, 'f32', 'silu'], [17, 32, 60, 'f16', 'silu'],
  ] as const) {
    it(`${dtype} M=${M} hidden=${H} ffn=${F} ${act}`, async () => {
      const g = await gpu();
      const r = rng();
      const x = randomArray(r, M * H, dtype), h = randomArray(r, M * H, dtype);
      const wg = randomArray(r, F * H, dtype, -0.5, 0.5), wu = randomArray(r, F * H, dtype, -0.5, 0.5);
      const wd = randomArray(r, H * F, dtype, -0.2, 0.2);
      const xs = upload(g, x, [M, H], dtype), hs = upload(g, h, [M, H], dtype);
      const gs = upload(g, wg, [F, H], dtype), us = upload(g, wu, [F, H], dtype), ds = upload(g, wd, [H, F], dtype);
      const mid = poisoned(g, [M, F], dtype, 'mid');
      await g.run([
        gatedLinear(g, { x: xs, wGate: gs, wUp: us, out: mid, act }),
        linear(g, { x: mid, w: ds, out: hs, accumulate: true }),
      ]);
      const want = linearRef({ x: gatedRef(x, wg, wu, M, F, H, act), w: wd, M, N: H, K: F, accumulateInto: h });
      // f16: the [M, F] intermediate is stored as f16 (one extra rounding the float64 reference skips).
      expectClose(await download(g, hs), want, dtype, `ffn block seed=${r.seed}`);
      g.release(xs, hs, gs, us, ds, mid);
    });
  }
});
