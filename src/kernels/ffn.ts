// Gated FFN projection: out = act(x · Wgateᵀ) ⊙ (x · Wupᵀ), both products in one kernel (one pass
// over x, activation and product fused in the epilogue). The FFN block is then
// linear(gatedLinear output, Wdown, accumulate) onto the residual stream.
import { ShapeError, assertShape, shapeStr, type Caps, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDtype, expectRank, expectShape } from './common.js';
import {
  chooseGemmPath, expectActivations, expectNormPrologue, expectOwnBuffer, launchGemm, type GemmPath, type GemmTuning
} from './gemm.js';
import { GATED_ACTIVATIONS, type GatedActivation, type NormPrologue } from './gemm-common.js';
import { chooseSgmKernel, isGeneratedChoice, sgmDirectApplies } from './gemm-sgm.js';

export interface GatedArgs {
  x: Tensor;      // [M, K]
  wGate: Tensor;  // [F, K]
  wUp: Tensor;    // [F, K]
  out: Tensor;    // [M, F]
  act: GatedActivation;
  /** RMS-normalise x as it is read (the GEMV path only: normPrologueApplies). */
  norm?: NormPrologue;
  /** x is an RMSNorm's output: as LinearArgs.normed. */
  normed?: boolean;
}

/**
 * Path: as linear's. The tensor-core path (prefill, f16) runs the direct-load gated kernel, which needs
 * M, F >= 16 and K % 16 == 0; other shapes take the tiled kernel.
 */
export function gatedLinear(gpu: Gpu, a: GatedArgs, opts: { path?: GemmPath; tune?: GemmTuning } = {}): Dispatch {
  const k = 'gatedLinear';
  const [M, K] = expectActivations(a.x, k);
  const dtype = a.x.dtype;
  expectRank(a.wGate, 2, 'wGate', k);
  const F = a.wGate.shape[0]!;
  assertShape(a.wGate.shape[1] === K, `${k}: wGate must be [F, ${K}] to match x ${shapeStr(a.x)}, got ${shapeStr(a.wGate)}`);
  assertShape(F >= 1, `${k}: wGate must have at least one row, got ${shapeStr(a.wGate)}`);
  expectShape(a.wUp, [F, K], 'wUp', k);
  expectShape(a.out, [M, F], 'out', k);
  if (a.norm) expectNormPrologue(k, a.norm, K);
  for (const [n, t] of [['wGate', a.wGate], ['wUp', a.wUp], ['out', a.out], ['norm.weight', a.norm?.weight]] as const) {
    if (t) expectDtype(t, dtype, n, k);
  }
  expectOwnBuffer(k, a.out, ['x', a.x], ['wGate', a.wGate], ['wUp', a.wUp], ['norm.weight', a.norm?.weight]);
  if (!GATED_ACTIVATIONS.includes(a.act)) throw new ShapeError(`${k}: act must be one of ${GATED_ACTIVATIONS.join(', ')}, got '${String(a.act)}'`);
  const normed = a.normed === true || a.norm !== undefined;
  const path = opts.path ?? chooseGatedPath(gpu.caps, M, F, K, dtype, normed);
  return launchGemm(gpu, {
    kind: 'gated', dtype, M, N: F, K, x: a.x, wGate: a.wGate, wUp: a.wUp, out: a.out, norm: a.norm, normed,
    epi: { act: a.act, bias: false, residual: false, accumulate: false },
  }, path, opts.tune);
}

/**
 * The gated product's path: linear's choice, except that the tensor-core kernels other than the generated ones
 * (decode tiles, skinny: any number of rows) need M, F ≥ 16: what they would get and cannot, the tiled kernel takes.
 */
export function chooseGatedPath(caps: Caps, M: number, F: number, K: number, dtype: DType, normed = false): GemmPath {
  const path = chooseGemmPath(caps, M, F, K, dtype, true, normed);
  return path === 'subgroup-matrix' && !sgmDirectApplies(M, F, K) && !isGeneratedChoice(chooseSgmKernel(caps, M, F, K, true)) ? 'tiled' : path;
}
