// Gated FFN projection: out = act(x · Wgateᵀ) ⊙ (x · Wupᵀ), both products in one kernel (one pass
// over x, activation and product fused in the epilogue). The FFN block is then
// linear(gatedLinear output, Wdown, accumulate) onto the residual stream.
import { ShapeError, assertShape, shapeStr, type Dispatch, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDtype, expectRank, expectShape } from './common.js';
import {
  chooseGemmPath, expectActivations, expectNormPrologue, expectOwnBuffer, launchGemm, type GemmPath, type GemmTuning
} from './gemm.js';
import { type NormPrologue } from './gemm-common.js';
import { sgmDirectApplies } from './gemm-sgm.js';
import { chooseSkinnyGen } from './gemm-skinny-gen.js';

export interface GatedArgs {
  x: Tensor;      // [M, K]
  wGate: Tensor;  // [F, K]
  wUp: Tensor;    // [F, K]
  out: Tensor;    // [M, F]
  act: 'gelu_erf' | 'gelu_tanh';
  /** RMS-normalise x as it is read (the GEMV path only: normPrologueApplies). */
  norm?: NormPrologue;
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
  if (a.act !== 'gelu_erf' && a.act !== 'gelu_tanh') throw new ShapeError(`${k}: act must be gelu_erf or gelu_tanh, got '${String(a.act)}'`);
  let path = opts.path ?? chooseGemmPath(gpu.caps, M, F, K, dtype, true);
  // The generated skinny kernel takes decode rows of any count (M < 16 included); other tensor-core kernels need M, F ≥ 16.
  if (path === 'subgroup-matrix' && opts.path === undefined && !sgmDirectApplies(M, F, K) && !chooseSkinnyGen(gpu.caps, M, F, K, true)) path = 'tiled';
  return launchGemm(gpu, {
    kind: 'gated', dtype, M, N: F, K, x: a.x, wGate: a.wGate, wUp: a.wUp, out: a.out, norm: a.norm,
    epi: { act: a.act, bias: false, residual: false, accumulate: false },
  }, path, opts.tune);
}
