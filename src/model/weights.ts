// Model weights on one GPU (llama2.c's TransformerWeights): every tensor with its shape.
import { sliceRows, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import type { ModelConfig } from './config.js';

export interface LayerWeights {
  attnNorm: Tensor; // [hidden]
  wqkv: Tensor;     // [(nHeads + 2·nKvHeads)·headDim, hidden]: q, k, v rows fused into one projection
  wo: Tensor;       // [hidden, nHeads·headDim]
  ffnNorm: Tensor;  // [hidden]
  wGate: Tensor;    // [ffn, hidden]
  wUp: Tensor;      // [ffn, hidden]
  wDown: Tensor;    // [hidden, ffn]
}

export interface Weights {
  embed: Tensor;     // [vocab, hidden]
  layers: LayerWeights[];
  finalNorm: Tensor; // [hidden]
  lmHead: Tensor;    // [vocab, hidden] (the embedding itself when tied)
}

export function qkvRows(c: ModelConfig): number {
  return (c.nHeads + 2 * c.nKvHeads) * c.headDim;
}

/** Allocate (uninitialised) weight tensors for a config. */
export function allocWeights(gpu: Gpu, c: ModelConfig, dtype: DType, layers: readonly number[] = range(c.nLayers)): Weights {
  const t = (shape: number[], label: string) => gpu.tensor(shape, dtype, label);
  const embed = t([c.vocab, c.hidden], 'embed');
  return {
    embed,
    layers: layers.map((i) => ({
      attnNorm: t([c.hidden], `layers.${i}.attn_norm`),
      wqkv: t([qkvRows(c), c.hidden], `layers.${i}.wqkv`),
      wo: t([c.hidden, c.nHeads * c.headDim], `layers.${i}.wo`),
      ffnNorm: t([c.hidden], `layers.${i}.ffn_norm`),
      wGate: t([c.ffn, c.hidden], `layers.${i}.w_gate`),
      wUp: t([c.ffn, c.hidden], `layers.${i}.w_up`),
      wDown: t([c.hidden, c.ffn], `layers.${i}.w_down`),
    })),
    finalNorm: t([c.hidden], 'final_norm'),
    lmHead: c.tiedEmbeddings ? embed : t([c.vocab, c.hidden], 'lm_head'),
  };
}

export function releaseWeights(gpu: Gpu, w: Weights): void {
  gpu.release(w.embed, w.finalNorm, w.lmHead === w.embed ? undefined : w.lmHead);
  for (const l of w.layers) gpu.release(...Object.values(l));
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Every file tensor's destination (canonical name → tensor view): q, k and v land in their row blocks of wqkv. */
export function weightTargets(c: ModelConfig, w: Weights): [string, Tensor][] {
  const qRows = c.nHeads * c.headDim, kvRows = c.nKvHeads * c.headDim;
  const targets: [string, Tensor][] = [['embed', w.embed], ['final_norm', w.finalNorm]];
  if (!c.tiedEmbeddings) targets.push(['lm_head', w.lmHead]);
  w.layers.forEach((l, i) => {
    const p = `layers.${i}.`;
    targets.push(
      [`${p}attn_norm`, l.attnNorm], [`${p}ffn_norm`, l.ffnNorm],
      [`${p}wq`, sliceRows(l.wqkv, 0, qRows)], [`${p}wk`, sliceRows(l.wqkv, qRows, kvRows)], [`${p}wv`, sliceRows(l.wqkv, qRows + kvRows, kvRows)],
      [`${p}wo`, l.wo], [`${p}w_gate`, l.wGate], [`${p}w_up`, l.wUp], [`${p}w_down`, l.wDown],
    );
  });
  return targets;
}
