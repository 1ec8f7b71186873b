// The tensor-core GEMM family (subgroup matrices, 16×16×16 f16 → f32): the direct-load kernel
// (shaders/gemm_sgm_direct.wgsl), the staged tiles (gemm_sgm_tile.wgsl; generated: gemm_sgm_tile_gen.wgsl), the
// skinny batched-decode kernel (gemm_sgm_skinny.wgsl; the generated one is gemm-skinny-gen.ts) and the staged v0
// kernel (gemm_subgroup_matrix.wgsl), with their shapes, fit checks and the choice among them all; scalar-emulated
// twins let CPU adapters test them.
import {
  DTYPE_BYTES, LimitError, byteSize, ShapeError, assertShape, ceilDiv, defineProgram,
  type Caps, type Dispatch, type Gpu, type Specialization, type Tensor,
} from '../gpu/index.js';
import { envChoice, envVar } from './common.js';
import { epilogueConstants, type Epilogue, type GemmLaunch } from './gemm-common.js';
import { SGM_DIAGNOSTIC, SKINNY_MAX_M, SKINNY_MIN_M, checkSgmOperands, hasSubgroupMatrixF16, realAndEmulated } from './gemm-sgm-common.js';
import { chooseSkinnyGen, gemmSkinnyOverride, launchSgmSkinnyGen, type SgmSkinnyGenShape } from './gemm-skinny-gen.js';
import { splitKReduce } from './gemm-splitk.js';
import { GEMV_MAX_M } from './gemv.js';
import { NO_ROPE_UNIFORMS, ropeEpilogueConstants, ropeEpilogueOperands } from './rope.js';
import { WEIGHT_BLOCK } from './weight-blocks.js';

// ---- subgroup matrix ------------------------------------------------------------------------------


interface SgmCfg { sgSize: number; epi: Epilogue }

/** Output tile of one subgroup-matrix workgroup (4×2 subgroups of 32×64; const in the WGSL). */
const SGM_TILE = { bm: 128, bn: 128 };

const sgmProgram = defineProgram<SgmCfg>({
  name: 'gemm_sgm', file: 'gemm_subgroup_matrix.wgsl', includes: ['gemm_epilogue.wgsl'], entry: 'gemm_sgm',
  specialize: (c) => ({
    enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: [SGM_DIAGNOSTIC],
    aliases: { T: 'f16', T4: 'vec4<f16>' },
    constants: { SG_SIZE: c.sgSize, ...epilogueConstants(c.epi) },
  }),
});

/** Direct-load subgroup-matrix kernel (shaders/gemm_sgm_direct.wgsl): TM × TN matrices per subgroup. */
export interface SgmDirectShape {
  tm: 1 | 2 | 4; tn: 1 | 2 | 4; sgRows: number; sgCols: number; prefetch: boolean;
  /** Two 16-deep K steps per loop iteration (entry *_k32; needs K % 32 == 0). */
  k32?: boolean;
  /**
   * The weights in 16 × 16 blocks (WGSL WB16; `toWeightBlocks(w, N, K, 16)`): each right matrix one contiguous 512-byte
   * load, where row-major its rows lie K apart (session 13: the driver loads a matrix from storage at ≤ 1.4 TB/s that
   * way). Benchmarks only; needs N % 16 == 0.
   */
  wb16?: boolean;
}

interface SgmDirectCfg { sgSize: number; entry: string; s: SgmDirectShape; epi: Epilogue }

const sgmDirectProgram = defineProgram<SgmDirectCfg>({
  name: 'gemm_sgm_direct', file: 'gemm_sgm_direct.wgsl', includes: ['gemm_epilogue.wgsl'], entry: 'sgm_direct_2x4',
  specialize: (c) => ({
    entry: c.entry,
    enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: [SGM_DIAGNOSTIC],
    aliases: { T: 'f16', T4: 'vec4<f16>' },
    constants: {
      SG_SIZE: c.sgSize, SG_ROWS: c.s.sgRows, SG_COLS: c.s.sgCols, PREFETCH: c.s.prefetch, WB16: c.s.wb16 === true,
      ...epilogueConstants(c.epi),
    },
  }),
});

/** Entries the WGSL file has (linear / gated). */
const SGM_DIRECT_ENTRIES = new Set([
  'sgm_direct_2x4', 'sgm_direct_4x4', 'sgm_direct_4x2', 'sgm_direct_2x4_k32', 'sgm_direct_4x2_k32', 'sgm_direct_4x4_k32', 'sgm_direct_4x1', 'sgm_direct_1x4',
  'sgm_direct_gated_2x2', 'sgm_direct_gated_2x4',
]);

/** The direct kernel reads 16×16 operand blocks in bounds only when these hold (see the WGSL header). */
export function sgmDirectApplies(M: number, N: number, K: number): boolean {
  return M >= 16 && N >= 16 && K % 16 === 0;
}

/**
 * Default direct shape (H100 sweep, kernels-bench/NOTES.md "GEMM"): 2×2 subgroups of 4×4 matrices with
 * register prefetch (128×128 per workgroup); gated: 2×4 per subgroup (16 accumulators, no prefetch).
 */
export function chooseSgmDirect(_caps: Caps, gated: boolean): SgmDirectShape {
  return gated
    ? { tm: 2, tn: 4, sgRows: 2, sgCols: 2, prefetch: false }
    : { tm: 4, tn: 4, sgRows: 2, sgCols: 2, prefetch: true };
}

// ---- staged subgroup-matrix kernel (shaders/gemm_sgm_tile.wgsl) ---------------------------------

/**
 * Workgroup-memory-staged tensor-core kernel: sgRows × sgCols subgroups, each tm × tn 16×16 result
 * matrices (block (16·tm·sgRows) × (16·tn·sgCols)), K slices of bk staged in nbuf workgroup tiles.
 */
export interface SgmTileShape {
  kind: 'tile';
  tm: number; tn: number; sgRows: number; sgCols: number;
  bk: 16 | 32 | 64;
  nbuf: 1 | 2;
  /** Scalar emulation of the matrix operations (gemm_sgm_tile_emu.wgsl): tests on adapters without subgroup matrices. */
  emulate?: boolean;
}

interface SgmTileCfg { sgSize: number; gated: boolean; s: SgmTileShape; epi: Epilogue }

/** Lanes per emulated subgroup (EMU_SG in gemm_sgm_*_emu.wgsl). */
const EMU_SG = 32;

function sgmTileGeometry(s: SgmTileShape, gated: boolean, sgSize: number) {
  const subgroups = s.sgRows * s.sgCols;
  const wg = subgroups * sgSize;
  const bm = 16 * s.tm * s.sgRows, bn = 16 * s.tn * s.sgCols;
  const brows = gated ? 2 * bn : bn;
  const lds = s.bk + 8;
  const nld = Math.ceil(((bm + brows) * s.bk) / 4 / wg);
  const bytes = 2 * s.nbuf * (bm + brows) * lds + 4 * 256 * subgroups * (gated ? 2 : 1);
  return { subgroups, wg, bm, bn, brows, lds, nld, bytes };
}

function sgmTileSpec(c: SgmTileCfg, emulate: boolean): Specialization {
  const g = sgmTileGeometry(c.s, c.gated, c.sgSize);
  const nb = c.gated ? 2 * c.s.tn : c.s.tn;
  return {
    entry: c.gated ? 'sgm_tile_gated' : 'sgm_tile',
    enables: emulate ? ['f16'] : ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: emulate ? [] : [SGM_DIAGNOSTIC],
    aliases: {
      T: 'f16', T4: 'vec4<f16>',
      TileA: `array<f16, ${c.s.nbuf * g.bm * g.lds}>`, TileB: `array<f16, ${c.s.nbuf * g.brows * g.lds}>`,
      Scratch: `array<f32, ${256 * g.subgroups * (c.gated ? 2 : 1)}>`, Stage: `array<vec4<f16>, ${g.nld}>`,
      Acc: `array<SmC, ${c.s.tm * nb}>`, ArrL: `array<SmL, ${c.s.tm}>`, ArrR: `array<SmR, ${nb}>`,
    },
    constants: {
      SG_SIZE: c.sgSize, SG_ROWS: c.s.sgRows, SG_COLS: c.s.sgCols, TM: c.s.tm, TN: c.s.tn, BK: c.s.bk,
      NBUF: c.s.nbuf, GATED: c.gated, NLD: g.nld, ...epilogueConstants(c.epi),
    },
  };
}

const [sgmTileProgram, sgmTileEmuProgram] = realAndEmulated<SgmTileCfg>({
  name: 'gemm_sgm_tile', files: ['gemm_sgm_tile.wgsl', 'gemm_sgm_tile.wgsl'], ops: ['gemm_sgm_tile_ops.wgsl', 'gemm_sgm_tile_emu.wgsl'],
  entry: 'sgm_tile', spec: sgmTileSpec,
});

// ---- generated staged subgroup-matrix kernel (shaders/gemm_sgm_tile_gen.wgsl) ----------------------

/**
 * The staged tensor-core kernel with every matrix and staged register a named variable, one generated
 * entry point per configuration (shaders/gemm_sgm_tile_gen.gen.mjs). `id` = {t|g}{BM}x{BN}_sg{R}x{C}_k{BK}_b{NBUF}:
 * plain (t) or gated (g), R × C subgroups of 32 lanes, BK-deep slices in NBUF workgroup tiles.
 */
export interface SgmTileGenShape {
  kind: 'tile-gen';
  id: string;
  /**
   * Split-K: K's slices shared out over this many workgroups per tile (the id's tgs_ entry, ids in
   * SGM_TILE_GEN_SPLIT_K), their f32 partial sums then reduced with the epilogue (shaders/gemm_splitk.wgsl).
   * Absent or 1: one workgroup walks all of K. Fewer run when K has fewer slices (every split gets some).
   */
  splits?: number;
  /** The scalar-emulated twin (gemm_sgm_tile_gen_emu.wgsl): tests on adapters without subgroup matrices. */
  emulate?: boolean;
  /**
   * K as a pipeline constant (WGSL KFIX; one pipeline per K): the staged rows' global offsets and the slice count
   * become literals (H100: the prefill tile 219 → 227–229 TFLOP/s). Absent: FAPOOL_TILE_FIXK (tileFixKDefault, on).
   */
  fixK?: boolean;
  /**
   * The weights are stored in 64 × 64 blocks (WGSL WBLK; `toWeightBlocks`): each staged slice of a 64-column tile is
   * one contiguous run. Unchecked 16-byte tiles (_u8, _un8, _u8p2) whose BN divides 64, N and K whole blocks.
   */
  wblk?: boolean;
  /**
   * The decode tiles (BM ≤ 64, no _ks2) flush their results through the epilogue scratch in this many turns (WGSL
   * CS_TURNS; it divides the tile's subgroup count), so the scratch is that much smaller. Absent: FAPOOL_TILE_CS.
   */
  csTurns?: number;
}

/** Configurations the generator writes (CONFIGS in shaders/gemm_sgm_tile_gen.gen.mjs; a test keeps them equal). */
export const SGM_TILE_GEN_IDS: readonly string[] = [
  't128x256_sg2x4_k32_b1', 't128x256_sg2x4_k16_b2', 't256x128_sg4x2_k32_b1', 't256x128_sg4x2_k16_b2',
  't128x128_sg2x2_k32_b1', 't128x128_sg2x2_k32_b2', 't128x128_sg2x2_k16_b2', 't128x128_sg4x2_k32_b1',
  'g128x128_sg2x4_k32_b1', 'g128x64_sg2x2_k32_b2',
  't128x128_sg2x2_k32_b1_g8',
  'g128x128_sg2x4_k32_b1_g8',
  't16x64_sg1x4_k64_b2', 't16x64_sg1x4_k128_b1', 't16x128_sg1x4_k64_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg2x2_k32_b2', 't64x64_sg1x4_k64_b1',
  'g16x64_sg1x4_k64_b1', 'g32x64_sg1x4_k64_b1', 'g64x64_sg2x2_k32_b1',
  't64x16_sg4x1_k64_b1', 't32x16_sg2x1_k64_b1', 't64x32_sg2x2_k64_b1', 't64x32_sg4x1_k64_b1', 't16x32_sg1x2_k128_b1', 't32x32_sg2x1_k64_b1',
  't32x32_sg2x2_k32_b1', 't64x32_sg2x1_k16_b2', 'g32x32_sg1x2_k32_b2', 'g32x16_sg2x1_k16_b1',
  't32x32_sg2x2_k32_b1_g3', 'g32x16_sg2x1_k16_b1_g2',
  't128x256_sg2x4_k32_b1_u', 't256x128_sg4x2_k32_b1_u', 't128x128_sg2x2_k32_b1_u',
  'g128x128_sg2x4_k32_b1_u', 't128x128_sg2x2_k32_b1_un8', 'g128x128_sg2x4_k32_b1_u8', 't64x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8',
  't32x32_sg2x2_k32_b1_un8', 'g32x32_sg1x2_k32_b2_u8',
  't128x128_sg2x2_k32_b1_u8',
  't128x128_sg2x2_k32_b2_u8', 't256x128_sg4x2_k32_b1_u8', 't32x32_sg2x2_k32_b2_u8',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 'g16x64_sg1x4_k64_b1_u8', 'g32x64_sg1x4_k64_b1_u8',
  't128x128_sg2x2_k32_b1_un', 't128x128_sg2x2_k32_b1_uf', 't128x256_sg2x4_k32_b1_un', 'g128x128_sg2x4_k32_b1_un', 't32x32_sg2x2_k32_b1_un', 't32x32_sg2x2_k32_b1_uf',
  't32x32_sg2x2_k32_b1_u', 't64x32_sg2x1_k16_b2_u', 'g32x16_sg2x1_k16_b1_u',
  // The checked twins of small unchecked ones (without robust buffer access a ragged launch takes its twin).
  't32x32_sg2x2_k32_b2', 'g32x32_sg1x2_k16_b1', 'g32x32_sg1x2_k32_b1',
  'g64x64_sg2x2_k64_b1_u8_ks2', 't64x64_sg1x4_k128_b1_u8_ks2', 't32x32_sg2x2_k64_b1_u8_ks2', 'g32x32_sg1x2_k32_b1_u8_ks2',
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8', 'g16x64_sg1x4_k64_b1_un8', 'g32x64_sg1x4_k64_b1_un8', 'g64x64_sg2x2_k32_b1_un8',
  'g64x64_sg2x2_k64_b1_un8_ks2', 't64x64_sg1x4_k128_b1_un8_ks2', 't32x32_sg2x2_k64_b1_un8_ks2',
  // The decode tiles prefetching two slices ahead (_u8p2, session 40), and two small ones for the emulation tests.
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2', 'g32x64_sg1x4_k64_b1_u8p2', 'g64x64_sg2x2_k32_b1_u8p2',
  'g64x64_sg2x2_k64_b1_u8p2_ks2', 't32x32_sg2x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1_u8p2_ks2', 'g32x32_sg1x2_k32_b1_u8p2',
  // 64 rows × 32 columns on 16-byte staging (session 45): 13.5 KB of staging, three a SM with the scratch in turns.
  't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
  // 16 rows × 128 columns on 16-byte staging (session 49): 16 KB of weights a slice, the plain twin of the gated
  // g16x64 that beat the 8-row GEMV (two a SM with the scratch in turns).
  't16x128_sg1x4_k64_b1_u8p2', 't16x128_sg1x4_k64_b1_un8',
];

/**
 * Tiles for decode rows (16–64 rows × 16–128 columns: many workgroups on skinny products, weights staged with
 * vector loads; session 5, against the skinny kernels that read weights straight into matrices at 0.6–1 TB/s).
 */
export const SGM_TILE_GEN_DECODE: readonly string[] = [
  't16x64_sg1x4_k64_b2', 't16x64_sg1x4_k128_b1', 't16x128_sg1x4_k64_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg2x2_k32_b2', 't64x64_sg1x4_k64_b1',
  'g16x64_sg1x4_k64_b1', 'g32x64_sg1x4_k64_b1', 'g64x64_sg2x2_k32_b1',
  // Narrow column blocks (16–32) for the narrow products (N = 4096: o, down): 128–256 workgroups.
  't64x16_sg4x1_k64_b1', 't32x16_sg2x1_k64_b1', 't64x32_sg2x2_k64_b1', 't64x32_sg4x1_k64_b1', 't16x32_sg1x2_k128_b1', 't32x32_sg2x1_k64_b1',
  // The default tiles' 16-byte-staging twins (session 14).
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 't64x64_sg1x4_k64_b1_u8', 'g16x64_sg1x4_k64_b1_u8', 'g32x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8',
  // 64 rows with twice the bytes in flight a workgroup: two subgroup groups share out each staged slice's K halves
  // (session 17, prepared: the 64-row gated product sat at 1.75 TB/s, cuBLAS 2.9).
  'g64x64_sg2x2_k64_b1_u8_ks2', 't64x64_sg1x4_k128_b1_u8_ks2',
  // Their twins without register prefetch (_un8), for devices without robust buffer access (session 26).
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8', 'g16x64_sg1x4_k64_b1_un8', 'g32x64_sg1x4_k64_b1_un8', 'g64x64_sg2x2_k32_b1_un8',
  'g64x64_sg2x2_k64_b1_un8_ks2', 't64x64_sg1x4_k128_b1_un8_ks2',
  // Their twins prefetching two slices ahead (_u8p2, session 40: two slices' loads in flight a workgroup).
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2', 'g32x64_sg1x4_k64_b1_u8p2', 'g64x64_sg2x2_k32_b1_u8p2', 'g64x64_sg2x2_k64_b1_u8p2_ks2',
  // 64 × 32 on 16-byte staging (session 45): twice the workgroups of t64x64 at 13.5 KB of staging each (three a SM
  // with the epilogue scratch in turns, FAPOOL_TILE_CS), for the 64-row products' warps a SM.
  't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
  // 16 × 128 on 16-byte staging (session 49, untimed): the 8-row narrow plain products (o, down: `:n128`; the LM head
  // in the sweep) with the bytes a slice of the gated g16x64 (16 KB of weights), which read 3.4 TB/s at 8 rows where
  // t32x64 reads 2.3–2.5.
  't16x128_sg1x4_k64_b1_u8p2', 't16x128_sg1x4_k64_b1_un8',
];

/**
 * Configurations with a RoPE-epilogue entry tg_{id}_r (ROPE in shaders/gemm_sgm_tile_gen.gen.mjs; a test keeps them
 * equal): the plain decode tiles and their twins, for a QKV product of 9..64 rows (LinearArgs.rope).
 */
export const SGM_TILE_GEN_ROPE: readonly string[] = [
  't16x32_sg1x2_k128_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg1x4_k64_b1',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 't64x64_sg1x4_k64_b1_u8',
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8',
  't32x32_sg2x2_k32_b1', 't32x32_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 't32x32_sg2x2_k32_b1_u8p2',
  't64x32_sg2x2_k64_b1', 't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
];

/** Configurations with a split-K entry (SPLIT_K in shaders/gemm_sgm_tile_gen.gen.mjs; a test keeps them equal). */
export const SGM_TILE_GEN_SPLIT_K: readonly string[] = [
  't16x64_sg1x4_k64_b2', 't16x64_sg1x4_k128_b1', 't16x128_sg1x4_k64_b1', 't32x64_sg1x4_k64_b1', 't64x64_sg2x2_k32_b2', 't64x64_sg1x4_k64_b1',
  'g16x64_sg1x4_k64_b1', 'g32x64_sg1x4_k64_b1', 'g64x64_sg2x2_k32_b1',
  't64x16_sg4x1_k64_b1', 't32x16_sg2x1_k64_b1', 't64x32_sg2x2_k64_b1', 't64x32_sg4x1_k64_b1', 't16x32_sg1x2_k128_b1', 't32x32_sg2x1_k64_b1',
  't32x32_sg2x2_k32_b1', 'g32x16_sg2x1_k16_b1',
  't16x32_sg1x2_k128_b1_u8', 't32x64_sg1x4_k64_b1_u8', 't64x64_sg1x4_k64_b1_u8', 'g16x64_sg1x4_k64_b1_u8', 'g32x64_sg1x4_k64_b1_u8', 'g64x64_sg2x2_k32_b1_u8',
  't32x32_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_un8', 't32x64_sg1x4_k64_b1_un8', 't64x64_sg1x4_k64_b1_un8', 'g16x64_sg1x4_k64_b1_un8', 'g32x64_sg1x4_k64_b1_un8', 'g64x64_sg2x2_k32_b1_un8',
  't16x32_sg1x2_k128_b1_u8p2', 't32x64_sg1x4_k64_b1_u8p2', 't64x64_sg1x4_k64_b1_u8p2', 'g16x64_sg1x4_k64_b1_u8p2', 'g32x64_sg1x4_k64_b1_u8p2', 'g64x64_sg2x2_k32_b1_u8p2', 't32x32_sg2x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1_u8p2', 'g32x32_sg1x2_k32_b1',
  't64x32_sg2x2_k64_b1_u8', 't64x32_sg2x2_k64_b1_un8',
  't16x128_sg1x4_k64_b1_u8p2', 't16x128_sg1x4_k64_b1_un8',
];

/** The generated configurations meant for big GPUs (the rest are small ones for the emulation tests). */
export const SGM_TILE_GEN_BIG: readonly string[] = SGM_TILE_GEN_IDS.filter((id) => /^[tg](?:128|256)x/.test(id) || SGM_TILE_GEN_DECODE.includes(id));

export interface TileGenGeometry {
  gated: boolean; bm: number; bn: number; sgRows: number; sgCols: number; bk: number; nbuf: number;
  /** Row blocks per group of the grouped tile order (_g{G}); 0: plain order. */
  group: number;
  /** _u, _un, _uf, _u8, _un8, _u8p2: staging without bounds checks; only for K % bk == 0. */
  unchecked: boolean;
  /** _u8, _un8, _u8p2: 16-byte staging loads (x and weights bound as vec4<u32> views). */
  wide: boolean;
  /** _ks2: 2 (a second group of R × C subgroups multiplies the second half of every staged slice), else 1. */
  ks: number;
  tm: number; tn: number; wg: number; brows: number; lds: number; bytes: number;
}

/** Geometry of a generated configuration id (the generator's parseId, same rules). */
export function tileGenGeometry(id: string): TileGenGeometry {
  const m = /^([tg])(\d+)x(\d+)_sg(\d+)x(\d+)_k(\d+)_b([12])(?:_g(\d+))?(_u|_un|_uf|_u8|_un8|_u8p2)?(_ks2)?$/.exec(id);
  if (!m || !SGM_TILE_GEN_IDS.includes(id)) throw new LimitError(`gemm: no generated tile configuration '${id}' (have: ${SGM_TILE_GEN_IDS.join(', ')})`);
  const gated = m[1] === 'g', group = Number(m[8] ?? 0), ks = m[10] ? 2 : 1;
  const [bm, bn, sgRows, sgCols, bk, nbuf] = m.slice(2, 8).map(Number) as [number, number, number, number, number, number];
  const brows = gated ? 2 * bn : bn, lds = bk + 8, subgroups = sgRows * sgCols * ks;
  const bytes = 2 * nbuf * (bm + brows) * lds + 4 * scratchFloats({ sgRows, sgCols, ks, gated });
  return { gated, bm, bn, sgRows, sgCols, bk, nbuf, group, unchecked: m[9] !== undefined, wide: m[9] === '_u8' || m[9] === '_un8' || m[9] === '_u8p2', ks, tm: bm / (16 * sgRows), tn: bn / (16 * sgCols), wg: 32 * subgroups, brows, lds, bytes };
}

/**
 * The most rows a generated tile covers (its BM). Activation buffers hold whole multiples of it (the run state), so an
 * unchecked tile at a ragged M binds x widened to whole tiles (tileOperandViews) rather than falling back to its
 * checked twin, which stages 8 bytes a load behind bounds checks (session 48: a 48-row gate+up on the twin 0.174 ms,
 * on the unchecked _ks2 tile 0.137).
 */
export const SGM_TILE_MAX_ROWS = Math.max(...SGM_TILE_GEN_IDS.map((id) => tileGenGeometry(id).bm));
/** The most weight rows (output columns) a generated tile covers (its BN): weight buffers hold whole multiples of it. */
export const SGM_TILE_MAX_COLS = Math.max(...SGM_TILE_GEN_IDS.map((id) => tileGenGeometry(id).bn));

/** `n` rows rounded up to whole tiles of `tile` rows, within `fit` (what a binding holds), never fewer than `n`. */
export function wholeTileRows(n: number, tile: number, fit = Infinity): number {
  return Math.max(n, Math.min(Math.ceil(n / tile) * tile, fit));
}

interface SgmTileGenCfg {
  id: string; epi: Epilogue; split: boolean; /** K fixed in the pipeline, 0: read from the uniforms */ kfix: number;
  /** The weights in 64 × 64 blocks (SgmTileGenShape.wblk). */
  wblk: boolean;
  /** The device has robust buffer access (Caps.robustBufferAccess not false): STS_HALVES's default (tileStoreConstants). */
  robust: boolean;
  /** The RoPE epilogue's pipeline constants (ropeEpilogueConstants): the tg_{id}_r entry. */
  rope?: Record<string, number | boolean>;
  /** The epilogue scratch's turns (WGSL CS_TURNS, tileCsTurns): Scratch is 1 / turns of the whole. */
  turns: number;
}

function sgmTileGenSpec(c: SgmTileGenCfg, emulate: boolean): Specialization {
  const g = tileGenGeometry(c.id);
  return {
    entry: `${c.split ? 'tgs' : 'tg'}_${c.id}${c.rope ? '_r' : ''}`,
    enables: emulate ? ['f16'] : ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: emulate ? [] : [SGM_DIAGNOSTIC],
    aliases: {
      T: 'f16', T4: 'vec4<f16>',
      TileA: `array<f16, ${g.nbuf * g.bm * g.lds}>`, TileB: `array<f16, ${g.nbuf * g.brows * g.lds}>`,
      Scratch: `array<f32, ${scratchFloats(g) / c.turns}>`,
    },
    constants: { ...epilogueConstants(c.epi), KFIX: c.kfix, WBLK: c.wblk, ...tileDebugConstants(), ...tileStoreConstants(c.robust, rows16Tile(g)), ...c.rope,
      ...(c.turns > 1 ? { CS_TURNS: c.turns } : {}) },
  };
}

/**
 * FAPOOL_TILE_DEBUG=xfix|wfix|xfix,wfix — measurement only, the products are wrong (a warning says so, once): the
 * unchecked tiles' x or weight loads read K-slice 0's addresses every slice (L1 hits), to time a tile without that
 * operand's memory traffic. Checked tiles (and launches that fall back to their checked twins) ignore it.
 */
export function tileDebugConstants(): Record<string, boolean> {
  const raw = envVar('FAPOOL_TILE_DEBUG')?.trim() ?? '';
  const v = raw.split(',').map((t) => t.trim()).filter(Boolean);
  if (v.some((t) => t !== 'xfix' && t !== 'wfix')) throw new LimitError(`FAPOOL_TILE_DEBUG=${raw}: expected xfix, wfix or xfix,wfix`);
  if (v.length && !debugWarned) {
    debugWarned = true;
    console.warn(`fapool: FAPOOL_TILE_DEBUG=${raw} is set: the tensor-core tiles compute wrong products (a measurement switch)`);
  }
  return v.length ? { XFIX: v.includes('xfix'), WFIX: v.includes('wfix') } : {};
}
let debugWarned = false;

/**
 * FAPOOL_TILE_STS — how the tiles stage without bank conflicts: comma-separated, `alt` or `plain`, `rows` or `seq`,
 * `rows16` or `seq16`, `sub`, `xor` or `mask`, `pad` or `nopad`; unset: `alt,rows,rows16`, and `mask,pad` on the tiles
 * rows16 applies to (16-byte chunks, BK 32: the prefill pair, and the gated g64x64_sg2x2_k32 decode twins — those untimed
 * with pad; the default 64-row gated product runs their _ks2 twin) without robust buffer access, `sub,nopad` on every other
 * tile and with robust buffer access (whose clamps make every store per element anyway). A token given applies to
 * every tile; one left out keeps its default. (`plain` does not touch the rows16 tiles' half order: `seq16` turns that off.)
 * alt: the 16-byte staging tiles with 8 or 16 chunks a row store each chunk's 8-byte halves in an order alternating
 * between bank partners (WGSL STS_ALT). H100, session 41 (rounds/s41e.sh): the 64-row qkv tile without memory traffic
 * 46.3 → 38.3 µs, with it 0.0683 → 0.0660 ms; the b64 × 4K step 7225 → 7209 µs GPU, b8 × 32K unchanged; the same bits.
 * rows: the 8-byte staging tiles with 8 chunks a row (the prefill tiles) pair rows 4 apart in a store phase (WGSL
 * STS_ROWS; seq: consecutive rows, 2-way conflicts). H100, session 42 (rounds/s42b.sh, two alternations): f16 4096³
 * 227.1 → 242.5 TFLOP/s, gated 202.1 → 216.9; seed-4l TTFT 4K 42.8 → 41.3 ms, 32K 556.1 → 544.4.
 * rows16: the 16-byte staging tiles with 4 chunks a row (BK 32: the robust prefill pair, the gated 33–64-row decode
 * tiles' 16-byte twins) likewise, their 3-way conflicts gone (WGSL STS_ROWS16). H100, session 42 (rounds/s43e.sh,
 * alternated): with robustness the prefill pair at 4096³ 141.5–142.4 → 183.0 TFLOP/s, gated 162.4–163.4 → 211.0–215.1
 * (+29 %, +31 %); without it the same tiles lost (_un8 205.2 → 190.7–192.7, _u8 206.5–206.8 → 193.8–194.4) until mask.
 * sub / xor / mask: how alt and rows16 write a chunk's second half's offset (4 − pa, pa ^ 4, or both addresses ANDed
 * with ~3: WGSL STS_HALVES) — the same values, but what the driver proves of their alignment decides whether it merges
 * a chunk's 2-byte stores into 8-byte ones. H100, session 44 (rounds/s46b.sh, machine code and 4096³ without
 * robustness, two alternations): with sub or xor rows16 stores every chunk as 8 STS.U16, with mask as 2 STS.64 but for
 * the chunks at tile offset 0; rows16 then wins there too: _un8 190.7 → 237.7, _u8 205.9–207.8 → 244.2–247.6 TFLOP/s,
 * the same errors (the default _un: 240.9). alt's tiles (BK 64 / 128) stored 8-byte halves already, and mask costs
 * their 8-row split tiles time: H100, session 45 (rounds/s46g.sh, two alternations), b8 × 4K 1878.7 µs GPU with sub,
 * 1926.8 with mask (down ×4 258–262 → 275), 1939.9 with mask,pad; b64 unchanged (7077.9); so they keep sub.
 * pad / nopad: whether the 16-byte staging rows start past their 8 pad halves (WGSL STS_PAD), so that the chunks at
 * offset 0 merge too (rounds/s46d.sh: no STS.U16 left in the `_u8` loop). H200, session 45 (rounds/s46d.sh, 4096³, the
 * same call): `_u8` mask,nopad 237.7 TFLOP/s, mask,pad **244.2** (session 43's seq16,sub `_un` 236.1); gated 209.1 →
 * 209.7. H100 (rounds/s46g.sh, alternated): TTFT 4K 38.9 / 38.3 → 38.0 / 38.1 ms, 32K 428.2 → 427.4; tokens the same.
 * Tried and removed (session 49, H200, rounds/s49a.sh): a chunk's halves in order from an address ANDed with ~7, to let
 * the driver prove 16-byte alignment. It still stored two STS.64 (no STS.128 in the loop), now 2-way conflicted:
 * f16 4096³ 243.4 / 244.2 → 225.2 / 226.7 TFLOP/s, b64 × 4K 5341 → 5407 µs.
 */
export function tileStoreConstants(robust = false, rows16Staging = true): Record<string, boolean | number> {
  const raw = envVar('FAPOOL_TILE_STS')?.trim() ?? '';
  const bad = () => new LimitError(`FAPOOL_TILE_STS=${raw}: expected alt or plain, rows or seq, rows16 or seq16, sub, xor or mask, pad or nopad, comma-separated (default alt,rows,rows16; without robust buffer access mask,pad on the BK-32 16-byte tiles, else sub,nopad)`);
  let alt: boolean | undefined, rows: boolean | undefined, rowsSw: boolean | undefined, halves: number | undefined, pad: boolean | undefined;
  for (const t of raw ? raw.split(',').map((x) => x.trim()) : []) {
    const h = HALVES_FORMS.indexOf(t);
    if (h >= 0 && halves === undefined) halves = h;
    else if ((t === 'pad' || t === 'nopad') && pad === undefined) pad = t === 'pad';
    else if ((t === 'alt' || t === 'plain') && alt === undefined) alt = t === 'alt';
    else if ((t === 'rows' || t === 'seq') && rows === undefined) rows = t === 'rows';
    else if ((t === 'rows16' || t === 'seq16') && rowsSw === undefined) rowsSw = t === 'rows16';
    else throw bad();
  }
  // mask and pad by default only where they were measured to win: the rows16 tiles without robust buffer access.
  const bare16 = !robust && rows16Staging;
  return { STS_ALT: alt ?? true, STS_ROWS: rows ?? true, STS_ROWS16: rowsSw ?? true, STS_HALVES: halves ?? (bare16 ? 2 : 0), STS_PAD: pad ?? bare16 };
}

/** Whether a tile stages 16-byte chunks four a row (BK 32): the tiles STS_ROWS16 applies to (the generator's test). */
function rows16Tile(g: { wide: boolean; bk: number; wg: number }): boolean {
  return g.wide && g.bk === 32 && g.wg % 128 === 0;
}
/** FAPOOL_TILE_STS's forms of a chunk's halves' offsets, by their WGSL STS_HALVES value. */
const HALVES_FORMS = ['sub', 'xor', 'mask'];

const [sgmTileGenProgram, sgmTileGenEmuProgram] = realAndEmulated<SgmTileGenCfg>({
  name: 'gemm_sgm_tile_gen', files: ['gemm_sgm_tile_gen.wgsl', 'gemm_sgm_tile_gen_emu.wgsl'], entry: 'tg_t128x256_sg2x4_k32_b1', spec: sgmTileGenSpec,
  includes: ['rope_angle.wgsl', 'rope_epilogue.wgsl'],
});

/** The configuration to run for a product of depth K: `id`, or its checked twin where an unchecked id needs K % BK == 0. */
export function tileGenForShape(id: string, K: number): string {
  const g = tileGenGeometry(id);
  if (g.ks > 1) return id;   // no checked twin: the launch refuses K % BK != 0
  return g.unchecked && K % g.bk !== 0 ? checkedTwin(id) : id;
}

/**
 * Whether the default subgroup-matrix kernel of a plain [M, K] × [N, K]ᵀ product is a generated tile that can end in
 * the RoPE epilogue, so LinearArgs.rope can ride on it: unsplit, one with a RoPE entry (SGM_TILE_GEN_ROPE: the decode
 * tiles); split, any (its split-K reduce applies it).
 */
export function tileGenRopeApplies(caps: Caps, M: number, N: number, K: number): boolean {
  const c = chooseSgmKernel(caps, M, N, K, false);
  if (!(typeof c === 'object' && 'kind' in c && c.kind === 'tile-gen')) return false;
  return (c.splits ?? 1) > 1 ? SGM_TILE_GEN_SPLIT_K.includes(c.id) : SGM_TILE_GEN_ROPE.includes(c.id);
}

/** Whether a generated configuration runs here: 32-lane subgroups (or emulated), workgroup size and memory. */
export function sgmTileGenFits(caps: Caps, s: SgmTileGenShape): boolean {
  const g = tileGenGeometry(s.id);
  return (s.emulate === true || caps.subgroupMaxSize === 32) && g.wg <= caps.maxInvocations && g.wg <= caps.maxWorkgroupSizeX
    && g.bytes <= caps.maxWorkgroupStorage;
}

/** An unchecked configuration's checked twin: the same tile and K slice with bounds-checked staging (a _ks2 one's: its unsplit tile's). */
export function checkedTwin(id: string): string {
  const ks = /^(.*)_k(\d+)_b1_(?:un?8|u8p2)_ks2$/.exec(id);
  if (ks) return `${ks[1]}_k${Number(ks[2]) / 2}_b1`;
  return tileGenGeometry(id).unchecked ? id.slice(0, id.lastIndexOf('_')) : id;   // the staging suffix is the last part
}

/**
 * Without robust buffer access (FAPOOL_ROBUSTNESS=off) nothing clamps an unchecked tile's loads: the rows past M (of
 * x) and past N (of the weights) up to the tile's edge are read — harmless where they lie inside the operand's
 * buffer (those rows feed only outputs that are never written), a fault past the buffer's end. Such a launch takes
 * the checked twin; one whose reads all stay inside the operands' buffers keeps the unchecked tile, and its operands
 * are bound to the rows it reads (tileOperandViews), since a read outside a binding's range is undefined in Vulkan
 * even inside the buffer (GPU-assisted validation reports it: test/gpu-av.sh). With robust buffer access every load
 * is clamped to its binding: `s` as given.
 */
export function tileWithinBuffers(caps: Pick<Caps, 'robustBufferAccess'>, l: TileLaunchOperands, s: SgmTileGenShape): SgmTileGenShape {
  return tileLaunch(caps, l, s).s;
}

type TileOperands = Pick<GemmLaunch, 'x' | 'w' | 'wGate' | 'wUp'>;
type TileLaunchOperands = Pick<GemmLaunch, 'M' | 'N' | 'K' | 'dtype' | 'x' | 'w' | 'wGate' | 'wUp' | 'out'>;

/** The tile a launch runs (tileWithinBuffers) and the operand views it binds: widened where it runs unchecked without robustness. */
function tileLaunch(caps: Pick<Caps, 'robustBufferAccess'>, l: TileLaunchOperands, s: SgmTileGenShape): { s: SgmTileGenShape; ops: TileOperands } {
  const g = tileGenGeometry(s.id);
  if (caps.robustBufferAccess !== false || !g.unchecked) return { s, ops: l };
  const views = tileOperandViews(l, g);
  if (views !== null) return { s, ops: views };
  const twin = checkedTwin(s.id);
  if (!SGM_TILE_GEN_IDS.includes(twin)) {
    throw new LimitError(`gemm: the unchecked tile '${s.id}' would load past an operand's buffer without robust buffer access, and has no checked twin; run with FAPOOL_ROBUSTNESS=on`);
  }
  return { s: { ...s, id: twin }, ops: l };
}

/**
 * An unchecked tile's operands as the rows it reads: x to M and the weights to N rounded up to the tile, over the
 * same buffers — or null where such a view would leave its buffer or overlap the output (a writable binding may not
 * alias another). The views only widen the bindings: the kernel reads the same elements.
 */
export function tileOperandViews(l: TileLaunchOperands, g: Pick<TileGenGeometry, 'bm' | 'bn'>): TileOperands | null {
  const rowBytes = l.K * DTYPE_BYTES[l.dtype];
  const outEnd = l.out.offset + byteSize(l.out.shape, l.out.dtype);
  const widen = (t: Tensor | undefined, rows: number): Tensor | undefined | null => {
    if (t === undefined) return undefined;
    const end = t.offset + rows * rowBytes;
    if (end > t.buffer.size) return null;
    if (t.buffer === l.out.buffer && t.offset < outEnd && l.out.offset < end) return null;
    return { ...t, shape: [rows, l.K] };
  };
  const mRows = ceilDiv(l.M, g.bm) * g.bm, nRows = ceilDiv(l.N, g.bn) * g.bn;
  const v = { x: widen(l.x, mRows), w: widen(l.w, nRows), wGate: widen(l.wGate, nRows), wUp: widen(l.wUp, nRows) };
  if (v.x === null || v.w === null || v.wGate === null || v.wUp === null) return null;
  return { x: v.x!, ...(v.w ? { w: v.w } : {}), ...(v.wGate ? { wGate: v.wGate } : {}), ...(v.wUp ? { wUp: v.wUp } : {}) };
}

function launchSgmTileGen(gpu: Gpu, l: GemmLaunch, asked: SgmTileGenShape): Dispatch {
  const caps = gpu.caps;
  // Without robust buffer access an unchecked tile's operands are bound to the rows it reads (tileLaunch).
  const { s, ops } = tileLaunch(caps, l, asked);
  const gated = l.kind === 'gated';
  const g = tileGenGeometry(s.id);
  checkSgmOperands(caps, l, s.emulate === true);
  assertShape(g.gated === gated, `gemm: generated tile '${s.id}' is for the ${g.gated ? 'gated' : 'plain'} product, this is ${gated ? 'gated' : 'plain'}`);
  assertShape(l.K % 4 === 0, `gemm: the subgroup-matrix tile kernel needs K % 4 == 0, got K = ${l.K}`);
  assertShape(!g.unchecked || l.K % g.bk === 0, `gemm: the unchecked tile '${s.id}' needs K % ${g.bk} == 0, got K = ${l.K}`);
  if (!sgmTileGenFits(caps, s)) throw new LimitError(`gemm: generated tile '${s.id}' does not fit this device (32-lane subgroups, ${g.wg} invocations, ${g.bytes} bytes of workgroup memory)`);
  const program = s.emulate ? sgmTileGenEmuProgram : sgmTileGenProgram;
  const grid = (z: number): [number, number, number] => [ceilDiv(l.N, g.bn), ceilDiv(l.M, g.bm), z];
  // The operands' views: vec4<f16> (x4, w4, …), or 16-byte vec4<u32> ones (x8, w8, …) for the _u8 / _un8 entries.
  const v = g.wide ? '8' : '4';
  const operands: Record<string, Tensor> = { [`x${v}`]: ops.x, ...(gated ? { [`wg${v}`]: ops.wGate!, [`wu${v}`]: ops.wUp! } : { [`w${v}`]: ops.w! }) };
  const splits = s.splits ?? 1;
  const kfix = (s.fixK ?? tileFixKDefault()) ? l.K : 0;
  const wblk = asked.wblk === true, robust = caps.robustBufferAccess !== false;
  const turns = tileCsTurns(caps, g, asked.csTurns);
  if (wblk) checkWeightBlocks(asked.id, s.id, g, l.N, l.K);
  // Split, the RoPE epilogue rides in the split-K reduce (below); unsplit, in the tile's own _r entry.
  if (l.rope && splits === 1) {
    if (!SGM_TILE_GEN_ROPE.includes(s.id)) throw new LimitError(`gemm: tile '${s.id}' has no RoPE-epilogue entry (have: ${SGM_TILE_GEN_ROPE.join(', ')}; split, any tile with a split-K entry)`);
    const prog = gpu.program(program, { id: s.id, epi: l.epi, split: false, kfix, wblk, robust, turns, rope: ropeEpilogueConstants(l.rope) });
    const r = ropeEpilogueOperands(gpu, l.rope);
    return gpu.dispatch(prog, { bind: { ...operands, y: l.out, bias: l.bias ?? l.x, ...r.bind }, uniforms: { M: l.M, N: l.N, K: l.K, kper: 0, ...r.uniforms }, workgroups: grid(1) });
  }
  if (splits === 1) {
    if (l.thenNorm) throw new LimitError(`gemm: the row norm after a product runs in the split-K reduce; tile '${s.id}' is not split`);
    const prog = gpu.program(program, { id: s.id, epi: l.epi, split: false, kfix, wblk, robust, turns });
    const bind: Record<string, Tensor> = { ...operands, y: l.out, ...(gated ? {} : { bias: l.bias ?? l.x, residual: l.residual ?? l.x }) };
    return gpu.dispatch(prog, { bind, uniforms: { M: l.M, N: l.N, K: l.K, kper: 0, ...NO_ROPE_UNIFORMS }, workgroups: grid(1) });
  }
  if (!Number.isInteger(splits) || splits < 1) throw new ShapeError(`gemm: split-K count must be a positive integer, got ${splits}`);
  if (!SGM_TILE_GEN_SPLIT_K.includes(s.id)) throw new LimitError(`gemm: generated tile '${s.id}' has no split-K entry (have: ${SGM_TILE_GEN_SPLIT_K.join(', ')})`);
  // Every split gets at least one slice: `splits` is an upper bound when K has few slices.
  const slices = ceilDiv(l.K, g.bk), kper = ceilDiv(slices, splits), S = ceilDiv(slices, kper);
  return splitKReduce(gpu, l, S, (part) => gpu.dispatch(gpu.program(program, { id: s.id, epi: NO_EPILOGUE, split: true, kfix, wblk, robust, turns }), {
    bind: { ...operands, part }, uniforms: { M: l.M, N: l.N, K: l.K, kper, ...NO_ROPE_UNIFORMS }, workgroups: grid(S),
  }));
}

/** Whether a tile can read its weights in 64 × 64 blocks: unchecked 16-byte staging, its staged rows in one block (BN divides 64). */
export function tileReadsWeightBlocks(g: TileGenGeometry): boolean {
  return g.unchecked && g.wide && WEIGHT_BLOCK % g.bn === 0;
}

/**
 * A launch on blocked weights (SgmTileGenShape.wblk) runs the tile as asked: only a tile that reads blocks
 * (tileReadsWeightBlocks) can, so no checked twin can stand in.
 */
function checkWeightBlocks(asked: string, id: string, g: TileGenGeometry, N: number, K: number): void {
  if (!tileReadsWeightBlocks(g)) {
    const twin = id !== asked ? ` ('${asked}' runs as its checked twin here: a ragged launch without robust buffer access)` : '';
    throw new LimitError(`gemm: tile '${id}' cannot read weights in 64 × 64 blocks (unchecked 16-byte tiles with BN dividing 64 only)${twin}`);
  }
  assertShape(N % WEIGHT_BLOCK === 0 && K % WEIGHT_BLOCK === 0, `gemm: weights in ${WEIGHT_BLOCK} × ${WEIGHT_BLOCK} blocks need N and K multiples of ${WEIGHT_BLOCK}, got N = ${N}, K = ${K}`);
}

/**
 * Whether generated tiles fix K in their pipelines when a shape does not say (SgmTileGenShape.fixK):
 * FAPOOL_TILE_FIXK=on|off, on by default. H100, session 35 (rounds/s35b.sh, two runs, TFLOP/s at 4096³): the plain
 * prefill tile _un 219.3 → 227.1–229.3, gated _un 198.0–198.5 → 202.1, gated _u8 169.7 → 202.7–203.4; the 64-row
 * decode tiles unchanged within noise (latency-bound slices), the b64 × 4K step 7340 → 7307 µs GPU, TTFT 4K
 * 43.8–44.2 → 42.9 ms; tokens the same. Costs one pipeline per (tile, epilogue, K).
 */
export function tileFixKDefault(): boolean {
  return envChoice('FAPOOL_TILE_FIXK', ['on', 'off'] as const, 'on', "expected 'on' or 'off'") === 'on';
}

/** FAPOOL_TILE_CS's values (tileCsMode). */
export type TileCsMode = 'tile' | 'whole' | 'auto' | number;

/**
 * FAPOOL_TILE_CS — how the decode tiles (BM ≤ 64, no _ks2) hold their epilogue scratch: `tile` (the default: `auto` on
 * the gated decode tiles and the 64 × 32 ones, `whole` on the other plain ones — as measured, below), `whole` (every
 * subgroup its own 16 × 16 region), `auto` (the fewest turns that let one more workgroup fit the device's workgroup
 * memory — caps.maxWorkgroupStorage taken as a SM's share, which session 45 measured on NVIDIA's Vulkan driver: 48 KB)
 * or a turn count (1, 2 or 4: on the tiles whose subgroups it divides; the others flush whole). H100, session 46
 * (rounds/s46k.sh, s46l.sh; ms, whole → auto): the gated g16x64 at 16 rows 0.1311 → 0.1092 (28.3 → 22.3 KB: two a SM
 * instead of one; the b16 × 4K step's gate+up 524 → 438 µs), g32x64 0.1380 either way; t64x32 at 64 rows (qkv, unsplit)
 * 0.0888 → 0.0578 (17.5 → 15.5 KB, three a SM); but the plain t32x64 split tiles lose (8 rows: o 0.0247 → 0.0261, down
 * 0.0762 → 0.0784; the b8 × 4K step 1913.7 → 1992.3 / 2018.5 µs GPU): a third workgroup a SM does not pay for the
 * flush's extra barriers there.
 */
export function tileCsMode(): TileCsMode {
  const raw = envVar('FAPOOL_TILE_CS')?.trim() ?? '';
  if (raw === '' || raw === 'tile') return 'tile';
  if (raw === 'whole' || raw === 'auto') return raw;
  // The decode tiles have 2 or 4 subgroups: more turns than that would apply to none.
  if (!/^[124]$/.test(raw)) throw new LimitError(`FAPOOL_TILE_CS=${raw}: expected tile, whole, auto, 1, 2 or 4 (epilogue scratch turns; a count applies to the tiles whose subgroups it divides)`);
  return Number(raw);
}

/** The f32 words of a generated tile's whole epilogue scratch: a 16 × 16 region a subgroup (two gated). */
function scratchFloats(g: Pick<TileGenGeometry, 'sgRows' | 'sgCols' | 'ks' | 'gated'>): number {
  return 256 * g.sgRows * g.sgCols * g.ks * (g.gated ? 2 : 1);
}

/** Workgroup-memory bytes of a generated tile whose epilogue scratch is flushed in `turns` turns. */
export function tileGenBytes(g: TileGenGeometry, turns = 1): number {
  return g.bytes - 4 * scratchFloats(g) * (1 - 1 / turns);
}

/**
 * The epilogue scratch turns of a tile (WGSL CS_TURNS): `asked` (SgmTileGenShape.csTurns) or FAPOOL_TILE_CS; 1 where the
 * tile has no turns (BM > 64 or _ks2) or the count does not divide its subgroups. `auto`: the fewest turns with the
 * most workgroups a SM by workgroup memory (caps.maxWorkgroupStorage as the SM's share); `tile`: auto on the gated and
 * 64 × 32 tiles, whole on the others.
 */
export function tileCsTurns(caps: Pick<Caps, 'maxWorkgroupStorage'>, g: TileGenGeometry, asked?: number, mode: TileCsMode = tileCsMode()): number {
  const rc = g.sgRows * g.sgCols, turns = g.bm <= 64 && g.ks === 1;
  const ok = (t: number) => Number.isInteger(t) && t >= 1 && rc % t === 0 && (turns || t === 1);
  if (asked !== undefined) {
    if (!ok(asked)) throw new LimitError(`gemm: ${asked} epilogue scratch turns: ${turns ? `they do not divide the tile's ${rc} subgroups` : 'the tile flushes whole (BM > 64 or _ks2)'}`);
    return asked;
  }
  // `tile`: auto where it was measured to win (tileCsMode's note), whole elsewhere.
  // The 16 × 128 tile (`:n128`, untimed) too: whole, its 8 KB of scratch leave one a SM; in four turns, two.
  if (mode === 'tile') mode = g.gated || (g.bm === 64 && g.bn === 32) || (g.bm === 16 && g.bn === 128) ? 'auto' : 'whole';
  if (!turns || mode === 'whole') return 1;
  if (typeof mode === 'number') return ok(mode) ? mode : 1;
  const fit = (t: number) => Math.floor(caps.maxWorkgroupStorage / tileGenBytes(g, t));
  let best = 1;
  for (let t = 2; t <= rc; t *= 2) if (ok(t) && fit(t) > fit(best)) best = t;
  return best;
}

const NO_EPILOGUE: Epilogue = { act: 'none', bias: false, residual: false, accumulate: false };

/**
 * The prefill kernel (M > SKINNY_MAX_M, subgroup-matrix path) when FAPOOL_GEMM_PREFILL is unset, in the
 * variable's syntax: 'direct' (the direct-load kernel, H200 rounds 1–3) or 'tile-gen:<id>[,<id>]'.
 * H200 session 10 (kernels-bench/notes/gemm.md, round 8): the 128×128 tile of four subgroups with unchecked
 * staging, 181–184 TFLOP/s on 4096³ against 151–153 for session 2's t128x256 (gemm-stability.js, ±1 over buffer
 * sets); gated g128x128 unchecked 180–184 against 157; seed-4l warm TTFT 4K 72.3 → 65 ms, 32K 1059–1162 → 1023–1031 ms.
 * Session 11: the plain tile without register prefetch (_un, 200 registers against 235) 186–189 TFLOP/s in
 * gemm-stability (session 10) and the same float64 errors as _u in the H200 sweep (ragged 2.1e-4, 4096³ sampled
 * 2.5e-4); the gated one stays _u (its _un: 167). Session 14: 16-byte staging loads with register prefetch (_u8:
 * half the loads and half their robustness clamps), plain 197.0 TFLOP/s against _un's 188.2, gated 207.1 against
 * _u's 172.7–173.2 (same errors); warm TTFT 4K 63.7–64.4 → 57.0–57.3 ms, 32K 972–998 → 910–941 (calls 1–2). An
 * unchecked tile runs where K % 32 == 0; elsewhere its checked twin (tileGenForShape). A device it does not fit
 * keeps the direct kernel. This is the choice with robust buffer access; without it GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS.
 */
export const GEMM_PREFILL_DEFAULT = 'tile-gen:t128x128_sg2x2_k32_b1_u8,g128x128_sg2x4_k32_b1_u8';

/**
 * The same choice on a device without robust buffer access (FAPOOL_ROBUSTNESS=off). There the driver compiles the
 * 128×128 tiles of four subgroups to the 255-register cap with spills and more machine code (plain 2.6–2.9×, gated
 * 1.3–1.6×; the _u8 pair: 50.7 / 48.3 KB against 19.2 / 36.7 KB and 242 / 223 registers with robustness, whose clamps
 * and selects seem to keep it from scheduling the prefetch that far ahead), and the tiles without register prefetch
 * won, until session 44 (below). H200 session 20, 4096³ TFLOP/s without robustness (rounds/s20a.sh): plain _un 215.1, _un8 201.1, _u8 188.2;
 * gated _un 193.2, _u8 162.4 (with robustness, same call: plain _u8 197.0, _un 188.2; gated _u8 207.8, _u 173.2).
 * Session 44 (H100, rounds/s46b.sh, two alternations): once its rows16 stores are 8 bytes wide (FAPOOL_TILE_STS mask),
 * the plain _u8 tile passes _un at 4096³, 244.2–247.6 against 240.9 TFLOP/s, the same errors; the gated _u8 is within
 * 1 % of _un (218.8 against 217.9), which stays.
 */
export const GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS = 'tile-gen:t128x128_sg2x2_k32_b1_u8,g128x128_sg2x4_k32_b1_un';

/** The built-in prefill choice for a device: robust buffer access changes which tiles the driver compiles best. */
export function gemmPrefillDefault(caps: Pick<Caps, 'robustBufferAccess'>): string {
  return caps.robustBufferAccess === false ? GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS : GEMM_PREFILL_DEFAULT;
}

/**
 * Prefill kernel choice (M > SKINNY_MAX_M on the subgroup-matrix path) from a value in FAPOOL_GEMM_PREFILL's syntax
 * (chooseSgmKernel passes the variable, else gemmPrefillDefault(caps), at every choice: a process sets it before it
 * builds its dispatches): `direct` or `tile-gen:<id>[,<id>]` — a plain (t…) and/or a gated (g…) generated
 * configuration; a product without one keeps the direct kernel.
 */
export function gemmPrefillOverride(value: string): { plain?: SgmTileGenShape; gated?: SgmTileGenShape } {
  const v = value.trim();
  if (!v || v === 'direct') return {};
  if (!v.startsWith('tile-gen:')) throw new LimitError(`FAPOOL_GEMM_PREFILL='${v}': expected 'direct' or 'tile-gen:<id>[,<id>]'`);
  const out: { plain?: SgmTileGenShape; gated?: SgmTileGenShape } = {};
  for (const id of v.slice('tile-gen:'.length).split(',').map((t) => t.trim()).filter(Boolean)) {
    const g = tileGenGeometry(id);
    out[g.gated ? 'gated' : 'plain'] = { kind: 'tile-gen', id };
  }
  return out;
}

// ---- skinny subgroup-matrix kernel for batched decode (shaders/gemm_sgm_skinny.wgsl) ----------------

/**
 * Skinny tensor-core kernel (16 ≤ M ≤ 64): sn × sk subgroups per workgroup (sk split K inside the
 * workgroup), tn 16-column blocks per subgroup, u 16-deep steps of loads in flight per chunk.
 */
export interface SgmSkinnyShape {
  kind: 'skinny';
  sn: number; sk: number; tn: number; u: number;
  /** Scalar emulation of the matrix operations (tests on adapters without subgroup matrices). */
  emulate?: boolean;
}

interface SgmSkinnyCfg { sgSize: number; gated: boolean; mt: number; s: SgmSkinnyShape; epi: Epilogue }


export function sgmSkinnyApplies(M: number, N: number, K: number): boolean {
  return M >= SKINNY_MIN_M && M <= SKINNY_MAX_M && N >= 16 && K % 16 === 0;
}

function sgmSkinnySpec(c: SgmSkinnyCfg, emulate: boolean): Specialization {
  const nb = c.gated ? 2 * c.s.tn : c.s.tn;
  return {
    entry: c.gated ? 'sgm_skinny_gated' : 'sgm_skinny',
    enables: emulate ? ['f16'] : ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    diagnostics: emulate ? [] : [SGM_DIAGNOSTIC],
    aliases: {
      T: 'f16', T4: 'vec4<f16>', Scratch: `array<f32, ${256 * c.s.sn * c.s.sk}>`,
      Acc: `array<SmC, ${c.mt * nb}>`, ArrL: `array<SmL, ${c.s.u * c.mt}>`, ArrR: `array<SmR, ${c.s.u * nb}>`,
    },
    constants: {
      SG_SIZE: c.sgSize, SN: c.s.sn, SK: c.s.sk, MT: c.mt, TN: c.s.tn, U: c.s.u, GATED: c.gated, ...epilogueConstants(c.epi),
    },
  };
}

const [sgmSkinnyProgram, sgmSkinnyEmuProgram] = realAndEmulated<SgmSkinnyCfg>({
  name: 'gemm_sgm_skinny', files: ['gemm_sgm_skinny.wgsl', 'gemm_sgm_skinny.wgsl'], ops: ['gemm_sgm_skinny_ops.wgsl', 'gemm_sgm_skinny_emu.wgsl'],
  entry: 'sgm_skinny', spec: sgmSkinnySpec,
});

export function sgmSkinnyFits(caps: Caps, s: SgmSkinnyShape, gated: boolean): boolean {
  const sgSize = s.emulate ? EMU_SG : caps.subgroupMaxSize;
  const wg = sgSize * s.sn * s.sk;
  const nb = gated ? 2 * s.tn : s.tn;
  return nb <= 16 && Math.ceil((256 * s.sn) / wg) <= 8 && wg <= caps.maxInvocations && wg <= caps.maxWorkgroupSizeX
    && 4 * 256 * s.sn * s.sk <= caps.maxWorkgroupStorage;
}

function launchSgmSkinny(gpu: Gpu, l: GemmLaunch, s: SgmSkinnyShape): Dispatch {
  const caps = gpu.caps;
  const gated = l.kind === 'gated';
  checkSgmOperands(caps, l, s.emulate === true);
  assertShape(sgmSkinnyApplies(l.M, l.N, l.K), `gemm: the skinny subgroup-matrix kernel needs ${SKINNY_MIN_M} <= M <= ${SKINNY_MAX_M}, N >= 16, K % 16 == 0, got ${l.M}x${l.N}x${l.K}`);
  if (!sgmSkinnyFits(caps, s, gated)) throw new LimitError(`gemm: skinny subgroup-matrix shape ${JSON.stringify(s)} does not fit this device`);
  const sgSize = s.emulate ? EMU_SG : caps.subgroupMaxSize;
  const cfg: SgmSkinnyCfg = { sgSize, gated, mt: ceilDiv(l.M, 16), s: { ...s, emulate: undefined }, epi: l.epi };
  const prog = gpu.program(s.emulate ? sgmSkinnyEmuProgram : sgmSkinnyProgram, cfg);
  const bind: Record<string, Tensor> = gated
    ? { x: l.x, y: l.out, w: l.wGate!, wg: l.wGate!, wu: l.wUp! }
    : { x: l.x, y: l.out, w: l.w!, wg: l.w!, wu: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  return gpu.dispatch(prog, { bind, uniforms: { M: l.M, N: l.N, K: l.K }, workgroups: [ceilDiv(l.N, 16 * s.tn * s.sn), 1] });
}

/** Named tile shapes (sweep, tests and the default choice read these). */
export const SGM_TILE_SHAPES: Readonly<Record<string, SgmTileShape>> = {
  't128x128 sg2x2 4x4 k32 b1': { kind: 'tile', tm: 4, tn: 4, sgRows: 2, sgCols: 2, bk: 32, nbuf: 1 },
  't128x128 sg2x2 4x4 k32 b2': { kind: 'tile', tm: 4, tn: 4, sgRows: 2, sgCols: 2, bk: 32, nbuf: 2 },
  't128x128 sg2x2 4x4 k64 b1': { kind: 'tile', tm: 4, tn: 4, sgRows: 2, sgCols: 2, bk: 64, nbuf: 1 },
  't128x128 sg4x2 2x4 k32 b1': { kind: 'tile', tm: 2, tn: 4, sgRows: 4, sgCols: 2, bk: 32, nbuf: 1 },
  't128x128 sg4x2 2x4 k32 b2': { kind: 'tile', tm: 2, tn: 4, sgRows: 4, sgCols: 2, bk: 32, nbuf: 2 },
  't128x256 sg2x4 4x4 k32 b1': { kind: 'tile', tm: 4, tn: 4, sgRows: 2, sgCols: 4, bk: 32, nbuf: 1 },
  't128x256 sg2x4 4x4 k16 b2': { kind: 'tile', tm: 4, tn: 4, sgRows: 2, sgCols: 4, bk: 16, nbuf: 2 },
  't256x128 sg4x2 4x4 k32 b1': { kind: 'tile', tm: 4, tn: 4, sgRows: 4, sgCols: 2, bk: 32, nbuf: 1 },
  't256x128 sg4x2 4x4 k16 b2': { kind: 'tile', tm: 4, tn: 4, sgRows: 4, sgCols: 2, bk: 16, nbuf: 2 },
  't64x64 sg2x2 2x2 k32 b2': { kind: 'tile', tm: 2, tn: 2, sgRows: 2, sgCols: 2, bk: 32, nbuf: 2 },
};

/** Named gated tile shapes (gate and up accumulators: 2·tm·tn per subgroup). */
export const SGM_TILE_GATED_SHAPES: Readonly<Record<string, SgmTileShape>> = {
  'g128x128 sg4x2 2x4 k32 b1': { kind: 'tile', tm: 2, tn: 4, sgRows: 4, sgCols: 2, bk: 32, nbuf: 1 },
  'g128x128 sg2x4 4x2 k32 b1': { kind: 'tile', tm: 4, tn: 2, sgRows: 2, sgCols: 4, bk: 32, nbuf: 1 },
  'g128x64 sg2x2 4x2 k32 b2': { kind: 'tile', tm: 4, tn: 2, sgRows: 2, sgCols: 2, bk: 32, nbuf: 2 },
  'g64x64 sg2x2 2x2 k16 b2': { kind: 'tile', tm: 2, tn: 2, sgRows: 2, sgCols: 2, bk: 16, nbuf: 2 },
};

/** Named skinny shapes (batched decode, 16 ≤ M ≤ 64). */
export const SGM_SKINNY_SHAPES: Readonly<Record<string, SgmSkinnyShape>> = {
  's sn1 sk8 tn1 u4': { kind: 'skinny', sn: 1, sk: 8, tn: 1, u: 4 },
  's sn1 sk8 tn2 u4': { kind: 'skinny', sn: 1, sk: 8, tn: 2, u: 4 },
  's sn1 sk8 tn4 u2': { kind: 'skinny', sn: 1, sk: 8, tn: 4, u: 2 },
  's sn2 sk4 tn2 u4': { kind: 'skinny', sn: 2, sk: 4, tn: 2, u: 4 },
  's sn1 sk4 tn2 u4': { kind: 'skinny', sn: 1, sk: 4, tn: 2, u: 4 },
  's sn2 sk4 tn1 u2': { kind: 'skinny', sn: 2, sk: 4, tn: 1, u: 2 },
};

/** Whether the tile kernel's workgroup (invocations, workgroup memory) fits this device. */
export function sgmTileFits(caps: Caps, s: SgmTileShape, gated: boolean): boolean {
  const sgSize = s.emulate ? EMU_SG : caps.subgroupMaxSize;
  const g = sgmTileGeometry(s, gated, sgSize);
  return s.bk % 16 === 0 && g.wg <= caps.maxInvocations && g.wg <= caps.maxWorkgroupSizeX && g.bytes <= caps.maxWorkgroupStorage;
}

/**
 * The decode tile for decode rows (9..64, or from FAPOOL_DECODE_TILES' rows=; a narrow long-K product such as down
 * from 5; with 16-byte staging every plain product from DECODE_TILE_WIDE_PLAIN_MIN_M), from the H200 sweeps. Session 5 (`rounds/dec6.sh`) found the tiles latency-bound per workgroup: about a
 * slice of K (≈ 1 µs: a DRAM round trip and two barriers) per step whatever the rows, so the narrow products (N =
 * 4096: 64 workgroups) lost or tied against the skinny kernels. Session 9 (`rounds/dec9.sh`, ms at 8 / 16 / 32 / 64
 * rows, results/h200-2026-12-03-s9): split-K fixes the narrow ones — o t32x64 ×4 splits 0.025 / 0.025 / 0.026,
 * t64x64 ×4 0.031 (unsplit 0.066–0.078; the skinny kernel was 0.034–0.063); down t32x64 ×4 0.076 / 0.076 / 0.078,
 * t64x64 ×4 0.092 (unsplit 0.25–0.30, skinny 0.089–0.238, GEMV at 8 rows 0.086) — while the wide ones lose with
 * splits (their 192–500 tiles already fill the GPU; gate+up g64x64 0.176 → 0.225 at ×4, LM head 0.180 → 0.222) and
 * up to 16 rows run best on the narrow tile t16x32 (qkv 0.050 vs t32x64's 0.074, LM head 0.128 vs 0.147). At 8 rows
 * the GEMV stayed ahead of the 8-byte tiles on every product but down; the 16-byte ones (session 14) took every plain
 * product there too (DECODE_TILE_WIDE_PLAIN_MIN_M, 8 until session 53) — except, since session 15, the products of normed x, which
 * chooseGemmPath keeps on the GEMV's f16-pair products. FAPOOL_DECODE_TILES=nosplit keeps session 5's choice (wide
 * products of 9..64 rows, one workgroup per tile; its gated 33..64 rows on the _ks2 twin unless :ks2=off). Every
 * product of 9..64 rows comes here, a prefill chunk of that many tokens too. Null when another kernel should take it.
 */
export function chooseDecodeTile(caps: Caps, M: number, N: number, K: number, gated: boolean, mode = decodeTilesMode()): SgmTileGenShape | null {
  if (M > SKINNY_MAX_M || K % 4 !== 0) return null;
  const wide = N >= DECODE_TILE_MIN_N;
  if (!mode.split && (M <= GEMV_MAX_M || !wide)) return null;
  const onN128 = !gated && n128Tile(caps, mode, M, wide);
  const base = gated ? (M <= 16 ? 'g16x64_sg1x4_k64_b1' : M <= 32 ? 'g32x64_sg1x4_k64_b1' : 'g64x64_sg2x2_k32_b1')
    : onN128 ? N128_BASE
    : mode.split && wide && M <= 16 ? 't16x32_sg1x2_k128_b1' : M <= 32 ? 't32x64_sg1x4_k64_b1' : bn32Tile(mode, N, K) ? BN32_BASE : 't64x64_sg1x4_k64_b1';
  // The 16-byte twin where K is whole slices (else the checked base: 8-byte staging); without register prefetch
  // (_un8) where decodeTilesNoPrefetch says so; prefetching two slices ahead (_u8p2) with `:u8p2`.
  const staged = (noPrefetch: boolean) => mode.wide ? tileGenForShape(`${base}${mode.deep ? '_u8p2' : noPrefetch ? '_un8' : '_u8'}`, K) : base;
  let id = staged(decodeTilesNoPrefetch(caps, mode));
  if (mode.split && M < (gated ? gatedTileMinRows(caps, mode) : plainTileMinRows(mode, N, K, tileGenGeometry(id).wide, onN128))) return null;
  const splits = mode.split ? splitKCount(M, N, K, tileGenGeometry(id)) : 1;   // the same for both twins
  // With K fixed in the pipeline the unsplit 33..64-row tiles prefetch again where the device's default left it out.
  if (splits === 1 && M > 32 && mode.noPrefetch === undefined && tileFixKDefault() && DECODE_TILES_PREFETCH_FIXED_K) id = staged(false);
  // Two slices prefetched ahead (_u8p2) by default where the tile would otherwise take no prefetch, in the measured
  // cases: split tiles of up to 32 rows (DECODE_TILES_DEEP_SPLIT) and the GEMV's rows of a gated product (unsplit);
  // with robust buffer access they keep _u8 (not timed against it).
  const deep = (splits > 1 && M <= 32 && DECODE_TILES_DEEP_SPLIT) || (gated && M <= GEMV_MAX_M && splits === 1);
  if (deep && defaultStagingIsUn8(caps, mode)) id = tileGenForShape(`${base}_u8p2`, K);
  // The _ks2 twin (gated products by default, :ks2=all every one) where it exists, K is whole slices of it and it
  // fits (44 KB of workgroup memory); else as without.
  const ks2 = (mode.ks2 === 'all' || (mode.ks2 === 'gated' && gated)) && splits === 1 ? ksTwin(id) : null;
  // mode.emulate: the scalar-emulated twins where the device has no subgroup matrices (tests on CPU adapters).
  const emulate = !hasSubgroupMatrixF16(caps) && mode.emulate === true && caps.f16;
  const e = emulate ? { emulate } : {};
  const s: SgmTileGenShape = ks2 && K % tileGenGeometry(ks2).bk === 0 && sgmTileGenFits(caps, { kind: 'tile-gen', id: ks2, ...e }) ? { kind: 'tile-gen', id: ks2, ...e }
    : splits > 1 ? { kind: 'tile-gen', id, splits, ...e } : { kind: 'tile-gen', id, ...e };
  return (hasSubgroupMatrixF16(caps) || emulate) && sgmTileGenFits(caps, s) ? s : null;
}

/**
 * Most columns of a wide plain product of 33..64 rows that takes the 64 × 32 tile (DecodeTilesMode.bn32 unsaid): its 64 × 64
 * grid would leave a wave's slots empty (qkv, N = 12288: 192 workgroups, on 132 SMs × 2 a SM; the 64 × 32 tile's 384
 * fill 0.97 of 132 × 3). Of the wider products only the LM head's was measured, and it lost, so the measured width is
 * the bound. H100, session 46 (rounds/s46l.sh, 64 rows, ms): qkv t64x64 0.0655 against t64x32 with its scratch in two
 * turns (three a SM) 0.0578, in the b64 × 4K step (RoPE epilogue) 274.6 → 236.8 µs; the LM head (N = 32000, 500
 * workgroups) loses on it, 0.1400 → 0.1617, and so do the split o and down (their split count halves: o 111.5 → 136.3,
 * down 317.9 → 405.5 µs a step).
 */
export const DECODE_TILE_BN32_MAX_N = 12288;

/**
 * The 16 × 128 decode tile's checked base (`:n128`, untimed): for the narrow plain products (o, down) of up to 16 rows,
 * 16 KB of weights a staged slice as the gated g16x64 stages (session 49, H200, 8 rows: that tile read 3.4 TB/s on
 * gate+up where the t32x64 split tiles read 2.3–2.5 on down and o). Its 16-byte twins are `_u8p2` and `_un8`.
 */
const N128_BASE = 't16x128_sg1x4_k64_b1';

/** The 64 × 32 decode tile's checked base (chooseDecodeTile stages it 16 bytes a load where K is whole slices). */
const BN32_BASE = 't64x32_sg2x2_k64_b1';

/**
 * Whether a plain product of 33..64 rows runs on the 64 × 32 tile: `:bn32` every one, `:bn64` none, else the wide ones
 * of up to DECODE_TILE_BN32_MAX_N columns, where K is whole slices (the measured 16-byte tile; not with `:u8p2` or `:ks2` =
 * all, whose twins it has not).
 */
function bn32Tile(mode: DecodeTilesMode, N: number, K: number): boolean {
  if (mode.bn32 !== undefined) return mode.bn32 === 'all';
  return mode.wide && !mode.deep && mode.ks2 !== 'all' && K % tileGenGeometry(BN32_BASE).bk === 0 && N >= DECODE_TILE_MIN_N && N <= DECODE_TILE_BN32_MAX_N;
}

/**
 * Whether unsplit 33..64-row decode tiles keep their register prefetch (_u8) when K is fixed in the pipeline, on a device
 * whose default leaves it out (decodeTilesNoPrefetch). H100, session 35 (rounds/s35c.sh, 64 rows, ms, _u8 with K fixed
 * against the _un8 default): qkv 0.0681 / 0.0723, gate+up (_ks2) 0.1382 / 0.1484, LM head 0.1380 / 0.1440; the split
 * ones lose with it (down ×4 0.0888 / 0.0784, o ×4 0.0305 / 0.0275), so they keep _un8.
 */
export const DECODE_TILES_PREFETCH_FIXED_K = true;

/**
 * Whether split decode tiles of up to 32 rows take their _u8p2 twins (two slices prefetched) unless FAPOOL_DECODE_TILES
 * names the staging. H100, session 40 (rounds/s40c.sh, `split:u8p2` against the default _un8, µs a step): at 8 rows the
 * o projection 85.0 → 83.3 and 87.5 → 80.8, down 276.9 → 262.1 and 274.7 → 268.4 (b8 × 32K 6750 → 6717, b8 4K
 * 1861 → 1857); at 64 rows every tile lost (qkv 276.7 → 287.2, gate+up 553 → 561, split down 336.9 → 338.5, the step
 * 7078 → 7176), so those keep their staging. 9–32 rows: the same rule, not timed. Only where the default staging is
 * _un8 (no robust buffer access, decodeTilesNoPrefetch), the case measured.
 */
export const DECODE_TILES_DEEP_SPLIT = true;

/** A 16-byte decode tile's _ks2 twin (twice the K slice, the same output block and subgroups a K half), if generated. */
function ksTwin(id: string): string | null {
  const m = /^(.*)_k(\d+)_b1_(u8|un8|u8p2)$/.exec(id);
  const twin = m ? `${m[1]}_k${2 * Number(m[2])}_b1_${m[3]}_ks2` : '';
  return SGM_TILE_GEN_IDS.includes(twin) ? twin : null;
}

/** The decode tile the default choice gives these rows: chooseDecodeTile's, unless FAPOOL_GEMM_SKINNY (any value) asks for the skinny kernels by name. */
export function decodeTileFor(caps: Caps, M: number, N: number, K: number, gated: boolean): SgmTileGenShape | null {
  return envVar('FAPOOL_GEMM_SKINNY') === undefined ? chooseDecodeTile(caps, M, N, K, gated) : null;
}

/** Columns from which a product counts as wide (N / 64 ≥ 128 tiles): unsplit tiles fill the GPU. */
export const DECODE_TILE_MIN_N = 8192;
/** Rows from which a narrow long-K product (N ≤ K / 4: down) leaves the GEMV for a split tile (sweep: 8 rows 0.076 vs 0.086 ms). */
export const DECODE_TILE_NARROW_MIN_M = 5;
/**
 * Rows from which every plain product leaves the GEMV for a 16-byte-staging tile (session 14, 8 rows: qkv 0.0411 vs
 * 0.0475 ms, o 0.0214 vs 0.0216, LM head 0.1101 vs 0.1120; the gated product stays on the GEMV there: 0.1227 vs 0.1117).
 * Since session 15 only those whose x is not normed (O): chooseGemmPath keeps QKV and the LM head on the GEMV's
 * f16-pair products (0.0400, 0.0937). 9 since session 53, so the 8-row o projection stays on the GEMV: alone its split
 * tile is faster (cold, 0.0211 against 0.0245–0.0251 ms), but in the step the tile's split-K reduce is a launch that
 * costs more than the FFN norm launch the GEMV brings back. H100, b8 step GPU µs (rounds/s53a.sh, s53b.sh, `plain=8`
 * against 9): 4K 1885.5 / 1901.8 / 1883.4 / 1883.3 → 1868.5 / 1884.0 / 1864.9 / 1868.0; 32K 6723.2 → 6704.7; tokens the
 * same. `FAPOOL_DECODE_TILES=split:plain=8` restores the tile with FAPOOL_GEMV_HALF_O=off (on, the default since session 54,
 * keeps O on the GEMV).
 */
export const DECODE_TILE_WIDE_PLAIN_MIN_M = 9;

/**
 * Rows from which a gated product of split mode leaves the GEMV for the 16-row gated tile (two slices prefetched,
 * _u8p2, as chooseDecodeTile stages the GEMV's rows of a gated product where the default staging is _un8) when
 * neither `gated=` nor `rows=` says, while DECODE_GATED_ROWS_ON_TILE is on. H200, session 49 (rounds/s48b.sh,
 * 8 × 16384 × 4096 gated, ms): g16x64 _u8p2 0.0784, _un8 0.0818, the GEMV 0.1085; in the b8 step with every 8-row
 * product on tiles gate+up went 369 → 325 µs (_un8). With robust buffer access (_u8 staging) the GEMV kept them
 * (session 14: 0.1117 against the tile's 0.1227).
 */
export const DECODE_GATED_TILE_MIN_M = 8;

/**
 * Whether the default takes the gated products of DECODE_GATED_TILE_MIN_M..8 rows onto the tile (where the default
 * staging is _un8). Off: in the step it lost. H100, session 51 (rounds/s51a.sh, b8 × 4K GPU µs, with `:n128`): 1913.7 /
 * 1926.8 → 2005.4 / 1992.3 — the parts' lists shorter (ffn 702 → 674), the seams between them 23 → 114 µs.
 */
export const DECODE_GATED_ROWS_ON_TILE = false;

/**
 * Adapters (caps.device, as the host names them: `nvidia-h200`, `nvidia-h100-80gb-hbm3`) whose default takes the gated
 * products of DECODE_GATED_TILE_MIN_M..8 rows onto the tile whatever DECODE_GATED_ROWS_ON_TILE says. Empty until an
 * H200 times it in the step (rounds/s56c.sh; alone there the tile wins, 0.1085 → 0.0784 ms, s48b); the H100 keeps the
 * GEMV (sessions 53, 56: +21 to +54 µs a b8 step on the tile).
 */
export const DECODE_GATED_ROWS_ON_TILE_DEVICES: readonly RegExp[] = [];

/** Whether the default puts the GEMV's gated rows on the tile on this adapter (DECODE_GATED_ROWS_ON_TILE or its name). */
export function gatedRowsOnTileDefault(caps: Pick<Caps, 'device'>): boolean {
  return DECODE_GATED_ROWS_ON_TILE || DECODE_GATED_ROWS_ON_TILE_DEVICES.some((re) => re.test(caps.device));
}

/** Fewest rows at which a gated product of split mode takes a tile: `gated=` where given, else `rows=`, else DECODE_GATED_TILE_MIN_M where it applies. */
export function gatedTileMinRows(caps: Pick<Caps, 'robustBufferAccess' | 'device'>, mode: DecodeTilesMode): number {
  if (mode.gatedMinRows !== undefined) return mode.gatedMinRows;
  const tiled = gatedRowsOnTileDefault(caps) && mode.split && !mode.explicitRows && defaultStagingIsUn8(caps, mode);
  return tiled ? Math.min(mode.minRows, DECODE_GATED_TILE_MIN_M) : mode.minRows;
}

/**
 * Whether the narrow plain products (o, down) of the GEMV's rows (≤ 8) take the 16 × 128 tile unless
 * FAPOOL_DECODE_TILES says `:n128` or `:n128=off`, where the default staging is _un8 (its twins are _u8p2 and _un8, no
 * _u8). Off: alone down ran faster on it (H100, session 51, 8 rows: 0.0557 ms split 8 against t32x64's 0.0627), but
 * the step with it and DECODE_GATED_ROWS_ON_TILE lost (see there); rounds/s51b.sh times it without the gated tile.
 */
export const DECODE_N128_DEFAULT = false;

/**
 * Whether DECODE_N128_DEFAULT's rows take the wide plain products (QKV, the LM head) to the 16 × 128 tile too, as
 * `:n128=all` does: they leave the GEMV's f16-pair products, and a split QKV takes its RoPE in the split-K reduce.
 * Off: the step lost (H100, session 51, rounds/s51a.sh's ALL arm, b8 × 4K: 1992.3 µs twice against 1913.7 / 1926.8).
 */
export const DECODE_N128_ALL_DEFAULT = false;

/** Whether the device's default staging for the 16-byte decode tiles is _un8 and FAPOOL_DECODE_TILES names none. */
function defaultStagingIsUn8(caps: Pick<Caps, 'robustBufferAccess'>, mode: DecodeTilesMode): boolean {
  return mode.wide && !mode.deep && mode.noPrefetch === undefined && decodeTilesNoPrefetch(caps, mode);
}

/**
 * Whether a plain product of M rows (`wide`: N ≥ DECODE_TILE_MIN_N) takes the 16 × 128 tile: up to 16 rows, any width
 * with `:n128=all`, a narrow one with `:n128`, else a narrow one of up to 8 where DECODE_N128_DEFAULT applies.
 */
function n128Tile(caps: Pick<Caps, 'robustBufferAccess'>, mode: DecodeTilesMode, M: number, wide: boolean): boolean {
  if (M > 16) return false;
  if (mode.n128 === 'all') return true;
  if (mode.n128 !== undefined) return mode.n128 && !wide;
  return (!wide || DECODE_N128_ALL_DEFAULT) && M <= GEMV_MAX_M && defaultStagingIsUn8(caps, mode) && DECODE_N128_DEFAULT;
}

/**
 * Whether a wide plain product of M rows (QKV, the LM head) of split mode leaves the GEMV for the 16 × 128 tile
 * (chooseGemmPath): the GEMV's 8-row products, with `:n128=all` or the default's DECODE_N128_ALL_DEFAULT.
 */
export function wideRowsOnN128(caps: Pick<Caps, 'robustBufferAccess'>, mode: DecodeTilesMode, M: number): boolean {
  return mode.split && M >= GEMV_MAX_M && n128Tile(caps, mode, M, true);
}

/**
 * Fewest rows at which a plain product of split mode takes a tile (`wide`: a 16-byte-staging one). One that the
 * 16 × 128 tile takes (`onN128`: n128Tile, which asks for the GEMV's 8-row products) from GEMV_MAX_M rows unless
 * `plain=` says otherwise.
 */
function plainTileMinRows(mode: DecodeTilesMode, N: number, K: number, wide: boolean, onN128: boolean): number {
  const plain = mode.plainMinRows ?? (onN128 ? GEMV_MAX_M : DECODE_TILE_WIDE_PLAIN_MIN_M);
  return Math.min(mode.minRows, 4 * N <= K ? mode.narrowMinRows ?? DECODE_TILE_NARROW_MIN_M : Infinity, wide ? plain : Infinity);
}

/** Subgroups a split-K product aims at (session 9 sweep: 64 tiles of 4 subgroups ran best at ×4, 1024). */
export const SPLITK_TARGET_SUBGROUPS = 1024;
/** Most splits per tile. */
export const SPLITK_MAX = 16;

/**
 * Splits of K for an M × N × K product on a tile: doubled while the grid stays within SPLITK_TARGET_SUBGROUPS,
 * every split keeps ≥ 4 slices, and the f32 partials written and read back (8·S·M·N bytes) stay ≤ ¼ of the
 * weight bytes (2·N·K): S ≤ K / (16·M). A grid that fills the target alone is not split.
 */
export function splitKCount(M: number, N: number, K: number, g: Pick<TileGenGeometry, 'bm' | 'bn' | 'bk' | 'wg'>): number {
  const subgroups = ceilDiv(N, g.bn) * ceilDiv(M, g.bm) * (g.wg / 32), slices = ceilDiv(K, g.bk);
  let s = 1;
  while (2 * s <= SPLITK_MAX && 2 * s * subgroups <= SPLITK_TARGET_SUBGROUPS && slices >= 8 * s && 32 * s * M <= K) s *= 2;
  return s;
}

/** Which decode products run on their _ks2 twins (DecodeTilesMode.ks2). */
export type KsTwinMode = 'off' | 'gated' | 'all';

/**
 * How decode rows use the decode tiles (FAPOOL_DECODE_TILES); `wide`: the tiles' 16-byte-staging twins (_u8) where
 * K % BK == 0; `explicitRows`: `rows=` asked for tiles from a row count (then the GEMV's rows take them too).
 */
export interface DecodeTilesMode {
  split: boolean; minRows: number; wide: boolean; explicitRows: boolean;
  /** `split:gated=<lo>`: gated products take tiles from lo rows (below 9 leaving the GEMV), whatever `rows=` says of the others. */
  gatedMinRows?: number;
  /** `split:plain=<lo>`: a plain product takes a 16-byte tile from lo rows (DECODE_TILE_WIDE_PLAIN_MIN_M unsaid). */
  plainMinRows?: number;
  /** `split:narrow=<lo>`: a narrow long-K product (N ≤ K / 4: down) takes a split tile from lo rows (DECODE_TILE_NARROW_MIN_M unsaid). */
  narrowMinRows?: number;
  /**
   * Which unsplit 33..64-row products of 16-byte tiles run on their _ks2 twins (twice the K slice, shared by two
   * subgroup groups): `gated` (the default; session 18, H200, 64 rows: gate+up 0.1524 → 0.1341 ms), `all` (the plain
   * ones lose: qkv 0.0715 → 0.0826, LM head 0.1430 → 0.1660) or `off`.
   */
  ks2: KsTwinMode;
  /**
   * The 16-byte tiles' register prefetch of the next slice: `:u8` keeps it (`false`), `:un8` leaves it out
   * (`true`, the _un8 twins); unsaid, the device decides (decodeTilesNoPrefetch).
   */
  noPrefetch?: boolean;
  /** `:u8p2`: every 16-byte decode tile prefetches two slices ahead (its _u8p2 twin), split or not. */
  deep?: boolean;
  /** `:emu`: on a device without subgroup matrices, the tiles' scalar-emulated twins (slow: for tests on CPU adapters). */
  emulate?: boolean;
  /**
   * Which plain products of 33..64 rows run on 64 × 32 tiles (t64x32_sg2x2_k64: twice the workgroups of the 64 × 64 ones,
   * 13.5 KB of staging): `:bn32` every one (`all`), `:bn64` none (`off`); unsaid, the wide ones of up to
   * DECODE_TILE_BN32_MAX_N columns (bn32Tile). Not with `:u8p2` (no such twin) or 8-byte staging.
   */
  bn32?: 'all' | 'off';
  /**
   * `:n128`: the narrow plain products (under DECODE_TILE_MIN_N columns: o, down) of up to 16 rows on 16 × 128 tiles
   * (N128_BASE); `:n128=all`: every plain product of up to 16 rows, QKV and the LM head too (from 8 rows they leave
   * the GEMV, wideRowsOnN128; a split QKV takes its RoPE in the split-K reduce); `:n128=off`: none; unsaid, the narrow
   * ones of up to 8 rows where the default staging is _un8 (n128Tile).
   */
  n128?: boolean | 'all';
}

/**
 * Whether the decode tiles stage 16 bytes a load (their _u8 twins) unless FAPOOL_DECODE_TILES says `:u4` / `:u8`.
 * Session 14 (H200, seed-4l's products, ms, 8-byte / 16-byte): 64 rows qkv 0.0913 / 0.0715, o 0.0312 / 0.0258,
 * gate+up 0.1773 / 0.1529, down 0.0923 / 0.0720, LM head 0.1812 / 0.1430; 16 and 32 rows −5 to −20 %; decode step
 * (4K) b16 2.52 → 2.28, b32 3.87 → 3.63, b64 6.36 → 6.06.
 */
export const DECODE_TILES_WIDE = true;

/**
 * FAPOOL_DECODE_TILES: `split` (the default: every product of 9..64 rows on a tile, K split per splitKCount, a
 * narrow long-K one from DECODE_TILE_NARROW_MIN_M rows and, on 16-byte tiles, every plain one from
 * DECODE_TILE_WIDE_PLAIN_MIN_M), `split:rows=<lo>` (every product from lo rows: below 9 the
 * GEMV's rows go to the tiles too), then optionally `:gated=<lo>`, `:plain=<lo>`, `:narrow=<lo>` (DecodeTilesMode's
 * gatedMinRows, plainMinRows, narrowMinRows; plain= and narrow= at most rows=, as they only lower those products'
 * bound: `plain=9:narrow=9` keeps o and down of 8 rows on the GEMV, `plain=8` puts o's on a tile), or `nosplit`
 * (session 5's choice: wide products of 9..64 rows, one workgroup per tile); then optionally `:u8` (16-byte staging
 * loads), `:un8` (those without register prefetch), `:u8p2` (those prefetching two slices ahead) or `:u4` (8-byte
 * ones); then optionally `:ks2=<off|gated|all>` (which products take the _ks2 twins, DecodeTilesMode.ks2); then
 * optionally `:bn32` or `:bn64` (DecodeTilesMode.bn32); then optionally `:n128` or `:n128=all` (DecodeTilesMode.n128;
 * with `:u8p2` or `:un8`, its tile's 16-byte twins) or `:n128=off`; then optionally `:emu` (DecodeTilesMode.emulate).
 */
export function decodeTilesMode(value = envVar('FAPOOL_DECODE_TILES')): DecodeTilesMode {
  const v = value?.trim() || 'split';
  const g = /^(?:(?<nosplit>nosplit)|split(?::rows=(?<rows>\d+))?(?::gated=(?<gated>\d+))?(?::plain=(?<plain>\d+))?(?::narrow=(?<narrow>\d+))?)(?::(?<staging>u4|u8|un8|u8p2))?(?<ks2>:ks2(?:=(?<ks2v>off|gated|all))?)?(?<bn>:bn(?:32|64))?(?<n128>:n128(?:=off|=all)?)?(?<emu>:emu)?$/.exec(v)?.groups;
  const rowsOpt = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  const lo = g ? (g.nosplit ? GEMV_MAX_M + 1 : Number(g.rows ?? GEMV_MAX_M + 1)) : NaN;
  const glo = rowsOpt(g?.gated), plo = rowsOpt(g?.plain), nlo = rowsOpt(g?.narrow);
  const wide = g?.staging ? g.staging !== 'u4' : DECODE_TILES_WIDE;
  const badRows = (x: number | undefined, most = SKINNY_MAX_M) => x !== undefined && !(x >= 1 && x <= most);
  // plain= and narrow= only lower the rows from which those products take tiles (every product takes one from
  // rows=, and the GEMV takes no more than GEMV_MAX_M rows); plain= is of the 16-byte tiles (not :u4).
  if (!g || !(lo >= 1 && lo <= SKINNY_MAX_M) || badRows(glo) || badRows(plo, lo) || badRows(nlo, lo) || (plo !== undefined && !wide) || (g.ks2 && !wide && g.ks2v !== 'off')
    || (g.bn === ':bn32' && (!wide || g.staging === 'u8p2')) || (g.n128 !== undefined && g.n128 !== ':n128=off' && g.staging !== 'u8p2' && g.staging !== 'un8')) {
    throw new LimitError(`FAPOOL_DECODE_TILES='${v}': expected 'split', 'split:rows=<1..${SKINNY_MAX_M}>' (then optionally ':gated=<1..${SKINNY_MAX_M}>', ':plain=<1..rows>' (not with ':u4'), ':narrow=<1..rows>', in that order) or 'nosplit', then optionally ':u4', ':u8', ':un8' or ':u8p2', then ':ks2=<off|gated|all>' (16-byte tiles only; ':ks2' alone is all), then ':bn32' (16-byte tiles, not :u8p2) or ':bn64', then ':n128' or ':n128=all' (with ':u8p2' or ':un8') or ':n128=off', then ':emu'`);
  }
  // The twins stage 16 bytes a load: none for 8-byte tiles.
  const ks2: KsTwinMode = !wide ? 'off' : g.ks2 ? ((g.ks2v as KsTwinMode | undefined) ?? 'all') : 'gated';
  const mode: DecodeTilesMode = { split: !g.nosplit, minRows: lo, wide, explicitRows: g.rows !== undefined, ks2 };
  if (glo !== undefined) mode.gatedMinRows = glo;
  if (plo !== undefined) mode.plainMinRows = plo;
  if (nlo !== undefined) mode.narrowMinRows = nlo;
  if (g.staging === 'u8' || g.staging === 'un8') mode.noPrefetch = g.staging === 'un8';
  if (g.staging === 'u8p2') mode.deep = true;
  if (g.bn) mode.bn32 = g.bn === ':bn32' ? 'all' : 'off';
  if (g.n128) mode.n128 = g.n128 === ':n128=all' ? 'all' : g.n128 === ':n128';
  if (g.emu) mode.emulate = true;
  return mode;
}

/**
 * Whether the 16-byte decode tiles leave out the register prefetch of the next slice (their _un8 twins): as
 * FAPOOL_DECODE_TILES says, else on a device without robust buffer access when DECODE_TILES_NO_PREFETCH_OFF (there
 * the driver compiles the prefetching tiles to 255 registers, as the prefill's: session 20, batch 64 at 4K, the
 * 64-row tiles 18–25 % slower without robustness than with it).
 */
export function decodeTilesNoPrefetch(caps: Pick<Caps, 'robustBufferAccess'>, mode: Pick<DecodeTilesMode, 'noPrefetch'>): boolean {
  return mode.noPrefetch ?? (caps.robustBufferAccess === false && DECODE_TILES_NO_PREFETCH_OFF);
}

/**
 * Whether a device without robust buffer access takes the decode tiles' _un8 twins by default. Session 26 (H200,
 * seed-4l decode step, GPU µs, two alternating rounds, rounds/s26a.sh): batch 64 at 4K robust _u8 5603 / off _u8 5800 /
 * off _un8 5571; batch 8 at 4K 1606 / 1628 / 1562–1573; batch 8 at 32K 5210–5243 / 5112 / 5046–5079.
 */
export const DECODE_TILES_NO_PREFETCH_OFF = true;

/**
 * The subgroup-matrix kernel for a shape, from the H200 sweeps (kernels-bench/notes/gemm.md, rounds 1–2):
 * batched decode (16 ≤ M ≤ 64) takes the skinny kernel where it beat the direct kernel — every plain
 * projection (2–9× faster) and the gated product up to M = 32; larger M takes direct loads where they apply
 * (the staged tile kernel is correct but ran at 18–20 TFLOP/s against the direct kernel's 57), else the
 * staged v0 kernel. FAPOOL_GEMM_PREFILL=tile-gen:<id>[,<id>] picks a generated staged kernel for M > 64
 * (gemmPrefillOverride); FAPOOL_GEMM_SKINNY=gen[:…] the generated skinny kernel for decode rows (chooseSkinnyGen). Before
 * all of these, decode rows take the decode tiles (chooseDecodeTile: its rows and products) unless FAPOOL_GEMM_SKINNY is set.
 */
export function chooseSgmKernel(caps: Caps, M: number, N: number, K: number, gated: boolean): SgmKernelChoice {
  const skinny = gemmSkinnyOverride();
  const tile = decodeTileFor(caps, M, N, K, gated);
  if (tile) return tile;
  const gen = chooseSkinnyGen(caps, M, N, K, gated, skinny);
  if (gen) return gen;
  // Rows the prefill kernels take: above the skinny range, or above FAPOOL_GEMM_SKINNY's max=M.
  const prefillRows = M > SKINNY_MAX_M || (skinny.gen && M > skinny.maxM);
  if (prefillRows) {
    const named = gemmPrefillOverride(envVar('FAPOOL_GEMM_PREFILL') ?? gemmPrefillDefault(caps))[gated ? 'gated' : 'plain'];
    const o = named && { ...named, id: tileGenForShape(named.id, K) };
    if (o) {
      if (sgmTileGenFits(caps, o)) return o;
      // Asked for by name: say so. The built-in default that does not fit a device leaves it the kernels below.
      const asked = envVar('FAPOOL_GEMM_PREFILL');
      if (asked !== undefined) throw new LimitError(`FAPOOL_GEMM_PREFILL: generated tile '${o.id}' does not fit this device`);
    }
  }
  if (!prefillRows && sgmSkinnyApplies(M, N, K) && (!gated || M <= 32)) {
    const name = gated ? (M <= 16 ? 's sn2 sk4 tn1 u2' : 's sn1 sk8 tn4 u2') : (M <= 16 ? 's sn1 sk8 tn1 u4' : 's sn1 sk8 tn2 u4');
    const s = SGM_SKINNY_SHAPES[name]!;
    if (sgmSkinnyFits(caps, s, gated)) return s;
  }
  return sgmDirectApplies(M, N, K) ? chooseSgmDirect(caps, gated) : 'staged';
}

export type SgmKernelChoice = SgmTileShape | SgmTileGenShape | SgmSkinnyShape | SgmSkinnyGenShape | SgmDirectShape | 'staged';

/** A generated kernel (decode tile, skinny): these take any number of rows, M < 16 included. */
export function isGeneratedChoice(c: SgmKernelChoice): c is SgmTileGenShape | SgmSkinnyGenShape {
  return typeof c === 'object' && 'kind' in c && (c.kind === 'tile-gen' || c.kind === 'skinny-gen');
}

/** A launch on the subgroup-matrix path: the given kernel, else chooseSgmKernel's. */
export function launchSgm(gpu: Gpu, l: GemmLaunch, pick?: SgmKernelChoice): Dispatch {
  const caps = gpu.caps;
  const vec4 = l.K % 4 === 0, gated = l.kind === 'gated';
  const uniforms = { M: l.M, N: l.N, K: l.K };
  const bind: Record<string, Tensor> = gated
    ? { x4: l.x, y: l.out, wg4: l.wGate!, wu4: l.wUp! }
    : { x4: l.x, y: l.out, w4: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  const choice = pick ?? chooseSgmKernel(caps, l.M, l.N, l.K, gated);
  if (l.thenNorm && !(typeof choice === 'object' && 'kind' in choice && choice.kind === 'tile-gen')) {
    throw new LimitError('gemm: the row norm after a product runs in the split-K reduce of a generated tile only');
  }
  if (l.rope && !(typeof choice === 'object' && 'kind' in choice && choice.kind === 'tile-gen')) {
    throw new LimitError('gemm: the RoPE epilogue on the subgroup-matrix path runs in a generated decode tile only (tileGenRopeApplies)');
  }
  if (typeof choice === 'object' && 'kind' in choice) {
    return choice.kind === 'tile' ? launchSgmTile(gpu, l, choice)
      : choice.kind === 'tile-gen' ? launchSgmTileGen(gpu, l, choice)
        : choice.kind === 'skinny-gen' ? launchSgmSkinnyGen(gpu, l, choice) : launchSgmSkinny(gpu, l, choice);
  }
  checkSgmOperands(caps, l, false);
  assertShape(vec4, `gemm: the subgroup-matrix path needs K % 4 == 0, got K = ${l.K}`);
  const direct = choice;
  if (direct === 'staged') {
    assertShape(!gated, `gemm: the gated subgroup-matrix product needs M, N >= 16 and K % 16 == 0, got ${l.M}x${l.N}x${l.K}`);
    const prog = gpu.program(sgmProgram, { sgSize: caps.subgroupMaxSize, epi: l.epi });
    return gpu.dispatch(prog, { bind, uniforms, workgroups: [ceilDiv(l.N, SGM_TILE.bn), ceilDiv(l.M, SGM_TILE.bm)] });
  }
  assertShape(sgmDirectApplies(l.M, l.N, l.K), `gemm: the direct subgroup-matrix kernel needs M, N >= 16 and K % 16 == 0, got ${l.M}x${l.N}x${l.K}`);
  assertShape(!direct.k32 || l.K % 32 === 0, `gemm: the k32 subgroup-matrix variant needs K % 32 == 0, got K = ${l.K}`);
  assertShape(!direct.wb16 || l.N % 16 === 0, `gemm: weights in 16 × 16 blocks need N % 16 == 0, got N = ${l.N}`);
  const entry = `sgm_direct_${gated ? 'gated_' : ''}${direct.tm}x${direct.tn}${direct.k32 ? '_k32' : ''}`;
  if (!SGM_DIRECT_ENTRIES.has(entry)) throw new LimitError(`gemm: no subgroup-matrix entry ${entry}`);
  const subgroups = direct.sgRows * direct.sgCols;
  if (subgroups > 8 || subgroups * caps.subgroupMaxSize > caps.maxInvocations) {
    throw new LimitError(`gemm: ${subgroups} subgroups of ${caps.subgroupMaxSize} exceed this device's workgroup (max 8 subgroups, ${caps.maxInvocations} invocations)`);
  }
  const prog = gpu.program(sgmDirectProgram, { sgSize: caps.subgroupMaxSize, entry, s: direct, epi: l.epi });
  // Scalar bindings (matrix loads take f16 arrays); the unused epilogue operands bind x as placeholder.
  const dbind: Record<string, Tensor> = gated
    ? { x: l.x, y: l.out, wg: l.wGate!, wu: l.wUp! }
    : { x: l.x, w: l.w!, y: l.out, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  const bm = 16 * direct.tm * direct.sgRows, bn = 16 * direct.tn * direct.sgCols;
  return gpu.dispatch(prog, { bind: dbind, uniforms, workgroups: [ceilDiv(l.N, bn), ceilDiv(l.M, bm)] });
}

function launchSgmTile(gpu: Gpu, l: GemmLaunch, s: SgmTileShape): Dispatch {
  const caps = gpu.caps;
  const gated = l.kind === 'gated';
  checkSgmOperands(caps, l, s.emulate === true);
  assertShape(l.K % 4 === 0, `gemm: the subgroup-matrix tile kernel needs K % 4 == 0, got K = ${l.K}`);
  if (!sgmTileFits(caps, s, gated)) throw new LimitError(`gemm: subgroup-matrix tile ${JSON.stringify(s)} does not fit this device`);
  const sgSize = s.emulate ? EMU_SG : caps.subgroupMaxSize;
  const cfg: SgmTileCfg = { sgSize, gated, s: { ...s, emulate: undefined }, epi: l.epi };
  const prog = gpu.program(s.emulate ? sgmTileEmuProgram : sgmTileProgram, cfg);
  // Both entries reference every weight binding (one fetch routine): the unused ones bind placeholders.
  const bind: Record<string, Tensor> = gated
    ? { x4: l.x, y: l.out, w4: l.wGate!, wg4: l.wGate!, wu4: l.wUp! }
    : { x4: l.x, y: l.out, w4: l.w!, wg4: l.w!, wu4: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  const g = sgmTileGeometry(s, gated, sgSize);
  return gpu.dispatch(prog, { bind, uniforms: { M: l.M, N: l.N, K: l.K }, workgroups: [ceilDiv(l.N, g.bn), ceilDiv(l.M, g.bm)] });
}
