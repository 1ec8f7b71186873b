// Weights of one rank of the static TP × PP baseline, streamed from a safetensors file. Megatron-style
// sharding: TP rank t of a stage holds q heads [t·nH/tp, …) and kv heads [t·nKv/tp, …) (its rows of
// wq/wk/wv fused into its own wqkv), the matching COLUMNS of wo, rows of w_gate/w_up and columns of
// w_down; norms are replicated. Each file tensor is read once per stage and every chunk is routed to
// all the TP ranks that need a piece of it, so no host array exceeds the 32 MiB staging size.
import { LimitError, STAGING_BYTES, type DType, type Gpu, type HostArray, type Tensor } from '../gpu/index.js';
import type { ModelConfig } from '../model/config.js';
import { ST_DTYPE_BYTES, convertElements, isLoadable, SafetensorsError } from '../model/safetensors.js';
import type { SafetensorsFile } from '../model/safetensors-node.js';
import { resolveWeights } from '../model/weight-names.js';
import { qkvRows, type LayerWeights } from '../model/weights.js';

/** What one rank holds: its stage's layers (sharded), plus embedding / head where it needs them. */
export interface RankWeights {
  embed?: Tensor;     // [vocab, hidden]: every TP rank of stage 0
  layers: LayerWeights[];
  finalNorm?: Tensor; // [hidden]: TP rank 0 of the last stage
  lmHead?: Tensor;    // [vocab, hidden]: TP rank 0 of the last stage (the embedding itself when tied and shared)
}

/** A rank's slot in the placement and its per-rank (shard) config. */
export interface RankSpec { gpu: Gpu; stage: number; tpIndex: number; shard: ModelConfig; layers: readonly number[] }

/** One destination of a file tensor: rows [row0, row0+rows) × cols [col0, col0+cols) → dst starting at dstRow. */
interface Piece { gpu: Gpu; dst: Tensor; row0: number; rows: number; col0: number; cols: number; dstRow: number }

export function releaseRankWeights(gpu: Gpu, w: RankWeights): void {
  gpu.release(w.embed, w.finalNorm, w.lmHead === w.embed ? undefined : w.lmHead);
  for (const l of w.layers) gpu.release(...Object.values(l));
}

function allocRank(r: RankSpec, full: ModelConfig, dtype: DType, lastStage: number): RankWeights {
  const { gpu, shard: c } = r;
  const t = (shape: number[], label: string) => gpu.tensor(shape, dtype, `s${r.stage}t${r.tpIndex}.${label}`);
  const w: RankWeights = {
    layers: r.layers.map((i) => ({
      attnNorm: t([c.hidden], `layers.${i}.attn_norm`),
      wqkv: t([qkvRows(c), c.hidden], `layers.${i}.wqkv`),
      wo: t([c.hidden, c.nHeads * c.headDim], `layers.${i}.wo`),
      ffnNorm: t([c.hidden], `layers.${i}.ffn_norm`),
      wGate: t([c.ffn, c.hidden], `layers.${i}.w_gate`),
      wUp: t([c.ffn, c.hidden], `layers.${i}.w_up`),
      wDown: t([c.hidden, c.ffn], `layers.${i}.w_down`),
    })),
  };
  if (r.stage === 0) w.embed = t([full.vocab, full.hidden], 'embed');
  if (r.stage === lastStage && r.tpIndex === 0) {
    w.finalNorm = t([full.hidden], 'final_norm');
    // Tied head on the rank that already holds the embedding: share it.
    w.lmHead = full.tiedEmbeddings && w.embed ? w.embed : t([full.vocab, full.hidden], 'lm_head');
  }
  return w;
}

/**
 * Allocate and load every rank's shard. `ranks` is stage-major; `tp` ranks per stage. Returns the
 * weights in the same order; on failure everything allocated so far is released.
 */
export async function loadShardedWeights(
  file: SafetensorsFile, full: ModelConfig, dtype: DType, ranks: readonly RankSpec[],
  onProgress?: (done: number, total: number) => void,
): Promise<RankWeights[]> {
  const resolved = resolveWeights(full, file.header);
  const lastStage = Math.max(...ranks.map((r) => r.stage));
  const weights: RankWeights[] = [];
  try {
    for (const r of ranks) weights.push(allocRank(r, full, dtype, lastStage));
    // Canonical name → pieces over all ranks (the file tensor is streamed once for all of them).
    const plan = new Map<string, Piece[]>();
    const add = (name: string, p: Piece) => { let l = plan.get(name); if (!l) plan.set(name, (l = [])); l.push(p); };
    const D = full.headDim, H = full.hidden;
    ranks.forEach((r, i) => {
      const w = weights[i]!, c = r.shard, t = r.tpIndex;
      const qR = c.nHeads * D, kR = c.nKvHeads * D, fR = c.ffn;
      const whole = (dst: Tensor, rows: number, cols: number): Piece => ({ gpu: r.gpu, dst, row0: 0, rows, col0: 0, cols, dstRow: 0 });
      const rowsOf = (dst: Tensor, row0: number, rows: number, dstRow = 0): Piece => ({ gpu: r.gpu, dst, row0, rows, col0: 0, cols: H, dstRow });
      const colsOf = (dst: Tensor, col0: number, cols: number): Piece => ({ gpu: r.gpu, dst, row0: 0, rows: H, col0, cols, dstRow: 0 });
      r.layers.forEach((li, j) => {
        const l = w.layers[j]!, p = `layers.${li}.`;
        add(`${p}attn_norm`, whole(l.attnNorm, 1, H));
        add(`${p}wq`, rowsOf(l.wqkv, t * qR, qR));
        add(`${p}wk`, rowsOf(l.wqkv, t * kR, kR, qR));
        add(`${p}wv`, rowsOf(l.wqkv, t * kR, kR, qR + kR));
        add(`${p}wo`, colsOf(l.wo, t * qR, qR));
        add(`${p}ffn_norm`, whole(l.ffnNorm, 1, H));
        add(`${p}w_gate`, rowsOf(l.wGate, t * fR, fR));
        add(`${p}w_up`, rowsOf(l.wUp, t * fR, fR));
        add(`${p}w_down`, colsOf(l.wDown, t * fR, fR));
      });
      if (w.embed) add('embed', whole(w.embed, full.vocab, H));
      if (w.finalNorm) add('final_norm', whole(w.finalNorm, 1, H));
      if (w.lmHead && w.lmHead !== w.embed) add(full.tiedEmbeddings ? 'embed' : 'lm_head', whole(w.lmHead, full.vocab, H));
    });
    const bytesOf = (name: string) => { const i = file.info(resolved.names.get(name)!); return i.end - i.begin; };
    const total = [...plan.keys()].reduce((a, n) => a + bytesOf(n), 0);
    let done = 0;
    for (const [name, pieces] of plan) {
      const fileName = resolved.names.get(name)!;
      if (resolved.normPlusOne && name.endsWith('norm')) await uploadNormPlusOne(file, fileName, pieces, dtype);
      else await uploadPieces(file, fileName, pieces, dtype);
      done += bytesOf(name);
      onProgress?.(done, total);
    }
    await Promise.all([...new Set(ranks.map((r) => r.gpu))].map((g) => g.sync()));
  } catch (e) {
    weights.forEach((w, i) => releaseRankWeights(ranks[i]!.gpu, w));
    throw e;
  }
  return weights;
}

/** Gemma stores norm weights as (w − 1): small tensors, read whole, +1, written to every piece. */
async function uploadNormPlusOne(file: SafetensorsFile, fileName: string, pieces: Piece[], dtype: DType): Promise<void> {
  const vals = await file.readTensorF32(fileName);
  for (let i = 0; i < vals.length; i++) vals[i]! += 1;
  const host = dtype === 'f16' ? new Uint16Array(vals.length) : vals;
  if (host instanceof Uint16Array) convertElements(new Uint8Array(vals.buffer), 'F32', host);
  for (const p of pieces) p.gpu.write(p.dst, host);
}

/**
 * Stream a [R, C] (or [C]) file tensor in chunks of whole rows (a multiple of 4 rows, so chunk byte
 * sizes stay multiples of 8 and f16 writes start 4-byte aligned), convert each chunk to the GPU dtype
 * once, and write each piece's rows / column block to its rank. Column blocks are gathered into one
 * contiguous host array per chunk: one write per chunk, not one per row.
 */
async function uploadPieces(file: SafetensorsFile, fileName: string, pieces: Piece[], dtype: DType): Promise<void> {
  const info = file.info(fileName);
  if (!isLoadable(info.dtype)) throw new SafetensorsError(`${file.path}: tensor '${fileName}' has dtype ${info.dtype}; loadable: F32, F16, BF16`);
  const srcDtype = info.dtype;
  const C = info.shape[info.shape.length - 1]!;
  const R = info.shape.length === 1 ? 1 : info.shape[0]!;
  const srcBytes = ST_DTYPE_BYTES[srcDtype];
  const rowsPer = Math.min(Math.floor(STAGING_BYTES / (C * Math.max(srcBytes, 4)) / 4) * 4, Math.ceil(R / 4) * 4);
  if (rowsPer < 4) throw new LimitError(`${fileName}: rows of ${C} elements are too long to stream in ${STAGING_BYTES}-byte chunks`);
  const n = Math.min(rowsPer, R) * C;
  const host: HostArray = dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n);
  const maxCols = Math.max(...pieces.filter((p) => p.cols !== C).map((p) => p.cols), 0);
  const gather: HostArray | null = maxCols ? (dtype === 'f32' ? new Float32Array(rowsPer * maxCols) : new Uint16Array(rowsPer * maxCols)) : null;
  await file.readTensorChunks(fileName, rowsPer * C * srcBytes, (chunk, byteOff) => {
    const r0 = byteOff / (C * srcBytes), nr = chunk.byteLength / (C * srcBytes);
    const vals = host.subarray(0, nr * C) as Float32Array | Uint16Array;
    convertElements(chunk, srcDtype, vals);
    for (const p of pieces) {
      const a = Math.max(r0, p.row0), b = Math.min(r0 + nr, p.row0 + p.rows);
      if (a >= b) continue;
      const dstElem = (p.dstRow + a - p.row0) * p.cols;
      if (p.cols === C) {
        p.gpu.write(p.dst, vals.subarray((a - r0) * C, (b - r0) * C), dstElem);
        continue;
      }
      const g = gather!.subarray(0, (b - a) * p.cols) as Float32Array | Uint16Array;
      for (let r = a; r < b; r++) {
        const src = (r - r0) * C + p.col0;
        g.set(vals.subarray(src, src + p.cols), (r - a) * p.cols);
      }
      p.gpu.write(p.dst, g, dstElem);
    }
  });
}
