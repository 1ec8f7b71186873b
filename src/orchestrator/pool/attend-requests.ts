// The decode step's message to each pool rank for one layer: which of its sequences it attends for (kv heads,
// length, where the new token goes) and one tensor frame of their rows, taken from the pooled rows the base
// staged (q of the rank's heads, then the new k and v where the rank holds the new position), and where each
// reply's heads go back (direct O, or the (O, LSE) partial of a position block).
import type { DType } from '../../gpu/index.js';
import type { ModelConfig } from '../../model/config.js';
import { ATTEND_ITEM_WORDS, attendItemsFrame, floatFrame, modelElems, type AttendItem, type TensorFrame } from '../transport/messages.js';
import type { PoolShard } from './policy.js';

/** Where a sequence's cache lives on the pool: its shards and the members holding them. */
export interface Placement {
  shards: PoolShard[]; members: number[]; len: number; poolSize: number;
  /** Every head on exactly one rank (no position blocks): O comes back final. */
  direct: boolean;
}
/** A sequence whose attention runs on the pool this step; `i` is its row in the compact staging/partials. */
export interface Pooled { b: number; len: number; p: Placement; i: number }

export interface RankRequest {
  items: AttendItem[];
  /** [element offset, count] of each part of the frame in the staged rows, in order. */
  parts: [number, number][];
  rows: number;
  slots: { i: number; heads: [number, number]; block: number }[];
  /** The request: its fields, its items frame (attendItemsFrame) and its rows frame. */
  message?: { step: number; layer: number; group: number; items: TensorFrame; frame: TensorFrame };
  /** Rows frame parts copied from the staged rows into the pack buffer by fillAttendRequests: [from, count, to] elements. */
  copies: [number, number, number][];
}

/**
 * Per rank: its items and one frame of their rows (q heads of its kv heads, then new k and v), from the pooled
 * rows staged at `staged` ([P, (nH + 2·nKv)·D] of the model dtype). `pack` holds the frames that are not plain
 * staged rows ([P, maxShards, (nH + 2·nKv)·D]: a sequence's q goes to the rank of each of its position blocks, up to
 * maxShards of them), `items` the items frames ([P, maxShards, ATTEND_ITEM_WORDS]: a sequence has at most maxShards
 * shards), both in this micro-batch's part, from row i0: the other micro-batch's messages may still be in flight. Nothing
 * here reads the staged rows: the requests can be made while they are read back; fillAttendRequests then copies the
 * rows a pack-buffer frame takes.
 */
export function attendRequests(cfg: ModelConfig, dtype: DType, pooled: readonly Pooled[], staged: Uint8Array, pack: Uint8Array,
items: Uint32Array, maxShards: number, step: number, layer: number, i0 = 0): Map<number, RankRequest> {
  const nH = cfg.nHeads, nKv = cfg.nKvHeads, D = cfg.headDim, g = nH / nKv;
  const rowElems = (nH + 2 * nKv) * D;
  const all = modelElems(staged, dtype);
  const perRank = new Map<number, RankRequest>();
  for (const { b, len, p, i } of pooled) {
    p.shards.forEach((sh, si) => {
      const blockEnd = Math.min(sh.positions[1], len);
      if (blockEnd <= sh.positions[0]) return;
      const mi = p.members[si]!;
      const newPos = len - 1 >= sh.positions[0] && len - 1 < sh.positions[1] ? len - 1 : -1;
      let r = perRank.get(mi);
      if (!r) perRank.set(mi, (r = { items: [], parts: [], slots: [], rows: 0, copies: [] }));
      const kvc = sh.kvHeads[1] - sh.kvHeads[0];
      r.items.push({ seq: b, kvHeads: kvc, len, newPos });
      const row = i * rowElems;
      r.parts.push([row + sh.kvHeads[0] * g * D, kvc * g * D]);
      if (newPos >= 0) r.parts.push([row + (nH + sh.kvHeads[0]) * D, kvc * D], [row + (nH + nKv + sh.kvHeads[0]) * D, kvc * D]);
      r.rows += kvc * (g + (newPos >= 0 ? 2 : 0));
      r.slots.push({ i, heads: [sh.kvHeads[0] * g, sh.kvHeads[1] * g], block: positionBlockIndex(p.shards, sh) });
    });
  }
  // One frame per rank: the staged rows themselves when they are exactly what it needs, else packed once (in
  // this micro-batch's part of the pack buffer).
  let packed = i0 * maxShards * rowElems, itemWords = i0 * maxShards * ATTEND_ITEM_WORDS;
  const packed16 = modelElems(pack, dtype);
  for (const r of perRank.values()) {
    const contiguous = r.parts.every(([at], k) => at === (k === 0 ? r.parts[0]![0] : r.parts[k - 1]![0] + r.parts[k - 1]![1]));
    const n = r.rows * D;
    let data: Float32Array | Uint16Array;
    if (contiguous) {
      data = all.subarray(r.parts[0]![0], r.parts[0]![0] + n);
    } else {
      let o = packed;
      for (const [at, len] of r.parts) { r.copies.push([at, len, o]); o += len; }
      data = packed16.subarray(packed, packed + n);
      packed += n;
    }
    const words = items.subarray(itemWords, (itemWords += r.items.length * ATTEND_ITEM_WORDS));
    r.message = { step, layer, group: g, items: attendItemsFrame(r.items, words), frame: floatFrame(data, [r.rows, D]) };
  }
  return perRank;
}

/** Once the staged rows are in: the copies of the frames that are not plain staged rows (attendRequests' `pack`). */
export function fillAttendRequests(requests: ReadonlyMap<number, RankRequest>, dtype: DType, staged: Uint8Array, pack: Uint8Array): void {
  const all = modelElems(staged, dtype), packed = modelElems(pack, dtype);
  for (const r of requests.values()) for (const [at, len, to] of r.copies) packed.set(all.subarray(at, at + len), to);
}

/** Which position block (0..P−1) of its kv-head group a shard is: partials of one head merge by block. */
function positionBlockIndex(shards: PoolShard[], sh: PoolShard): number {
  return shards.filter((s) => s.kvHeads[0] === sh.kvHeads[0] && s.positions[0] < sh.positions[0]).length;
}
