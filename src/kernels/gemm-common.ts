// What every GEMM-shaped path shares: the activation and epilogue switches (WGSL overrides of the same names in
// gemm_epilogue.wgsl), the RMSNorm prologue's arguments, one launch's operands, and the grid folding.
import { assertShape, ceilDiv, type Caps, type DType, type Tensor } from '../gpu/index.js';
import { expectDtype, expectShape } from './common.js';
import type { RopeEpilogue } from './rope.js';

export type Activation = 'none' | 'gelu_erf' | 'gelu_tanh' | 'silu';

/** The activations of a gated FFN: act(x·Wgᵀ) ⊙ x·Wuᵀ (GELU models; SiLU for SwiGLU ones: Llama, Mistral). */
export type GatedActivation = Exclude<Activation, 'none'>;
export const GATED_ACTIVATIONS: readonly GatedActivation[] = ['gelu_erf', 'gelu_tanh', 'silu'];

/** An RMSNorm fused in front of a product: x · rsqrt(mean(x²) + eps) ⊙ weight, per row of x. */
export interface NormPrologue {
  weight: Tensor; // [K]
  eps: number;
}

/**
 * An RMSNorm of a product's output rows, written beside it: out = y · rsqrt(mean(y²) + eps) ⊙ weight per row of the
 * stored y (the residual stream's next norm, in the launch that writes the stream: the split-K reduce only).
 */
export interface NormEpilogue {
  weight: Tensor; // [N]
  eps: number;
  out: Tensor;    // [M, N]
}

/** A NormEpilogue of [rows, cols] outputs in `dtype`: its weight [cols], its out [rows, cols], a positive eps. */
export function expectNormEpilogue(kernel: string, n: NormEpilogue, rows: number, cols: number, dtype: DType): void {
  expectShape(n.weight, [cols], 'thenNorm.weight', kernel);
  expectShape(n.out, [rows, cols], 'thenNorm.out', kernel);
  expectDtype(n.weight, dtype, 'thenNorm.weight', kernel);
  expectDtype(n.out, dtype, 'thenNorm.out', kernel);
  assertShape(Number.isFinite(n.eps) && n.eps > 0, `${kernel}: thenNorm.eps must be a positive number, got ${n.eps}`);
}

const ACT_CODE: Record<Activation, number> = { none: 0, gelu_erf: 1, gelu_tanh: 2, silu: 3 };

/** Epilogue switches shared by every path (WGSL overrides of the same names). */
export interface Epilogue { act: Activation; bias: boolean; residual: boolean; accumulate: boolean }

export function isActivation(a: string): a is Activation { return a in ACT_CODE; }

export function epilogueConstants(e: Epilogue): Record<string, number | boolean> {
  return { ACT: ACT_CODE[e.act], HAS_BIAS: e.bias, HAS_RESIDUAL: e.residual, ACCUMULATE: e.accumulate };
}

/** A GEMM-shaped launch: plain (w) or gated (wGate, wUp) weights. Shapes are checked by the caller. */
export interface GemmLaunch {
  kind: 'linear' | 'gated';
  dtype: DType;
  M: number; N: number; K: number;
  x: Tensor; out: Tensor;
  w?: Tensor; wGate?: Tensor; wUp?: Tensor;
  bias?: Tensor; residual?: Tensor;
  epi: Epilogue;
  norm?: NormPrologue;
  /** Also write the RMSNorm of the output rows (normEpilogueApplies: split-K decode tiles). */
  thenNorm?: NormEpilogue;
  /** x is an RMSNorm's output (LinearArgs.normed): the GEMV may form its products in f16 pairs. */
  normed?: boolean;
  /** The fused QKV product's RoPE and K/V append in its epilogue (LinearArgs.rope; the GEMV path: ropeEpilogueApplies). */
  rope?: RopeEpilogue;
}

/** Workgroup grid for `groups` workgroups, folded into 2D when over the per-dimension limit. */
export function foldGrid(caps: Caps, groups: number): [number, number] {
  if (groups <= caps.maxWorkgroupsPerDim) return [groups, 1];
  const x = caps.maxWorkgroupsPerDim;
  return [x, ceilDiv(groups, x)];
}
