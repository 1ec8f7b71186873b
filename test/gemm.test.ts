import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LimitError, ShapeError, programSource, reflectLayout, sliceRows, toF16Array, type Dispatch, type Gpu, type Tensor } from '../src/gpu/index.js';
import { chooseGatedPath, gatedLinear } from '../src/kernels/ffn.js';
import { chooseGemmPath, chooseQuad, linear, normEpilogueApplies, normPrologueApplies, ropeEpilogueApplies, type GemmTuning } from '../src/kernels/gemm.js';
import { rowWorkgroupSize } from '../src/kernels/common.js';
import { rmsnorm } from '../src/kernels/rmsnorm.js';
import { gemvSgChoice } from '../src/kernels/gemv.js';
import { type Activation } from '../src/kernels/gemm-common.js';
import {
  DECODE_TILE_BN32_MAX_N, DECODE_TILE_MIN_N, GEMM_PREFILL_DEFAULT, GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS, gemmPrefillDefault, SGM_SKINNY_SHAPES, SGM_TILE_GEN_BIG, SGM_TILE_GEN_DECODE, SGM_TILE_GEN_IDS, SGM_TILE_GEN_ROPE, SGM_TILE_GEN_SPLIT_K,
  DECODE_TILES_NO_PREFETCH_OFF, DECODE_TILES_DEEP_SPLIT, DECODE_TILES_WIDE, SGM_TILE_SHAPES, SPLITK_MAX, SPLITK_TARGET_SUBGROUPS, chooseDecodeTile, chooseSgmDirect, chooseSgmKernel, decodeTilesMode,
  DECODE_TILES_PREFETCH_FIXED_K, checkedTwin, decodeTilesNoPrefetch, DECODE_GATED_ROWS_ON_TILE, DECODE_GATED_ROWS_ON_TILE_DEVICES, DECODE_N128_DEFAULT, DECODE_N128_ALL_DEFAULT, gatedTileMinRows, wideRowsOnN128, gemmPrefillOverride, sgmDirectApplies, sgmSkinnyFits, sgmTileFits, sgmTileGenFits, splitKCount, tileGenForShape, tileGenGeometry,
  tileCsMode, tileCsTurns, tileGenBytes, tileOperandViews, tileWithinBuffers,
  type SgmDirectShape, type SgmSkinnyShape, type SgmTileGenShape, type SgmTileShape
} from '../src/kernels/gemm-sgm.js';
import { SGM_DIAGNOSTIC, hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import {
  GEMM_SKINNY_DEFAULT, SGM_SKINNY_GEN_BIG, SGM_SKINNY_GEN_IDS, SKINNY_GEN_AUTO, chooseSkinnyGen, gemmSkinnyOverride,
  sgmSkinnyGenFits, skinnyGenGeometry
} from '../src/kernels/gemm-skinny-gen.js';
import { checkGatedLinear, checkLinear, type LinearCase } from './check-linear.js';
import { toWeightBlocks, weightBlockIndex } from '../src/kernels/weight-blocks.js';
import { download, expectClose, launchLabels, poisoned, randomArray, rng, upload, useGpu, restoringEnv, withEnv } from './helpers.js';
import { erfRef, gatedRef, linearRef } from './ref/gemm.js';
import { rmsnormRef } from './ref/rmsnorm.js';

const gpu = useGpu();

type Case = LinearCase;
const check = (g: Gpu, c: Case) => checkLinear(g, c);

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [17, 33, 65], [64, 64, 64], [70, 130, 257], [8, 300, 1000], [37, 29, 96], [13, 1, 12],
];

describe('linear: tiled GEMM', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [M, N, K] of SHAPES) {
      it(`${dtype} M=${M} N=${N} K=${K}`, async () => { await check(await gpu(), { M, N, K, dtype, path: 'tiled' }); });
    }
  }
});

describe('linear: tiled kernel variants', () => {
  // The default tiled kernel is the quad kernel (shape from caps); the classic gemm.wgsl kernel stays for
  // the gated product and as a tuning choice; explicit quad shapes cover the big-GPU configs here too.
  const TUNES: [string, GemmTuning][] = [
    ['classic', { tiled: 'classic' }], ['quad 4x4 bk8', { tiled: { tx: 4, ty: 4, bk: 8 } }],
    ['quad 16x8 bk32', { tiled: { tx: 16, ty: 8, bk: 32 } }], ['quad 8x16 bk16', { tiled: { tx: 8, ty: 16, bk: 16 } }],
    ['quad 4x4 bk4 db', { tiled: { tx: 4, ty: 4, bk: 4, db: true } }], ['quad 16x16 bk8 db', { tiled: { tx: 16, ty: 16, bk: 8, db: true } }],
    ['quad 16x16 bk8 db nopf (the big-GPU default)', { tiled: { tx: 16, ty: 16, bk: 8, db: true, pf: false } }],
    ['quad 8x8 bk16 db nopf', { tiled: { tx: 8, ty: 8, bk: 16, db: true, pf: false } }], ['quad 4x8 bk4 16x8/thread db nopf', { tiled: { tx: 4, ty: 8, bk: 4, qm: 4, qn: 2, db: true, pf: false } }],
    ['quad 4x4 bk8 16x8/thread', { tiled: { tx: 4, ty: 4, bk: 8, qm: 4, qn: 2 } }], ['quad 8x4 bk8 8x16/thread', { tiled: { tx: 8, ty: 4, bk: 8, qm: 2, qn: 4 } }],
    ['quad 4x8 bk4 4x12/thread db', { tiled: { tx: 4, ty: 8, bk: 4, qm: 1, qn: 3, db: true } }],
    ['quad 4x4 bk8 nopf', { tiled: { tx: 4, ty: 4, bk: 8, pf: false } }], ['quad 8x4 bk4 db nopf', { tiled: { tx: 8, ty: 4, bk: 4, db: true, pf: false } }],
    // The unchecked pipeline for whole tiles (EXACT, session 35): the default's shape (loads cover both tiles exactly),
    // one whose loads cover w's tile more than once (BM > BN: the r < BN check) and one that over-covers x's (BN > BM).
    ['quad 16x16 bk8 db exact (the big-GPU default for whole tiles)', { tiled: { tx: 16, ty: 16, bk: 8, db: true, exact: true } }],
    ['quad 16x16 bk8 db nopf exact', { tiled: { tx: 16, ty: 16, bk: 8, db: true, pf: false, exact: true } }],
    ['quad 4x8 bk4 16x8/thread db nopf exact', { tiled: { tx: 4, ty: 8, bk: 4, qm: 4, qn: 2, db: true, pf: false, exact: true } }],
    ['quad 4x8 bk4 4x12/thread db exact', { tiled: { tx: 4, ty: 8, bk: 4, qm: 1, qn: 3, db: true, exact: true } }],
    ['quad 4x4 bk8 exact', { tiled: { tx: 4, ty: 4, bk: 8, exact: true } }],
  ];
  for (const [label, tune] of TUNES) {
    const shapes: [number, number, number, 'f32' | 'f16'][] = [[70, 130, 257, 'f32'], [37, 29, 96, 'f32'], [19, 140, 36, 'f16'], [260, 264, 96, 'f32']];
    const q = tune.tiled;
    if (q && q !== 'classic' && q.exact) {
      // Whole tiles and slices (the exact pipeline), then one ragged dimension at a time beside whole others (the
      // checked pipeline: each is wrong if the host's test forgets that dimension).
      const bm = 4 * (q.qm ?? 2) * q.ty, bn = 4 * (q.qn ?? 2) * q.tx;
      shapes.push([2 * bm, 3 * bn, 8 * q.bk, 'f32'], [bm, 2 * bn, 4 * q.bk, 'f16'],
        [bm + 3, 2 * bn, 4 * q.bk, 'f32'], [2 * bm, bn + 4, 4 * q.bk, 'f32'], [bm, bn, 4 * q.bk + 4, 'f32']);
    }
    for (const [M, N, K, dtype] of shapes) {
      it(`${label} ${dtype} M=${M} N=${N} K=${K}`, async () => { await check(await gpu(), { M, N, K, dtype, path: 'tiled', tune }); });
    }
  }
  it('classic with an epilogue', async () => {
    await check(await gpu(), { M: 33, N: 17, K: 44, dtype: 'f32', path: 'tiled', tune: { tiled: 'classic' }, bias: true, act: 'gelu_tanh', accumulate: true });
  });
  it('exact tiles: the unchecked pipeline only where M, N are whole tiles and K whole slices (vec4 entry)', async () => {
    // On a robust adapter a wrong choice can pass the value checks (stores past M are dropped), so the key is read.
    const g = await gpu();
    const q = { tx: 4, ty: 4, bk: 8, exact: true };   // 32 × 32 tiles
    const exactKey = (M: number, N: number, K: number) => {
      const x = g.tensor([M, K], 'f32'), w = g.tensor([N, K], 'f32'), out = g.tensor([M, N], 'f32');
      const d = linear(g, { x, w, out }, { path: 'tiled', tune: { tiled: q } });
      const key = d.program.key;
      d.release(); g.release(x, w, out);
      return /"EXACT":true/.test(key) ? 'exact' : /"EXACT":false/.test(key) ? 'checked' : `no EXACT in ${key}`;
    };
    expect([exactKey(64, 96, 64), exactKey(35, 96, 64), exactKey(64, 100, 64), exactKey(64, 96, 68), exactKey(64, 96, 66)])
      .toEqual(['exact', 'checked', 'checked', 'checked', 'checked']);
  });
  it('quad shape choice on a big GPU: the exact double-buffered prefetching 128×128 tile for whole tiles, the checked one without prefetch else', async () => {
    const g = await gpu();
    const big = { ...g.caps, isFallbackAdapter: false, vendor: 'nvidia', architecture: 'hopper', device: 'h100', maxInvocations: 1024, maxWorkgroupSizeX: 1024, maxWorkgroupStorage: 49152 };
    expect(chooseQuad(big, 4096, 4096, 4096)).toEqual({ tx: 16, ty: 16, bk: 8, db: true, exact: true });
    for (const [M, N, K] of [[4000, 4096, 4096], [4096, 4100, 4096], [4096, 4096, 4092]] as const) {
      expect(chooseQuad(big, M, N, K), `${M}×${N}×${K}`).toEqual({ tx: 16, ty: 16, bk: 8, db: true, pf: false });
    }
    expect(chooseQuad(big, 256, 256, 4096)).toEqual({ tx: 8, ty: 8, bk: 8 });   // 4 tiles of 128: too few for the GPU
  });
  it('quad shape choice fits the device', async () => {
    const g = await gpu();
    const q = chooseQuad(g.caps, 4096, 4096, 4096)!;
    expect(q.tx * q.ty).toBeLessThanOrEqual(g.caps.maxInvocations);
    expect(4 * q.bk * 8 * (q.tx + q.ty) * (q.db ? 2 : 1)).toBeLessThanOrEqual(g.caps.maxWorkgroupStorage);
    expect(() => linear(g, { x: g.tensor([4, 8], 'f32'), w: g.tensor([4, 8], 'f32'), out: g.tensor([4, 4], 'f32') },
      { path: 'tiled', tune: { tiled: { tx: 64, ty: 64, bk: 16 } } })).toThrow(LimitError);
  });
});

describe('linear: default path', () => {
  for (const [M, N, K] of [[1, 7, 33], [9, 40, 64], [70, 130, 257]] as const) {
    it(`f32 M=${M} N=${N} K=${K}`, async () => { await check(await gpu(), { M, N, K, dtype: 'f32' }); });
  }
});

describe('linear: epilogues', () => {
  const EPIS: Omit<Case, 'M' | 'N' | 'K' | 'dtype'>[] = [
    { bias: true }, { act: 'gelu_erf' }, { act: 'gelu_tanh' }, { residual: true }, { accumulate: true },
    { bias: true, act: 'gelu_erf', residual: true }, { bias: true, act: 'gelu_tanh', accumulate: true },
  ];
  for (const path of ['tiled', 'gemv'] as const) {
    for (const e of EPIS) {
      // K = 44 takes the vec4 entry, K = 45 the scalar one.
      for (const [M, N, K, dtype] of [[path === 'gemv' ? 3 : 19, 23, 44, 'f32'], [path === 'gemv' ? 8 : 33, 17, 45, 'f16']] as const) {
        it(`${path} ${dtype} ${JSON.stringify(e)} K=${K}`, async () => { await check(await gpu(), { M, N, K, dtype, path, ...e }); });
      }
    }
  }
});

describe('activation accuracy (GELU, SiLU)', () => {
  // y = act(x · 1): every value of x passes through the epilogue alone. Includes large |x| (NaN guard).
  for (const path of ['tiled', 'gemv'] as const) {
    for (const act of ['gelu_erf', 'gelu_tanh', 'silu'] as const) {
      it(`${path} ${act}`, async () => {
        const g = await gpu();
        const vals = [-1e4, -30, -9, -5.5, -3.92, -2, -0.93, -0.5, -1e-3, 0, 1e-6, 0.3, 0.93, 1, 2.7, 4, 10, 30, 1e4];
        const r = rng();
        for (let i = 0; i < 200; i++) vals.push(Math.fround(r.uniform(-8, 8)));
        const rows = path === 'gemv' ? 1 : vals.length;
        const cols = path === 'gemv' ? vals.length : 1;
        // gemv: x [1, 1] = 1, w [n, 1] = vals  → y [1, n]; tiled: x [n, 1] = vals, w [1, 1] = 1 → y [n, 1].
        const xs = upload(g, path === 'gemv' ? [1] : vals, [rows, 1], 'f32');
        const ws = upload(g, path === 'gemv' ? vals : [1], [cols, 1], 'f32');
        const out = poisoned(g, [rows, cols], 'f32');
        await g.run([linear(g, { x: xs, w: ws, out, act }, { path })]);
        const got = await download(g, out);
        const want = linearRef({ x: Float64Array.from(vals), w: Float64Array.of(1), M: vals.length, N: 1, K: 1, act });
        for (let i = 0; i < vals.length; i++) {
          const tol = 4e-7 * Math.max(1, Math.abs(vals[i]!));
          if (!(Math.abs(got[i]! - want[i]!) <= tol)) {
            throw new Error(`${act}(${vals[i]}) = ${got[i]}, want ${want[i]} (tol ${tol}, seed=${r.seed})`);
          }
        }
        g.release(xs, ws, out);
      });
    }
  }
  it('reference erf matches known values', () => {
    // Values from Python's math.erf.
    const known: [number, number][] = [[-3, -0.9999779095030014], [-0.3, -0.3286267594591274], [0.5, 0.5204998778130465],
      [1, 0.8427007929497149], [2, 0.9953222650189527], [2.5, 0.999593047982555], [4, 0.9999999845827421]];
    for (const [x, v] of known) expect(erfRef(x)).toBeCloseTo(v, 14);
  });
});

describe('linear: reuse and errors', () => {
  it('a prepared dispatch re-runs on new inputs', async () => {
    const g = await gpu();
    const r = rng();
    const [M, N, K] = [12, 20, 36];
    const xs = g.tensor([M, K], 'f32'), ws = g.tensor([N, K], 'f32'), out = poisoned(g, [M, N], 'f32');
    const d = linear(g, { x: xs, w: ws, out });
    for (let step = 0; step < 2; step++) {
      const x = randomArray(r, M * K), w = randomArray(r, N * K);
      g.write(xs, Float32Array.from(x)); g.write(ws, Float32Array.from(w));
      await g.run([d]);
      expectClose(await download(g, out), linearRef({ x, w, M, N, K }), 'f32', `step ${step} seed=${r.seed}`);
    }
    g.release(xs, ws, out);
  });

  it('rejects bad shapes, dtypes and aliasing', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32'), w = g.tensor([6, 8], 'f32'), out = g.tensor([4, 6], 'f32');
    expect(() => linear(g, { x, w: g.tensor([6, 7], 'f32'), out })).toThrow(/w must be \[N, 8\]/);
    expect(() => linear(g, { x, w, out: g.tensor([4, 5], 'f32') })).toThrow(ShapeError);
    expect(() => linear(g, { x, w: g.tensor([6, 8], 'f16'), out })).toThrow(/w must be f32/);
    expect(() => linear(g, { x: g.tensor([4, 8], 'u32'), w, out })).toThrow(/x must be f32 or f16/);
    expect(() => linear(g, { x, w, out, bias: g.tensor([7], 'f32') })).toThrow(/bias must be \[6\]/);
    expect(() => linear(g, { x, w, out, residual: g.tensor([4, 6], 'f16') })).toThrow(/residual must be f32/);
    const sq = g.tensor([4, 4], 'f32');
    expect(() => linear(g, { x: sq, w: g.tensor([4, 4], 'f32'), out: sq })).toThrow(/out and x must not alias/);
    expect(() => linear(g, { x, w, out, residual: out })).toThrow(/out and residual must not alias/);
    expect(() => linear(g, { x, w, out, act: 'relu' as Activation })).toThrow(/unknown activation/);
    expect(() => linear(g, { x: g.tensor([9, 8], 'f32'), w, out: g.tensor([9, 6], 'f32') }, { path: 'gemv' })).toThrow(LimitError);
  });
});

describe('linear: subgroup-matrix path', () => {
  it('WGSL reflects to the expected bindings', async () => {
    await gpu(); // registers the shader loader
    const spec = {
      enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'] as const, diagnostics: [SGM_DIAGNOSTIC],
      aliases: { T: 'f16', T4: 'vec4<f16>' },
    };
    const source = programSource({ file: 'gemm_subgroup_matrix.wgsl', includes: ['gemm_epilogue.wgsl'] }, spec);
    const layout = reflectLayout(source, 'gemm_sgm', spec.aliases);
    expect(layout.storage.map((b) => b.name)).toEqual(['y', 'bias', 'residual', 'x4', 'w4']);
    expect([...layout.uniform!.members.keys()]).toEqual(['M', 'N', 'K', '_pad']);
  });

  it('runs on tensor cores where available, else is never chosen and refuses', async () => {
    const g = await gpu();
    if (!hasSubgroupMatrixF16(g.caps)) {
      console.info('[gemm] no 16x16x16 f16 subgroup-matrix config on this device: checked path choice and refusal only');
      expect(chooseGemmPath(g.caps, 4096, 4096, 4096, 'f16')).toBe('tiled');
      const x = g.tensor([32, 32], 'f16'), w = g.tensor([32, 32], 'f16'), out = g.tensor([32, 32], 'f16');
      expect(() => linear(g, { x, w, out }, { path: 'subgroup-matrix' })).toThrow(LimitError);
      return;
    }
    expect(chooseGemmPath(g.caps, 256, 256, 256, 'f16')).toBe('subgroup-matrix');
    expect(chooseGemmPath(g.caps, 256, 256, 257, 'f16')).toBe('tiled');
    // Default kernel per shape: skinny (16 ≤ M ≤ 64), direct loads (M, N >= 16, K % 16 == 0), else staged.
    const shapes = [[33, 130, 256], [70, 130, 256], [17, 33, 36], [300, 200, 516], [16, 16, 16], [333, 197, 272], [9, 40, 64], [40, 12, 32]] as const;
    let direct = 0;
    for (const [M, N, K] of shapes) {
      if (sgmDirectApplies(M, N, K)) direct++;
      await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix' });
      await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', bias: true, act: 'gelu_erf', residual: true });
      await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', act: 'gelu_tanh', accumulate: true });
    }
    // Every direct-load shape and both kernels on ragged shapes (the sweep times these on the H100).
    const tunes: GemmTuning[] = [
      { sgm: 'staged' },
      { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false } }, { sgm: { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true } },
      { sgm: { tm: 4, tn: 2, sgRows: 2, sgCols: 2, prefetch: true } }, { sgm: { tm: 2, tn: 4, sgRows: 4, sgCols: 2, prefetch: true } },
      { sgm: { tm: 4, tn: 4, sgRows: 1, sgCols: 2, prefetch: false } },
      { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: true, k32: true } }, { sgm: { tm: 4, tn: 2, sgRows: 2, sgCols: 2, prefetch: true, k32: true } },
      { sgm: { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: false, k32: true } },
    ];
    // The defaults (staged, direct 4×4 prefetch) on several shapes with an epilogue; the other direct
    // shapes (sweep variants only) on one ragged shape each.
    for (const [i, tune] of tunes.entries()) {
      const shapes = i === 0 || i === 2 ? [[333, 197, 288], [16, 48, 32], [130, 70, 64]] as const : [[333, 197, 288]] as const;
      for (const [M, N, K] of shapes) await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune });
      if (i === 0 || i === 2) await check(g, { M: 45, N: 77, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune, bias: true, act: 'gelu_tanh', accumulate: true });
    }
    expect(() => linear(g, { x: g.tensor([32, 48], 'f16'), w: g.tensor([32, 48], 'f16'), out: g.tensor([32, 32], 'f16') },
      { path: 'subgroup-matrix', tune: { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: true, k32: true } } })).toThrow(/K % 32/);
    expect(() => linear(g, { x: g.tensor([8, 32], 'f16'), w: g.tensor([32, 32], 'f16'), out: g.tensor([8, 32], 'f16') },
      { path: 'subgroup-matrix', tune: { sgm: { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: true } } })).toThrow(ShapeError);
    console.info(`[gemm] subgroup-matrix: ${shapes.length} default shapes (${direct} direct-load) x 3 epilogues, ${tunes.length} kernel variants x 4 cases`);
  });
});

// Small shapes for the scalar emulation on CPU adapters (lavapipe compiles each emulated pipeline in
// seconds to a minute): two subgroups along M or N, bk 16 and 32, one and two tiles, MT 1 and 3.
const EMU_TILE: Record<string, SgmTileShape> = {
  'emu 32x16 sg2x1 2x1 k16 b2': { kind: 'tile', tm: 1, tn: 1, sgRows: 2, sgCols: 1, bk: 16, nbuf: 2 },
  'emu 16x32 sg1x2 1x1 k32 b1': { kind: 'tile', tm: 1, tn: 1, sgRows: 1, sgCols: 2, bk: 32, nbuf: 1 },
};
const EMU_SKINNY: Record<string, SgmSkinnyShape> = { 'emu sn2 sk2 tn1 u2': { kind: 'skinny', sn: 2, sk: 2, tn: 1, u: 2 } };

describe('linear: subgroup-matrix tile and skinny kernels (scalar-emulated on adapters without subgroup matrices)', () => {
  it('real matrix-op includes reflect to the expected bindings', async () => {
    await gpu(); // registers the shader loader
    const base = {
      enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'] as const, diagnostics: [SGM_DIAGNOSTIC],
    };
    const tile = { ...base, aliases: { T: 'f16', T4: 'vec4<f16>', TileA: 'array<f16, 5120>', TileB: 'array<f16, 10240>',
      Scratch: 'array<f32, 2048>', Stage: 'array<vec4<f16>, 12>', Acc: 'array<SmC, 16>', ArrL: 'array<SmL, 4>', ArrR: 'array<SmR, 4>' } };
    const src = programSource({ file: 'gemm_sgm_tile.wgsl', includes: ['gemm_epilogue.wgsl', 'gemm_sgm_tile_ops.wgsl'] }, tile);
    expect(reflectLayout(src, 'sgm_tile', tile.aliases).storage.map((b) => b.name)).toEqual(['y', 'bias', 'residual', 'x4', 'w4', 'wg4', 'wu4']);
    expect(reflectLayout(src, 'sgm_tile_gated', tile.aliases).storage.map((b) => b.name)).toEqual(['y', 'x4', 'w4', 'wg4', 'wu4']);
    const sk = { ...base, aliases: { T: 'f16', T4: 'vec4<f16>', Scratch: 'array<f32, 2048>', Acc: 'array<SmC, 8>', ArrL: 'array<SmL, 16>', ArrR: 'array<SmR, 8>' } };
    const src2 = programSource({ file: 'gemm_sgm_skinny.wgsl', includes: ['gemm_epilogue.wgsl', 'gemm_sgm_skinny_ops.wgsl'] }, sk);
    expect(reflectLayout(src2, 'sgm_skinny', sk.aliases).storage.map((b) => b.name)).toEqual(['x', 'w', 'y', 'bias', 'residual', 'wg', 'wu']);
    expect(reflectLayout(src2, 'sgm_skinny_gated', sk.aliases).storage.map((b) => b.name)).toEqual(['x', 'w', 'y', 'wg', 'wu']);
  });

  // Every named shape where the adapter has subgroup matrices; the small emulated shapes elsewhere.
  for (const [name, shape] of [...Object.entries(SGM_TILE_SHAPES), ...Object.entries(EMU_TILE)]) {
    it(`tile ${name} on ragged M, N, K with epilogues`, async () => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      if (!g.caps.f16 || real !== !(name in EMU_TILE)) return;
      const sgm = { ...shape, emulate: !real };
      if (!sgmTileFits(g.caps, sgm, false)) return;
      for (const [M, N, K] of [[333, 197, 288], [17, 33, 36], [130, 270, 68]] as const) {
        await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm } });
      }
      await check(g, { M: 45, N: 77, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_tanh', accumulate: true });
      if (real) await check(g, { M: 64, N: 40, K: 52, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_erf', residual: true });
    }, 300_000);
  }

  for (const [name, shape] of [...Object.entries(SGM_SKINNY_SHAPES), ...Object.entries(EMU_SKINNY)]) {
    it(`skinny ${name} (16 <= M <= 64) with epilogues, ragged N and K tails`, async () => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      if (!g.caps.f16 || real !== !(name in EMU_SKINNY)) return;
      const sgm = { ...shape, emulate: !real };
      if (!sgmSkinnyFits(g.caps, sgm, false)) return;
      const shapes = real ? [[16, 50, 272], [37, 130, 80], [64, 16, 16], [20, 200, 512]] as const : [[16, 50, 272], [37, 130, 80]] as const;
      for (const [M, N, K] of shapes) await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm } });
      await check(g, { M: 33, N: 45, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_tanh', accumulate: true });
      if (real) await check(g, { M: 50, N: 70, K: 64, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_erf', residual: true });
    }, 300_000);
  }

  it('tile and skinny refuse what they cannot take', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    expect(() => linear(g, { x: g.tensor([32, 34], 'f16'), w: g.tensor([32, 34], 'f16'), out: g.tensor([32, 32], 'f16') },
      { path: 'subgroup-matrix', tune: { sgm: { ...EMU_TILE['emu 16x32 sg1x2 1x1 k32 b1']!, emulate: !real } } })).toThrow(/K % 4/);
    const sgm = { ...EMU_SKINNY['emu sn2 sk2 tn1 u2']!, emulate: !real };
    for (const [M, K] of [[15, 32], [65, 32], [32, 40]] as const) {
      expect(() => linear(g, { x: g.tensor([M, K], 'f16'), w: g.tensor([32, K], 'f16'), out: g.tensor([M, 32], 'f16') },
        { path: 'subgroup-matrix', tune: { sgm } })).toThrow(ShapeError);
    }
  });
});

/** A gated product on the subgroup-matrix path with the given kernel, against float64. */
/**
 * The named pipeline constants of a generated tile's launch (x M × K, w N × K; `shape`: more of its SgmTileGenShape),
 * read from its program key. `launchOn`: a view of `g` with other caps (the tensors stay `g`'s).
 */
function tileConstants(g: Gpu, id: string, names: string[], [M, N, K]: [number, number, number], launchOn: Gpu = g, shape: Partial<SgmTileGenShape> = {}): (string | undefined)[] {
  const x = g.tensor([M, K], 'f16'), w = g.tensor([N, K], 'f16'), out = g.tensor([M, N], 'f16');
  try {
    const d = linear(launchOn, { x, w, out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id, emulate: !hasSubgroupMatrixF16(g.caps), ...shape } } });
    const k = names.map((n) => new RegExp(`"${n}":(true|false|\\d+)`).exec(d.program.key)?.[1]);
    d.release();
    return k;
  } finally { g.release(x, w, out); }
}

const checkGated = (g: Gpu, M: number, F: number, K: number, sgm: GemmTuning['sgm'], act: 'gelu_tanh' | 'gelu_erf') =>
  checkGatedLinear(g, M, F, K, act, { path: 'subgroup-matrix', tune: { sgm } });

/** Generated-tile shapes for launches on `g` (the emulated twins where it has no subgroup matrices); turns and splits where given. */
const tileShapes = (g: Gpu) => (id: string, csTurns?: number, splits?: number): SgmTileGenShape =>
  ({ kind: 'tile-gen', id, emulate: !hasSubgroupMatrixF16(g.caps), ...(csTurns !== undefined ? { csTurns } : {}), ...(splits ? { splits } : {}) });

/**
 * An unchecked tile (_u) reads the rows past M and N that its blocks cover: here they hold NaN (x and the weights
 * are the first rows of taller tensors), and every written output must still equal the float64 product.
 */
async function checkNanPadding(g: Gpu, M: number, N: number, K: number, sgm: SgmTileGenShape, gated: boolean): Promise<void> {
  // The launch's pipeline must be the tile's own (not a checked twin standing in).
  const ran = (d: Dispatch) => expect(launchLabels([d]).join(' '), 'the entry that ran').toMatch(new RegExp(`^tg_${sgm.id}_f16`));
  const r = rng();
  const padded = (rows: number, pad: number) => {
    const v = randomArray(r, rows * K, 'f16');
    const t = g.tensor([rows + pad, K], 'f16', 'padded');
    g.write(t, new Uint16Array((rows + pad) * K).fill(0x7e00));
    g.write(t, toF16Array(Float32Array.from(v)));
    return { v, t, view: sliceRows(t, 0, rows) };
  };
  const x = padded(M, 128), out = poisoned(g, [M, N], 'f16');
  if (gated) {
    const wg = padded(N, 256), wu = padded(N, 256);
    const d = gatedLinear(g, { x: x.view, wGate: wg.view, wUp: wu.view, out, act: 'gelu_tanh' }, { path: 'subgroup-matrix', tune: { sgm } });
    ran(d);
    await g.run([d]);
    expectClose(await download(g, out), gatedRef(x.v, wg.v, wu.v, M, N, K, 'gelu_tanh'), 'f16', `gated NaN padding ${JSON.stringify(sgm)} seed=${r.seed}`);
    d.release();
    g.release(x.t, wg.t, wu.t, out);
    return;
  }
  const w = padded(N, 256);
  const d = linear(g, { x: x.view, w: w.view, out }, { path: 'subgroup-matrix', tune: { sgm } });
  ran(d);
  await g.run([d]);
  expectClose(await download(g, out), linearRef({ x: x.v, w: w.v, M, N, K }), 'f16', `NaN padding ${JSON.stringify(sgm)} seed=${r.seed}`);
  d.release();
  g.release(x.t, w.t, out);
}

// Generated staged kernel (gemm_sgm_tile_gen.wgsl): every big configuration on tensor cores where the adapter
// has them; elsewhere the emulated twin (same generated text, scalar matrix ops) of the configurations
// lavapipe compiles in seconds (≤ 4 accumulators per subgroup), which run the same generator paths
// (1 and 2 tiles, several staged rows per thread, 2 K steps per slice, gated gate/up rows).
describe('linear / gatedLinear: generated staged subgroup-matrix kernel (tile-gen)', () => {
  for (const id of SGM_TILE_GEN_IDS) {
    const geo = tileGenGeometry(id);
    it(`${id} on ragged M, N, K${geo.gated ? '' : ' with epilogues'}`, async (ctx) => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      const big = SGM_TILE_GEN_BIG.includes(id);
      // Emulated on a CPU adapter: the small ones, and three of the decode tiles (each takes 5–24 s there; all of
      // them with FAPOOL_TEST_ALL_TILES=1).
      const cpuDecode = !SGM_TILE_GEN_DECODE.includes(id) || ['t16x64_sg1x4_k64_b2', 'g64x64_sg2x2_k32_b1', 't32x16_sg2x1_k64_b1'].includes(id) || process.env.FAPOOL_TEST_ALL_TILES === '1';
      if (!g.caps.f16 || (real && !big) || (!real && (geo.tm * geo.tn > 4 || !cpuDecode))) { ctx.skip(); return; }
      const sgm = { kind: 'tile-gen' as const, id, emulate: !real };
      if (!sgmTileGenFits(g.caps, sgm)) { console.info(`[gemm] tile-gen ${id}: does not fit this device`); ctx.skip(); return; }
      // Ragged in every direction, more than one workgroup and slice, K % BK != 0; then an exact multiple.
      // Unchecked tiles (_u) take K % BK == 0 only: K rounded up to whole slices.
      const k = (n: number) => geo.unchecked ? Math.ceil(n / geo.bk) * geo.bk : n;
      // Whole tiles of five slices and of one: the loop's later passes (the _u8p2 tiles refill their second register set
      // from the fourth) and its shortest (without robust buffer access a ragged unchecked launch runs the checked twin).
      const shapes: (readonly [number, number, number])[] = [[geo.bm + 13, geo.bn + 7, k(2 * geo.bk + 20)], [17, 33, k(36)], [2 * geo.bm, 2 * geo.bn, 3 * geo.bk], [geo.bm, geo.bn, 5 * geo.bk], [geo.bm, geo.bn, geo.bk]];
      // Grouped order: whole groups of row blocks and a short last one, several column blocks.
      if (geo.group) shapes.push([(2 * geo.group + 1) * geo.bm - 3, 3 * geo.bn + 5, k(geo.bk + 4)]);
      if (geo.gated) {
        for (const [M, F, K] of shapes) await checkGated(g, M, F, K, sgm, 'gelu_tanh');
        await checkGated(g, 45, 77, k(96), sgm, 'gelu_erf');
        if (geo.unchecked) await checkNanPadding(g, geo.bm + 13, geo.bn + 7, 2 * geo.bk, sgm, true);
        return;
      }
      for (const [M, N, K] of shapes) await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm } });
      await check(g, { M: 45, N: 77, K: k(96), dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_tanh', accumulate: true });
      await check(g, { M: 64, N: 40, K: k(52), dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_erf', residual: true });
      if (geo.unchecked) await checkNanPadding(g, geo.bm + 13, geo.bn + 7, 2 * geo.bk, sgm, false);
    }, 300_000);
  }

  it('K fixed in the pipeline (fixK): unchecked, checked, gated and split-K tiles, one pipeline per K', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const real = hasSubgroupMatrixF16(g.caps);
    const sgm = (id: string, splits?: number) => ({ kind: 'tile-gen' as const, id, fixK: true, emulate: !real, ...(splits ? { splits } : {}) });
    // Unchecked (K whole slices) and checked (ragged K) tiles, several slices, ragged M and N.
    await check(g, { M: 45, N: 77, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x32_sg2x2_k32_b1_un') }, bias: true, act: 'gelu_tanh' });
    await check(g, { M: 45, N: 40, K: 100, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x32_sg2x2_k32_b2') } });
    await check(g, { M: 37, N: 33, K: 160, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x16_sg2x1_k64_b1', 2) } });
    await checkGated(g, 33, 40, 64, sgm('g32x32_sg1x2_k32_b1_u8_ks2'), 'gelu_tanh');
    // The pipeline's key holds K: two depths, two pipelines; without fixK, KFIX 0.
    const key = (K: number, fixK: boolean) => Number(tileConstants(g, 't32x32_sg2x2_k32_b1_un', ['KFIX'], [8, 32, K], g, { fixK })[0]);
    expect([key(64, true), key(96, true), key(64, false)]).toEqual([64, 96, 0]);
    // A shape that does not say takes FAPOOL_TILE_FIXK (on by default); other values are refused.
    const keyEnv = (v: string | undefined) => {
      const old = process.env.FAPOOL_TILE_FIXK;
      if (v === undefined) delete process.env.FAPOOL_TILE_FIXK; else process.env.FAPOOL_TILE_FIXK = v;
      try {
        return Number(tileConstants(g, 't32x32_sg2x2_k32_b1_un', ['KFIX'], [8, 32, 64])[0]);
      } finally { if (old === undefined) delete process.env.FAPOOL_TILE_FIXK; else process.env.FAPOOL_TILE_FIXK = old; }
    };
    expect([keyEnv(undefined), keyEnv('off'), keyEnv('on')]).toEqual([64, 0, 64]);
    expect(() => keyEnv('yes')).toThrow(/FAPOOL_TILE_FIXK=yes: expected 'on' or 'off'/);
  }, 300_000);

  it('a prefill product takes the checked twin of an unchecked tile where K % BK != 0', () => {
    expect(tileGenForShape('t128x128_sg2x2_k32_b1_u', 4096)).toBe('t128x128_sg2x2_k32_b1_u');
    expect(tileGenForShape('t128x128_sg2x2_k32_b1_u', 4100)).toBe('t128x128_sg2x2_k32_b1');
    expect(tileGenForShape('g128x128_sg2x4_k32_b1_u', 4100)).toBe('g128x128_sg2x4_k32_b1');
    expect(tileGenForShape('t128x128_sg2x2_k32_b1_un', 36)).toBe('t128x128_sg2x2_k32_b1');
    expect(tileGenForShape('t128x256_sg2x4_k32_b1', 12)).toBe('t128x256_sg2x4_k32_b1');
    // Every unchecked configuration has its checked twin.
    for (const id of SGM_TILE_GEN_IDS.filter((i) => /_(u|un|uf)$/.test(i))) expect(SGM_TILE_GEN_IDS).toContain(id.replace(/_(u|un|uf)$/, ''));
    // … every one, 16-byte and _ks2 ones too: without robust buffer access a ragged launch needs it (tileWithinBuffers).
    for (const id of SGM_TILE_GEN_IDS.filter((i) => tileGenGeometry(i).unchecked)) expect(SGM_TILE_GEN_IDS, id).toContain(checkedTwin(id));
  });

  it('an unchecked tile refuses K % BK != 0', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const run = (M: number, N: number, K: number, id: string) => {
      const x = g.tensor([M, K], 'f16'), w = g.tensor([N, K], 'f16'), o = g.tensor([M, N], 'f16');
      try { linear(g, { x, w, out: o }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id, emulate: !real } } }).release(); } finally { g.release(x, w, o); }
    };
    expect(() => run(32, 32, 40, 't32x32_sg2x2_k32_b1_u')).toThrow(/K % 32 == 0/);
    expect(() => run(32, 32, 40, 't32x32_sg2x2_k32_b1_un')).toThrow(/K % 32 == 0/);
    expect(() => run(33, 31, 64, 't32x32_sg2x2_k32_b1_u')).not.toThrow();
  });

  it('refuses the wrong product, K % 4 != 0 and unknown ids', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const t = g.tensor([32, 32], 'f16'), o = g.tensor([32, 32], 'f16');
    expect(() => linear(g, { x: t, w: t, out: o }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 'g32x16_sg2x1_k16_b1', emulate: !real } } })).toThrow(/gated/);
    expect(() => linear(g, { x: g.tensor([32, 34], 'f16'), w: g.tensor([32, 34], 'f16'), out: o },
      { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1', emulate: !real } } })).toThrow(/K % 4/);
    expect(() => tileGenGeometry('t128x128_sg2x2_k32_b3')).toThrow(LimitError);
  });

  it('FAPOOL_GEMM_PREFILL picks a generated configuration for M > 64 only', () => {
    expect(gemmPrefillOverride(GEMM_PREFILL_DEFAULT).plain?.kind).toBe('tile-gen');
    expect(gemmPrefillOverride('direct')).toEqual({});
    expect(gemmPrefillOverride('tile-gen:t128x256_sg2x4_k32_b1,g128x128_sg2x4_k32_b1')).toEqual({
      plain: { kind: 'tile-gen', id: 't128x256_sg2x4_k32_b1' }, gated: { kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1' },
    });
    expect(() => gemmPrefillOverride('tile-gen:t1x1')).toThrow(LimitError);
    expect(() => gemmPrefillOverride('fast')).toThrow(LimitError);
    // A device with 16×16×16 f16 subgroup matrices and 32-lane subgroups (no GPU needed for the choice).
    const caps = {
      f16: true, subgroups: true, subgroupMinSize: 32, subgroupMaxSize: 32, maxInvocations: 1024, maxWorkgroupSizeX: 1024,
      maxWorkgroupStorage: 49152, subgroupMatrix: [{ M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }],
    } as unknown as Parameters<typeof chooseSgmKernel>[0];
    restoringEnv('FAPOOL_GEMM_PREFILL', () => {
      delete process.env.FAPOOL_GEMM_PREFILL;
      expect(chooseSgmKernel(caps, 2048, 4096, 4096, false)).toEqual({ kind: 'tile-gen', id: 't128x128_sg2x2_k32_b1_u8' });
      expect(chooseSgmKernel(caps, 2048, 4096, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1_u8' });
      // Without robust buffer access the gated tile without register prefetch (GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS).
      const bare = { ...caps, robustBufferAccess: false };
      expect(gemmPrefillDefault(bare)).toBe(GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS);
      expect(gemmPrefillDefault(caps)).toBe(GEMM_PREFILL_DEFAULT);
      expect(chooseSgmKernel(bare, 2048, 4096, 4096, false)).toEqual({ kind: 'tile-gen', id: 't128x128_sg2x2_k32_b1_u8' });
      expect(chooseSgmKernel(bare, 2048, 4096, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1_un' });
      expect(chooseSgmKernel(bare, 2048, 4096, 4100, true)).toEqual({ kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1' });
      expect(chooseSgmKernel(bare, 2048, 4096, 4100, false)).toEqual({ kind: 'tile-gen', id: 't128x128_sg2x2_k32_b1' });
      process.env.FAPOOL_GEMM_PREFILL = 'tile-gen:t128x256_sg2x4_k32_b1';   // the variable wins there too
      expect(chooseSgmKernel(bare, 2048, 4096, 4096, false)).toEqual({ kind: 'tile-gen', id: 't128x256_sg2x4_k32_b1' });
      delete process.env.FAPOOL_GEMM_PREFILL;
      // K % 32 != 0: the checked twins.
      expect(chooseSgmKernel(caps, 2048, 4096, 4100, false)).toEqual({ kind: 'tile-gen', id: 't128x128_sg2x2_k32_b1' });
      expect(chooseSgmKernel(caps, 2048, 4096, 4100, true)).toEqual({ kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1' });
      // The default on a device it does not fit (small workgroup memory): the direct kernel, no error …
      const small = { ...caps, maxWorkgroupStorage: 16384 } as typeof caps;
      expect(chooseSgmKernel(small, 2048, 4096, 4096, false)).toMatchObject({ tm: 4, tn: 4, prefetch: true });
      process.env.FAPOOL_GEMM_PREFILL = 'direct';
      expect(chooseSgmKernel(caps, 2048, 4096, 4096, false)).toMatchObject({ tm: 4, tn: 4, prefetch: true });
      process.env.FAPOOL_GEMM_PREFILL = 'tile-gen:t128x256_sg2x4_k32_b1';
      // … but a configuration asked for by name that does not fit is an error.
      expect(() => chooseSgmKernel(small, 2048, 4096, 4096, false)).toThrow(LimitError);
      expect(chooseSgmKernel(caps, 2048, 4096, 4096, false)).toEqual({ kind: 'tile-gen', id: 't128x256_sg2x4_k32_b1' });
      expect(chooseSgmKernel(caps, 2048, 4096, 4096, true)).toMatchObject({ tm: 2, tn: 4 });   // gated: default kept
      expect(chooseSgmKernel(caps, 64, 4096, 4096, false)).toEqual(chooseDecodeTile(caps, 64, 4096, 4096, false));   // decode rows: not the prefill choice
      expect(chooseSgmKernel(caps, 64, 4096, 4096, false)).not.toEqual({ kind: 'tile-gen', id: 't128x256_sg2x4_k32_b1' });
      process.env.FAPOOL_GEMM_PREFILL = 'tile-gen:g128x128_sg2x4_k32_b1';
      expect(chooseSgmKernel(caps, 65, 4096, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g128x128_sg2x4_k32_b1' });
    });
  });

  it('generated entries (builtins) reflect to the expected bindings', async () => {
    await gpu(); // registers the shader loader
    const spec = {
      enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'] as const, diagnostics: [SGM_DIAGNOSTIC],
      aliases: { T: 'f16', T4: 'vec4<f16>', TileA: 'array<f16, 5120>', TileB: 'array<f16, 10240>', Scratch: 'array<f32, 2048>' },
    };
    const src = programSource({ file: 'gemm_sgm_tile_gen.wgsl', includes: ['gemm_epilogue.wgsl'] }, spec);
    expect(reflectLayout(src, 'tg_t128x256_sg2x4_k32_b1', spec.aliases).storage.map((b) => b.name)).toEqual(['y', 'bias', 'residual', 'x4', 'w4']);
    expect(reflectLayout(src, 'tg_g128x128_sg2x4_k32_b1', spec.aliases).storage.map((b) => b.name)).toEqual(['y', 'x4', 'wg4', 'wu4']);
  });
});

// Generated skinny kernel (gemm_sgm_skinny_gen.wgsl): every big configuration on tensor cores where the adapter
// has them; elsewhere the emulated twin (same generated text, scalar matrix ops) of the small configurations on
// several shapes (staged and direct x, prefetch, partial rounds, gated gate/up, SK partial sums) and, on one
// shape, of the big ones a FAPOOL_GEMM_SKINNY=gen choice takes by default (lavapipe compiles the others' emulation
// in 5–20 s each).
const SKINNY_GEN_EMU_BIG = new Set([...Object.values(SKINNY_GEN_AUTO), 'tm1_sn1_sk8_tn1_u4_xs_p']);
// Split-K (the tgs_ entries, then shaders/gemm_splitk.wgsl's reduce with the epilogue): every split-K configuration
// on tensor cores; emulated on a CPU adapter, the small ones (one matrix per subgroup: seconds to compile) and one
// double-buffered decode tile. Splits that do not divide the slices, more splits than slices, one row.
describe('linear / gatedLinear: split-K decode tiles', () => {
  const CPU_SPLIT = ['t32x16_sg2x1_k64_b1', 'g32x16_sg2x1_k16_b1', 't32x32_sg2x2_k32_b1', 't16x64_sg1x4_k64_b2', 't32x32_sg2x2_k32_b1_un8', 'g16x64_sg1x4_k64_b1_u8', 't32x32_sg2x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1_u8p2'];
  for (const id of SGM_TILE_GEN_SPLIT_K) {
    const geo = tileGenGeometry(id);
    it(`${id} split over K on ragged M, N, K${geo.gated ? '' : ' with epilogues'}`, async (ctx) => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      if (!g.caps.f16 || (!real && !CPU_SPLIT.includes(id) && process.env.FAPOOL_TEST_ALL_TILES !== '1')) { ctx.skip(); return; }
      const sgm = (splits: number) => ({ kind: 'tile-gen' as const, id, splits, emulate: !real });
      if (!sgmTileGenFits(g.caps, sgm(2))) { ctx.skip(); return; }
      // [M, N, K, splits]: 5 slices (+ a ragged one) in 3 splits of 2, 2, 2; 8 asked of 3 slices; 4 of 8 slices.
      // Unchecked tiles (_u8, _un8) take whole slices only: K rounded up.
      const k = (n: number) => geo.unchecked ? Math.ceil(n / geo.bk) * geo.bk : n;
      // …; whole tiles of 11 slices in 2 splits of 6 and 5 (the _u8p2 tiles' second register set refilled), of 3 in 3.
      const cases: [number, number, number, number][] = [[geo.bm + 5, geo.bn + 7, k(5 * geo.bk + 20), 3], [1, 33, k(2 * geo.bk + 4), 8], [2 * geo.bm, 2 * geo.bn, 8 * geo.bk, 4], [geo.bm, geo.bn, 11 * geo.bk, 2], [geo.bm, geo.bn, 3 * geo.bk, 3]];
      if (geo.gated) {
        for (const [M, F, K, s] of cases) await checkGated(g, M, F, K, sgm(s), 'gelu_tanh');
        await checkGated(g, 7, 45, 3 * geo.bk, sgm(2), 'gelu_erf');
        return;
      }
      for (const [M, N, K, s] of cases) await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm(s) } });
      await check(g, { M: 9, N: 77, K: k(3 * geo.bk + 8), dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm(2) }, bias: true, act: 'gelu_tanh', accumulate: true });
      await check(g, { M: 13, N: 40, K: 4 * geo.bk, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm(4) }, bias: true, act: 'gelu_erf', residual: true });
    }, 300_000);
  }

  it('without robust buffer access an unchecked tile whose loads past a ragged M or N would leave a buffer runs its checked twin', async () => {
    // Every unchecked configuration for big GPUs has a generated checked twin, with a split-K entry where it has one.
    for (const id of SGM_TILE_GEN_BIG.filter((i) => tileGenGeometry(i).unchecked)) {
      const twin = checkedTwin(id), g = tileGenGeometry(twin);
      expect(SGM_TILE_GEN_IDS, id).toContain(twin);
      expect([g.unchecked, g.gated, g.bm, g.bn], id).toEqual([false, tileGenGeometry(id).gated, tileGenGeometry(id).bm, tileGenGeometry(id).bn]);
      if (SGM_TILE_GEN_SPLIT_K.includes(id)) expect(SGM_TILE_GEN_SPLIT_K, id).toContain(twin);
    }
    expect(checkedTwin('g64x64_sg2x2_k64_b1_u8_ks2')).toBe('g64x64_sg2x2_k32_b1');
    expect(checkedTwin('t32x32_sg2x2_k32_b1')).toBe('t32x32_sg2x2_k32_b1');
    // The rule, on operands' buffer sizes alone (no GPU): rows read = M or N rounded up to the tile.
    const t = (rows: number, bufferRows: number, offsetRows = 0, buffer: object = { size: bufferRows * 256 * 2 }) =>
      ({ shape: [rows, 256], dtype: 'f16', offset: offsetRows * 256 * 2, buffer }) as unknown as Tensor;
    const s = { kind: 'tile-gen' as const, id: 't32x32_sg2x2_k32_b1_un8', splits: 2 };
    const y = t(20, 20);   // the output, in a buffer of its own
    const l = (x: Tensor, w: Tensor, out = y) => ({ M: 20, N: 40, K: 256, dtype: 'f16' as const, x, w, out });
    const off = { robustBufferAccess: false };
    expect(tileWithinBuffers(off, l(t(20, 20), t(40, 64)), s)).toEqual({ ...s, id: 't32x32_sg2x2_k32_b1' });      // x: rows 20..31 past its buffer
    expect(tileWithinBuffers(off, l(t(20, 32), t(40, 40)), s)).toEqual({ ...s, id: 't32x32_sg2x2_k32_b1' });      // w: rows 40..63
    expect(tileWithinBuffers(off, l(t(20, 40, 10), t(40, 64)), s)).toEqual({ ...s, id: 't32x32_sg2x2_k32_b1' });  // a view 10 rows in
    expect(tileWithinBuffers(off, l(t(20, 32), t(40, 64)), s)).toBe(s);                                           // inside both
    expect(tileWithinBuffers({ robustBufferAccess: true }, l(t(20, 20), t(40, 40)), s)).toBe(s);                  // clamped anyway
    expect(tileWithinBuffers({}, l(t(20, 20), t(40, 40)), s)).toBe(s);
    // Kept, its operands are bound to the rows it reads (a read past a binding's range is undefined even inside the
    // buffer: GPU-assisted validation reports it) — unless that range would overlap the output's.
    const arena = { size: 200 * 256 * 2 };
    const views = tileOperandViews(l(t(20, 32), t(40, 64)), tileGenGeometry(s.id))!;
    expect([views.x.shape, views.w!.shape, views.x.offset]).toEqual([[32, 256], [64, 256], 0]);
    expect(tileWithinBuffers(off, l(t(20, 100, 0, arena), t(40, 64), t(20, 100, 20, arena)), s)).toEqual({ ...s, id: 't32x32_sg2x2_k32_b1' });   // x's rows 20..31 are y's
    expect(tileWithinBuffers(off, l(t(20, 100, 0, arena), t(40, 64), t(20, 100, 32, arena)), s)).toBe(s);   // y starts past them
    // The small test configurations have their twins too (lavapipe runs them without robust buffer access by default).
    expect(tileWithinBuffers(off, l(t(20, 20), t(40, 64)), { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b2_u8' })).toEqual({ kind: 'tile-gen', id: 't32x32_sg2x2_k32_b2' });
    const gated = { kind: 'tile-gen' as const, id: 'g64x64_sg2x2_k64_b1_u8_ks2' };
    expect(tileWithinBuffers(off, { M: 40, N: 64, K: 256, dtype: 'f16', x: t(40, 64), wGate: t(64, 64), wUp: t(64, 64), out: y }, gated)).toBe(gated);
    expect(tileWithinBuffers(off, { M: 40, N: 64, K: 256, dtype: 'f16', x: t(40, 40), wGate: t(64, 64), wUp: t(64, 64), out: y }, gated)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1' });
    // A launch on this adapter, seen as one without robust buffer access: exact-size operands take the twin, and it runs right.
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const bare = Object.create(g, { caps: { value: { ...g.caps, robustBufferAccess: false } } }) as Gpu;
    const r = rng(), M = 20, N = 40, K = 256;
    const xv = randomArray(r, M * K, 'f16'), wv = randomArray(r, N * K, 'f16');
    const x = upload(g, xv, [M, K], 'f16', 'x'), w = upload(g, wv, [N, K], 'f16', 'w'), out = poisoned(g, [M, N], 'f16');
    const d = linear(bare, { x, w, out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', emulate: !real } } });
    expect(d.launches.map((q) => q.label)).toEqual([expect.stringMatching(/^tg_t32x32_sg2x2_k32_b1_f16/)]);
    await g.run([d]);
    expectClose(await download(g, out), linearRef({ x: xv, w: wv, M, N, K }), 'f16', 'checked twin without robustness');
    d.release();
    const big = g.tensor([64, K], 'f16'), wide = g.tensor([64, K], 'f16');
    const kept = linear(bare, { x: sliceRows(big, 0, M), w: sliceRows(wide, 0, N), out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', emulate: !real } } });
    expect(kept.launches.map((q) => q.label)).toEqual([expect.stringMatching(/^tg_t32x32_sg2x2_k32_b1_un8/)]);
    kept.release();
    g.release(x, w, out, big, wide);
  });

  it('a split-K product is one step of two launches that owns its partials; bad split counts are refused', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const x = g.tensor([20, 256], 'f16'), w = g.tensor([48, 256], 'f16'), out = g.tensor([20, 48], 'f16');
    const before = g.liveBuffers;
    const d = linear(g, { x, w, out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x16_sg2x1_k64_b1', splits: 4, emulate: !real } } });
    expect(d.launches.map((l) => l.label)).toEqual([expect.stringMatching(/^tgs_t32x16_sg2x1_k64_b1/), expect.stringMatching(/^splitk_reduce/)]);
    expect(d.launches[0]!.workgroups).toEqual([3, 1, 4]);
    expect(g.liveBuffers).toBe(before + 1);   // the shared split-K scratch (f32 partials [4, 20, 48] in it)
    const launches = g.counts.launches;
    await g.run([d]);
    expect(g.counts.launches - launches).toBe(2);
    d.release();
    expect(g.liveBuffers).toBe(before);
    const tune = (id: string, splits: number) => ({ path: 'subgroup-matrix' as const, tune: { sgm: { kind: 'tile-gen' as const, id, splits, emulate: !real } } });
    expect(() => linear(g, { x, w, out }, tune('t128x128_sg2x2_k32_b1', 2))).toThrow(/no split-K entry/);
    expect(() => linear(g, { x, w, out }, tune('t32x16_sg2x1_k64_b1', 1.5))).toThrow(ShapeError);
    expect(() => linear(g, { x, w, out }, tune('t32x16_sg2x1_k64_b1', 0))).toThrow(ShapeError);
    expect(g.liveBuffers).toBe(before);
    g.release(x, w, out);
  });

  it('split-K products share one scratch buffer and stay right back to back in one submission', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const r = rng();
    const M = 11, K = 320, Ns = [48, 8192, 72];   // the second needs more than 1 MiB of scratch: the buffer is replaced
    const x = randomArray(r, M * K, 'f16'), xs = upload(g, x, [M, K], 'f16', 'x');
    const ws = Ns.map((N) => randomArray(r, N * K, 'f16'));
    const wts = ws.map((w, i) => upload(g, w, [Ns[i]!, K], 'f16', 'w'));
    const outs = Ns.map((N) => poisoned(g, [M, N], 'f16'));
    const before = g.liveBuffers;
    const ds = Ns.map((_, i) => linear(g, { x: xs, w: wts[i]!, out: outs[i]! },
      { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x16_sg2x1_k64_b1', splits: 3, emulate: !real } } }));
    expect(g.liveBuffers).toBe(before + 2);   // the first buffer (kept by the first product) and its replacement
    await g.run(ds);
    for (let i = 0; i < Ns.length; i++) {
      expectClose(await download(g, outs[i]!), linearRef({ x, w: ws[i]!, M, N: Ns[i]!, K }), 'f16', `product ${i} seed=${r.seed}`);
    }
    ds[0]!.release();
    expect(g.liveBuffers).toBe(before + 1);
    for (const d of ds) d.release();
    expect(g.liveBuffers).toBe(before);
    g.release(xs, ...wts, ...outs);
  });

  // The reduce that also writes the RMSNorm of each row it sums (LinearArgs.thenNorm: a decode step's O and down
  // projections, then the next block's norm is no launch of its own). y against float64 as any product; xn against
  // the float64 norm of the y the device stored (rounded to f16, as a separate rmsnorm launch would read it).
  it('split-K with the row norm after it: y and rmsnorm(y) ⊙ weight, on ragged M, K and N past one pass of the row', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const id = 't32x16_sg2x1_k64_b1', r = rng();
    const wg = rowWorkgroupSize(g);
    // N: 4 columns a thread, one row past two passes of the workgroup plus 12 columns; then one of 8 columns.
    for (const [M, N, K, S, epi] of [[7, 8 * wg + 12, 200, 3, 'accumulate'], [33, 8, 64 * 5, 4, 'residual'], [1, 4 * wg, 128, 2, 'none']] as const) {
      const x = randomArray(r, M * K, 'f16'), w = randomArray(r, N * K, 'f16');
      const prev = randomArray(r, M * N, 'f16', -4, 4), residual = randomArray(r, M * N, 'f16'), nw = randomArray(r, N, 'f16', 0.5, 1.5);
      const xs = upload(g, x, [M, K], 'f16', 'x'), ws = upload(g, w, [N, K], 'f16', 'w'), nws = upload(g, nw, [N], 'f16', 'nw');
      const out = epi === 'accumulate' ? upload(g, prev, [M, N], 'f16', 'out') : poisoned(g, [M, N], 'f16');
      const rs = epi === 'residual' ? upload(g, residual, [M, N], 'f16', 'residual') : undefined;
      const xn = poisoned(g, [M, N], 'f16', 'xn');
      const eps = 1e-5;
      const d = linear(g, { x: xs, w: ws, out, residual: rs, accumulate: epi === 'accumulate', thenNorm: { weight: nws, eps, out: xn } },
        { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id, splits: S, emulate: !real } } });
      expect(d.launches.map((l) => l.label)).toEqual([expect.stringMatching(/^tgs_t32x16/), expect.stringMatching(/^splitk_reduce_norm/)]);
      await g.run([d]);
      const what = `M=${M} N=${N} K=${K} S=${S} ${epi} seed=${r.seed}`;
      const y = await download(g, out);
      expectClose(y, linearRef({ x, w, M, N, K, residual: rs ? residual : undefined, accumulateInto: epi === 'accumulate' ? prev : undefined }), 'f16', `y ${what}`);
      const got = await download(g, xn);
      expectClose(got, rmsnormRef(Float64Array.from(y), nw, M, N, eps), 'f16', `xn ${what}`);
      // The same bits as the separate launch it replaces, on the y it stored.
      const xn2 = poisoned(g, [M, N], 'f16', 'xn2'), norm = rmsnorm(g, { x: out, weight: nws, out: xn2, eps });
      await g.run([norm]);
      expect(Array.from(got), `xn as rmsnorm's ${what}`).toEqual(Array.from(await download(g, xn2)));
      norm.release();
      d.release();
      g.release(xs, ws, nws, out, xn, xn2, rs);
    }
  });

  it('the row norm after a product: only in a split-K reduce, on plain f16 rows of N % 4 == 0; its operands checked', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const x = g.tensor([8, 256], 'f16'), w = g.tensor([48, 256], 'f16'), out = g.tensor([8, 48], 'f16');
    const nw = g.tensor([48], 'f16'), xn = g.tensor([8, 48], 'f16');
    const thenNorm = { weight: nw, eps: 1e-5, out: xn };
    const tile = (splits?: number) => ({ path: 'subgroup-matrix' as const, tune: { sgm: { kind: 'tile-gen' as const, id: 't32x16_sg2x1_k64_b1', ...(splits ? { splits } : {}), emulate: !real } } });
    expect(() => linear(g, { x, w, out, thenNorm }, tile())).toThrow(/not split/);
    expect(() => linear(g, { x, w, out, thenNorm }, { path: 'gemv' })).toThrow(LimitError);
    expect(() => linear(g, { x, w, out, thenNorm }, { path: 'tiled' })).toThrow(LimitError);
    expect(() => linear(g, { x, w, out, thenNorm: { ...thenNorm, weight: g.tensor([47], 'f16') } }, tile(2))).toThrow(ShapeError);
    expect(() => linear(g, { x, w, out, thenNorm: { ...thenNorm, out: g.tensor([8, 47], 'f16') } }, tile(2))).toThrow(ShapeError);
    expect(() => linear(g, { x, w, out, thenNorm: { ...thenNorm, eps: 0 } }, tile(2))).toThrow(ShapeError);
    expect(() => linear(g, { x, w, out, thenNorm: { ...thenNorm, out } }, tile(2))).toThrow(/alias/);
    const w46 = g.tensor([46, 256], 'f16'), out46 = g.tensor([8, 46], 'f16');
    expect(() => linear(g, { x, w: w46, out: out46, thenNorm: { weight: g.tensor([46], 'f16'), eps: 1e-5, out: g.tensor([8, 46], 'f16') } }, tile(2))).toThrow(/N % 4/);
    // The model asks before it fuses: never on a device whose default kernel is not a split-K tile (this adapter
    // without subgroup matrices: the GEMV), nor for f32 or N % 4 ≠ 0.
    expect(normEpilogueApplies(g.caps, 8, 4096, 16384, 'f32')).toBe(false);
    const big = {
      ...g.caps, isFallbackAdapter: false, vendor: 'nvidia', architecture: 'hopper', device: 'h100', subgroups: true, subgroupMinSize: 32, subgroupMaxSize: 32,
      maxInvocations: 1024, maxWorkgroupSizeX: 1024, maxWorkgroupStorage: 49152, subgroupMatrix: [{ M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }],
    } as typeof g.caps;
    expect(hasSubgroupMatrixF16(big)).toBe(true);
    expect(normEpilogueApplies(big, 8, 4096, 16384, 'f16')).toBe(true);    // down at batch 8: a split tile
    expect(normEpilogueApplies(big, 64, 4096, 4096, 'f16')).toBe(true);    // O at batch 64
    expect(normEpilogueApplies(big, 1, 4096, 16384, 'f16')).toBe(false);   // batch 1: the GEMV
    expect(normEpilogueApplies(big, 64, 4098, 4096, 'f16')).toBe(false);
    expect(normEpilogueApplies(g.caps, 8, 4096, 16384, 'f16')).toBe(hasSubgroupMatrixF16(g.caps));
    g.release(x, w, out, nw, xn, w46, out46);
  });

  it('splitKCount: grids up to the target subgroups, ≥ 4 slices a split, partials ≤ ¼ of the weight bytes', () => {
    const geo = { bm: 32, bn: 64, bk: 64, wg: 128 };
    expect(splitKCount(16, 4096, 4096, geo)).toBe(4);    // 64 tiles of 4 subgroups: ×4 makes 1024
    expect(splitKCount(32, 4096, 16384, geo)).toBe(4);
    expect(splitKCount(32, 32000, 4096, geo)).toBe(1);   // 500 tiles fill the GPU alone
    expect(splitKCount(8, 4096, 16384, { bm: 16, bn: 32, bk: 128, wg: 64 })).toBe(4);   // 128 tiles of 2 subgroups
    expect(splitKCount(64, 1024, 4096, { bm: 64, bn: 64, bk: 64, wg: 128 })).toBe(4);   // 16 tiles, but partials: 4·64·16 ≤ 4096
    expect(splitKCount(9, 64, 192, geo)).toBe(1);   // 3 slices
    for (const [M, N, K] of [[9, 12288, 4096], [64, 32000, 4096], [40, 4096, 16384], [16, 16384, 4096], [8, 512, 16384]] as const) {
      const s = splitKCount(M, N, K, geo), sgs = Math.ceil(N / 64) * Math.ceil(M / 32) * 4;
      expect(s).toBeLessThanOrEqual(SPLITK_MAX);
      expect(sgs * s).toBeLessThanOrEqual(Math.max(SPLITK_TARGET_SUBGROUPS, sgs));
      expect(Math.ceil(K / 64) / s).toBeGreaterThanOrEqual(4);
      expect(8 * s * M * N).toBeLessThanOrEqual(0.25 * 2 * N * K);
    }
  });
});

// Weights in 64 × 64 blocks (SgmTileGenShape.wblk, WGSL WBLK): the 16-byte decode tiles read a 64-column tile's
// slice as one contiguous run. Emulated on a CPU adapter: slices of 32 (two a block row), 64 and 128 halves (two
// blocks a chunk row), split-K, _u8p2, _ks2 and gated; whole row tiles (the unchecked tiles' loads), several column
// blocks. The weights are uploaded blocked and the reference takes them row-major: a tile that ignored WBLK fails.
describe('linear / gatedLinear: weights in 64 × 64 blocks (wblk)', () => {
  it('toWeightBlocks puts every element once, each block contiguous; refuses partial blocks', () => {
    const N = 128, K = 192, src = new Float32Array(N * K).map((_, i) => i);
    const b = toWeightBlocks(src, N, K);
    expect(new Set(b).size).toBe(N * K);
    for (const [n, k] of [[0, 0], [63, 63], [64, 0], [5, 130], [127, 191]] as const) expect(b[weightBlockIndex(n, k, K)]).toBe(n * K + k);
    // Block (1, 2) (rows 64..127, columns 128..191) is elements 4096·(1·3 + 2) .. +4096, row by row.
    expect(Array.from(b.subarray(5 * 4096, 5 * 4096 + 3))).toEqual([64 * K + 128, 64 * K + 129, 64 * K + 130]);
    expect(b[5 * 4096 + 64]).toBe(65 * K + 128);
    expect(() => toWeightBlocks(new Float32Array(96 * 64), 96, 64)).toThrow(ShapeError);
    expect(() => toWeightBlocks(new Float32Array(10), 64, 64)).toThrow(ShapeError);
    // 16 × 16 blocks (the direct kernel's WB16): matrix (1, 2) of a 32 × 48 weight is elements 256·(1·3 + 2) .. +256.
    const b16 = toWeightBlocks(new Float32Array(32 * 48).map((_, i) => i), 32, 48, 16);
    expect(new Set(b16).size).toBe(32 * 48);
    expect(Array.from(b16.subarray(5 * 256, 5 * 256 + 2))).toEqual([16 * 48 + 32, 16 * 48 + 33]);
    expect(b16[5 * 256 + 16]).toBe(17 * 48 + 32);
    expect(b16[weightBlockIndex(31, 47, 48, 16)]).toBe(31 * 48 + 47);
    expect(() => toWeightBlocks(new Float32Array(24 * 48), 24, 48, 16)).toThrow(ShapeError);
  });

  it('the direct kernel on weights in 16 × 16 blocks (WB16; tensor cores only): 64-row blocks of 4 subgroups, 4×4, gated', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || !hasSubgroupMatrixF16(g.caps)) { ctx.skip(); return; }
    const shapes: SgmDirectShape[] = [
      { tm: 4, tn: 1, sgRows: 1, sgCols: 4, prefetch: true, wb16: true }, { tm: 1, tn: 4, sgRows: 4, sgCols: 1, prefetch: false, wb16: true },
      { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true, wb16: true }, { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: true, k32: true, wb16: true },
    ];
    // Ragged M (the clamped last row block); N whole 16-column blocks, several workgroups.
    for (const sgm of shapes) await check(g, { M: 45, N: 144, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true });
    await checkGated(g, 37, 80, 64, { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false, wb16: true }, 'gelu_tanh');
    const x = g.tensor([16, 64], 'f16'), w = g.tensor([40, 64], 'f16'), out = g.tensor([16, 40], 'f16');
    expect(() => linear(g, { x, w, out }, { path: 'subgroup-matrix', tune: { sgm: shapes[0]! } })).toThrow(ShapeError);   // N % 16 != 0
    g.release(x, w, out);
  }, 300_000);

  const CASES: [string, number, number, number, number?][] = [
    // [id, M, N, K, splits]
    ['t32x32_sg2x2_k32_b1_un8', 64, 128, 192], ['t32x32_sg2x2_k32_b1_u8p2', 32, 64, 320], ['t32x32_sg2x2_k32_b1_u8p2', 32, 128, 384, 3],
    ['t32x32_sg2x2_k64_b1_u8_ks2', 32, 64, 320], ['t16x32_sg1x2_k128_b1_u8', 16, 64, 256], ['t32x32_sg2x2_k32_b1_un8', 32, 64, 256, 2],
    // BN 64 (a tile a block wide: the ones the benchmarks time), whole and split.
    ['t32x64_sg1x4_k64_b1_u8', 32, 128, 256], ['t32x64_sg1x4_k64_b1_u8p2', 32, 128, 384, 2],
  ];
  for (const [id, M, N, K, splits] of CASES) {
    it(`${id}${splits ? ` split ${splits} ways` : ''} on ${M}x${N}x${K}`, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const sgm = { kind: 'tile-gen' as const, id, wblk: true, emulate: !hasSubgroupMatrixF16(g.caps), ...(splits ? { splits } : {}) };
      await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm } });
      if (!splits) await check(g, { M, N, K, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_tanh', residual: true });
    }, 300_000);
  }

  it('gated: g32x32_sg1x2_k32_b1_u8p2_ks2 and split g32x32_sg1x2_k32_b1_u8p2', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const emulate = !hasSubgroupMatrixF16(g.caps);
    await checkGated(g, 32, 128, 256, { kind: 'tile-gen', id: 'g32x32_sg1x2_k32_b1_u8p2_ks2', wblk: true, emulate }, 'gelu_tanh');
    await checkGated(g, 32, 64, 320, { kind: 'tile-gen', id: 'g32x32_sg1x2_k32_b1_u8p2', wblk: true, splits: 2, emulate }, 'gelu_erf');
    // BN 64, 8 chunks a row: blocked gate and up rows with the alternating stores (the default).
    await checkGated(g, 16, 128, 256, { kind: 'tile-gen', id: 'g16x64_sg1x4_k64_b1_u8', wblk: true, emulate }, 'gelu_tanh');
  }, 300_000);

  it('FAPOOL_TILE_DEBUG: xfix reuses x\'s K-slice 0 every slice, wfix the weights\' (measurement only: the products it is meant to give)', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const emulate = !hasSubgroupMatrixF16(g.caps), r = rng(), M = 32, N = 32, K = 96, BK = 32;
    const x = randomArray(r, M * K, 'f16'), w = randomArray(r, N * K, 'f16');
    // Each row's slices all replaced by its first (what a tile reading slice 0 every slice multiplies).
    const firstSlice = (a: Float64Array) => a.map((_, i) => a[Math.floor(i / K) * K + (i % K) % BK]!);
    for (const [mode, xs, ws] of [['xfix', firstSlice(x), w], ['wfix', x, firstSlice(w)], ['xfix,wfix', firstSlice(x), firstSlice(w)]] as const) {
      await withEnv('FAPOOL_TILE_DEBUG', mode, async () => {
        const xt = upload(g, x, [M, K], 'f16', 'x'), wt = upload(g, w, [N, K], 'f16', 'w'), out = poisoned(g, [M, N], 'f16');
        const d = linear(g, { x: xt, w: wt, out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', emulate } } });
        await g.run([d]);
        expectClose(await download(g, out), linearRef({ x: xs, w: ws, M, N, K }), 'f16', `FAPOOL_TILE_DEBUG=${mode} seed=${r.seed}`);
        d.release(); g.release(xt, wt, out);
      });
    }
  }, 300_000);

  it('epilogue scratch in turns (CS_TURNS): plain, split-K, gated and RoPE-free decode tiles give the same products; FAPOOL_TILE_CS and the auto choice', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const sgm = tileShapes(g);
    // Four subgroups sharing two regions (2 turns) or one (4 turns); ragged M and N, several slices.
    for (const t of [2, 4]) {
      await check(g, { M: 45, N: 77, K: 192, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x32_sg2x2_k32_b1_un8', t) }, bias: true, residual: true });
      await check(g, { M: 32, N: 64, K: 384, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x32_sg2x2_k32_b1_u8p2', t, 3) } });
    }
    // The 64 × 32 decode tiles on 16-byte staging (session 45), whole and in turns, unsplit and split.
    for (const t of [1, 2]) {
      await check(g, { M: 64, N: 96, K: 192, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t64x32_sg2x2_k64_b1_u8', t) }, bias: true });
      await check(g, { M: 50, N: 64, K: 320, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t64x32_sg2x2_k64_b1_un8', t, 2) } });
    }
    // Accumulate: an epilogue that ran twice (a region flushed out of its turn) would add twice.
    await check(g, { M: 40, N: 64, K: 128, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: sgm('t32x32_sg2x2_k32_b1_un8', 2) }, accumulate: true });
    // Two subgroups, gated, unsplit and split.
    await checkGated(g, 33, 40, 64, sgm('g32x32_sg1x2_k32_b1', 2), 'gelu_tanh');
    await checkGated(g, 32, 64, 192, sgm('g32x32_sg1x2_k32_b1_u8p2', 2, 3), 'gelu_erf');
    // The key: CS_TURNS only when turns > 1; a count that does not divide the subgroups is refused.
    const key = (id: string, csTurns?: number) => tileConstants(g, id, ['CS_TURNS'], [32, 32, 64], g, csTurns ? { csTurns } : {})[0] ?? 'none';
    expect([key('t32x32_sg2x2_k32_b1_un8'), key('t32x32_sg2x2_k32_b1_un8', 4), await withEnv('FAPOOL_TILE_CS', '2', async () => key('t32x32_sg2x2_k32_b1_un8'))]).toEqual(['none', '4', '2']);
    expect(() => key('t32x32_sg2x2_k32_b1_un8', 3)).toThrow(LimitError);
    // Turns asked of a tile that flushes whole (BM > 64, _ks2) are refused too; FAPOOL_TILE_CS leaves such tiles whole.
    expect(() => tileCsTurns(g.caps, tileGenGeometry('t128x128_sg2x2_k32_b1_u8'), 2)).toThrow(/flushes whole/);
    expect(() => tileCsTurns(g.caps, tileGenGeometry('g64x64_sg2x2_k64_b1_u8_ks2'), 2)).toThrow(/flushes whole/);
    expect([tileCsTurns(g.caps, tileGenGeometry('t128x128_sg2x2_k32_b1_u8'), undefined, 2), tileCsTurns(g.caps, tileGenGeometry('t128x128_sg2x2_k32_b1_u8'), 1)]).toEqual([1, 1]);
    // FAPOOL_TILE_CS: tile (default), whole, auto, a power of two; anything else refused.
    expect([tileCsMode(), await withEnv('FAPOOL_TILE_CS', 'auto', async () => tileCsMode()), await withEnv('FAPOOL_TILE_CS', '4', async () => tileCsMode()),
      await withEnv('FAPOOL_TILE_CS', 'whole', async () => tileCsMode())]).toEqual(['tile', 'auto', 4, 'whole']);
    for (const bad of ['3', 'half', '0', '8', '0x4', '4.0']) await expect(withEnv('FAPOOL_TILE_CS', bad, async () => tileCsMode())).rejects.toThrow(/FAPOOL_TILE_CS/);
    // auto at NVIDIA's 48 KB: the t32x64 decode tiles (13.5 KB staging + 4 KB scratch: two a SM) take 2 turns (three a
    // SM); the 64-row tile (18 + 4 KB) gains nothing; the prefill and _ks2 tiles have no turns; a turn count that does
    // not divide a tile's subgroups leaves it whole.
    const nv = { maxWorkgroupStorage: 49152 };
    const auto = (id: string) => tileCsTurns(nv, tileGenGeometry(id), undefined, 'auto');
    expect([auto('t32x64_sg1x4_k64_b1_u8p2'), auto('t64x32_sg2x2_k64_b1_u8'), auto('t64x64_sg1x4_k64_b1_u8'), auto('t128x128_sg2x2_k32_b1_u8'), auto('g64x64_sg2x2_k64_b1_u8_ks2')])
      .toEqual([2, 2, 1, 1, 1]);
    expect([tileGenBytes(tileGenGeometry('t32x64_sg1x4_k64_b1_u8p2')), tileGenBytes(tileGenGeometry('t32x64_sg1x4_k64_b1_u8p2'), 2)]).toEqual([17920, 15872]);
    expect([tileCsTurns(nv, tileGenGeometry('g32x32_sg1x2_k32_b1'), undefined, 4), tileCsTurns(nv, tileGenGeometry('t32x64_sg1x4_k64_b1_u8p2'), undefined, 'whole'),
      auto('g16x64_sg1x4_k64_b1_u8p2')]).toEqual([1, 1, 4]);
    // tile (the default): auto on the gated decode tiles and the 64 × 32 ones, whole on the other plain ones.
    const tile = (id: string) => tileCsTurns(nv, tileGenGeometry(id), undefined, 'tile');
    expect([tile('g16x64_sg1x4_k64_b1_u8p2'), tile('t64x32_sg2x2_k64_b1_u8'), tile('t32x64_sg1x4_k64_b1_u8p2'), tile('t64x64_sg1x4_k64_b1_u8'),
      tile('g64x64_sg2x2_k64_b1_u8_ks2'), tile('t128x128_sg2x2_k32_b1_u8')]).toEqual([4, 2, 1, 1, 1, 1]);
  }, 300_000);

  it('FAPOOL_TILE_STS: alt (a chunk\'s 8-byte halves stored in alternating order) or plain, rows (rows 4 apart a store phase) or seq — default alt,rows: the same products', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const emulate = !hasSubgroupMatrixF16(g.caps);
    // The generated tile tests run alt (the default); here plain, 8 and 16 chunks a row, split, blocked, deep.
    await withEnv('FAPOOL_TILE_STS', 'plain', async () => {
      await check(g, { M: 32, N: 64, K: 320, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k64_b1_u8_ks2', emulate } }, bias: true, residual: true });
      await check(g, { M: 16, N: 64, K: 512, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't16x32_sg1x2_k128_b1_u8', splits: 2, wblk: true, emulate } } });
    });
    const tileFlags = (id: string, names: string[], dims: [number, number, number], gg: Gpu = g) => tileConstants(g, id, names, dims, gg);
    const key = () => tileFlags('t16x32_sg1x2_k128_b1_u8', ['STS_ALT'], [16, 64, 128])[0];
    expect([key(), await withEnv('FAPOOL_TILE_STS', 'plain', async () => key()), await withEnv('FAPOOL_TILE_STS', 'alt', async () => key())]).toEqual(['true', 'false', 'true']);
    for (const bad of ['zigzag', ',rows', 'alt,plain', 'rows,seq', 'rows,rows', 'alt,,rows', 'rows16,seq16', 'row16']) await expect(withEnv('FAPOOL_TILE_STS', bad, async () => key())).rejects.toThrow(/FAPOOL_TILE_STS/);
    // rows / seq: the 8-byte staging tiles of 8 chunks a row take their rows 4 apart a store phase, or consecutive ones
    // — unchecked, checked (ragged) and double-buffered, a workgroup of 4 subgroups (the other tests run rows).
    for (const sts of ['seq', 'plain,seq', 'plain']) {
      await withEnv('FAPOOL_TILE_STS', sts, async () => {
        await check(g, { M: 64, N: 64, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un', emulate } }, bias: true });
        await check(g, { M: 45, N: 77, K: 100, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1', emulate } } });
        await check(g, { M: 37, N: 40, K: 132, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b2', emulate } }, residual: true });
      });
    }
    // rows16 (the default; the other tests run it) and seq16: the 16-byte staging tiles of 4 chunks a row take their
    // rows 4 apart and bit-3 rows store their second half first, or consecutive rows — unchecked, prefetching two
    // slices, split, blocked, gated, _ks2; workgroups of 4 and 8 subgroups (rows per pass 32 and 64). The RoPE
    // entries: rope-epilogue.test.ts.
    for (const sts of ['rows16', 'seq16']) await withEnv('FAPOOL_TILE_STS', sts, async () => {
      await check(g, { M: 64, N: 128, K: 192, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', emulate } }, bias: true });
      await check(g, { M: 32, N: 64, K: 320, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_u8p2', wblk: true, emulate } }, residual: true });
      await check(g, { M: 32, N: 128, K: 384, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', splits: 3, emulate } } });
      await checkGated(g, 64, 128, 256, { kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1_u8', emulate }, 'gelu_tanh');
      await checkGated(g, 64, 64, 192, { kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1_un8', wblk: true, emulate }, 'gelu_erf');
      // Eight subgroups (rows per pass 64: the robust gated prefill default; 47 KB of workgroup memory, more than a
      // CPU adapter gives: tensor cores only) and the K-halved _ks2 tile.
      const big = { kind: 'tile-gen' as const, id: 'g128x128_sg2x4_k32_b1_u8', emulate };
      if (sgmTileGenFits(g.caps, big)) await checkGated(g, 128, 128, 64, big, 'gelu_tanh');
      await checkGated(g, 32, 64, 128, { kind: 'tile-gen', id: 'g32x32_sg1x2_k32_b1_u8_ks2', emulate }, 'gelu_tanh');
    });
    // sub / xor / mask: the same offsets written three ways (STS_HALVES), under rows16 and under alt (16 chunks a row);
    // pad: the 16-byte staging rows past their pad (STS_PAD).
    for (const halves of ['xor', 'sub', 'mask', 'pad', 'sub,pad']) {
      await withEnv('FAPOOL_TILE_STS', `rows16,${halves}`, async () => {
        await check(g, { M: 64, N: 128, K: 192, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_un8', emulate } }, bias: true });
        await checkGated(g, 64, 64, 192, { kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1_un8', wblk: true, emulate }, 'gelu_erf');
      });
      await withEnv('FAPOOL_TILE_STS', halves, async () => {
        await check(g, { M: 16, N: 64, K: 512, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't16x32_sg1x2_k128_b1_u8', splits: 2, wblk: true, emulate } } });
      });
    }
    // pad on the other 16-byte staging forms: K halves (_ks2), two tile buffers, two slices prefetched.
    await withEnv('FAPOOL_TILE_STS', 'mask,pad', async () => {
      await check(g, { M: 32, N: 64, K: 320, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k64_b1_u8_ks2', emulate } }, bias: true });
      await check(g, { M: 32, N: 64, K: 192, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b2_u8', emulate } }, residual: true });
      await check(g, { M: 32, N: 128, K: 384, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id: 't32x32_sg2x2_k32_b1_u8p2', splits: 3, emulate } } });
    });
    // mask,pad by default on the rows16 tiles (16-byte chunks, BK 32) without robust buffer access; sub,nopad on the
    // alt tiles (BK 64 / 128: the 8-row split decode tiles lost with mask) and with robust buffer access. A token given
    // applies to every tile.
    const robustG = Object.create(g, { caps: { value: { ...g.caps, robustBufferAccess: true } } }) as Gpu;
    const bareG = Object.create(g, { caps: { value: { ...g.caps, robustBufferAccess: false } } }) as Gpu;
    const stsKey = (id: string, gg: Gpu) => tileFlags(id, ['STS_HALVES', 'STS_PAD'], id.startsWith('t16x32') ? [16, 64, 128] : [32, 32, 64], gg).join(' ');
    const rows16Id = 't32x32_sg2x2_k32_b1_un8', altId = 't16x32_sg1x2_k128_b1_u8';
    expect([stsKey(rows16Id, bareG), stsKey(altId, bareG), stsKey(rows16Id, robustG), stsKey(altId, robustG)]).toEqual(['2 true', '0 false', '0 false', '0 false']);
    expect([await withEnv('FAPOOL_TILE_STS', 'xor', async () => stsKey(rows16Id, bareG)), await withEnv('FAPOOL_TILE_STS', 'alt,mask', async () => stsKey(altId, robustG)),
      await withEnv('FAPOOL_TILE_STS', 'sub', async () => stsKey(rows16Id, bareG)), await withEnv('FAPOOL_TILE_STS', 'mask,pad', async () => stsKey(altId, bareG)),
      await withEnv('FAPOOL_TILE_STS', 'nopad', async () => stsKey(rows16Id, bareG))]).toEqual(['1 true', '2 false', '0 true', '2 true', '2 false']);
    await expect(withEnv('FAPOOL_TILE_STS', 'xor,mask', async () => stsKey(altId, g))).rejects.toThrow(/FAPOOL_TILE_STS/);
    await expect(withEnv('FAPOOL_TILE_STS', 'pad,nopad', async () => stsKey(altId, g))).rejects.toThrow(/FAPOOL_TILE_STS/);
    // STS_ROWS16 is on by default, with or without robust buffer access (since mask), unless FAPOOL_TILE_STS says seq16.
    const rows16Flag = (gg: Gpu = g) => tileFlags('t32x32_sg2x2_k32_b1_un8', ['STS_ROWS16'], [32, 32, 64], gg)[0];
    expect([rows16Flag(bareG), await withEnv('FAPOOL_TILE_STS', 'rows16', async () => rows16Flag()),
      await withEnv('FAPOOL_TILE_STS', 'plain,seq,seq16', async () => rows16Flag()), rows16Flag(robustG),
      await withEnv('FAPOOL_TILE_STS', 'alt,seq16', async () => rows16Flag(robustG))]).toEqual(['true', 'true', 'false', 'true', 'false']);
    const rowsKey = () => tileFlags('t32x32_sg2x2_k32_b1_un', ['STS_ROWS'], [32, 32, 64])[0];
    expect([rowsKey(), await withEnv('FAPOOL_TILE_STS', 'seq', async () => rowsKey()), await withEnv('FAPOOL_TILE_STS', 'plain', async () => rowsKey()),
      await withEnv('FAPOOL_TILE_STS', 'alt,rows', async () => rowsKey())]).toEqual(['true', 'false', 'true', 'true']);
    // FAPOOL_TILE_DEBUG (measurement only): its switches reach the pipeline; anything else is refused.
    const debugKey = (v: string) => withEnv('FAPOOL_TILE_DEBUG', v, async () => tileFlags('t16x32_sg1x2_k128_b1_u8', ['XFIX', 'WFIX'], [16, 64, 128]));
    expect([await debugKey('xfix'), await debugKey('wfix, xfix')]).toEqual([['true', 'false'], ['true', 'true']]);
    await expect(debugKey('nofix')).rejects.toThrow(LimitError);
  }, 300_000);

  it('refuses checked tiles, tiles wider than a block and partial blocks', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const emulate = !hasSubgroupMatrixF16(g.caps);
    const run = (id: string, N: number, K: number) => {
      const x = g.tensor([32, K], 'f16'), w = g.tensor([N, K], 'f16'), out = g.tensor([32, N], 'f16');
      try { linear(g, { x, w, out }, { path: 'subgroup-matrix', tune: { sgm: { kind: 'tile-gen', id, wblk: true, emulate } } }).release(); } finally { g.release(x, w, out); }
    };
    expect(() => run('t32x32_sg2x2_k32_b1', 64, 128)).toThrow(LimitError);          // checked staging
    expect(() => run('t32x32_sg2x2_k32_b1_un', 64, 128)).toThrow(LimitError);       // 8-byte staging
    expect(() => run('t128x128_sg2x2_k32_b1_un8', 128, 128)).toThrow(LimitError);   // BN 128: two blocks a tile row
    expect(() => run('t32x32_sg2x2_k32_b1_un8', 96, 128)).toThrow(ShapeError);      // N not whole blocks
    expect(() => run('t32x32_sg2x2_k32_b1_un8', 64, 96)).toThrow(ShapeError);       // K not whole blocks
  });
});

describe('linear / gatedLinear: generated skinny subgroup-matrix kernel (skinny-gen)', () => {
  for (const id of SGM_SKINNY_GEN_IDS) {
    const geo = skinnyGenGeometry(id);
    const big = SGM_SKINNY_GEN_BIG.includes(id);
    it(`${id} on ragged M, N and K tails${geo.gated ? '' : ' with epilogues'}`, async (ctx) => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      if (!g.caps.f16 || (real && !big) || (!real && big && !SKINNY_GEN_EMU_BIG.has(id))) { ctx.skip(); return; }
      const sgm = { kind: 'skinny-gen' as const, id, emulate: !real };
      if (!sgmSkinnyGenFits(g.caps, sgm)) { console.info(`[gemm] skinny-gen ${id}: does not fit this device`); ctx.skip(); return; }
      // Rows: the fewest and most the entry takes and a ragged count between; N: more than one workgroup with a
      // clamped last column block; K: whole rounds plus a partial one (and, direct, a tail of single steps).
      const lo = geo.minM, hi = geo.maxM;
      const Ms = [...new Set([lo, Math.max(lo, hi - 5), hi, ...(geo.staged && hi > 16 ? [17] : [])])];
      const N = 2 * geo.bn + 5, K = 2 * geo.kr + 48;
      const cases = big && !real ? [[Math.max(lo, hi - 5), geo.bn + 3, geo.kr + 48]] : Ms.map((M) => [M, N, K]);
      if (geo.gated) {
        for (const [M, F, KK] of cases) await checkGated(g, M!, F!, KK!, sgm, 'gelu_tanh');
        if (!big || real) await checkGated(g, lo, 40, 96, sgm, 'gelu_erf');
        return;
      }
      for (const [M, NN, KK] of cases) await check(g, { M: M!, N: NN!, K: KK!, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm } });
      if (big && !real) return;
      await check(g, { M: hi, N: 45, K: 96, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_tanh', accumulate: true });
      await check(g, { M: lo, N: 40, K: 48, dtype: 'f16', path: 'subgroup-matrix', tune: { sgm }, bias: true, act: 'gelu_erf', residual: true });
    }, 300_000);
  }

  it('refuses the wrong product, rows out of range, K % 16 != 0 and unknown ids', async () => {
    const g = await gpu();
    if (!g.caps.f16) return;
    const real = hasSubgroupMatrixF16(g.caps);
    const sgm = (id: string) => ({ sgm: { kind: 'skinny-gen' as const, id, emulate: !real } });
    const t = (M: number, K: number) => g.tensor([M, K], 'f16');
    const lin = (M: number, N: number, K: number, id: string) => linear(g, { x: t(M, K), w: t(N, K), out: t(M, N) }, { path: 'subgroup-matrix', tune: sgm(id) });
    expect(() => lin(8, 32, 32, 'gm1_sn1_sk2_tn1_u2_xs_p')).toThrow(/gated/);
    expect(() => lin(17, 32, 32, 'tm1_sn2_sk2_tn1_u2_xs')).toThrow(ShapeError);      // rows > 16·MT
    expect(() => lin(8, 32, 32, 'tm2_sn1_sk2_tn2_u1_xd_p')).toThrow(ShapeError);     // direct x needs M ≥ 16
    expect(() => lin(8, 32, 40, 'tm1_sn2_sk2_tn1_u2_xs')).toThrow(ShapeError);       // K % 16
    expect(() => lin(8, 8, 32, 'tm1_sn2_sk2_tn1_u2_xs')).toThrow(ShapeError);        // N < 16
    expect(() => skinnyGenGeometry('tm3_sn1_sk8_tn1_u4_xs')).toThrow(LimitError);
  });

  it('FAPOOL_GEMM_SKINNY gives decode rows to the generated kernel (default: 9..64 rows), the norm prologue follows', () => {
    expect(GEMM_SKINNY_DEFAULT).toBe('gen');
    expect(gemmSkinnyOverride(undefined)).toEqual(gemmSkinnyOverride(GEMM_SKINNY_DEFAULT));
    expect(gemmSkinnyOverride('array').gen).toBe(false);
    expect(gemmSkinnyOverride('gen')).toEqual({ gen: true, minM: 9, maxM: 64, ids: SKINNY_GEN_AUTO });
    expect(gemmSkinnyOverride('gen:max=16').maxM).toBe(16);
    expect(gemmSkinnyOverride('gen:min=8,tm1_sn1_sk16_tn1_u2_xs')).toMatchObject({ gen: true, minM: 8, ids: { t1: 'tm1_sn1_sk16_tn1_u2_xs', g1: SKINNY_GEN_AUTO.g1 } });
    expect(gemmSkinnyOverride('tm2_sn1_sk8_tn2_u2_xd,gm4_sn1_sk8_tn1_u2_xd_p')).toMatchObject({ gen: true, ids: { t2: 'tm2_sn1_sk8_tn2_u2_xd', g4: 'gm4_sn1_sk8_tn1_u2_xd_p' } });
    for (const bad of ['fast', 'gen:min=10', 'gen:min=0', 'gen:max=8', 'gen:max=65', 'gen:tm9_x', 'tm1_nope']) expect(() => gemmSkinnyOverride(bad), bad).toThrow(LimitError);
    for (const id of Object.values(SKINNY_GEN_AUTO)) expect(SGM_SKINNY_GEN_BIG).toContain(id);
    const caps = {
      f16: true, subgroups: true, subgroupMinSize: 32, subgroupMaxSize: 32, maxInvocations: 1024, maxWorkgroupSizeX: 1024,
      maxWorkgroupStorage: 49152, subgroupMatrix: [{ M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }],
    } as unknown as Parameters<typeof chooseSgmKernel>[0];
    restoringEnv('FAPOOL_GEMM_SKINNY', () => {
      delete process.env.FAPOOL_GEMM_SKINNY;   // the default: GEMV ≤ 8 (norm fused at M ≤ 2; down ≤ 4), decode tiles 9..64 (down 5..64)
      expect(chooseGemmPath(caps, 7, 4096, 4096, 'f16')).toBe('gemv');
      expect(normPrologueApplies(caps, 1, 4096, 4096, 'f16')).toBe(true);
      // The default: normed products of 5..8 rows (QKV, gate/up, LM head) on the GEMV with f16-pair products (they
      // beat the decode tiles there); the others keep f32 products: O on the GEMV up to 8 rows (session 53), down on
      // the tiles from 5.
      restoringEnv('FAPOOL_GEMV_HALF', () => restoringEnv('FAPOOL_DECODE_TILES', () => {
        delete process.env.FAPOOL_GEMV_HALF;
        delete process.env.FAPOOL_DECODE_TILES;
        for (const [N, K, gated, cpt, u] of [[12288, 4096, false, 2, 1], [32000, 4096, false, 2, 1], [4096, 4096, false, 1, 2], [16384, 4096, true, 1, 1]] as const) {
          expect(chooseGemmPath(caps, 8, N, K, 'f16', gated, true), `${N}x${K}`).toBe('gemv');
          expect(gemvSgChoice(caps, { M: 8, N, K, dtype: 'f16', normed: true, kind: gated ? 'gated' : 'linear' }), `${N}x${K}`).toEqual({ cpt, u, half: true });
        }
        // Without robust buffer access the QKV shape takes 2 vectors a trip (session 29); the others keep theirs.
        const offCaps = { ...caps, robustBufferAccess: false };
        for (const [N, K, gated, cpt, u] of [[12288, 4096, false, 2, 2], [32000, 4096, false, 2, 1], [4096, 4096, false, 1, 2], [16384, 4096, true, 1, 1],
          [16384, 4096, false, 2, 2], [16385, 4096, false, 2, 1], [4100, 4096, false, 2, 2], [12288, 8192, false, 1, 2], [12288, 8184, false, 2, 2]] as const) {
          expect(gemvSgChoice(offCaps, { M: 8, N, K, dtype: 'f16', normed: true, kind: gated ? 'gated' : 'linear' }), `off ${N}x${K}`).toEqual({ cpt, u, half: true });
        }
        expect(chooseGemmPath(caps, 8, 12288, 4096, 'f16')).toBe('gemv');   // not normed: the GEMV too (DECODE_TILE_WIDE_PLAIN_MIN_M = 9)
        expect(gemvSgChoice(caps, { M: 8, N: 4096, K: 16384, dtype: 'f16' })).toEqual({ cpt: 4, u: 2, half: false });
        expect(gemvSgChoice(caps, { M: 4, N: 4096, K: 4096, dtype: 'f16', normed: true })).toEqual({ cpt: 2, u: 2, half: false });   // below 5 rows
        expect(gemvSgChoice(caps, { M: 8, N: 4096, K: 4100, dtype: 'f16', normed: true })).toBeNull();   // K % 8: the per-column kernel
        expect(chooseGemmPath(caps, 8, 4096, 4096, 'f32', false, true)).toBe('gemv');
        process.env.FAPOOL_DECODE_TILES = 'split:rows=9';   // tiles named from 9 rows only: 8 rows keep the f16 pairs
        expect(chooseGemmPath(caps, 8, 12288, 4096, 'f16', false, true)).toBe('gemv');
        process.env.FAPOOL_DECODE_TILES = 'split:rows=5';   // tiles named from 5 rows: they take them
        expect(chooseGemmPath(caps, 5, 12288, 4096, 'f16', false, true)).toBe('subgroup-matrix');
        delete process.env.FAPOOL_DECODE_TILES;
        process.env.FAPOOL_GEMV_HALF = '0';
        expect(gemvSgChoice(caps, { M: 8, N: 16384, K: 4096, dtype: 'f16', normed: true, kind: 'gated' })).toEqual({ cpt: 1, u: 1, half: false });
        expect(chooseGemmPath(caps, 8, 12288, 4096, 'f16', false, true)).toBe('gemv');
        process.env.FAPOOL_DECODE_TILES = 'split:plain=8';   // without the f16 pairs a normed product is as any plain one
        expect(chooseGemmPath(caps, 8, 12288, 4096, 'f16', false, true)).toBe(DECODE_TILES_WIDE ? 'subgroup-matrix' : 'gemv');
        delete process.env.FAPOOL_DECODE_TILES;
        process.env.FAPOOL_GEMV_HALF = 'yes';
        expect(() => gemvSgChoice(caps, { M: 8, N: 4096, K: 4096, dtype: 'f16', normed: true })).toThrow(LimitError);
      }));
      restoringEnv('FAPOOL_GEMV_HALF', () => {
        process.env.FAPOOL_GEMV_HALF = '0';   // below: the decode tiles' rules, with the GEMV's f32 products
        restoringEnv('FAPOOL_DECODE_TILES', () => {
          delete process.env.FAPOOL_DECODE_TILES;   // the default: every product of 9..64 rows on a decode tile, K split
          const tile = (M: number, N: number, K: number, gated = false) => chooseDecodeTile(caps, M, N, K, gated);
          const w = (id: string) => DECODE_TILES_WIDE ? `${id}_u8` : id;   // the default staging's twin
          // Split tiles of up to 32 rows: two slices prefetched where the default staging is _un8 (DECODE_TILES_DEEP_SPLIT).
          const d = (id: string) => DECODE_TILES_WIDE && DECODE_TILES_DEEP_SPLIT && decodeTilesNoPrefetch(caps, decodeTilesMode()) ? `${id}_u8p2` : w(id);
          expect(chooseSgmKernel(caps, 16, 4096, 4096, false)).toEqual(tile(16, 4096, 4096));
          // Narrow products split (64 tiles of 4 subgroups: ×4), wide ones do not; wide ones up to 16 rows on t16x32.
          expect(tile(16, 4096, 4096)).toEqual({ kind: 'tile-gen', id: d('t32x64_sg1x4_k64_b1'), splits: 4 });
          expect(tile(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: w('t64x64_sg1x4_k64_b1'), splits: 4 });
          expect(tile(9, 12288, 4096)).toEqual({ kind: 'tile-gen', id: w('t16x32_sg1x2_k128_b1') });
          expect(tile(17, 32000, 4096)).toEqual({ kind: 'tile-gen', id: w('t32x64_sg1x4_k64_b1') });
          // 33..64 rows: a wide product of up to DECODE_TILE_BN32_MAX_N columns (qkv) on the 64 × 32 tile (16-byte staging),
          // a wider one (the LM head) on 64 × 64.
          expect(tile(33, 12288, 4096)).toEqual({ kind: 'tile-gen', id: DECODE_TILES_WIDE ? 't64x32_sg2x2_k64_b1_u8' : 't64x64_sg1x4_k64_b1' });
          expect(tile(64, DECODE_TILE_BN32_MAX_N, 4096)).toEqual({ kind: 'tile-gen', id: DECODE_TILES_WIDE ? 't64x32_sg2x2_k64_b1_u8' : 't64x64_sg1x4_k64_b1' });
          expect(tile(64, DECODE_TILE_BN32_MAX_N + 64, 4096)).toEqual({ kind: 'tile-gen', id: w('t64x64_sg1x4_k64_b1') });
          expect(tile(64, 32000, 4096)).toEqual({ kind: 'tile-gen', id: w('t64x64_sg1x4_k64_b1') });
          // 33..64 gated rows: the _ks2 twin by default (16-byte tiles).
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: DECODE_TILES_WIDE ? 'g64x64_sg2x2_k64_b1_u8_ks2' : 'g64x64_sg2x2_k32_b1' });
          expect(tile(17, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: w('g32x64_sg1x4_k64_b1') });
          expect(tile(9, 16, 64)).toEqual({ kind: 'tile-gen', id: w('t32x64_sg1x4_k64_b1') });   // one slice: nothing to split
          // The GEMV keeps 1..8 rows, but for a narrow long-K product (down) from 5 (and, with 16-byte staging, every
          // plain product from DECODE_TILE_WIDE_PLAIN_MIN_M: 9 since session 53, so o's 8 rows stay).
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseGemmPath(caps, 7, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseGemmPath(caps, 8, 16384, 4096, 'f16', true)).toBe('gemv');
          expect(chooseGemmPath(caps, 8, 4096, 16384, 'f16')).toBe('subgroup-matrix');
          expect(tile(5, 4096, 16384)).toEqual({ kind: 'tile-gen', id: d('t32x64_sg1x4_k64_b1'), splits: 4 });
          expect(chooseGemmPath(caps, 4, 4096, 16384, 'f16')).toBe('gemv');
          expect(chooseSgmKernel(caps, 65, 12288, 4096, false)).toEqual({ kind: 'tile-gen', id: 't128x128_sg2x2_k32_b1_u8' });   // prefill rows
          process.env.FAPOOL_DECODE_TILES = 'split:rows=5';   // the GEMV's rows 5..8 too
          expect(chooseGemmPath(caps, 5, 4096, 4096, 'f16')).toBe('subgroup-matrix');
          expect(chooseGatedPath(caps, 8, 16384, 4096, 'f16')).toBe('subgroup-matrix');   // not the tiled fallback of M < 16
          expect(chooseGemmPath(caps, 4, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseSgmKernel(caps, 8, 4096, 4096, true)).toEqual({ kind: 'tile-gen', id: d('g16x64_sg1x4_k64_b1'), splits: 4 });
          // plain= / narrow=: o and down of 8 rows back on the GEMV; 9..64 rows, gate+up and the bounds as before.
          process.env.FAPOOL_DECODE_TILES = 'split:plain=9:narrow=9';
          expect(decodeTilesMode()).toMatchObject({ split: true, minRows: 9, plainMinRows: 9, narrowMinRows: 9 });
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseGemmPath(caps, 8, 4096, 16384, 'f16')).toBe('gemv');
          expect(tile(9, 4096, 16384)).toEqual({ kind: 'tile-gen', id: d('t32x64_sg1x4_k64_b1'), splits: 4 });
          expect(tile(16, 4096, 4096)).toEqual({ kind: 'tile-gen', id: d('t32x64_sg1x4_k64_b1'), splits: 4 });
          process.env.FAPOOL_DECODE_TILES = 'split:plain=9';   // o only: down is narrow too (from 5 rows)
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseGemmPath(caps, 8, 4096, 16384, 'f16')).toBe('subgroup-matrix');
          process.env.FAPOOL_DECODE_TILES = 'split:narrow=9';   // down only: o's 8 rows are the GEMV's by default
          expect(chooseGemmPath(caps, 8, 4096, 16384, 'f16')).toBe('gemv');
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          process.env.FAPOOL_DECODE_TILES = 'split:plain=8';   // before session 53: o's 8 rows on a 16-byte tile
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe(DECODE_TILES_WIDE ? 'subgroup-matrix' : 'gemv');
          expect(chooseGemmPath(caps, 7, 4096, 4096, 'f16')).toBe('gemv');
          process.env.FAPOOL_DECODE_TILES = 'split:plain=8:narrow=9';   // down is plain too: with 16-byte staging it keeps its tile at 8
          expect(chooseGemmPath(caps, 8, 4096, 16384, 'f16')).toBe(DECODE_TILES_WIDE ? 'subgroup-matrix' : 'gemv');
          expect(chooseGemmPath(caps, 7, 4096, 16384, 'f16')).toBe('gemv');
          expect(decodeTilesMode('split:gated=8:plain=6:narrow=7:u8p2')).toMatchObject({ gatedMinRows: 8, plainMinRows: 6, narrowMinRows: 7, deep: true });
          expect(() => decodeTilesMode('split:narrow=9:plain=9')).toThrow(LimitError);   // the order is fixed
          expect(() => decodeTilesMode('split:plain=0')).toThrow(LimitError);
          // They only lower a bound: at most rows= (9 unsaid); plain= is of the 16-byte tiles.
          for (const bad of ['split:plain=10', 'split:narrow=12', 'split:rows=8:plain=9', 'split:plain=8:u4']) expect(() => decodeTilesMode(bad), bad).toThrow(/at most|rows>|plain=/);
          expect(decodeTilesMode('split:rows=12:plain=8:narrow=5')).toMatchObject({ minRows: 12, plainMinRows: 8, narrowMinRows: 5 });
          // plain= says for the 16 × 128 tile's rows too: :n128 asks for o's 8 rows, plain=9 keeps them on the GEMV.
          expect([chooseDecodeTile(caps, 8, 4096, 4096, false, decodeTilesMode('split:u8p2:n128'))?.id,
            chooseDecodeTile(caps, 8, 4096, 4096, false, decodeTilesMode('split:plain=9:u8p2:n128'))]).toEqual(['t16x128_sg1x4_k64_b1_u8p2', null]);
          expect(() => decodeTilesMode('nosplit:plain=9')).toThrow(LimitError);
          process.env.FAPOOL_DECODE_TILES = 'nosplit';   // session 5: wide products only, whole K per workgroup
          expect(chooseSgmKernel(caps, 9, 12288, 4096, false)).toEqual({ kind: 'tile-gen', id: w('t32x64_sg1x4_k64_b1') });
          expect(chooseSgmKernel(caps, 32, 32000, 4096, false)).toEqual({ kind: 'tile-gen', id: w('t32x64_sg1x4_k64_b1') });
          expect(chooseSgmKernel(caps, 64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: DECODE_TILES_WIDE ? 'g64x64_sg2x2_k64_b1_u8_ks2' : 'g64x64_sg2x2_k32_b1' });
          expect(chooseSgmKernel(caps, 16, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.t1 });
          expect(chooseSgmKernel(caps, 64, DECODE_TILE_MIN_N - 16, 4096, false)).toMatchObject({ kind: 'skinny-gen' });
          // 16-byte staging on request (or by default): the _u8 twin, its checked base where K % BK != 0.
          process.env.FAPOOL_DECODE_TILES = 'split:u8:ks2=off';
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1_u8' });
          process.env.FAPOOL_DECODE_TILES = 'split:u8';
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_u8_ks2' });   // gated: ks2 by default
          expect(tile(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8', splits: 4 });
          expect(tile(9, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't16x32_sg1x2_k128_b1_u8' });
          expect(tile(33, 12288, 4100)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1' });
          expect(tile(8, 12288, 4096)).toBeNull();   // 8 plain rows are the GEMV's (DECODE_TILE_WIDE_PLAIN_MIN_M)
          process.env.FAPOOL_DECODE_TILES = 'split:plain=8:u8';
          expect(tile(8, 12288, 4160)).toBeNull();   // K % 128 != 0: no 16-byte tile, so 8 rows stay on the GEMV
          expect(tile(8, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't16x32_sg1x2_k128_b1_u8' });
          // :ks2 (all): the unsplit 64-row products on the _ks2 twins; split, narrow, fewer rows or ragged K as before.
          process.env.FAPOOL_DECODE_TILES = 'split:u8:ks2';
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_u8_ks2' });
          expect(tile(33, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k128_b1_u8_ks2' });
          expect(tile(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8', splits: 4 });
          expect(tile(32, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't32x64_sg1x4_k64_b1_u8' });
          expect(tile(64, 12288, 4160)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8' });   // K % 128 != 0
          expect(decodeTilesMode('split:u8:ks2')).toEqual({ split: true, minRows: 9, wide: true, explicitRows: false, ks2: 'all', noPrefetch: false });
          expect(decodeTilesMode('split:ks2=gated')).toMatchObject({ ks2: 'gated' });
          process.env.FAPOOL_DECODE_TILES = 'split:ks2=gated';
          expect(tile(33, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x32_sg2x2_k64_b1_u8' });   // plain: not by default (64 × 32)
          expect(() => decodeTilesMode('split:u4:ks2')).toThrow(/16-byte tiles only/);
          expect(decodeTilesMode('split:u4:ks2=off')).toMatchObject({ wide: false, ks2: 'off' });
          expect(decodeTilesMode('nosplit:ks2=off')).toMatchObject({ split: false, ks2: 'off' });
          expect(() => decodeTilesMode('split:u8:ks2=some')).toThrow(LimitError);
          // :un8: the 16-byte twins without register prefetch, their _ks2 twins and checked bases likewise.
          process.env.FAPOOL_DECODE_TILES = 'split:un8';
          expect(decodeTilesMode()).toMatchObject({ wide: true, noPrefetch: true, ks2: 'gated' });
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_un8_ks2' });
          expect(tile(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_un8', splits: 4 });
          expect(tile(9, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't16x32_sg1x2_k128_b1_un8' });
          expect(tile(33, 12288, 4100)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1' });
          expect(checkedTwin('g64x64_sg2x2_k64_b1_un8_ks2')).toBe('g64x64_sg2x2_k32_b1');
          // :u8p2: every 16-byte decode tile prefetching two slices ahead, split or not; ragged K on the checked base.
          process.env.FAPOOL_DECODE_TILES = 'split:u8p2';
          expect(decodeTilesMode()).toMatchObject({ wide: true, deep: true, ks2: 'gated' });
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_u8p2_ks2' });
          expect(tile(64, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8p2' });
          expect(tile(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8p2', splits: 4 });
          expect(tile(8, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't32x64_sg1x4_k64_b1_u8p2', splits: 4 });
          expect(tile(33, 12288, 4100)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1' });
          expect(checkedTwin('g64x64_sg2x2_k64_b1_u8p2_ks2')).toBe('g64x64_sg2x2_k32_b1');
          expect(checkedTwin('t64x64_sg1x4_k64_b1_u8p2')).toBe('t64x64_sg1x4_k64_b1');
          // Unsaid, the device decides: with robust buffer access the prefetching twins.
          expect(decodeTilesNoPrefetch(caps, decodeTilesMode('split:u8'))).toBe(false);
          expect(decodeTilesNoPrefetch({ ...caps, robustBufferAccess: false }, decodeTilesMode('split:u8'))).toBe(false);
          expect(decodeTilesNoPrefetch({ ...caps, robustBufferAccess: false }, decodeTilesMode('split:un8'))).toBe(true);
          expect(decodeTilesNoPrefetch(caps, decodeTilesMode('split'))).toBe(false);
          expect(decodeTilesNoPrefetch({ ...caps, robustBufferAccess: false }, decodeTilesMode('split'))).toBe(DECODE_TILES_NO_PREFETCH_OFF);
          process.env.FAPOOL_DECODE_TILES = 'split:u4';
          expect(tile(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k32_b1' });
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          expect(decodeTilesMode('nosplit:u8')).toEqual({ split: false, minRows: 9, wide: true, explicitRows: false, ks2: 'gated', noPrefetch: false });
          expect(decodeTilesMode('split:rows=5:u4')).toEqual({ split: true, minRows: 5, wide: false, explicitRows: true, ks2: 'off' });
          for (const bad of ['splits', 'split:rows=0', 'split:rows=65', 'split:max=4', 'split:u16', 'u8', 'split:u8:rows=5', 'split:emu:un8', 'emu',
            'split:gated=0', 'split:gated=65', 'split:gated=8:rows=9', 'nosplit:gated=8']) expect(() => decodeTilesMode(bad), bad).toThrow(LimitError);
          // gated=: the gated products leave the GEMV from that many rows (session 49: gate+up at 8 rows on g16x64), the
          // others keep their rows; plain normed products of 8 rows stay on the GEMV.
          const g8 = decodeTilesMode('split:gated=8:u8p2');
          expect(g8).toMatchObject({ minRows: 9, gatedMinRows: 8, deep: true, explicitRows: false });
          expect(decodeTilesMode('split:rows=12:gated=5')).toMatchObject({ minRows: 12, gatedMinRows: 5, explicitRows: true });
          expect([chooseDecodeTile(caps, 8, 16384, 4096, true, g8)?.id, chooseDecodeTile(caps, 7, 16384, 4096, true, g8),
            chooseDecodeTile(caps, 8, 16384, 4096, true, decodeTilesMode('split:u8p2'))]).toEqual(['g16x64_sg1x4_k64_b1_u8p2', null, null]);
          const paths = (v: string) => restoringEnv('FAPOOL_DECODE_TILES', () => {
            process.env.FAPOOL_DECODE_TILES = v;
            return [chooseGemmPath(caps, 8, 16384, 4096, 'f16', true, true), chooseGemmPath(caps, 8, 12288, 4096, 'f16', false, true),
              chooseGemmPath(caps, 7, 16384, 4096, 'f16', true, true)];
          });
          const before = paths('split:u8p2');
          expect(before[0]).toBe('gemv');
          expect(paths('split:gated=8:u8p2')).toEqual(['subgroup-matrix', before[1], before[2]]);
          // :n128 (with :u8p2 or :un8): the narrow plain products (o, down) of up to 16 rows on 16 × 128 tiles; the
          // wide ones, the gated ones and 17+ rows keep theirs; 8 rows too (n128 asks for them, where since session 53
          // the default leaves 8-row plain products on the GEMV). Its scratch flushes in turns by default (two a SM).
          const n128 = decodeTilesMode('split:gated=8:u8p2:n128');
          expect(n128.n128).toBe(true);
          expect([chooseDecodeTile(caps, 8, 4096, 16384, false, n128), chooseDecodeTile(caps, 8, 4096, 4096, false, decodeTilesMode('split:un8:n128')),
            chooseDecodeTile(caps, 8, 32000, 4096, false, n128)?.id, chooseDecodeTile(caps, 17, 4096, 16384, false, n128)?.id,
            chooseDecodeTile(caps, 8, 16384, 4096, true, n128)?.id])
            .toEqual([{ kind: 'tile-gen', id: 't16x128_sg1x4_k64_b1_u8p2', splits: 8 }, { kind: 'tile-gen', id: 't16x128_sg1x4_k64_b1_un8', splits: 8 },
              undefined, 't32x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2']);   // the wide LM head keeps the GEMV's 8 rows
          for (const bad of ['split:n128', 'split:u8:n128', 'split:u8p2:emu:n128', 'split:n128=all', 'split:u8:n128=all', 'split:u8p2:n128=on']) expect(() => decodeTilesMode(bad), bad).toThrow(LimitError);
          // :n128=all: every plain product of up to 16 rows, QKV (N 12288: split twice, its RoPE in the reduce) and the
          // LM head (250 workgroups: unsplit) too; from 8 rows the GEMV's normed rows leave it (with or without rows=; 7
          // rows keep it without); gated and 17+ rows keep theirs.
          const all = decodeTilesMode('split:rows=8:u8p2:n128=all');
          expect(all.n128).toBe('all');
          const t128 = 't16x128_sg1x4_k64_b1_u8p2';
          expect([chooseDecodeTile(caps, 8, 12288, 4096, false, all), chooseDecodeTile(caps, 8, 32000, 4096, false, all),
            chooseDecodeTile(caps, 8, 4096, 16384, false, all)?.id, chooseDecodeTile(caps, 16, 12288, 4096, false, decodeTilesMode('split:un8:n128=all'))?.id,
            chooseDecodeTile(caps, 17, 12288, 4096, false, all)?.id, chooseDecodeTile(caps, 8, 16384, 4096, true, all)?.id])
            .toEqual([{ kind: 'tile-gen', id: t128, splits: 2 }, { kind: 'tile-gen', id: t128 }, t128, 't16x128_sg1x4_k64_b1_un8',
              't32x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2']);
          expect(paths('split:rows=8:u8p2:n128=all')).toEqual(['subgroup-matrix', 'subgroup-matrix', before[2]]);
          expect(paths('split:u8p2:n128=all')).toEqual([before[0], 'subgroup-matrix', before[2]]);   // gated products keep the GEMV
          const qkv7 = (v: string) => restoringEnv('FAPOOL_DECODE_TILES', () => {
            process.env.FAPOOL_DECODE_TILES = v;
            return chooseGemmPath(caps, 7, 12288, 4096, 'f16', false, true);
          });
          expect(qkv7('split:u8p2:n128=all')).toBe(qkv7('split:u8p2'));   // 7 rows: as without
          restoringEnv('FAPOOL_DECODE_TILES', () => {
            process.env.FAPOOL_DECODE_TILES = 'split:rows=8:u8p2:n128=all';
            const rc = { ...caps, maxStorageBuffersPerStage: 10 };   // the RoPE entries' bindings
            expect([ropeEpilogueApplies(rc, 8, 12288, 4096, 'f16'), ropeEpilogueApplies(rc, 8, 12288, 4096, 'f16', true)]).toEqual([true, false]);
          });
          expect(tileCsTurns({ maxWorkgroupStorage: 48 << 10 }, tileGenGeometry('t16x128_sg1x4_k64_b1_u8p2'), undefined, 'tile')).toBeGreaterThan(1);
          // The prepared defaults (DECODE_GATED_ROWS_ON_TILE, DECODE_N128_DEFAULT; off: they lost in s51a's step): where the default
          // staging is _un8 (no robust buffer access), the gated products of 8 rows on g16x64 _u8p2 and the narrow plain
          // ones of up to 8 rows on 16 × 128 tiles; with robust access, a staging named or 9+ rows, as before. Off, the
          // session 49 choice. `gated=8` alone (no staging) takes _u8p2 there either way.
          const bare = { ...caps, robustBufferAccess: false }, def = decodeTilesMode('split');
          const g = DECODE_GATED_ROWS_ON_TILE ? 8 : 9;
          expect([gatedTileMinRows(bare, def), gatedTileMinRows(caps, def), gatedTileMinRows(bare, decodeTilesMode('split:rows=4')),
            gatedTileMinRows(bare, decodeTilesMode('split:gated=9')), gatedTileMinRows(bare, decodeTilesMode('split:u8')),
            gatedTileMinRows(bare, decodeTilesMode('nosplit'))]).toEqual([g, 9, 4, 9, 9, 9]);
          const g16 = { kind: 'tile-gen', id: 'g16x64_sg1x4_k64_b1_u8p2' };
          expect([chooseDecodeTile(bare, 8, 16384, 4096, true, def), chooseDecodeTile(bare, 7, 16384, 4096, true, def),
            chooseDecodeTile(caps, 8, 16384, 4096, true, def), chooseDecodeTile(bare, 16, 16384, 4096, true, def)?.id,
            chooseDecodeTile(bare, 8, 16384, 4096, true, decodeTilesMode('split:gated=8'))])
            .toEqual([DECODE_GATED_ROWS_ON_TILE ? g16 : null, null, null, 'g16x64_sg1x4_k64_b1_un8', g16]);
          const n128Def = { kind: 'tile-gen', id: 't16x128_sg1x4_k64_b1_u8p2', splits: 8 }, t32 = { kind: 'tile-gen', id: 't32x64_sg1x4_k64_b1_u8p2', splits: 4 };
          expect([chooseDecodeTile(bare, 8, 4096, 16384, false, def), chooseDecodeTile(bare, 5, 4096, 16384, false, def)?.id,
            chooseDecodeTile(bare, 8, 4096, 16384, false, decodeTilesMode('split:n128=off')), chooseDecodeTile(bare, 16, 4096, 16384, false, def)?.id,
            chooseDecodeTile(caps, 8, 4096, 16384, false, def)?.id, chooseDecodeTile(bare, 8, 4096, 16384, false, decodeTilesMode('split:un8'))?.id])
            .toEqual([DECODE_N128_DEFAULT ? n128Def : t32, (DECODE_N128_DEFAULT ? n128Def : t32).id, t32, t32.id, 't32x64_sg1x4_k64_b1_u8', 't32x64_sg1x4_k64_b1_un8']);
          expect([decodeTilesMode('split:u8p2:n128=off').n128, def.n128]).toEqual([false, undefined]);
          // DECODE_N128_ALL_DEFAULT (with DECODE_N128_DEFAULT): QKV and the LM head of 8 rows too, QKV split twice.
          const allDef = DECODE_N128_DEFAULT && DECODE_N128_ALL_DEFAULT;
          expect([chooseDecodeTile(bare, 8, 12288, 4096, false, def), chooseDecodeTile(caps, 8, 12288, 4096, false, def)?.id,
            wideRowsOnN128(bare, def, 8), wideRowsOnN128(bare, def, 7), wideRowsOnN128(caps, def, 8)])
            .toEqual([allDef ? { kind: 'tile-gen', id: 't16x128_sg1x4_k64_b1_u8p2', splits: 2 } : null,
              undefined, allDef, false, false]);   // else the GEMV's 8 rows (DECODE_TILE_WIDE_PLAIN_MIN_M)
          restoringEnv('FAPOOL_DECODE_TILES', () => {
            delete process.env.FAPOOL_DECODE_TILES;
            expect([chooseGemmPath(bare, 8, 16384, 4096, 'f16', true, true), chooseGemmPath(caps, 8, 16384, 4096, 'f16', true, true)])
              .toEqual([DECODE_GATED_ROWS_ON_TILE ? 'subgroup-matrix' : 'gemv', 'gemv']);
            // By the adapter's name (DECODE_GATED_ROWS_ON_TILE_DEVICES): an H200 takes the tile, an H100 the GEMV.
            const named = (device: string) => ({ ...bare, device });
            const h200 = DECODE_GATED_ROWS_ON_TILE_DEVICES.some((re) => re.test('nvidia-h200'));
            expect([gatedTileMinRows(named('nvidia-h200'), def), gatedTileMinRows(named('nvidia-h100-80gb-hbm3'), def),
              gatedTileMinRows({ ...caps, device: 'nvidia-h200' }, def), gatedTileMinRows(named('nvidia-h200'), decodeTilesMode('split:gated=9'))])
              .toEqual([h200 || DECODE_GATED_ROWS_ON_TILE ? 8 : 9, g, 9, 9]);
            expect([chooseGemmPath(named('nvidia-h200'), 8, 16384, 4096, 'f16', true, true), chooseDecodeTile(named('nvidia-h200'), 8, 16384, 4096, true, def)])
              .toEqual(h200 || DECODE_GATED_ROWS_ON_TILE ? ['subgroup-matrix', g16] : ['gemv', null]);
          });
          // :emu (last): the scalar-emulated tiles where the device has no subgroup matrices; real ones where it has.
          expect([decodeTilesMode('split:emu').emulate, decodeTilesMode('split:un8:ks2=off:emu').emulate, decodeTilesMode('split').emulate]).toEqual([true, true, undefined]);
          expect(chooseDecodeTile(caps, 64, 4096, 16384, false, decodeTilesMode('split:emu'))?.emulate).toBeUndefined();
          const cpu = { ...caps, subgroupMatrix: [] } as typeof caps;
          expect(chooseDecodeTile(cpu, 64, 4096, 16384, false, decodeTilesMode('split'))).toBeNull();
          expect(chooseDecodeTile(cpu, 64, 4096, 16384, false, decodeTilesMode('split:emu'))).toMatchObject({ kind: 'tile-gen', splits: 4, emulate: true });
          // :bn32 (before :emu): every plain product of 33..64 rows on 64 × 32 tiles; gated ones and 32 rows keep theirs.
          // :bn64: none (the LM head's and the split ones' choice for every product).
          const bn32 = decodeTilesMode('split:u8:ks2=off:bn32'), bn64 = decodeTilesMode('split:u8:bn64');
          expect([bn32.bn32, bn64.bn32]).toEqual(['all', 'off']);
          expect([chooseDecodeTile(caps, 64, 12288, 4096, false, bn32)?.id, chooseDecodeTile(caps, 64, 32000, 4096, false, bn32)?.id,
            chooseDecodeTile(caps, 32, 12288, 4096, false, bn32)?.id, chooseDecodeTile(caps, 64, 16384, 4096, true, bn32)?.id])
            .toEqual(['t64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_u8', 't32x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8']);
          expect(chooseDecodeTile(caps, 64, 12288, 4096, false, bn64)?.id).toBe('t64x64_sg1x4_k64_b1_u8');
          expect(decodeTilesMode('split:bn32:emu')).toMatchObject({ bn32: 'all', emulate: true });
          expect([decodeTilesMode('split:u8p2:bn64').bn32, decodeTilesMode('split:u4:bn64').bn32]).toEqual(['off', 'off']);
          for (const bad of ['split:u8p2:bn32', 'split:u4:bn32', 'split:bn32:ks2', 'split:bn16', 'split:bn32:bn64']) expect(() => decodeTilesMode(bad), bad).toThrow(LimitError);
          for (const bad of ['split:gbn32', 'split:xd']) expect(() => decodeTilesMode(bad), bad).toThrow(LimitError);   // removed variants (sessions 47-48)
          expect(decodeTilesMode('')).toEqual({ split: true, minRows: 9, wide: DECODE_TILES_WIDE, explicitRows: false, ks2: DECODE_TILES_WIDE ? 'gated' : 'off' });
          // Without robust buffer access (the _un8 twins by default) the unsplit 33..64-row tiles prefetch again while K
          // is fixed in the pipeline (DECODE_TILES_PREFETCH_FIXED_K); split ones, fewer rows, :un8 or FAPOOL_TILE_FIXK=off keep _un8.
          if (DECODE_TILES_WIDE && DECODE_TILES_NO_PREFETCH_OFF && DECODE_TILES_PREFETCH_FIXED_K) {
            delete process.env.FAPOOL_DECODE_TILES;
            const off = (M: number, N: number, K: number, gated = false) => chooseDecodeTile({ ...caps, robustBufferAccess: false }, M, N, K, gated);
            restoringEnv('FAPOOL_TILE_FIXK', () => {
              delete process.env.FAPOOL_TILE_FIXK;
              expect(off(64, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x32_sg2x2_k64_b1_u8' });
              expect(off(33, 32000, 4096)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_u8' });
              expect(off(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_u8_ks2' });
              expect(off(64, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_un8', splits: 4 });
              expect(off(32, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't32x64_sg1x4_k64_b1_un8' });
              // Split tiles of up to 32 rows prefetch two slices ahead (DECODE_TILES_DEEP_SPLIT); 64 rows keep _un8.
              if (DECODE_TILES_DEEP_SPLIT) expect(off(16, 4096, 16384)).toEqual({ kind: 'tile-gen', id: 't32x64_sg1x4_k64_b1_u8p2', splits: 4 });
              process.env.FAPOOL_DECODE_TILES = 'split:un8';   // asked for: every one
              expect(off(64, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x32_sg2x2_k64_b1_un8' });
              expect(off(64, 32000, 4096)).toEqual({ kind: 'tile-gen', id: 't64x64_sg1x4_k64_b1_un8' });
              delete process.env.FAPOOL_DECODE_TILES;
              process.env.FAPOOL_TILE_FIXK = 'off';
              expect(off(64, 12288, 4096)).toEqual({ kind: 'tile-gen', id: 't64x32_sg2x2_k64_b1_un8' });
              expect(off(64, 16384, 4096, true)).toEqual({ kind: 'tile-gen', id: 'g64x64_sg2x2_k64_b1_un8_ks2' });
            });
          }
        });
        restoringEnv('FAPOOL_DECODE_TILES', () => {
          process.env.FAPOOL_DECODE_TILES = 'nosplit';   // below: the skinny kernels' own choices
          process.env.FAPOOL_GEMM_SKINNY = 'array';   // the array kernel, by request
          expect(chooseSgmKernel(caps, 16, 4096, 4096, false)).toMatchObject({ kind: 'skinny' });
          expect(chooseSkinnyGen(caps, 16, 4096, 4096, false)).toBeNull();
          process.env.FAPOOL_GEMM_SKINNY = 'gen';
          expect(chooseGemmPath(caps, 8, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseSgmKernel(caps, 9, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.t1 });
          expect(chooseSgmKernel(caps, 16, 4096, 4096, true)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.g1 });
          expect(chooseSgmKernel(caps, 17, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.t2 });
          expect(chooseSgmKernel(caps, 64, 4096, 4096, true)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.g4 });
          expect(chooseSgmKernel(caps, 65, 4096, 4096, false)).toMatchObject({ kind: 'tile-gen' });
          expect(chooseSgmKernel(caps, 32, 4096, 4100, false)).not.toMatchObject({ kind: 'skinny-gen' });   // K % 16
          expect(chooseSgmKernel(caps, 32, 12288, 4096, false)).toMatchObject({ kind: 'skinny-gen' });   // asked for by name: no decode tile
          process.env.FAPOOL_GEMM_SKINNY = 'gen:max=16';   // rows above 16 take the prefill tile kernel
          expect(chooseSgmKernel(caps, 16, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.t1 });
          expect(chooseSgmKernel(caps, 17, 4096, 4096, false)).toMatchObject({ kind: 'tile-gen' });
          expect(chooseSgmKernel(caps, 64, 4096, 4096, true)).toMatchObject({ kind: 'tile-gen' });
          restoringEnv('FAPOOL_GEMM_PREFILL', () => {   // … or the direct one, when the prefill takes it: not a skinny kernel
            process.env.FAPOOL_GEMM_PREFILL = 'direct';
            expect(chooseSgmKernel(caps, 17, 4096, 4096, false)).toEqual(chooseSgmDirect(caps, false));
            expect(chooseSgmKernel(caps, 32, 4096, 4096, true)).toEqual(chooseSgmDirect(caps, true));
          });
          process.env.FAPOOL_GEMM_SKINNY = 'gen:min=1';
          for (const M of [1, 2, 8]) {
            expect(chooseGemmPath(caps, M, 4096, 4096, 'f16')).toBe('subgroup-matrix');
            expect(chooseGemmPath(caps, M, 4096, 4096, 'f16', true)).toBe('subgroup-matrix');
            expect(normPrologueApplies(caps, M, 4096, 4096, 'f16')).toBe(false);   // the model then launches the norm itself
            expect(normPrologueApplies(caps, M, 4096, 4096, 'f16', true)).toBe(false);
          }
          expect(chooseGemmPath(caps, 1, 4096, 4096, 'f32')).toBe('gemv');
          expect(chooseGemmPath(caps, 1, 4096, 4100, 'f16')).toBe('gemv');
          expect(normPrologueApplies(caps, 1, 4096, 4100, 'f16')).toBe(true);
          // A direct-x configuration named for class 2 gives way to the auto one where it does not apply.
          process.env.FAPOOL_GEMM_SKINNY = 'gen:min=8,tm2_sn1_sk8_tn2_u2_xd';
          expect(chooseSgmKernel(caps, 20, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: 'tm2_sn1_sk8_tn2_u2_xd' });
          expect(chooseGemmPath(caps, 7, 4096, 4096, 'f16')).toBe('gemv');
          expect(chooseSgmKernel(caps, 8, 4096, 4096, false)).toEqual({ kind: 'skinny-gen', id: SKINNY_GEN_AUTO.t1 });
          // No subgroup matrices: never chosen.
          expect(chooseGemmPath({ ...caps, subgroupMatrix: [] } as typeof caps, 8, 4096, 4096, 'f16')).toBe('gemv');
        });
      });
    });
  });

  it('generated entries (builtins) reflect to the expected bindings', async () => {
    await gpu(); // registers the shader loader
    const spec = {
      enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'] as const, diagnostics: [SGM_DIAGNOSTIC],
      aliases: { T: 'f16', T4: 'vec4<f16>', XTile: 'array<f16, 8320>', Scratch: 'array<f32, 4096>' },
    };
    const src = programSource({ file: 'gemm_sgm_skinny_gen.wgsl', includes: ['gemm_epilogue.wgsl'] }, spec);
    expect(reflectLayout(src, 'sk_tm1_sn1_sk8_tn1_u4_xs', spec.aliases).storage.map((b) => b.name)).toEqual(['w', 'y', 'bias', 'residual', 'x4']);
    expect(reflectLayout(src, 'sk_tm4_sn1_sk8_tn2_u2_xd_p', spec.aliases).storage.map((b) => b.name)).toEqual(['x', 'w', 'y', 'bias', 'residual']);
    expect(reflectLayout(src, 'sk_gm1_sn1_sk8_tn1_u2_xs', spec.aliases).storage.map((b) => b.name)).toEqual(['y', 'x4', 'wg', 'wu']);
    expect(reflectLayout(src, 'sk_gm4_sn1_sk8_tn1_u2_xd', spec.aliases).storage.map((b) => b.name)).toEqual(['x', 'y', 'wg', 'wu']);
  });
});

describe('generated WGSL', () => {
  const url = (f: string) => new URL(`../shaders/${f}`, import.meta.url);
  it('shaders/gemm_sgm_direct.wgsl is exactly what its generator writes', () => {
    const generated = execFileSync(process.execPath, [url('gemm_sgm_direct.gen.mjs').pathname], { encoding: 'utf8' });
    expect(generated).toBe(readFileSync(url('gemm_sgm_direct.wgsl'), 'utf8'));
  });
  it('shaders/gemm_sgm_tile_gen{,_emu}.wgsl are exactly what their generator writes, for the ids gemm.ts knows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemm-gen-'));
    try {
      execFileSync(process.execPath, [url('gemm_sgm_tile_gen.gen.mjs').pathname, '--out', dir]);
      const files = readdirSync(dir).sort();
      expect(files).toEqual(['gemm_sgm_tile_gen.wgsl', 'gemm_sgm_tile_gen_emu.wgsl']);
      for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(url(f), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const gen = await import(url('gemm_sgm_tile_gen.gen.mjs').href) as { CONFIGS: string[]; SPLIT_K: string[]; ROPE: string[] };
    expect(gen.CONFIGS).toEqual(SGM_TILE_GEN_IDS);
    expect(gen.SPLIT_K).toEqual(SGM_TILE_GEN_SPLIT_K);
    expect(gen.ROPE).toEqual(SGM_TILE_GEN_ROPE);
  });
  it('shaders/gemm_sgm_skinny_gen{,_emu}.wgsl are exactly what their generator writes, for the ids gemm-sgm.ts knows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemm-skinny-gen-'));
    try {
      execFileSync(process.execPath, [url('gemm_sgm_skinny_gen.gen.mjs').pathname, '--out', dir]);
      const files = readdirSync(dir).sort();
      expect(files).toEqual(['gemm_sgm_skinny_gen.wgsl', 'gemm_sgm_skinny_gen_emu.wgsl']);
      for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(url(f), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const gen = await import(url('gemm_sgm_skinny_gen.gen.mjs').href) as { CONFIGS: string[]; parseId: (id: string) => { bytes: number; wg: number } };
    expect(gen.CONFIGS).toEqual(SGM_SKINNY_GEN_IDS);
    for (const id of SGM_SKINNY_GEN_IDS) {
      const g = skinnyGenGeometry(id);
      expect({ bytes: g.bytes, wg: g.wg }, id).toEqual({ bytes: gen.parseId(id).bytes, wg: gen.parseId(id).wg });
    }
  });
});
