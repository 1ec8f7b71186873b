// Model weights on one GPU (llama2.c's TransformerWeights): every tensor with its shape. A device may hold the
// whole model, or one rank's share of it (tensor parallelism: a slice of the heads and FFN columns; pipeline
// parallelism: some layers, the embedding on the first stage, the head on the last).
import { DTYPE_BYTES, sliceRows, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { SGM_TILE_MAX_COLS, wholeTileRows } from '../kernels/gemm-sgm.js';
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

/** A device's share of the model: a rank of a static TP × PP placement holds only some of it. */
export interface PartialWeights {
  embed: Tensor | null;
  layers: LayerWeights[];
  finalNorm: Tensor | null;
  lmHead: Tensor | null;
}

/**
 * Which part of the full model a device holds: tensor-parallel index `tp` of `tpSize` (heads, kv heads and FFN
 * columns split evenly), the layers listed, and whether it has the embedding and the head.
 */
export interface WeightShare { tp: number; tpSize: number; layers: readonly number[]; embed: boolean; head: boolean }

export function wholeModel(c: ModelConfig): WeightShare {
  return { tp: 0, tpSize: 1, layers: range(c.nLayers), embed: true, head: true };
}

export function qkvRows(c: ModelConfig): number {
  return (c.nHeads + 2 * c.nKvHeads) * c.headDim;
}

/** The config one tensor-parallel rank runs: its share of heads, kv heads and FFN width. */
export function tpShardConfig(c: ModelConfig, tpSize: number): ModelConfig {
  return { ...c, nHeads: c.nHeads / tpSize, nKvHeads: c.nKvHeads / tpSize, ffn: c.ffn / tpSize };
}

/**
 * Rows of a weight matrix's buffer for N rows: whole multiples of the widest tile's columns (SGM_TILE_MAX_COLS), within
 * `fit` (what a binding holds), never fewer than N. The pad rows are zeros no output reads.
 */
export function weightRows(N: number, fit = Infinity): number {
  return wholeTileRows(N, SGM_TILE_MAX_COLS, fit);
}

/** Allocate (uninitialised) weight tensors for a share of the model (default: all of it). */
export function allocWeights(gpu: Gpu, full: ModelConfig, dtype: DType, share: WeightShare = wholeModel(full)): PartialWeights {
  const c = tpShardConfig(full, share.tpSize);
  const made: Tensor[] = [];
  const t = (shape: number[], label: string) => {
    try {
      // A matrix's buffer holds whole tiles of rows (weightRows), the tensor its first rows: an unchecked GEMM tile
      // binds it widened at a ragged N (a vocabulary of 50257) instead of taking its checked twin.
      const rows = shape.length === 2 ? weightRows(shape[0]!, Math.floor(gpu.caps.maxStorageBinding / (shape[1]! * DTYPE_BYTES[dtype]))) : shape[0]!;
      const x = gpu.tensor(rows === shape[0] ? shape : [rows, shape[1]!], dtype, label);
      made.push(x);
      return rows === shape[0] ? x : sliceRows(x, 0, shape[0]!);
    } catch (e) { gpu.release(...made); throw e; }
  };
  const embed = share.embed ? t([c.vocab, c.hidden], 'embed') : null;
  return {
    embed,
    layers: share.layers.map((i) => ({
      attnNorm: t([c.hidden], `layers.${i}.attn_norm`),
      wqkv: t([qkvRows(c), c.hidden], `layers.${i}.wqkv`),
      wo: t([c.hidden, c.nHeads * c.headDim], `layers.${i}.wo`),
      ffnNorm: t([c.hidden], `layers.${i}.ffn_norm`),
      wGate: t([c.ffn, c.hidden], `layers.${i}.w_gate`),
      wUp: t([c.ffn, c.hidden], `layers.${i}.w_up`),
      wDown: t([c.hidden, c.ffn], `layers.${i}.w_down`),
    })),
    finalNorm: share.head ? t([c.hidden], 'final_norm') : null,
    // A tied head on a device that already holds the embedding shares it.
    lmHead: share.head ? (c.tiedEmbeddings && embed ? embed : t([c.vocab, c.hidden], 'lm_head')) : null,
  };
}

/** The whole model's weights: every part present. */
export function complete(w: PartialWeights): Weights {
  if (!w.embed || !w.finalNorm || !w.lmHead) throw new Error('these weights are a share of the model, not all of it');
  return w as Weights;
}

export function releaseWeights(gpu: Gpu, w: PartialWeights): void {
  gpu.release(w.embed ?? undefined, w.finalNorm ?? undefined, w.lmHead === w.embed ? undefined : w.lmHead ?? undefined);
  for (const l of w.layers) gpu.release(...Object.values(l));
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Where part of a file tensor [R, C] goes: rows [row0, row0 + rows) × columns [col0, col0 + cols) land in
 * `dst` from row `dstRow` on (rows of `cols` elements).
 */
export interface WeightPiece { dst: Tensor; row0: number; rows: number; col0: number; cols: number; dstRow: number }

/**
 * Every file tensor's destinations on this device (canonical name → pieces), Megatron-style: TP rank t holds q
 * heads [t·nH/tp, …) and kv heads [t·nKv/tp, …) (its rows of wq/wk/wv fused into its own wqkv), the matching
 * COLUMNS of wo, rows of w_gate/w_up and columns of w_down; norms are replicated.
 */
export function weightPieces(full: ModelConfig, share: WeightShare, w: PartialWeights): [string, WeightPiece][] {
  const c = tpShardConfig(full, share.tpSize), t = share.tp, H = full.hidden, D = full.headDim;
  const qR = c.nHeads * D, kR = c.nKvHeads * D, fR = c.ffn;
  const whole = (dst: Tensor): WeightPiece => {
    const [rows, cols] = dst.shape.length === 1 ? [1, dst.shape[0]!] : [dst.shape[0]!, dst.shape[1]!];
    return { dst, row0: 0, rows, col0: 0, cols, dstRow: 0 };
  };
  const rowsOf = (dst: Tensor, row0: number, rows: number, dstRow = 0): WeightPiece => ({ dst, row0, rows, col0: 0, cols: H, dstRow });
  const colsOf = (dst: Tensor, col0: number, cols: number): WeightPiece => ({ dst, row0: 0, rows: H, col0, cols, dstRow: 0 });
  const out: [string, WeightPiece][] = [];
  if (w.embed) out.push(['embed', whole(w.embed)]);
  if (w.finalNorm) out.push(['final_norm', whole(w.finalNorm)]);
  if (w.lmHead && w.lmHead !== w.embed) out.push([full.tiedEmbeddings ? 'embed' : 'lm_head', whole(w.lmHead)]);
  share.layers.forEach((li, j) => {
    const l = w.layers[j]!, p = `layers.${li}.`;
    out.push(
      [`${p}attn_norm`, whole(l.attnNorm)], [`${p}ffn_norm`, whole(l.ffnNorm)],
      [`${p}wq`, rowsOf(l.wqkv, t * qR, qR)], [`${p}wk`, rowsOf(l.wqkv, t * kR, kR, qR)], [`${p}wv`, rowsOf(l.wqkv, t * kR, kR, qR + kR)],
      [`${p}wo`, colsOf(l.wo, t * qR, qR)],
      [`${p}w_gate`, rowsOf(l.wGate, t * fR, fR)], [`${p}w_up`, rowsOf(l.wUp, t * fR, fR)],
      [`${p}w_down`, colsOf(l.wDown, t * fR, fR)],
    );
  });
  return out;
}

/** q, k and v row blocks of a fused wqkv (tests and tools read them apart). */
export function qkvBlocks(c: ModelConfig, wqkv: Tensor): { q: Tensor; k: Tensor; v: Tensor } {
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim;
  return { q: sliceRows(wqkv, 0, q), k: sliceRows(wqkv, q, kv), v: sliceRows(wqkv, q + kv, kv) };
}
