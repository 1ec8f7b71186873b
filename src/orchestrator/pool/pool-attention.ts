// FA Pool on the base group's side. Sequences longer than the threshold have their attention computed on the
// attention pool, and (by default) their KV cache lives there only: a prompt longer than the threshold is
// prefilled on the base in a cache of its own, its K/V streamed to the ranks as each layer of each chunk makes
// them (kv-stream.ts), the cache dropped once they have it; or (prefill: 'pool') prefilled INTO the pool (its
// rows' q, k, v go to the ranks chunk by chunk; the ranks keep k, v and return the chunk's attention). A
// sequence that grows past the threshold while decoding has its cache migrated from the base.
// Per decode layer the base records its projections (RoPE leaves each token's q, k, v in its qkv row), copies
// the pooled rows to a mapped staging buffer (a submission of its own, read back while the base's own
// sequences' attention runs) and each pool rank gets one message with every pooled row it serves
// (attend-requests.ts) and answers with O (and LSE). When every head of a sequence is on one rank, O is final and
// goes straight into the attention output; when ranks split positions, their (O, LSE) partials are merged
// exactly on the base GPU (mergeAttention).
// A rank that fails or misses its deadline is dropped. Without a replica its sequences' caches are rebuilt from
// their tokens (on the ranks left, else on the base) and the step runs again: the same tokens. With a replica
// (`replica: true`) they fall back to the base's copy. A dropped rank is probed (hello, then `free` of what it may
// still hold) at a doubling back-off, started and taken into account only where sequences are placed, never awaited
// by a step: once it answers it takes sequences placed after that (a rejoin event); those elsewhere stay there.
import {
  DTYPE_BYTES, InputError, LimitError, copyStep, fromF16Array, sliceRows, type CopyStep, type Dispatch, type Gpu, type Tensor,
} from '../../gpu/index.js';
import { flashDecode, mergeAttention, type DecodePlan } from '../../kernels/attention.js';
import type { DeviceModel } from '../../model/device-model.js';
import type { LayerHooks, Recorder } from '../../model/forward.js';
import type { BatchShape, DecodeStepInput, PrefillChunk } from '../../model/generation.js';
import { AttentionLost, type AttentionPlacement } from '../../model/generator.js';
import { kvSlot, type KvCache } from '../../model/run-state.js';
import { errorMessage, framesOf, type PreparedRequest, type RankLink } from '../transport/link.js';
import { ATTEND_ITEM_WORDS, attendTiming, floatFrame, FrameError, modelElems, RANK_TIMING_WORDS, type FrameDesc, type TensorFrame } from '../transport/messages.js';
import { attendRequests, fillAttendRequests, type Placement, type Pooled, type RankRequest } from './attend-requests.js';
import { KvStream } from './kv-stream.js';
import { planShards, poolSizeFor, routeOf, type PoolPrefill, type PoolShard, type RoutingPolicy } from './policy.js';
import { emptyPoolStats, pushEvent, type PoolEvent, type PoolStats } from './pool-stats.js';

/** `sameHost`: the rank's wall clock is this process's (in-process, or a worker on this host): legs can be timed. */
export interface PoolMember {
  link: RankLink; alive: boolean; sameHost?: boolean;
  /** The rank's instance id from its hello (a worker reached through two endpoints says the same: one rank, not two). */
  instance?: string;
  /**
   * A rank on the base's own device (`--pool-device shared`): the GPU error its request met, if any (taken: a second
   * call gives null). That error is the device's, not the rank's, so it ends the step instead of counting as the rank
   * failing (which would hide the base's own error).
   */
  deviceError?: () => Error | null;
}

export interface PoolAttentionOptions {
  /** ms a rank may take to answer before it counts as failed (default 60 s). */
  deadlineMs?: number;
  /** Fewest positions in a shard's block when ranks split positions. */
  minBlock?: number;
  /** Keep a copy of every pooled sequence's cache on the base too (fallback without rebuilding; no capacity gain). */
  replica?: boolean;
  /**
   * Where a prompt longer than the threshold is prefilled. 'local' (default): on the base, in a cache of its
   * own held for the prompt's duration (one prompt's KV at a time), its K/V streamed to the ranks meanwhile.
   * 'pool': on the ranks, a round trip per chunk and layer (for a base that cannot hold one prompt's KV).
   */
  prefill?: PoolPrefill;
  /**
   * ms from a rank's failure to its first probe (default 1 s); each probe it fails doubles the wait, up to
   * rejoinBackoffMaxMs (default 30 s). A rank that fails again within that maximum of rejoining starts from twice
   * its last wait. 0: probed wherever sequences are placed; Infinity: a failed rank never rejoins.
   */
  rejoinBackoffMs?: number;
  rejoinBackoffMaxMs?: number;
  /** ms a probe (hello, then freeing what the rank may still hold) may take (default 3 s; not the deadline: a probe waits on nothing). */
  probeTimeoutMs?: number;
}

export const DEFAULT_REJOIN_BACKOFF_MS = 1000;
export const DEFAULT_REJOIN_BACKOFF_MAX_MS = 30_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 3000;

/** A failed member's way back (PoolAttention.revive). */
interface Revival {
  /** When it failed (performance.now()), for the rejoin event. */
  since: number;
  /** The next probe may start from this time on. */
  at: number;
  /** The wait before that probe: doubled by each failed probe, up to the maximum. */
  waitMs: number;
  probing: boolean;
  /** What a successful probe learnt (its hello): the member rejoins at the next placement. */
  answered: string | null;
  /** Sequences whose shards it may still hold (it failed, or was dead when they were released): freed by the probe. */
  stale: Set<number>;
  /** When it last rejoined: one that fails again within the maximum back-off keeps doubling instead of starting over. */
  rejoinedAt: number;
  /** Its hello named another member's instance (said once; it is never taken). */
  twin?: boolean;
}

interface BaseBuffers {
  kv: KvCache;                    // the cache they were made for (fallback plans are bound to it)
  B: number;
  staging: GPUBuffer[];           // two per micro-batch, alternating by layer: pooled rows' qkv [P, (nH + 2·nKv)·D]
  stagingHost: Uint8Array;
  packHost: Uint8Array;           // per-rank frames that are not plain staging rows: P row sizes a sequence (its q goes to each position block's rank)
  itemsHost: Uint32Array;         // [B, P, ATTEND_ITEM_WORDS]: per-rank attend items (a sequence has ≤ P shards)
  partO: Tensor; partLse: Tensor; // [B, nH, P, D] f32, [B, nH, P] f32 (compact: pooled row i)
  partOHost: Float32Array; partLseHost: Float32Array;
  outHost: Uint8Array;            // [B, nH, D] of the model dtype: direct replies, compact
  directOut: Tensor;              // [B, nH, D]
  mergeOut: Tensor; merge: Dispatch; // [B, nH, D]
  fbOut: Tensor; fallback: { lengths: Tensor; plans: DecodePlan[] }[]; // per cache group: attention on the base replica
  localLengths: Uint32Array; fbHost: Uint32Array;
  P: number;
  copies: Map<string, CopyStep>;  // prepared row copies, by (kind, from, to)
}

/** Prefill rows on their way to the pool, grown to the largest chunk. */
interface PrefillStaging { buffer: GPUBuffer; bytes: number; host: Uint8Array; pack: Uint8Array }

class MemberFailure extends Error {
  constructor(readonly member: number, override readonly cause: unknown) { super(errorMessage(cause)); }
}

export class PoolAttention implements AttentionPlacement {
  private readonly placement = new Map<number, Placement | null>();
  /** Sequences that fell back to the base: they stay there for the rest of the generation. */
  private readonly pinned = new Set<number>();
  private buf: BaseBuffers | null = null;
  private prefillStaging: PrefillStaging | null = null;
  private gpu: Gpu | null = null;
  private step = 0;
  /** Decode steps whose placement was counted (a step run again after a rebuild passes the same input). */
  private readonly counted = new WeakSet<DecodeStepInput>();
  readonly stats: PoolStats = emptyPoolStats();

  /** The hand-off of prompts prefilled here (made on first use). */
  private stream: KvStream | null = null;
  /** Slots whose prompt is being prefilled here and streamed to their ranks. */
  private readonly streaming = new Set<number>();

  /** Failed members, by index, on their way back. */
  private readonly revivals = new Map<number, Revival>();

  constructor(readonly members: PoolMember[], readonly policy: RoutingPolicy, readonly opts: PoolAttentionOptions = {}) {
    for (const [k, v] of [['rejoinBackoffMs', opts.rejoinBackoffMs], ['rejoinBackoffMaxMs', opts.rejoinBackoffMaxMs], ['probeTimeoutMs', opts.probeTimeoutMs]] as const) {
      if (v !== undefined && !(v >= 0)) throw new InputError(`pool option ${k} must be a number of ms ≥ 0 (or Infinity), got ${String(v)}`);
    }
    members.forEach((m, i) => { if (!m.alive) this.down(i); }); // given dead: probed like a failed one
  }

  private alive(): number[] { return this.members.flatMap((m, i) => (m.alive ? [i] : [])); }
  private name(mi: number): string { return this.members[mi]!.link.name; }

  // ---- where each sequence's cache lives

  /** No base cache for a prompt that starts on the pool (unless a replica is kept, or no rank is alive). */
  baseCapacities(shape: BatchShape): number[] {
    for (const b of this.placement.keys()) this.placement.set(b, null); // a new batch: earlier placements were freed at finish
    this.pinned.clear();
    this.step = 0; // its events count steps from its start
    this.revive();
    if (this.opts.replica || this.alive().length === 0) return shape.capacities;
    return shape.capacities.map((c, b) => (routeOf(shape.promptLengths[b]!, this.policy) === 'pool' ? 0 : c));
  }

  private buffers(m: DeviceModel): BaseBuffers {
    if (this.buf && this.buf.kv === m.kv) return this.buf;
    if (this.gpu) this.releaseBuffers(this.gpu);
    const { gpu, cfg, dtype, slots: B, kv, state } = m;
    this.gpu = gpu;
    const nH = cfg.nHeads, D = cfg.headDim;
    const P = Math.max(1, this.members.length);
    const rowBytes = (nH + 2 * cfg.nKvHeads) * D * DTYPE_BYTES[dtype];
    const partO = gpu.tensor([B, nH, P, D], 'f32', 'pool.partO'), partLse = gpu.tensor([B, nH, P], 'f32', 'pool.partLse');
    const mergeOut = gpu.tensor([B, nH, D], dtype, 'pool.merged');
    const fbOut = gpu.tensor([B, nH, D], dtype, 'pool.fbOut');
    this.buf = {
      kv, B,
      staging: [0, 1, 2, 3].map((i) => gpu.readbackBuffer(B * rowBytes, `pool.staging${i}`)),
      stagingHost: new Uint8Array(B * rowBytes), packHost: new Uint8Array(B * P * rowBytes), itemsHost: new Uint32Array(B * P * ATTEND_ITEM_WORDS),
      partO, partLse, partOHost: new Float32Array(B * nH * P * D), partLseHost: new Float32Array(B * nH * P),
      outHost: new Uint8Array(Math.ceil(B * nH * D * DTYPE_BYTES[dtype] / 4) * 4), directOut: gpu.tensor([B, nH, D], dtype, 'pool.direct'),
      mergeOut, merge: mergeAttention(gpu, { partialO: partO, partialLse: partLse, out: mergeOut }),
      fbOut, fallback: this.opts.replica ? kv.groups.map((g, gi) => {
        const lengths = gpu.tensor([g.slots], 'u32', `pool.fbLengths.${gi}`);
        const q = sliceRows(state.q, g.first, g.slots), out = sliceRows(fbOut, g.first, g.slots);
        // lastFrom: when the model appends after its attention, the replica gets a step's new K/V from the local
        // attention's merge (or the copy launch after it), maybe after this attention: it reads them from qkv.
        const lastFrom = m.decodeLastFrom(g, g.slots);
        return { lengths, plans: g.k.map((k, l) => flashDecode(gpu, { q, out, kCache: k, vCache: g.v[l]!, lengths, lastFrom })) };
      }) : [],
      localLengths: new Uint32Array(B), fbHost: new Uint32Array(B), P, copies: new Map(),
    };
    return this.buf;
  }

  // ---- prefill of a sequence whose cache goes to the pool

  /** A prompt (or a rebuild) of a sequence with no cache here starts: prefill it here and stream, where it can be. */
  async beforePrefillChunk(m: DeviceModel, c: PrefillChunk): Promise<void> {
    if (c.p0 !== 0) return;
    this.streaming.delete(c.b);
    this.revive(); // a sequence starts: a rank back since may take it (or it goes there when it grows)
    if ((this.opts.prefill ?? 'local') !== 'local' || kvSlot(m.kv, c.b) || this.alive().length === 0) return;
    try {
      m.addKv(c.b, m.batch.capacities[c.b]!);
    } catch (e) {
      if (!(e instanceof LimitError)) throw e;
      return; // no cache of its own here (too large for one binding, rows not aligned): the ranks prefill it
    }
    try {
      await this.placeForPrefill(m, c.b, 'prefilled on the base, K/V streamed to');
    } catch (e) {
      m.removeKv(c.b);
      throw e;
    }
    this.streaming.add(c.b);
    this.streamFor(m).begin();
  }

  /** A chunk's attention: here (streaming its K/V when the sequence is on its way to the pool), or on the ranks. */
  async prefillHooks(m: DeviceModel, c: PrefillChunk, local: LayerHooks | null): Promise<LayerHooks> {
    if (local && this.streaming.has(c.b)) return this.streamingHooks(m, c, local);
    if (local) return local;
    let p = this.placement.get(c.b) ?? null;
    if (c.p0 === 0 || !p) p = await this.placeForPrefill(m, c.b);
    const placed = p;
    return { attention: (l, rec) => this.prefillLayer(m, c, placed, l, rec) };
  }

  /** The base's own attention for each layer, then that layer's new K/V rows on their way to the ranks. */
  private streamingHooks(m: DeviceModel, c: PrefillChunk, local: LayerHooks): LayerHooks {
    const p = this.placement.get(c.b)!, at = kvSlot(m.kv, c.b)!, stream = this.stream!;
    const kvWritten = async (l: number, rec: Recorder) => {
      rec.submit(); // the layer's work runs while a staging slot is waited for
      const { copies, ticket } = await stream.stage(at.group, at.slot, l, c.p0, c.n);
      rec.record(...copies);
      rec.submit();
      stream.send(ticket, p.shards, (i, layer, k, v) => this.members[p.members[i]!]!.link.request(
        { kind: 'load_kv', seq: c.b, layer, kvHeads: p.shards[i]!.kvHeads, pos0: c.p0, count: c.n }, [k, v], this.opts.deadlineMs));
    };
    return {
      cacheLocal: local.cacheLocal, kvWritten,
      attention: async (l, rec) => { await local.attention(l, rec); await kvWritten(l, rec); },
    };
  }

  /** The end of a streamed prefill: once the ranks hold every row, the base's cache goes; if one failed, the sequence stays here. */
  async afterPrefillChunk(m: DeviceModel, c: PrefillChunk): Promise<void> {
    if (!c.end || !this.streaming.delete(c.b)) return;
    const stream = this.stream!;
    await stream.flush();
    const p = this.placement.get(c.b)!, f = stream.failure;
    if (f && f.shard < 0) throw f.cause; // the base's own read-back failed: not a rank's fault
    if (f) {
      this.fault(c.b, p, p.members[f.shard]!, f.cause);
      this.pinned.add(c.b);
      this.event({ step: this.step, seq: c.b, kind: 'fallback', detail: 'its prefilled cache stays on the base group, and its attention there' });
      return;
    }
    m.removeKv(c.b);
  }

  private streamFor(m: DeviceModel): KvStream {
    this.stream ??= new KvStream(m.gpu, m.dtype, m.cfg.nKvHeads, m.cfg.headDim, this.stats.stream);
    return this.stream;
  }

  /**
   * Shards for a sequence whose cache starts on the pool: split by kv heads only (so every head's attention is
   * whole on one rank), sized for the whole sequence (prompt and new tokens).
   */
  private async placeForPrefill(m: DeviceModel, b: number, how = 'on'): Promise<Placement> {
    const old = this.placement.get(b);
    if (old) await this.release(b, old);
    this.placement.set(b, null);
    this.revive();
    const alive = this.alive();
    const len = m.batch.promptLengths[b]!, capacity = m.batch.capacities[b]!, nKv = m.cfg.nKvHeads;
    if (alive.length === 0) throw new AttentionLost([b], `no pool rank is left for sequence ${b}`);
    const size = Math.min(Math.max(1, poolSizeFor(Math.max(len, this.policy.threshold + 1), this.policy, alive.length)), nKv);
    const shards = planShards(nKv, len, size, { minBlock: Number.MAX_SAFE_INTEGER });
    const p: Placement = { shards, members: shards.map((s) => alive[s.rank]!), len, poolSize: size, direct: true };
    const failed = await this.allocAll(m, b, p, capacity);
    if (failed !== null) {
      this.fault(b, p, failed.member, failed.cause);
      throw new AttentionLost([b], `pool rank ${this.name(failed.member)} failed while sequence ${b} was placed: ${errorMessage(failed.cause)}`);
    }
    this.placement.set(b, p);
    this.event({ step: this.step, seq: b, kind: 'prefill-to-pool', detail: `prompt ${len}: ${how} ${shards.length} shard(s) on ${p.members.map((mi) => this.name(mi)).join(', ')}` });
    return p;
  }

  private async allocAll(m: DeviceModel, b: number, p: Placement, capacity: number): Promise<MemberFailure | null> {
    const { cfg, dtype } = m;
    const results = await Promise.allSettled(p.shards.map((sh, i) => {
      const cap = (Number.isFinite(sh.positions[1]) ? sh.positions[1] : capacity) - sh.positions[0];
      return this.members[p.members[i]!]!.link.request({
        kind: 'alloc', seq: b, nLayers: cfg.nLayers, kvHeads: sh.kvHeads, headDim: cfg.headDim, capacity: cap, posBase: sh.positions[0],
        dtype: floatDtype(dtype), nHeadsPerKv: cfg.nHeads / cfg.nKvHeads,
      }, [], this.opts.deadlineMs);
    }));
    const bad = results.findIndex((r) => r.status === 'rejected');
    return bad < 0 ? null : new MemberFailure(p.members[bad]!, (results[bad] as PromiseRejectedResult).reason);
  }

  private stagingFor(m: DeviceModel, rows: number): PrefillStaging {
    const bytes = rows * (m.cfg.nHeads + 2 * m.cfg.nKvHeads) * m.cfg.headDim * DTYPE_BYTES[m.dtype];
    let s = this.prefillStaging;
    if (!s || s.bytes < bytes) {
      if (s) m.gpu.release(s.buffer);
      s = this.prefillStaging = { buffer: m.gpu.readbackBuffer(bytes, 'pool.prefillStaging'), bytes, host: new Uint8Array(bytes), pack: new Uint8Array(bytes) };
    }
    return s;
  }

  /** One layer of a prompt chunk: its rows' q, k, v to the shards' ranks; their O into the attention output. */
  private async prefillLayer(m: DeviceModel, c: PrefillChunk, p: Placement, l: number, rec: Recorder): Promise<void> {
    const t0 = performance.now();
    const { cfg, dtype, state } = m;
    const n = c.n, nH = cfg.nHeads, nKv = cfg.nKvHeads, D = cfg.headDim, g = nH / nKv, rowElems = (nH + 2 * nKv) * D;
    const st = this.stagingFor(m, n);
    const bytes = n * rowElems * DTYPE_BYTES[dtype];
    rec.record({ copy: { src: state.qkv.buffer, srcOffset: state.qkv.offset, dst: st.buffer, dstOffset: 0, size: bytes } });
    rec.submit();
    const rows = modelElems(await m.gpu.readMapped(st.buffer, bytes, st.host.subarray(0, bytes)), dtype);
    const pack = modelElems(st.pack, dtype);
    let packed = 0; // each rank's frame in its own part of the pack buffer: it is read when the rank gets to it
    const replies = await Promise.allSettled(p.shards.map((sh, si) => {
      const kvc = sh.kvHeads[1] - sh.kvHeads[0];
      let data = rows;
      if (kvc !== nKv) {
        // This rank's heads only: per token its q rows, then its k and v rows (one copy, into the pack buffer).
        data = pack.subarray(packed, packed + n * kvc * (g + 2) * D);
        packed += data.length;
        let o = 0;
        for (let t = 0; t < n; t++) {
          const row = t * rowElems;
          for (const [at, len] of [[sh.kvHeads[0] * g * D, kvc * g * D], [(nH + sh.kvHeads[0]) * D, kvc * D], [(nH + nKv + sh.kvHeads[0]) * D, kvc * D]] as const) {
            data.set(rows.subarray(row + at, row + at + len), o);
            o += len;
          }
        }
      }
      return this.members[p.members[si]!]!.link.request(
        { kind: 'prefill', seq: c.b, layer: l, pos0: c.p0, count: n, group: g, kvHeads: kvc },
        [floatFrame(data, [n * kvc * (g + 2), D])], this.opts.deadlineMs);
    }));
    const bad = replies.findIndex((r) => r.status === 'rejected');
    if (bad >= 0) {
      const cause = (replies[bad] as PromiseRejectedResult).reason;
      this.fault(c.b, p, p.members[bad]!, cause);
      throw new AttentionLost([c.b], `pool rank ${this.name(p.members[bad]!)} failed during the prefill of sequence ${c.b}: ${errorMessage(cause)}`);
    }
    const outs = replies.map((r) => (r as PromiseFulfilledResult<{ tensors: TensorFrame[] }>).value.tensors[0]!);
    if (outs.length === 1) {
      m.gpu.write(state.attn, outs[0]!.data as Float32Array | Uint16Array);
    } else {
      // Several ranks: each holds some heads of every token; interleave them per token, then one upload.
      const attnHost = pack.subarray(0, n * nH * D);
      p.shards.forEach((sh, si) => {
        const heads = (sh.kvHeads[1] - sh.kvHeads[0]) * g, o = outs[si]!.data as Float32Array | Uint16Array;
        for (let t = 0; t < n; t++) attnHost.set(o.subarray(t * heads * D, (t + 1) * heads * D), (t * nH + sh.kvHeads[0] * g) * D);
      });
      m.gpu.write(state.attn, attnHost);
    }
    this.stats.prefillLayers++;
    this.stats.prefillMs += performance.now() - t0;
  }

  async afterPrefill(m: DeviceModel, promptLengths: readonly number[]): Promise<void> {
    this.buffers(m);
    for (let b = 0; b < promptLengths.length; b++) {
      if (!this.placement.get(b)) this.placement.set(b, null);
      this.stats.perSeq[b] ??= { baseSteps: 0, poolSteps: 0, ranks: [] };
    }
  }

  // ---- route: which sequences run on the pool this step (placing or migrating them first)

  private async route(m: DeviceModel, input: DecodeStepInput): Promise<Pooled[]> {
    const pooled: Pooled[] = [];
    // A step run again after a rebuild (the same input) counts once; step numbers restart with every batch.
    const count = !this.counted.has(input);
    this.counted.add(input);
    for (let b = 0; b < m.slots; b++) {
      const len = input.lengths[b]!;
      if (len === 0) continue;
      const p = await this.place(m, b, len);
      const seq = (this.stats.perSeq[b] ??= { baseSteps: 0, poolSteps: 0, ranks: [] });
      if (p) pooled.push({ b, len, p, i: pooled.length });
      if (!count) continue;
      if (!p) { seq.baseSteps++; continue; }
      seq.poolSteps++;
      for (const mi of p.members) { const n = this.name(mi); if (!seq.ranks.includes(n)) seq.ranks.push(n); }
    }
    return pooled;
  }

  /** Make seq b's placement match its length: a sequence with a base cache moves (or reshards) to the pool. */
  private async place(m: DeviceModel, b: number, len: number): Promise<Placement | null> {
    const cur = this.placement.get(b) ?? null;
    if (!kvSlot(m.kv, b)) {
      if (!cur) throw new AttentionLost([b], `sequence ${b} has neither a cache on the base nor a placement on the pool`);
      return cur; // its cache lives on the pool only: it stays where it is
    }
    if (routeOf(len, this.policy) === 'base' || this.pinned.has(b)) return null;
    this.revive();
    const alive = this.alive();
    if (alive.length === 0) return null;
    const size = poolSizeFor(len, this.policy, alive.length);
    if (cur && cur.members.every((mi) => this.members[mi]!.alive)) {
      // A placement stays while its tier does: a rank that rejoined (more alive, a larger cap) moves nothing already placed.
      const tier = (n: number) => poolSizeFor(n, this.policy, this.members.length);
      if (cur.poolSize === size || tier(len) === tier(cur.len)) return cur;
    }
    const t0 = performance.now();
    if (cur) await this.release(b, cur);
    const shards = planShards(m.cfg.nKvHeads, len, size, { minBlock: this.opts.minBlock ?? 64 });
    const p: Placement = { shards, members: shards.map((s) => alive[s.rank]!), len, poolSize: size, direct: shards.every((s) => s.positions[0] === 0 && !Number.isFinite(s.positions[1])) };
    try {
      await this.migrate(m, b, len - 1, p);
    } catch (e) {
      const failed = e instanceof MemberFailure ? e.member : p.members[0]!;
      this.placement.set(b, p); // so fault() reports the fallback
      this.fault(b, p, failed, e instanceof MemberFailure ? e.cause : e);
      this.pinned.add(b); // its cache is still on the base: it stays there
      return null;
    }
    this.placement.set(b, p);
    this.event({ step: this.step, seq: b, kind: cur ? 'reshard' : 'to-pool', detail: `len ${len}: ${shards.length} shard(s) on ${p.members.map((mi) => this.name(mi)).join(', ')}` });
    this.stats.migrateMs += performance.now() - t0;
    return p;
  }

  private async release(b: number, p: Placement): Promise<void> {
    await Promise.all(p.members.map((mi) => {
      const mem = this.members[mi]!;
      if (mem.alive) return mem.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined);
      this.revivals.get(mi)?.stale.add(b); // its probe frees it
      return undefined;
    }));
  }

  /** Read seq b's cache rows [0, n) back from the base and load each shard's part on its rank. */
  private async migrate(m: DeviceModel, b: number, n: number, p: Placement): Promise<void> {
    const at = kvSlot(m.kv, b)!;
    const capacity = m.batch.capacities[b]!;
    for (const [i, sh] of p.shards.entries()) {
      const link = this.members[p.members[i]!]!.link;
      try {
        const failed = await this.allocAll(m, b, { ...p, shards: [sh], members: [p.members[i]!] }, capacity);
        if (failed) throw failed.cause;
        await this.migrateShard(m, b, n, sh, link, at);
      } catch (e) {
        throw new MemberFailure(p.members[i]!, e);
      }
    }
  }

  private async migrateShard(m: DeviceModel, b: number, n: number, sh: PoolShard, link: RankLink, at: NonNullable<ReturnType<typeof kvSlot>>): Promise<void> {
    const { gpu, cfg, dtype } = m;
    const D = cfg.headDim, nKv = cfg.nKvHeads;
    const { group, slot } = at, capacity = group.capacity;
    const begin = sh.positions[0], end = Math.min(sh.positions[1], n);
    const kvc = sh.kvHeads[1] - sh.kvHeads[0];
    const count = end - begin;
    if (count <= 0) return;
    const tmp = gpu.tensor([2, kvc, count, D], dtype, 'pool.migrate');
    try {
      for (let l = 0; l < cfg.nLayers; l++) {
        const steps = [];
        for (const [j, cache] of [group.k[l]!, group.v[l]!].entries()) {
          for (let h = 0; h < kvc; h++) steps.push(copyStep(cache, ((slot * nKv + sh.kvHeads[0] + h) * capacity + begin) * D, tmp, ((j * kvc) + h) * count * D, count * D));
        }
        gpu.submit(steps);
        const host = await gpu.read(tmp) as Float32Array | Uint16Array;
        const half = kvc * count * D;
        const frames = [host.subarray(0, half), host.subarray(half)].map((data) => floatFrame(data, [kvc, count, D]));
        await link.request({ kind: 'load_kv', seq: b, layer: l, kvHeads: sh.kvHeads, pos0: begin, count }, frames, this.opts.deadlineMs);
      }
    } finally {
      gpu.release(tmp);
    }
  }

  /** Member `failed` failed while serving seq b: drop that rank, free b on the others. */
  private fault(b: number, p: Placement, failed: number, e: unknown): void {
    const mem = this.members[failed]!;
    if (mem.alive) {
      mem.alive = false;
      this.down(failed);
      this.event({ step: this.step, seq: b, kind: 'fault', detail: `${mem.link.name}: ${errorMessage(e)}` });
    }
    this.revivals.get(failed)!.stale.add(b);
    for (const mi of new Set(p.members)) {
      if (mi !== failed && this.members[mi]!.alive) void this.members[mi]!.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined);
    }
    if (this.placement.get(b) !== null) {
      this.placement.set(b, null);
      if (this.opts.replica) this.event({ step: this.step, seq: b, kind: 'fallback', detail: 'attention back on the base group (KV replica there)' });
    }
  }

  // ---- failed members' way back

  private maxBackoff(): number {
    return Math.max(this.opts.rejoinBackoffMs ?? DEFAULT_REJOIN_BACKOFF_MS, this.opts.rejoinBackoffMaxMs ?? DEFAULT_REJOIN_BACKOFF_MAX_MS);
  }

  /** Member mi just failed: its first probe waits the back-off (doubled again when it had rejoined only lately). */
  private down(mi: number): void {
    const now = performance.now(), prev = this.revivals.get(mi), max = this.maxBackoff();
    const waitMs = prev && now - prev.rejoinedAt < max ? Math.min(2 * prev.waitMs, max) : this.opts.rejoinBackoffMs ?? DEFAULT_REJOIN_BACKOFF_MS;
    this.revivals.set(mi, { since: now, at: now + waitMs, waitMs, probing: false, answered: null, stale: new Set(), rejoinedAt: prev?.rejoinedAt ?? -Infinity });
  }

  /**
   * Where sequences are placed: a failed member whose probe answered takes sequences placed from now on (only
   * here, so that no placement changes under a step), and one whose back-off is over gets a probe. A probe runs on
   * its own: nothing waits for it. With `rejoin` false (between sequences) probes start, and nobody rejoins.
   */
  private revive(rejoin = true): void {
    const now = performance.now();
    for (const [mi, r] of this.revivals) {
      if (this.members[mi]!.alive || r.probing) continue;
      if (r.answered !== null && r.stale.size === 0) {
        if (rejoin) this.rejoin(mi, r, now);
      } else if (now >= r.at) {
        void this.probe(mi, r);
      }
    }
  }

  private rejoin(mi: number, r: Revival, now: number): void {
    this.members[mi]!.alive = true;
    r.rejoinedAt = now;
    this.event({
      step: this.step, seq: -1, kind: 'rejoin',
      detail: `${this.name(mi)}: answered a probe ${((now - r.since) / 1000).toFixed(1)} s after it failed (${r.answered}); new sequences may be placed on it`,
    });
    r.answered = null;
  }

  /**
   * Probes failed member mi: hello, then `free` of every sequence it may still hold (a rank restarted since holds
   * none: the frees are no-ops; one that was only slow lets them go). On success it rejoins at the next placement;
   * on failure the back-off doubles.
   */
  private async probe(mi: number, r: Revival): Promise<void> {
    r.probing = true;
    r.answered = null;
    const link = this.members[mi]!.link, ms = this.opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    const stale = [...r.stale];
    try {
      const hello = (await link.request({ kind: 'hello' }, [], ms)).header;
      const twin = hello.instance === undefined ? -1 : this.members.findIndex((m, j) => j !== mi && m.instance === hello.instance);
      if (twin >= 0) {
        // A worker absent at start that turns out to be one already in the pool (listed twice, under two endpoints).
        if (!r.twin) this.event({ step: this.step, seq: -1, kind: 'fault', detail: `${this.name(mi)}: the same worker as ${this.name(twin)} (one instance id in both hellos): not taken as a second rank` });
        r.twin = true;
        throw new Error('a twin');
      }
      this.members[mi]!.instance = hello.instance;
      await Promise.all(stale.map((seq) => link.request({ kind: 'free', seq }, [], ms)));
      for (const seq of stale) r.stale.delete(seq);
      r.answered = `hello: rank ${hello.rank}, pid ${hello.pid}`;
      r.at = performance.now(); // shards gone stale meanwhile: probed again at once
    } catch {
      r.waitMs = Math.min(2 * r.waitMs, this.maxBackoff());
      r.at = performance.now() + r.waitMs;
    } finally {
      r.probing = false;
    }
  }

  /** Lost sequences (no replica): back on the ranks left (their prefill places them), else on the base with a cache of their own. */
  async replace(m: DeviceModel, seqs: readonly number[]): Promise<void> {
    for (const b of seqs) {
      this.stats.rebuilds++;
      const onPool = this.alive().length > 0 && !kvSlot(m.kv, b);
      if (!onPool) {
        try {
          m.addKv(b, m.batch.capacities[b]!);
        } catch (e) {
          if (!(e instanceof LimitError)) throw e;
          throw new LimitError(`sequence ${b} lost its pool rank, no other is left, and it cannot come back to this device: ${e.message}`);
        }
        this.pinned.add(b);
      }
      this.placement.set(b, null);
      this.event({ step: this.step, seq: b, kind: 'rebuild', detail: `cache rebuilt from its tokens ${onPool ? `on ${this.alive().map((mi) => this.name(mi)).join(', ')}` : 'on the base group'}` });
    }
  }

  // ---- a decode step

  /**
   * This step's hooks: one set for the whole batch, or (given the micro-batch split, when every pooled
   * sequence's heads are whole on a rank and no replica is kept) one per micro-batch, so the base computes one
   * while the pool answers for the other.
   */
  async decodeHooks(m: DeviceModel, input: DecodeStepInput, split: number | null = null): Promise<LayerHooks[] | null> {
    this.step = input.step;
    const buf = this.buffers(m);
    const pooled = await this.route(m, input);
    if (pooled.length === 0) return null;
    this.stats.steps++;
    // The base's own attention skips the pooled rows (length 0); with a replica they still write their k, v there.
    buf.localLengths.set(input.lengths);
    for (const { b } of pooled) buf.localLengths[b] = 0;
    this.setLocal(m, input.rows, buf.localLengths);
    const halves = split !== null && !this.opts.replica && pooled.every((x) => x.p.direct);
    const overlap = this.overlap;
    if (!halves) return [{ attention: (l, rec) => this.layer(m, input, pooled, l, rec, 0), overlap }];
    const groups = m.decode().plans;
    const parts = [pooled.filter((x) => x.b < split), pooled.filter((x) => x.b >= split)];
    // A micro-batch's local attention: the groups inside it (DeviceModel.decodeHalves keeps them apart).
    const local = (h: number) => (l: number) => m.kv.groups.flatMap((g, gi) => ((g.first < split) === (h === 0) ? groups[l]![gi]!.dispatches : []));
    return parts.map((part, h): LayerHooks => (part.length
      ? { attention: (l, rec) => this.layer(m, input, part, l, rec, h, local(h)(l)), overlap }
      : { attention: (l, rec) => rec.record(...local(h)(l)) }));
  }

  /**
   * Without a replica a failed rank ends the step (it runs again): a layer's answers can land by launches recorded
   * before they come, and the rest of the layer be encoded while they are awaited (LayerHooks.overlap). With one,
   * a failed rank's sequences fall back mid-layer, so the landing is recorded once the answers are in.
   */
  private get overlap(): boolean { return !this.opts.replica; }

  private setLocal(m: DeviceModel, rows: Uint32Array, lengths: Uint32Array): void {
    m.setRows(rows);
    m.setLengths(lengths);
  }

  /**
   * One layer of one micro-batch (`half`): stage its pooled rows, run its local attention, ask the pool, place
   * the answers (fall back to a replica where needed). `pooled` keeps the batch-wide compact indices. Without a
   * replica the answers' landing (merge, row copies) is recorded before the first wait, and only queue writes
   * follow it (LayerHooks.overlap).
   */
  private async layer(m: DeviceModel, input: DecodeStepInput, pooled: Pooled[], l: number, rec: Recorder, half: number,
    localSteps: readonly Dispatch[] = m.decode().plans[l]!.flatMap((p) => p.dispatches)): Promise<void> {
    if (pooled.length === 0) { rec.record(...localSteps); return; } // every one fell back to the base (replica)
    const buf = this.buf!, br = this.stats.layer;
    const staging = buf.staging[2 * half + (l % 2)]!;
    const rowBytes = this.rowElems(m) * DTYPE_BYTES[m.dtype];
    const i0 = pooled[0]!.i, n = pooled.length; // this micro-batch's pooled rows are i0 .. i0 + n − 1
    for (const { b, i } of pooled) rec.record(this.copy(buf, `stage${half}.${l % 2}`, b, i, () => stagingCopy(m, b, staging, i)));
    // The pooled rows' q, k, v in a submission of their own: a map completes with the last submission that used
    // its buffer, so their read-back does not wait for the base's own attention, which runs while the pool works.
    rec.submit();
    const t0 = performance.now();
    const staged = m.gpu.readMapped(staging, n * rowBytes, buf.stagingHost.subarray(i0 * rowBytes, (i0 + n) * rowBytes), i0 * rowBytes);
    staged.catch(() => undefined); // awaited below; a throw before that must not leave its rejection unhandled
    rec.record(...localSteps);
    rec.submit();
    const direct = pooled.every((x) => x.p.direct);
    if (this.overlap) this.recordLanding(m, pooled, direct, rec, new Set());
    // The requests are made, and their headers checked and encoded, while the rows are read back (their frames are
    // views of the staging, or of the pack buffer filled once the rows are in): off the hop's critical path.
    const tp = performance.now();
    const requests = attendRequests(m.cfg, m.dtype, pooled, buf.stagingHost, buf.packHost, buf.itemsHost, buf.P, input.step, l, i0);
    const prepared = this.prepare(requests);
    const tq = performance.now();
    await staged;
    const t1 = performance.now();
    fillAttendRequests(requests, m.dtype, buf.stagingHost, buf.packHost);
    const t2 = performance.now();
    const failed = await this.exchange(m, pooled, requests, prepared, direct);
    const t3 = performance.now();
    if (failed.size && !this.opts.replica) {
      throw new AttentionLost([...failed], `pool rank lost at layer ${l} of step ${input.step}: sequence(s) ${[...failed].join(', ')} rebuild their caches`);
    }
    const nH = m.cfg.nHeads, D = m.cfg.headDim;
    if (direct) {
      m.gpu.write(buf.directOut, modelElems(buf.outHost, m.dtype).subarray(i0 * nH * D, (i0 + n) * nH * D), i0 * nH * D);
    } else {
      m.gpu.write(buf.partO, buf.partOHost.subarray(0, pooled.length * nH * buf.P * D));
      m.gpu.write(buf.partLse, buf.partLseHost.subarray(0, pooled.length * nH * buf.P));
    }
    const t4 = performance.now();
    if (!this.overlap) this.recordLanding(m, pooled, direct, rec, failed);
    if (failed.size) this.fallBack(m, input, pooled, failed, l, rec);
    br.layers++; br.baseMap += t1 - t0 - (tq - tp); br.encode += tq - tp + t2 - t1; br.baseWrite += t4 - t3;
    this.stats.transferMs += t1 - t0 - (tq - tp) + t4 - t3;
    this.stats.poolWaitMs += t3 - t2;
  }

  /** The answers into the attention output: the merge of partials (when ranks split positions), then row copies. */
  private recordLanding(m: DeviceModel, pooled: Pooled[], direct: boolean, rec: Recorder, failed: Set<number>): void {
    const buf = this.buf!;
    if (!direct) {
      buf.merge.setGrid(m.cfg.nHeads, pooled.length);
      rec.record(buf.merge);
    }
    const from = direct ? buf.directOut : buf.mergeOut;
    for (const { b, i } of pooled) if (!failed.has(b)) rec.record(this.copy(buf, direct ? 'direct' : 'merged', i, b, () => rowCopy(from, i, m.state.attn, b)));
  }

  private rowElems(m: DeviceModel): number { return (m.cfg.nHeads + 2 * m.cfg.nKvHeads) * m.cfg.headDim; }

  private copy(buf: BaseBuffers, kind: string, from: number, to: number, make: () => CopyStep): CopyStep {
    const key = `${kind}/${from}/${to}`;
    let c = buf.copies.get(key);
    if (!c) buf.copies.set(key, (c = make()));
    return c;
  }

  /**
   * Each rank's request prepared on its link (RankLink.prepare) with the reply frames it expects, or why it could not
   * be (failed in exchange).
   */
  private prepare(requests: Map<number, RankRequest>): Map<number, PreparedAttend | Error> {
    const out = new Map<number, PreparedAttend | Error>();
    for (const [mi, r] of requests) {
      const msg = r.message!;
      try {
        const reply = attendReplyFrames(r, msg.frame);
        const req = this.members[mi]!.link.prepare<'attend'>({ kind: 'attend', step: msg.step, layer: msg.layer, group: msg.group }, framesOf([msg.items, msg.frame]), reply);
        out.set(mi, { req, reply });
      } catch (e) {
        out.set(mi, e as Error);
      }
    }
    return out;
  }

  /**
   * Send every rank its request, all in flight together, and place the answers: O straight into the compact
   * output (direct), or (O, LSE) into the partials. Returns the sequences whose rank failed.
   */
  private async exchange(m: DeviceModel, pooled: Pooled[], requests: Map<number, RankRequest>, prepared: Map<number, PreparedAttend | Error>,
    direct: boolean): Promise<Set<number>> {
    const buf = this.buf!, br = this.stats.layer;
    const nH = m.cfg.nHeads, D = m.cfg.headDim, P = buf.P;
    if (!direct) {
      buf.partLseHost.fill(-Infinity, 0, pooled.length * nH * P);
      buf.partOHost.fill(0, 0, pooled.length * nH * P * D);
    }
    const out = modelElems(buf.outHost, m.dtype);
    const failed = new Set<number>();
    await Promise.all([...requests.entries()].map(async ([mi, r]) => {
      const mem = this.members[mi]!;
      const msg = r.message!;
      try {
        const t0 = performance.now();
        const p = prepared.get(mi)!;
        if (p instanceof Error) throw p;
        const reply = await mem.link.send(p.req, [msg.items, msg.frame], this.opts.deadlineMs);
        const t1 = performance.now();
        br.roundTrip += t1 - t0;
        const ms = attendTiming(reply.tensors);
        br.rankWrite += ms?.write ?? 0;
        br.rankSubmit += ms?.submit ?? 0;
        br.rankWait += ms?.wait ?? 0;
        if (mem.sameHost && ms) {
          br.toRank += ms.at - (performance.timeOrigin + t0);
          br.fromRank += performance.timeOrigin + t1 - (ms.at + ms.write + ms.wait);
        }
        const [oF, lseF] = reply.tensors as [TensorFrame, TensorFrame];
        const want = p.reply[0]!; // O: a row per head asked for, in the rows' dtype
        if (oF.dtype !== want.dtype || oF.shape[0] !== want.shape[0] || oF.shape[1] !== want.shape[1]) {
          throw new FrameError(`${mem.link.name}: attend_ok O is ${oF.dtype}[${oF.shape.join(', ')}], the request asked for ${want.dtype}[${want.shape.join(', ')}]`);
        }
        let hRow = 0;
        if (direct) {
          const o = oF.data as Float32Array | Uint16Array;
          for (const s of r.slots) {
            const heads = s.heads[1] - s.heads[0];
            out.set(o.subarray(hRow * D, (hRow + heads) * D), (s.i * nH + s.heads[0]) * D);
            hRow += heads;
          }
        } else {
          const o = oF.dtype === 'f16' ? fromF16Array(oF.data as Uint16Array) : oF.data as Float32Array;
          const lse = lseF.data as Float32Array;
          for (const s of r.slots) {
            for (let h = s.heads[0]; h < s.heads[1]; h++, hRow++) {
              const at = (s.i * nH + h) * P + s.block;
              buf.partLseHost[at] = lse[hRow]!;
              buf.partOHost.set(o.subarray(hRow * D, (hRow + 1) * D), at * D);
            }
          }
        }
        br.decode += performance.now() - t1;
      } catch (e) {
        const fatal = mem.deviceError?.();
        if (fatal) throw fatal;
        for (const s of r.slots) {
          const b = pooled.find((x) => x.i === s.i)!.b; // s.i is batch-wide: a second micro-batch's rows start past 0
          const p = this.placement.get(b);
          if (p) this.fault(b, p, mi, e);
          failed.add(b);
        }
      }
    }));
    return failed;
  }

  /** With a replica: the sequences whose rank failed get this layer's attention from the base copy, and stay there. */
  private fallBack(m: DeviceModel, input: DecodeStepInput, pooled: Pooled[], failed: Set<number>, l: number, rec: Recorder): void {
    const buf = this.buf!;
    buf.fbHost.fill(0);
    for (const b of failed) { buf.fbHost[b] = input.lengths[b]!; this.stats.perSeq[b]!.baseSteps++; this.pinned.add(b); }
    m.kv.groups.forEach((g, gi) => {
      const part = buf.fbHost.subarray(g.first, g.first + g.slots);
      const max = part.reduce((a, v) => Math.max(a, v), 0);
      if (max === 0) return;
      const fb = buf.fallback[gi]!;
      m.gpu.write(fb.lengths, part);
      fb.plans[l]!.update(max);
      rec.record(...fb.plans[l]!.dispatches);
    });
    for (const b of failed) rec.record(this.copy(buf, 'fallback', b, b, () => rowCopy(buf.fbOut, b, m.state.attn, b)));
    // Later layers of this step: those sequences go with the base's own attention.
    for (const b of failed) buf.localLengths[b] = input.lengths[b]!;
    this.setLocal(m, input.rows, buf.localLengths);
    for (let k = pooled.length - 1; k >= 0; k--) if (failed.has(pooled[k]!.b)) pooled.splice(k, 1);
    pooled.forEach((p, k) => { p.i = k; });
    buf.copies.clear(); // compact indices changed
  }

  async freeSlot(m: DeviceModel, b: number): Promise<void> {
    this.revive(false); // between sequences: a probe that is due starts, so the next one may find the rank back
    const p = this.placement.get(b);
    if (p) await this.release(b, p);
    this.placement.set(b, null);
    this.pinned.delete(b);
    m.removeKv(b); // a cache given here (fallback, rebuild): the slot's next sequence starts as its shape says
  }

  async finish(): Promise<void> {
    for (const [b, p] of this.placement) if (p) await this.release(b, p);
    this.placement.clear();
    this.revive(false); // between batches: as freeSlot
  }

  private releaseBuffers(gpu: Gpu): void {
    const b = this.buf;
    if (b) {
      b.merge.release();
      for (const f of b.fallback) { for (const p of f.plans) p.release(); gpu.release(f.lengths); }
      gpu.release(...b.staging, b.partO, b.partLse, b.mergeOut, b.fbOut, b.directOut);
      this.buf = null;
    }
  }

  private event(e: PoolEvent): void { pushEvent(this.stats, e); }

  dispose(gpu: Gpu): void {
    this.releaseBuffers(gpu);
    if (this.prefillStaging) gpu.release(this.prefillStaging.buffer);
    this.prefillStaging = null;
    this.stream?.release();
  }
}


/** Copy of slot b's qkv row (q, k, v as attention sees them) into row i of a staging buffer. */
function stagingCopy(m: DeviceModel, b: number, staging: GPUBuffer, i: number): CopyStep {
  const qkv = m.state.qkv, rowBytes = qkv.shape[1]! * DTYPE_BYTES[qkv.dtype];
  return { copy: { src: qkv.buffer, srcOffset: qkv.offset + b * rowBytes, dst: staging, dstOffset: i * rowBytes, size: rowBytes } };
}

/** Row `from` of a [rows, …] tensor into row `to` of another of the same row size. */
function rowCopy(src: Tensor, from: number, dst: Tensor, to: number): CopyStep {
  const n = src.shape.slice(1).reduce((a, b) => a * b, 1);
  return copyStep(src, from * n, dst, to * n, n);
}


function floatDtype(d: string): 'f32' | 'f16' {
  if (d !== 'f32' && d !== 'f16') throw new Error(`the attention pool holds f32 or f16 caches, not ${d}`);
  return d;
}

/** A rank's attend request prepared on its link, and the frames of the attend_ok it expects. */
interface PreparedAttend { req: PreparedRequest<'attend'>; reply: FrameDesc[] }

/** The frames of the attend_ok a rank answers `r` with: O [heads, D] of the rows' dtype, LSE [heads], its timing. */
function attendReplyFrames(r: RankRequest, rows: TensorFrame): FrameDesc[] {
  let heads = 0;
  for (const s of r.slots) heads += s.heads[1] - s.heads[0];
  return [{ dtype: rows.dtype, shape: [heads, rows.shape[1]!] }, { dtype: 'f32', shape: [heads] }, { dtype: 'u32', shape: [RANK_TIMING_WORDS] }];
}
