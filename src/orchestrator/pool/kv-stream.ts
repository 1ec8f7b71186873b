// A long prompt prefilled on the base, its K/V streamed to the pool. The base runs the prompt's attention itself
// (its fastest kernel, in a cache of its own held for the prompt's duration); after each layer of each chunk the
// chunk's new K and V rows go, head-major, into a mapped staging slot and from there as one `load_kv` per shard
// to the ranks, while the later layers and chunks compute. Nothing waits for a rank until the prompt ends: the
// prefill's critical path carries no round trip, and only K and V travel (not q out and O back, as when the
// ranks compute the prompt's attention). Until every shard has its part, the base's cache is whole: a rank lost
// meanwhile costs the hand-off only (the sequence stays on the base).
import { DTYPE_BYTES, copyStep, type CopyStep, type DType, type Gpu, type Tensor } from '../../gpu/index.js';
import type { KvGroup } from '../../model/run-state.js';
import { floatFrame, modelElems, type TensorFrame } from '../transport/messages.js';
import type { PoolShard } from './policy.js';

/** Staging slots in flight: one per layer of a chunk lets a whole chunk's hand-off overlap the next chunk. */
const SLOTS = 4;

/** Where one chunk-layer goes: each shard's kv heads as a K frame and a V frame. */
export type SendShard = (shard: number, layer: number, k: TensorFrame, v: TensorFrame) => Promise<unknown>;

interface Slot { staging: Tensor; inFlight: Promise<void> | null }

export interface StreamTotals { layers: number; bytes: number; waitMs: number }

/** One sequence's hand-off at a time; reused across sequences while the chunk size fits. */
export class KvStream {
  private slots: Slot[] = [];
  private slotElems = 0;
  private next = 0;
  private failed: { shard: number; cause: unknown } | null = null;
  constructor(private readonly gpu: Gpu, private readonly dtype: DType, private readonly nKv: number, private readonly headDim: number,
    readonly totals: StreamTotals = { layers: 0, bytes: 0, waitMs: 0 }) {}

  /** The first shard that failed, and why (the rest of the hand-off was skipped); shard -1: the base's own read-back. */
  get failure(): { shard: number; cause: unknown } | null { return this.failed; }

  /** Start a sequence's hand-off (a failure of the previous one is forgotten). */
  begin(): void { this.failed = null; }

  /**
   * The copies that take layer `l`'s rows [p0, p0 + n) of `slot` of cache group `g` into the next staging slot
   * (waiting for that slot's previous hand-off first). Record them after the layer's K/V writes, submit, then
   * call `send` with the returned ticket.
   */
  async stage(g: KvGroup, slot: number, l: number, p0: number, n: number): Promise<{ copies: CopyStep[]; ticket: Ticket }> {
    const s = await this.slotFor(2 * this.nKv * n * this.headDim);
    const D = this.headDim, nKv = this.nKv, cap = g.capacity;
    const copies: CopyStep[] = [];
    for (const [j, cache] of [g.k[l]!, g.v[l]!].entries()) {
      for (let h = 0; h < nKv; h++) copies.push(copyStep(cache, ((slot * nKv + h) * cap + p0) * D, s.staging, (j * nKv + h) * n * D, n * D));
    }
    return { copies, ticket: { s, l, n } };
  }

  /** Once the staging copies are submitted: map them and send each shard its heads (not awaited here). */
  send(t: Ticket, shards: readonly PoolShard[], to: SendShard): void {
    const { s, l, n } = t;
    const D = this.headDim, nKv = this.nKv, bytes = 2 * nKv * n * D * DTYPE_BYTES[this.dtype];
    this.totals.layers++;
    this.totals.bytes += bytes;
    s.inFlight = this.gpu.withMapped(s.staging.buffer, bytes, async (range) => {
      if (this.failed) return;
      const all = modelElems(range, this.dtype);
      const part = (j: number, sh: PoolShard) => {
        const kvc = sh.kvHeads[1] - sh.kvHeads[0], at = (j * nKv + sh.kvHeads[0]) * n * D;
        return floatFrame(all.subarray(at, at + kvc * n * D), [kvc, n, D]);
      };
      const sent = await Promise.allSettled(shards.map((sh, i) => to(i, l, part(0, sh), part(1, sh))));
      const bad = sent.findIndex((r) => r.status === 'rejected');
      if (bad >= 0 && !this.failed) this.failed = { shard: bad, cause: (sent[bad] as PromiseRejectedResult).reason };
    }).catch((e: unknown) => { this.failed ??= { shard: -1, cause: e }; });
  }

  /** Wait until every chunk-layer sent so far is on its ranks (or failed); the staging is then released. */
  async flush(): Promise<void> {
    const t0 = performance.now();
    await Promise.all(this.slots.map((s) => s.inFlight));
    this.totals.waitMs += performance.now() - t0;
    this.release();
  }

  release(): void {
    this.gpu.release(...this.slots.map((s) => s.staging));
    this.slots = [];
    this.slotElems = 0;
  }

  private async slotFor(elems: number): Promise<Slot> {
    if (elems > this.slotElems) {
      await this.flush();
      this.slotElems = elems;
      const bytes = elems * DTYPE_BYTES[this.dtype];
      this.slots = Array.from({ length: SLOTS }, (_, i) => ({
        staging: { shape: [elems], dtype: this.dtype, buffer: this.gpu.readbackBuffer(bytes, `pool.kvStream${i}`), offset: 0, label: `pool.kvStream${i}` },
        inFlight: null,
      }));
    }
    const s = this.slots[this.next++ % SLOTS]!;
    if (s.inFlight) {
      const t0 = performance.now();
      await s.inFlight;
      this.totals.waitMs += performance.now() - t0;
      s.inFlight = null;
    }
    return s;
  }
}

/** A staged chunk-layer waiting for its copies to be submitted. */
export interface Ticket { readonly s: Slot; readonly l: number; readonly n: number }
