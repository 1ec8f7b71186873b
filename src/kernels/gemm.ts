// Linear layers y = x · Wᵀ (+ bias, activation, residual, in-place accumulate) and the path choice between
// the decode GEMV (gemv.ts), the tensor-core family (gemm-sgm.ts) and the tiled f32-FMA GEMMs kept here
// (shaders/gemm.wgsl, gemm_quad.wgsl). ffn.ts reuses the launchers for the gated product act(x·Wgᵀ) ⊙ (x·Wuᵀ).
import {
  LimitError, ShapeError, assertShape, ceilDiv, defineProgram, isSoftwareAdapter, shapeStr,
  type Caps, type Dispatch, type DType, type Gpu, type Tensor,
} from '../gpu/index.js';
import { envChoice, expectDtype, expectRank, expectShape, typeSpec } from './common.js';
import {
  epilogueConstants, expectNormEpilogue, isActivation, type Activation, type Epilogue, type GemmLaunch, type NormEpilogue, type NormPrologue,
} from './gemm-common.js';
import { chooseSgmKernel, decodeTileFor, decodeTilesMode, gatedTileMinRows, launchSgm, wideRowsOnN128, tileGenRopeApplies, type SgmKernelChoice } from './gemm-sgm.js';
import { hasSubgroupMatrixF16 } from './gemm-sgm-common.js';
import { chooseSkinnyGen } from './gemm-skinny-gen.js';
import { GEMV_MAX_M, gemvRopeKernel, gemvSgChoice, launchGemv, type GemvTuning } from './gemv.js';
import { expectRopeEpilogue, type RopeEpilogue } from './rope.js';

export type GemmPath = 'tiled' | 'gemv' | 'subgroup-matrix';

export interface LinearArgs {
  x: Tensor;          // [M, K]
  w: Tensor;          // [N, K]
  out: Tensor;        // [M, N]
  bias?: Tensor;      // [N]
  act?: Activation;   // applied after bias
  residual?: Tensor;  // [M, N], added after the activation (distinct buffer from out)
  accumulate?: boolean; // out += result, in place (out bound once, read_write) — the model's residual stream
  /** RMS-normalise x as it is read: y = (rmsnorm(x) ⊙ weight)·Wᵀ … (the GEMV path only: normPrologueApplies). */
  norm?: NormPrologue;
  /** Also write out's rows RMS-normalised, ⊙ weight, into thenNorm.out (split-K decode tiles only: normEpilogueApplies). */
  thenNorm?: NormEpilogue;
  /**
   * x is an RMSNorm's output (or `norm` makes it one), so |x_i| ≤ √K·|γ_i|: a GEMV of 5..8 rows may then form its
   * products in f16 pairs (GEMV_HALF_DEFAULT). The model's QKV, gate/up and LM-head products say so; the O projection
   * too with FAPOOL_GEMV_HALF_O (gemvHalfO: the attention's output is bounded by V's).
   */
  normed?: boolean;
  /**
   * out is a fused QKV row block: rotate its q and k, write q and the K/V append as ropeQkv (writeBack, writeQ) would,
   * in the product's epilogue (the GEMV and the decode tiles: ropeEpilogueApplies). No activation, residual or accumulate.
   */
  rope?: RopeEpilogue;
}

/**
 * Path for an [M, K] × [N, K]ᵀ product:
 * - M ≤ 8 (decode): 'gemv' — weight-bandwidth-bound, every row of x shares each weight load — unless
 *   FAPOOL_GEMM_SKINNY / GEMM_SKINNY_DEFAULT gives these rows to the generated skinny tensor-core kernel
 *   (chooseSkinnyGen; gated: its gated configuration) or the decode tiles take them (decodeTileFor: by default a
 *   narrow long-K product from 5 rows and, with 16-byte staging, every plain product from DECODE_TILE_WIDE_PLAIN_MIN_M (9: none of the GEMV's
 *   but those `:n128` asks for); every product from
 *   FAPOOL_DECODE_TILES=split:rows=…). A `normed` product of 5..8 rows stays on the GEMV when its f16-pair products
 *   apply (they beat the tiles there) and the tiles or the skinny kernel are not named for its rows.
 *   normPrologueApplies follows this choice.
 * - f16 with a 16×16×16 f16→f32 subgroup-matrix config and K % 4 == 0: 'subgroup-matrix' (tensor
 *   cores; ragged M and N are handled, ragged K falls back to 'tiled').
 * - otherwise 'tiled'.
 */
export function chooseGemmPath(caps: Caps, M: number, N: number, K: number, dtype: DType, gated = false, normed = false): GemmPath {
  if (M <= GEMV_MAX_M) {
    if (dtype !== 'f16') return 'gemv';
    const mode = decodeTilesMode(), skinny = chooseSkinnyGen(caps, M, N, K, gated);
    const named = (mode.explicitRows && M >= mode.minRows) || (gated ? M >= gatedTileMinRows(caps, mode) : wideRowsOnN128(caps, mode, M)) || skinny !== null;
    if (!named && gemvSgChoice(caps, { M, N, K, dtype, normed, kind: gated ? 'gated' : 'linear' })?.half) return 'gemv';
    return skinny || decodeTileFor(caps, M, N, K, gated) ? 'subgroup-matrix' : 'gemv';
  }
  if (dtype === 'f16' && K % 4 === 0 && hasSubgroupMatrixF16(caps)) return 'subgroup-matrix';
  // FAPOOL_DECODE_TILES=…:emu: the decode rows' emulated tiles on a device without subgroup matrices (tests).
  if (dtype === 'f16' && decodeTilesMode().emulate && decodeTileFor(caps, M, N, K, gated)) return 'subgroup-matrix';
  return 'tiled';
}

// ---- tiled GEMM -----------------------------------------------------------------------------------

export interface TileShape { bm: number; bn: number; bk: number; r: number }

interface TiledCfg { dtype: DType; entry: string; tile: TileShape; epi: Epilogue }

const tiledProgram = defineProgram<TiledCfg>({
  name: 'gemm', file: 'gemm.wgsl', includes: ['gemm_epilogue.wgsl'], entry: 'gemm',
  specialize: (c) => {
    const t = typeSpec(c.dtype);
    const { bm, bn, bk, r } = c.tile;
    return {
      entry: c.entry,
      enables: t.enables,
      // Register arrays need a const length: the register tile size travels as type aliases.
      aliases: { ...t.aliases, Acc: `array<f32, ${r * r}>`, Frag: `array<f32, ${r}>` },
      constants: { BM: bm, BN: bn, BK: bk, R: r, PAD: Math.max(1, 32 / bk), ...epilogueConstants(c.epi) },
    };
  },
});

function tileFits(caps: Caps, t: TileShape, gated: boolean): boolean {
  const threads = (t.bm / t.r) * (t.bn / t.r);
  const pad = Math.max(1, 32 / t.bk);
  const shared = 4 * t.bk * ((t.bm + pad) + (gated ? 2 : 1) * (t.bn + pad));
  return threads <= caps.maxInvocations && threads <= caps.maxWorkgroupSizeX && shared <= caps.maxWorkgroupStorage;
}

/** Tile for the tiled GEMM: 128×128 (8×8 per thread) on big GPUs when the grid stays full, else 64×64. */
export function chooseTile(caps: Caps, M: number, N: number, gated = false): TileShape {
  const candidates: TileShape[] = isSoftwareAdapter(caps)
    ? [{ bm: 32, bn: 32, bk: 16, r: 4 }, { bm: 16, bn: 16, bk: 8, r: 2 }]
    : [
      ...(ceilDiv(M, 128) * ceilDiv(N, 128) >= 256 ? [{ bm: 128, bn: 128, bk: 16, r: 8 }] : []),
      { bm: 64, bn: 64, bk: 16, r: 4 }, { bm: 32, bn: 32, bk: 16, r: 4 }, { bm: 16, bn: 16, bk: 8, r: 2 },
    ];
  const t = candidates.find((c) => tileFits(caps, c, gated));
  if (!t) throw new LimitError(`gemm: no tile fits this device (${caps.maxInvocations} invocations, ${caps.maxWorkgroupStorage} bytes of workgroup storage)`);
  return t;
}

// ---- quad-tiled GEMM (shaders/gemm_quad.wgsl) -----------------------------------------------------

/** Thread grid TX × TY of the quad kernel (tile 8·TY × 8·TX) and its K slice. */
export interface QuadShape {
  tx: number; ty: number; bk: number;
  /** double-buffered workgroup tiles (one barrier per slice) */
  db?: boolean;
  /** 4×4 quads per thread along M and N (default 2 × 2 = 8×8 outputs; 4 × 2 = 16×8) */
  qm?: number; qn?: number;
  /** the next K slice's global loads issued before this slice's math (default true; false: fewer registers) */
  pf?: boolean;
  /**
   * launches whose M and N are whole tiles and K whole BK slices (vec4 entry) take a pipeline without bounds checks
   * (WGSL EXACT); others the checked one (default false). Session 35: a runtime choice between the two loads per
   * workgroup kept both in the loop and lost (H100 36.2 against 37.7 TFLOP/s); a pipeline constant leaves one
   * (the 128×128 prefetching tile 44.4 against its checked pipeline's 35.3; double-buffered 45.1).
   */
  exact?: boolean;
}

interface QuadCfg { dtype: DType; entry: string; q: QuadShape; epi: Epilogue }

function quadLoads(q: QuadShape): number {
  return Math.ceil((4 * Math.max((q.qn ?? 2) * q.tx, (q.qm ?? 2) * q.ty) * q.bk) / 4 / (q.tx * q.ty));
}

const quadProgram = defineProgram<QuadCfg>({
  name: 'gemm_quad', file: 'gemm_quad.wgsl', includes: ['gemm_epilogue.wgsl'], entry: 'gemm_quad',
  specialize: (c) => {
    const t = typeSpec(c.dtype);
    const nld = quadLoads(c.q);
    return {
      entry: c.entry, enables: t.enables,
      aliases: { ...t.aliases, Stage: `array<vec4f, ${nld}>`, AccQ: `array<vec4f, ${4 * (c.q.qm ?? 2) * (c.q.qn ?? 2)}>` },
      constants: {
        TX: c.q.tx, TY: c.q.ty, BK: c.q.bk, NLD: nld, NBUF: c.q.db ? 2 : 1, QM: c.q.qm ?? 2, QN: c.q.qn ?? 2, PF: c.q.pf ?? true, EXACT: c.q.exact ?? false,
        ...epilogueConstants(c.epi),
      },
    };
  },
});

function quadTile(q: QuadShape): { bm: number; bn: number } {
  return { bm: 4 * (q.qm ?? 2) * q.ty, bn: 4 * (q.qn ?? 2) * q.tx };
}

export function quadFits(caps: Caps, q: QuadShape): boolean {
  const threads = q.tx * q.ty;
  const { bm, bn } = quadTile(q);
  const shared = 4 * q.bk * (bm + bn) * (q.db ? 2 : 1);
  const quads = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1 && n <= 4);
  return threads <= caps.maxInvocations && threads <= caps.maxWorkgroupSizeX && shared <= caps.maxWorkgroupStorage
    && q.bk % 4 === 0 && quads(q.qm) && quads(q.qn);
}

/**
 * Quad-kernel shape: 128×128 tiles (256 threads) when the grid still fills a big GPU, 64×64 below that;
 * 32×32 on CPU rasterisers. BK = 8 (H100 sweep: 34.5 TFLOP/s against 31.6 at 16 and 20.6 at 32). Where M and N
 * are whole 128-row tiles and K whole slices, the prefetching tile runs its unchecked pipeline (exact), double-
 * buffered: H100, 4096³, session 35 (rounds/s35c.sh, two runs) 45.1 TFLOP/s, 0.92 of cuBLAS's 49.1, single-buffered
 * 44.4 (rounds/s35a.sh: 0.92 of 48.2), against 37.4 for the checked default; the unchecked loop has no bounds branch,
 * zero fills or register copies (586 instructions for 512 FFMA where the checked one has 622). Slices of 4 or 16,
 * 16×8 outputs a thread or no prefetch lose there (32–37). Elsewhere the 128×128 tile double-buffers its slices
 * and loads each just before its commit (db, no prefetch): H200, session 30 (rounds/s30b.sh) 37.2 against 35.3
 * single-buffered with prefetch.
 */
export function chooseQuad(caps: Caps, M: number, N: number, K: number): QuadShape | null {
  const whole = M % 128 === 0 && N % 128 === 0 && K % 8 === 0;
  const candidates: QuadShape[] = isSoftwareAdapter(caps)
    ? [{ tx: 4, ty: 4, bk: 8 }]
    : [
      ...(ceilDiv(M, 128) * ceilDiv(N, 128) >= 256 ? [whole ? { tx: 16, ty: 16, bk: 8, db: true, exact: true } : { tx: 16, ty: 16, bk: 8, db: true, pf: false }] : []),
      { tx: 8, ty: 8, bk: 8 }, { tx: 4, ty: 4, bk: 8 },
    ];
  return candidates.find((q) => quadFits(caps, q)) ?? null;
}

// ---- the RMSNorm prologue (GEMV path) ---------------------------------------------------------------

/**
 * Whether an [M, K] × [N, K]ᵀ product can take the RMSNorm prologue (LinearArgs.norm): on the GEMV path
 * (decode), where every column's threads stream all of x anyway. Elsewhere the norm is its own launch —
 * also for decode rows that FAPOOL_GEMM_SKINNY gives to the generated skinny kernel (chooseGemmPath). `gated`:
 * the product is gatedLinear's (its path choice is asked).
 */
export function normPrologueApplies(caps: Caps, M: number, N: number, K: number, dtype: DType, gated = false): boolean {
  if (M > NORM_PROLOGUE_MAX_M || chooseGemmPath(caps, M, N, K, dtype, gated, true) !== 'gemv') return false;
  // From 2 rows the subgroup kernel (no prologue) plus a norm launch beats the per-column kernel with it.
  return gemvSgChoice(caps, { M, N, K, dtype, normed: true, kind: gated ? 'gated' : 'linear' }) === null;
}

/**
 * Whether a plain [M, K] × [N, K]ᵀ f16 product can also write the RMSNorm of its output rows (LinearArgs.thenNorm):
 * where its default kernel is a split-K decode tile, whose reduce pass then normalises each row it has summed.
 * The model's O and down projections (they write the residual stream) take the next block's norm this way.
 */
export function normEpilogueApplies(caps: Caps, M: number, N: number, K: number, dtype: DType, normed = false): boolean {
  if (!normEpilogueOn() || dtype !== 'f16' || N % 4 !== 0 || M > caps.maxWorkgroupsPerDim) return false;
  if (chooseGemmPath(caps, M, N, K, dtype, false, normed) !== 'subgroup-matrix') return false;
  const c = chooseSgmKernel(caps, M, N, K, false);
  return typeof c === 'object' && 'kind' in c && c.kind === 'tile-gen' && (c.splits ?? 1) > 1;
}

/**
 * Whether an [M, K] × [N, K]ᵀ QKV product (x normed; `norm`: through the RMSNorm prologue) applies RoPE and the K/V
 * append in its epilogue (LinearArgs.rope): where its default kernel has a RoPE entry, the device binds the epilogue's
 * five more storage buffers, and FAPOOL_ROPE_EPILOGUE (ropeEpilogueMode) takes that kernel. A decode step then has
 * no RoPE launch. The kernels: the per-column GEMV (1–2 rows at seed-4l), the subgroup GEMV's pairs (3–8 rows: lane m
 * stores row m's pair; the same 203 µs a b8 step as the plain entry, so the RoPE launch's 12–30 µs gone, H100 session 40,
 * rounds/s39b.sh) and the decode tiles (9–64 rows; a split one applies it in its split-K reduce).
 */
export function ropeEpilogueApplies(caps: Caps, M: number, N: number, K: number, dtype: DType, norm = false): boolean {
  if (ropeEpilogueMode() === 'off' || caps.maxStorageBuffersPerStage < ROPE_EPILOGUE_STORAGE_BUFFERS || N % 2 !== 0) return false;
  const path = chooseGemmPath(caps, M, N, K, dtype, false, true);
  if (path === 'subgroup-matrix') return !norm && tileGenRopeApplies(caps, M, N, K);
  if (path !== 'gemv') return false;
  return gemvRopeKernel(caps, { M, N, K, dtype, normed: true, norm: norm ? { weight: undefined!, eps: 0 } : undefined }) !== null;
}

/** Storage buffers of the largest RoPE-epilogue entry (gemv*_rope with the norm prologue: x, w, y, bias, norm weight, and five). */
export const ROPE_EPILOGUE_STORAGE_BUFFERS = 10;

/** FAPOOL_ROPE_EPILOGUE: `on` (the default: the QKV product takes the RoPE where it can, ropeEpilogueApplies) or `off` (the RoPE launch everywhere). */
export type RopeEpilogueMode = 'on' | 'off';
export function ropeEpilogueMode(): RopeEpilogueMode {
  return envChoice('FAPOOL_ROPE_EPILOGUE', ['on', 'off'] as const, 'on', "expected 'on' or 'off'");
}

/**
 * Whether the O projection takes the attention's output as bounded x (LinearArgs.normed): its GEMV of 5..8 rows then
 * forms its products in f16 pairs, as the products of normed x do. The output is a convex combination of V rows, so
 * |x_i| ≤ max |V_i|, held in f16 already. On by default since session 54: on an H100 the b8 × 4K step −12 to −15 µs in
 * three alternating pairs (the 8-row o GEMV 79.6 → 72.2–75.4 µs a step), b8 × 32K −21 to −42, greedy tokens the same
 * bits at b1, b8 × 4K and b8 × 32K (`rounds/s54a.sh`). FAPOOL_GEMV_HALF_O=on|off says otherwise. On, it
 * keeps O's 5..8 rows on the GEMV where FAPOOL_DECODE_TILES would give them a tile (`plain=8`, `:n128`), as the
 * normed products' f16 pairs do, unless it names every product of those rows (`rows=`, `:n128=all`).
 */
export const GEMV_HALF_O_DEFAULT = true;
export function gemvHalfO(): boolean {
  return envChoice('FAPOOL_GEMV_HALF_O', ['on', 'off'] as const, GEMV_HALF_O_DEFAULT ? 'on' : 'off', "expected 'on' or 'off'") === 'on';
}

/** FAPOOL_NORM_EPILOGUE=on|off: whether normEpilogueApplies may say yes (on by default; off: the norms' own launches). */
export function normEpilogueOn(): boolean {
  return envChoice('FAPOOL_NORM_EPILOGUE', ['on', 'off'] as const, 'on', "expected 'on' or 'off'") === 'on';
}

/**
 * Rows up to which the RMSNorm rides in the GEMV's prologue. H200, seed-4l (kernels-bench/NOTES.md, decode
 * launches): at M = 1 the fused GEMVs cost what norm + GEMV did (qkv 35 µs, gate+up 70 µs) and save the norm's
 * launches; at M = 8 they were 1.5–1.75× the plain GEMVs (the sums of squares grow with the rows, the weight
 * bytes do not), so there the separate norm kernel stays. At 2 rows it applies only where the subgroup kernel
 * does not (f32, no fixed subgroup size): the subgroup kernel took 0.027 ms on qkv and 0.068 on gate+up against
 * the per-column kernel's 0.041 / 0.080 without the prologue (session 5 sweep), more than a norm launch.
 */
export const NORM_PROLOGUE_MAX_M = 2;

/**
 * Variant overrides for benchmarks and tests (a sweep builds several in one process); the binding
 * functions pick from caps when absent.
 */
export interface GemmTuning {
  /** Tiled path: the quad kernel with this shape, or the classic gemm.wgsl tile ('classic'). */
  tiled?: QuadShape | 'classic';
  /** GEMV path: threads per output column, and the 16-byte f16 loads (entries *_h8; f16, K % 8 == 0). */
  gemv?: GemvTuning;
  /**
   * Subgroup-matrix path: the staged tile kernel (array or generated), the skinny kernel, the direct-load
   * kernel with this shape, or the staged v0 kernel ('staged').
   */
  sgm?: SgmKernelChoice;
}

// ---- launch -------------------------------------------------------------------------------------

export function launchGemm(gpu: Gpu, l: GemmLaunch, path: GemmPath, tune: GemmTuning = {}): Dispatch {
  const caps = gpu.caps;
  const vec4 = l.K % 4 === 0;
  const uniforms = { M: l.M, N: l.N, K: l.K };
  const gated = l.kind === 'gated';
  // Unused optional operands bind x as a placeholder (read-only, never read: the override is off).
  const weights = (suffix: string): Record<string, Tensor> => gated
    ? { [`wg${suffix}`]: l.wGate!, [`wu${suffix}`]: l.wUp! }
    : { [`w${suffix}`]: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  const suffix = vec4 ? '4' : '';
  const bind: Record<string, Tensor> = { [`x${suffix}`]: l.x, y: l.out, ...weights(suffix) };

  if (l.thenNorm && path !== 'subgroup-matrix') throw new LimitError(`gemm: the row norm after a product runs in the split-K reduce of the subgroup-matrix path, not '${path}' (normEpilogueApplies)`);
  if (l.rope && path === 'tiled') throw new LimitError(`gemm: the RoPE epilogue runs on the GEMV path and the generated decode tiles (ropeEpilogueApplies), not '${path}'`);
  if (l.norm && path !== 'gemv') throw new LimitError(`gemm: the RMSNorm prologue is fused on the GEMV path only (M <= ${GEMV_MAX_M}), not '${path}'`);
  if (path === 'gemv') return launchGemv(gpu, l, tune.gemv);
  if (path === 'subgroup-matrix') return launchSgm(gpu, l, tune.sgm);

  // The quad kernel has no gated entry: the gated product keeps gemm.wgsl.
  const quad = gated ? null : tune.tiled === 'classic' ? null : tune.tiled ?? chooseQuad(caps, l.M, l.N, l.K);
  if (quad) {
    if (!quadFits(caps, quad)) throw new LimitError(`gemm: quad tile ${JSON.stringify(quad)} does not fit this device`);
    const { bm, bn } = quadTile(quad);
    // The unchecked pipeline only where no tile or slice is ragged (its loads and stores have no bounds).
    const exact = !!quad.exact && vec4 && l.M % bm === 0 && l.N % bn === 0 && l.K % quad.bk === 0;
    const prog = gpu.program(quadProgram, { dtype: l.dtype, entry: vec4 ? 'gemm_quad_vec4' : 'gemm_quad', q: { ...quad, exact }, epi: l.epi });
    return gpu.dispatch(prog, { bind, uniforms, workgroups: [ceilDiv(l.N, bn), ceilDiv(l.M, bm)] });
  }
  const tile = chooseTile(caps, l.M, l.N, gated);
  const entry = (gated ? 'gemm_gated' : 'gemm') + (vec4 ? '_vec4' : '');
  const prog = gpu.program(tiledProgram, { dtype: l.dtype, entry, tile, epi: l.epi });
  return gpu.dispatch(prog, { bind, uniforms, workgroups: [ceilDiv(l.N, tile.bn), ceilDiv(l.M, tile.bm)] });
}

// ---- checks ---------------------------------------------------------------------------------------

/** out is bound read_write: WebGPU forbids any other binding of the same buffer in the dispatch. */
export function expectOwnBuffer(kernel: string, out: Tensor, ...others: [string, Tensor | undefined][]): void {
  for (const [name, t] of others) {
    if (t) assertShape(t.buffer !== out.buffer, `${kernel}: out and ${name} must not alias (out is written; it needs a buffer of its own)`);
  }
}

/** The RMSNorm prologue's weight is [K] and its eps a positive finite number. */
export function expectNormPrologue(kernel: string, n: NormPrologue, K: number): void {
  expectShape(n.weight, [K], 'norm.weight', kernel);
  assertShape(Number.isFinite(n.eps) && n.eps > 0, `${kernel}: norm.eps must be a positive number, got ${n.eps}`);
}

/** [M, K] activations and floating dtype; returns [M, K]. */
export function expectActivations(x: Tensor, kernel: string): [number, number] {
  expectRank(x, 2, 'x', kernel);
  const [M, K] = x.shape as [number, number];
  assertShape(x.dtype === 'f32' || x.dtype === 'f16', `${kernel}: x must be f32 or f16, got ${shapeStr(x)}`);
  assertShape(M >= 1 && K >= 1, `${kernel}: x must have at least one row and column, got ${shapeStr(x)}`);
  return [M, K];
}

/** y = act(x · Wᵀ + bias) + residual, or out += that when accumulate. */
export function linear(gpu: Gpu, a: LinearArgs, opts: { path?: GemmPath; tune?: GemmTuning } = {}): Dispatch {
  const k = 'linear';
  const [M, K] = expectActivations(a.x, k);
  const dtype = a.x.dtype;
  expectRank(a.w, 2, 'w', k);
  const N = a.w.shape[0]!;
  assertShape(a.w.shape[1] === K, `${k}: w must be [N, ${K}] to match x ${shapeStr(a.x)}, got ${shapeStr(a.w)}`);
  assertShape(N >= 1, `${k}: w must have at least one row, got ${shapeStr(a.w)}`);
  expectShape(a.out, [M, N], 'out', k);
  if (a.bias) expectShape(a.bias, [N], 'bias', k);
  if (a.residual) expectShape(a.residual, [M, N], 'residual', k);
  if (a.norm) expectNormPrologue(k, a.norm, K);
  const tn = a.thenNorm;
  if (tn) expectNormEpilogue(k, tn, M, N, dtype);
  for (const [n, t] of [['w', a.w], ['out', a.out], ['bias', a.bias], ['residual', a.residual], ['norm.weight', a.norm?.weight]] as const) {
    if (t) expectDtype(t, dtype, n, k);
  }
  expectOwnBuffer(k, a.out, ['x', a.x], ['w', a.w], ['bias', a.bias], ['residual', a.residual], ['norm.weight', a.norm?.weight], ['thenNorm.weight', tn?.weight], ['thenNorm.out', tn?.out]);
  if (tn) expectOwnBuffer(k, tn.out, ['x', a.x], ['w', a.w], ['bias', a.bias], ['residual', a.residual], ['thenNorm.weight', tn.weight]);
  const act = a.act ?? 'none';
  if (!isActivation(act)) throw new ShapeError(`${k}: unknown activation '${act}'`);
  if (a.rope) {
    expectRopeEpilogue(k, a.rope, a.out);
    assertShape(act === 'none' && !a.residual && !a.accumulate && !tn, `${k}: the RoPE epilogue takes no activation, residual, accumulate or thenNorm`);
    const r = a.rope, read = [['x', a.x], ['w', a.w], ['bias', a.bias], ['norm.weight', a.norm?.weight], ['rope.rows', r.rows]] as const;
    expectOwnBuffer(k, a.out, ['rope.rows', r.rows]);
    for (const [n, t] of [['rope.q', r.q], ['rope.kCache', r.kCache], ['rope.vCache', r.vCache]] as const) {
      for (const [m, u] of read) if (u) assertShape(u.buffer !== t.buffer, `${k}: ${n} and ${m} must not alias (${n} is written)`);
    }
  }
  const normed = a.normed === true || a.norm !== undefined;
  const path = opts.path ?? chooseGemmPath(gpu.caps, M, N, K, dtype, false, normed);
  return launchGemm(gpu, {
    kind: 'linear', dtype, M, N, K, x: a.x, w: a.w, out: a.out, bias: a.bias, residual: a.residual, norm: a.norm, thenNorm: tn, normed, rope: a.rope,
    epi: { act, bias: a.bias !== undefined, residual: a.residual !== undefined, accumulate: a.accumulate ?? false },
  }, path, opts.tune);
}
