// The decoder's forward pass as lists of prepared kernel launches. A layer reads like the math:
// pre-norm attention block, then pre-norm gated-GELU FFN block, each added to the residual stream.
// The attention itself is a pluggable segment, so the orchestrator can run it on another device group.
import { copyStep, reshape, type Dispatch, type Gpu, type Step, type Tensor } from '../gpu/index.js';
import { flashDecode, flashPrefill, type DecodePlan } from '../kernels/attention.js';
import { embedding } from '../kernels/embedding.js';
import { gatedLinear } from '../kernels/ffn.js';
import { linear } from '../kernels/gemm.js';
import { rmsnorm } from '../kernels/rmsnorm.js';
import { ropeQkv } from '../kernels/rope.js';
import type { ModelConfig } from './config.js';
import type { KvCache, StepViews } from './run-state.js';
import type { LayerWeights, Weights } from './weights.js';

/** xn = norm(x); qkv = xn·Wqkvᵀ; q, k = rope(q, k); k, v → cache at each row's (slot, position). */
export function preAttention(gpu: Gpu, c: ModelConfig, w: LayerWeights, v: StepViews, kCache: Tensor, vCache: Tensor): Dispatch[] {
  return [
    rmsnorm(gpu, { x: v.x, weight: w.attnNorm, out: v.xn, eps: c.normEps }),
    linear(gpu, { x: v.xn, w: w.wqkv, out: v.qkv }),
    ropeQkv(gpu, {
      qkv: v.qkv, rows: v.rows, q: v.q, kCache, vCache,
      nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, theta: c.ropeTheta,
    }),
  ];
}

/** x += attn·Woᵀ; xn = norm(x); x += (gelu(xn·Wgateᵀ) ⊙ xn·Wupᵀ)·Wdownᵀ. */
export function postAttention(gpu: Gpu, c: ModelConfig, w: LayerWeights, v: StepViews): Dispatch[] {
  return [
    linear(gpu, { x: reshape(v.attn, [v.attn.shape[0]!, c.nHeads * c.headDim]), w: w.wo, out: v.x, accumulate: true }),
    rmsnorm(gpu, { x: v.x, weight: w.ffnNorm, out: v.xn, eps: c.normEps }),
    gatedLinear(gpu, { x: v.xn, wGate: w.wGate, wUp: w.wUp, out: v.ffnH, act: c.act }),
    linear(gpu, { x: v.ffnH, w: w.wDown, out: v.x, accumulate: true }),
  ];
}

/** Causal attention of one sequence's chunk of prompt rows against its cache slot. */
export interface PrefillAttention { steps: Dispatch[]; set(slot: number, qPos0: number): void }

export function prefillAttention(gpu: Gpu, v: StepViews, kv: KvCache, layer: number, tokens: number): PrefillAttention {
  const d = flashPrefill(gpu, { q: v.q, out: v.attn, kCache: kv.k[layer]!, vCache: kv.v[layer]!, slot: 0, qPos0: 0, kvBase: 0, kvLen: tokens });
  return { steps: [d], set: (slot, qPos0) => { d.set({ slot, qPos0, kvLen: qPos0 + tokens }); } };
}

/** Split-KV attention of one new token per slot; lengths[] says how much of each slot is valid. */
export function decodeAttention(gpu: Gpu, v: StepViews, kv: KvCache, layer: number, lengths: Tensor): DecodePlan {
  return flashDecode(gpu, { q: v.q, out: v.attn, kCache: kv.k[layer]!, vCache: kv.v[layer]!, lengths });
}

export function embedSteps(gpu: Gpu, c: ModelConfig, w: Weights, ids: Tensor, x: Tensor): Dispatch[] {
  return [embedding(gpu, { ids, table: w.embed, out: x, scale: c.embedScale })];
}

/** logits = norm(x)·Wheadᵀ over the first rows of x. */
export function headSteps(gpu: Gpu, c: ModelConfig, w: Weights, x: Tensor, xn: Tensor, logits: Tensor): Dispatch[] {
  return [
    rmsnorm(gpu, { x, weight: w.finalNorm, out: xn, eps: c.normEps }),
    linear(gpu, { x: xn, w: w.lmHead, out: logits }),
  ];
}

/** Copy row `row` of x into row `slot` of lastHidden (a 4-byte aligned buffer copy). */
export function keepLastRow(x: Tensor, row: number, lastHidden: Tensor, slot: number): Step {
  const hidden = x.shape[1]!;
  return copyStep(x, row * hidden, lastHidden, slot * hidden, hidden);
}
