// The decode GEMV (shaders/gemv.wgsl): y = x · Wᵀ for M ≤ GEMV_MAX_M rows of x, every row sharing each weight
// load; plain or gated, f32/f16 (16-byte f16 loads by default), the shared epilogues, an optional RMSNorm prologue.
import { LimitError, ceilDiv, defineProgram, isSoftwareAdapter, type Caps, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { envVar, fixedSubgroupSize, typeSpec } from './common.js';
import { epilogueConstants, foldGrid, type Epilogue, type GemmLaunch } from './gemm-common.js';

/** Largest M the GEMV path takes (its accumulators are registers, one per row of x). */
export const GEMV_MAX_M = 8;

interface GemvCfg { dtype: DType; entry: string; mr: number; lanes: number; rpw: number; parts: number; epi: Epilogue; norm: boolean }

const gemvProgram = defineProgram<GemvCfg>({
  name: 'gemv', file: 'gemv.wgsl', includes: ['gemm_epilogue.wgsl', 'half8.wgsl'], entry: 'gemv',
  specialize: (c) => ({
    entry: c.entry, ...typeSpec(c.dtype),
    constants: { MR: c.mr, LANES: c.lanes, RPW: c.rpw, PARTS: c.parts, NORM: c.norm, ...epilogueConstants(c.epi) },
  }),
});


/** Threads per output column: enough to give each a few vec4s of K, at most 64 (32 on CPUs). */
function gemvShape(caps: Caps, K: number): { lanes: number; rpw: number } {
  const soft = isSoftwareAdapter(caps);
  const wg = Math.min(soft ? 64 : 256, caps.maxInvocations, caps.maxWorkgroupSizeX);
  let lanes = 1;
  while (lanes * 2 <= Math.min(soft ? 32 : 64, wg) && lanes * 2 * 4 * 4 <= K) lanes *= 2;
  return { lanes, rpw: Math.max(1, Math.floor(wg / lanes)) };
}

/**
 * Tuning for benchmarks and tests: threads per output column, the 16-byte f16 loads (entries *_h8), and `cpt`:
 * columns per subgroup on the subgroup kernel (shaders/gemv_sg.wgsl; 0 = the per-column kernel).
 */
export interface GemvTuning { lanes?: number; h8?: boolean; cpt?: number }

// ---- subgroup kernel (shaders/gemv_sg.wgsl): one subgroup per CPT columns, x read once for all of them ----

interface GemvSgCfg { entry: string; mr: number; cpt: number; sgs: number; spw: number; epi: Epilogue }

const gemvSgProgram = defineProgram<GemvSgCfg>({
  name: 'gemv_sg', file: 'gemv_sg.wgsl', includes: ['gemm_epilogue.wgsl', 'half8.wgsl'], entry: 'gemv_sg',
  specialize: (c) => ({
    entry: c.entry, enables: ['f16', 'subgroups'], aliases: { T: 'f16', T4: 'vec4<f16>' },
    constants: { MR: c.mr, CPT: c.cpt, SGS: c.sgs, SPW: c.spw, ...epilogueConstants(c.epi) },
  }),
});

/** Columns per subgroup the subgroup kernel may take (its accumulators: MR · CPT ≤ 32). */
export const GEMV_SG_MAX_CPT = 8;

/**
 * Columns per subgroup for plain (not gated) GEMVs of 2..8 rows. H200 (kernels-bench/rounds/gemvsg.sh): at 8 rows
 * 2 columns per subgroup took 0.058 / 0.025 / 0.088 / 0.138 ms on seed-4l's qkv / o / down / head against the
 * per-column kernel's 0.067 / 0.029 / 0.116 / 0.156, at 2 rows 0.027 / 0.014 / 0.045 / 0.064 against 0.041 /
 * 0.018 / 0.049 / 0.096; 4 and 8 lost (registers), and the gated product lost at 8 rows (0.180 vs 0.140).
 */
export const GEMV_SG_DEFAULT_CPT = 2;

/** FAPOOL_GEMV_CPT: columns per subgroup for every GEMV of 2..8 rows (0: the per-column kernel); unset: undefined. */
export function gemvCptDefault(value = envVar('FAPOOL_GEMV_CPT')): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > GEMV_SG_MAX_CPT) throw new LimitError(`FAPOOL_GEMV_CPT='${value}': expected 0..${GEMV_SG_MAX_CPT} columns per subgroup`);
  return n;
}

/** The subgroup kernel takes f16 with K % 8 == 0, no RMSNorm prologue, on a fixed power-of-two subgroup size. */
export function gemvSgApplies(caps: Caps, l: Pick<GemmLaunch, 'M' | 'K' | 'dtype' | 'norm'>, cpt: number): boolean {
  return cpt >= 1 && cpt <= GEMV_SG_MAX_CPT && l.M * cpt <= 32 && l.dtype === 'f16' && caps.f16 && fixedSubgroupSize(caps) > 0
    && l.K % 8 === 0 && l.norm === undefined;
}

function launchGemvSg(gpu: Gpu, l: GemmLaunch, cpt: number): Dispatch {
  const caps = gpu.caps, gated = l.kind === 'gated';
  const sgs = fixedSubgroupSize(caps);
  const spw = Math.max(1, Math.floor(Math.min(256, caps.maxInvocations, caps.maxWorkgroupSizeX) / sgs));
  const prog = gpu.program(gemvSgProgram, { entry: gated ? 'gemv_sg_gated' : 'gemv_sg', mr: l.M, cpt, sgs, spw, epi: l.epi });
  const [gx, gy] = foldGrid(caps, ceilDiv(l.N, spw * cpt));
  const bind: Record<string, Tensor> = gated
    ? { x8: l.x, wg8: l.wGate!, wu8: l.wUp!, y: l.out }
    : { x8: l.x, w8: l.w!, y: l.out, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  return gpu.dispatch(prog, { bind, uniforms: { M: l.M, N: l.N, K: l.K }, workgroups: [gx, gy] });
}

export function launchGemv(gpu: Gpu, l: GemmLaunch, tune: GemvTuning = {}): Dispatch {
  const caps = gpu.caps;
  if (l.M > GEMV_MAX_M) throw new LimitError(`gemv: M = ${l.M} rows of x; the GEMV path takes at most ${GEMV_MAX_M}`);
  // A per-column tuning (lanes, h8) asks for the per-column kernel.
  const perColumn = tune.lanes !== undefined || tune.h8 !== undefined;
  const cpt = tune.cpt ?? (l.M < 2 || perColumn ? 0 : gemvCptDefault() ?? (l.kind === 'gated' ? 0 : GEMV_SG_DEFAULT_CPT));
  if (cpt > 0 && gemvSgApplies(caps, l, cpt)) return launchGemvSg(gpu, l, cpt);
  if (tune.cpt) throw new LimitError(`gemv: the subgroup kernel (cpt ${tune.cpt}) does not apply to ${l.M}x${l.N}x${l.K} ${l.dtype}${l.norm ? ' with the norm prologue' : ''} here`);
  const vec4 = l.K % 4 === 0, gated = l.kind === 'gated', suffix = vec4 ? '4' : '';
  const uniforms = { M: l.M, N: l.N, K: l.K };
  // Unused optional operands bind x as a placeholder (read-only, never read: the override is off).
  const bind: Record<string, Tensor> = gated
    ? { [`x${suffix}`]: l.x, y: l.out, [`wg${suffix}`]: l.wGate!, [`wu${suffix}`]: l.wUp! }
    : { [`x${suffix}`]: l.x, y: l.out, [`w${suffix}`]: l.w!, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  let { lanes, rpw } = gemvShape(caps, l.K);
  if (tune.lanes) {
    lanes = tune.lanes;
    rpw = Math.max(1, Math.floor(Math.min(256, caps.maxInvocations, caps.maxWorkgroupSizeX) / lanes));
  }
  // The reduction's workgroup memory: PARTS·M sums per thread, and M sums of squares with the RMSNorm prologue.
  const sums = (gated ? 2 : 1) * l.M + (l.norm ? l.M : 0);
  while (rpw > 1 && 4 * sums * lanes * rpw > caps.maxWorkgroupStorage) rpw = Math.floor(rpw / 2);
  if (4 * sums * lanes * rpw > caps.maxWorkgroupStorage) {
    throw new LimitError(`gemv: ${sums} partial sums × ${lanes} lanes need more than this device's ${caps.maxWorkgroupStorage} bytes of workgroup memory`);
  }
  // 16-byte f16 loads by default (H200 rounds 1–2: 1.05–1.35× the vec4 entries; 93% of copy at 1×16384→4096).
  const h8 = (tune.h8 ?? true) && l.dtype === 'f16' && l.K % 8 === 0;
  const entry = (gated ? 'gemv_gated' : 'gemv') + (h8 ? '_h8' : vec4 ? '_vec4' : '');
  const prog = gpu.program(gemvProgram, { dtype: l.dtype, entry, mr: l.M, lanes, rpw, parts: gated ? 2 : 1, epi: l.epi, norm: l.norm !== undefined });
  const [gx, gy] = foldGrid(caps, ceilDiv(l.N, rpw));
  const hbind: Record<string, Tensor> = gated
    ? { x8: l.x, wg8: l.wGate!, wu8: l.wUp!, y: l.out }
    : { x8: l.x, w8: l.w!, y: l.out, bias: l.bias ?? l.x, residual: l.residual ?? l.x };
  // The norm weight, or x as a placeholder (the NORM override is off).
  const normW = { [`norm_w${h8 ? '8' : suffix}`]: l.norm?.weight ?? l.x };
  return gpu.dispatch(prog, { bind: { ...(h8 ? hbind : bind), ...normW }, uniforms: { ...uniforms, eps: l.norm?.eps ?? 0 }, workgroups: [gx, gy] });
}
