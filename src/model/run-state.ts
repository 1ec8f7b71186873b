// Activation buffers and the KV cache (llama2.c's RunState), allocated once for the largest step.
import { sliceRows, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import type { ModelConfig } from './config.js';
import { qkvRows } from './weights.js';

export interface KvCache {
  k: Tensor[];       // per layer [slots, nKvHeads, capacity, headDim]
  v: Tensor[];       // per layer [slots, nKvHeads, capacity, headDim]
  slots: number;
  capacity: number;
}

export interface RunState {
  maxTokens: number;
  x: Tensor;          // [maxTokens, hidden] residual stream
  xn: Tensor;         // [maxTokens, hidden] normalised input of a block
  qkv: Tensor;        // [maxTokens, qkvRows]
  q: Tensor;          // [maxTokens, nHeads, headDim] rotated queries
  attn: Tensor;       // [maxTokens, nHeads, headDim] attention output
  ffnH: Tensor;       // [maxTokens, ffn] gelu(gate) ⊙ up
  ids: Tensor;        // [maxTokens] u32 prompt token ids
  rows: Tensor;       // [maxTokens, 2] u32 (cache slot, position) per token row
  lengths: Tensor;    // [slots] u32 valid cache entries per slot (decode attention)
  lastHidden: Tensor; // [slots, hidden] last prompt row of each sequence after prefill
  logits: Tensor;     // [slots, vocab] f32
  nextIds: Tensor;    // [slots] u32 sampled tokens: the next step's input
  partial: Tensor | null; // [maxTokens, hidden] a tensor-parallel rank's partial block sums (null on one device)
}

/** Views of the first `tokens` rows, the shapes one step's kernels are built for. */
export interface StepViews {
  x: Tensor; xn: Tensor; qkv: Tensor; q: Tensor; attn: Tensor; ffnH: Tensor; rows: Tensor;
}

export function stepViews(s: RunState, tokens: number): StepViews {
  return {
    x: sliceRows(s.x, 0, tokens), xn: sliceRows(s.xn, 0, tokens), qkv: sliceRows(s.qkv, 0, tokens),
    q: sliceRows(s.q, 0, tokens), attn: sliceRows(s.attn, 0, tokens), ffnH: sliceRows(s.ffnH, 0, tokens),
    rows: sliceRows(s.rows, 0, tokens),
  };
}

export function allocRunState(gpu: Gpu, c: ModelConfig, dtype: DType, maxTokens: number, slots: number, o: { partial?: boolean } = {}): RunState {
  // All or nothing: a tensor over the device's limits (LimitError) releases the ones made before it.
  const made: Tensor[] = [];
  const t = (shape: number[], dt: DType, label: string) => {
    try { const x = gpu.tensor(shape, dt, label); made.push(x); return x; } catch (e) { gpu.release(...made); throw e; }
  };
  return {
    maxTokens,
    x: t([maxTokens, c.hidden], dtype, 'x'),
    xn: t([maxTokens, c.hidden], dtype, 'xn'),
    qkv: t([maxTokens, qkvRows(c)], dtype, 'qkv'),
    q: t([maxTokens, c.nHeads, c.headDim], dtype, 'q'),
    attn: t([maxTokens, c.nHeads, c.headDim], dtype, 'attn'),
    ffnH: t([maxTokens, c.ffn], dtype, 'ffn_h'),
    ids: t([maxTokens], 'u32', 'ids'),
    rows: t([maxTokens, 2], 'u32', 'rows'),
    lengths: t([slots], 'u32', 'lengths'),
    lastHidden: t([slots, c.hidden], dtype, 'last_hidden'),
    logits: t([slots, c.vocab], 'f32', 'logits'),
    nextIds: t([slots], 'u32', 'next_ids'),
    partial: o.partial ? t([maxTokens, c.hidden], dtype, 'partial') : null,
  };
}

export function allocKvCache(gpu: Gpu, c: ModelConfig, dtype: DType, slots: number, capacity: number, layers = c.nLayers): KvCache {
  const shape = [slots, c.nKvHeads, capacity, c.headDim];
  const k: Tensor[] = [], v: Tensor[] = [];
  try {
    for (let l = 0; l < layers; l++) {
      k.push(gpu.tensor(shape, dtype, `k_cache.${l}`));
      v.push(gpu.tensor(shape, dtype, `v_cache.${l}`));
    }
  } catch (e) {
    gpu.release(...k, ...v); // all or nothing
    throw e;
  }
  return { k, v, slots, capacity };
}

export function releaseRunState(gpu: Gpu, s: RunState): void {
  gpu.release(s.x, s.xn, s.qkv, s.q, s.attn, s.ffnH, s.ids, s.rows, s.lengths, s.lastHidden, s.logits, s.nextIds, s.partial ?? undefined);
}

export function releaseKvCache(gpu: Gpu, kv: KvCache): void {
  gpu.release(...kv.k, ...kv.v);
}
