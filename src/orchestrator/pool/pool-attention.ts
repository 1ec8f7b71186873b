// FA Pool on the base group's side: each decode step, sequences longer than the threshold have their attention
// computed on the attention pool. Per layer the base records its projections (RoPE leaves each token's q, k, v
// in its qkv row), copies the pooled rows to a mapped staging buffer and runs its own sequences' attention;
// while that runs, the pool ranks get one message each (every pooled row's q/k/v in one frame) and answer
// with partial (O, LSE) results, merged exactly on the base GPU (mergeAttention) before the O projection.
// A rank that fails or misses its deadline is dropped: its sequences fall back to the base, which keeps a
// replica of every KV cache, so generation continues with the same tokens.
import { DTYPE_BYTES, copyStep, fromF16Array, sliceRows, type CopyStep, type Dispatch, type Gpu, type Tensor } from '../../gpu/index.js';
import { flashDecode, mergeAttention, type DecodePlan } from '../../kernels/attention.js';
import type { DeviceModel } from '../../model/device-model.js';
import { kvSlot, type KvCache } from '../../model/run-state.js';
import type { LayerHooks, Recorder } from '../../model/forward.js';
import type { DecodeStepInput } from '../../model/generation.js';
import type { AttentionPlacement } from '../../model/generator.js';
import { errorMessage, type RankLink } from '../transport/link.js';
import type { AttendItem, TensorFrame } from '../transport/messages.js';
import { planShards, poolSizeFor, routeOf, type PoolShard, type RoutingPolicy } from './policy.js';

export interface PoolMember { link: RankLink; alive: boolean }

export interface PoolEvent { step: number; seq: number; kind: 'to-pool' | 'reshard' | 'fault' | 'fallback'; detail: string }

/** Where the time of pooled layers goes (ms, summed over pooled layers). */
export interface LayerBreakdown {
  layers: number;
  baseMap: number;   // waiting for the staging copy (the base's projections and local attention run meanwhile)
  encode: number;    // building the requests
  roundTrip: number; // request sent → reply in (transport + the rank's work)
  rankWrite: number; // on the rank: uploads and launches
  rankWait: number;  // on the rank: its GPU work and read-back
  decode: number;    // scattering the replies into the partial tensors
  baseWrite: number; // uploading the partials
}

export interface PoolStats {
  /** Per sequence: decode steps whose attention ran on the base, and on the pool (with the ranks used). */
  perSeq: { baseSteps: number; poolSteps: number; ranks: string[] }[];
  events: PoolEvent[];
  /** Wall-clock split of pooled steps (ms): waiting for the pool, moving data, migrating KV. */
  poolWaitMs: number; transferMs: number; migrateMs: number; steps: number;
  layer: LayerBreakdown;
}

interface Placement { shards: PoolShard[]; members: number[]; len: number; poolSize: number }
/** A sequence whose attention runs on the pool this step; `i` is its row in the compact staging/partials. */
interface Pooled { b: number; len: number; p: Placement; i: number }

interface BaseBuffers {
  kv: KvCache;                    // the cache they were made for (fallback plans are bound to it)
  B: number;
  staging: GPUBuffer[];           // two, alternating by layer: pooled rows' qkv [P, (nH + 2·nKv)·D]
  stagingHost: Uint8Array;
  packHost: Uint8Array;           // per-rank frames that are not plain staging rows
  partO: Tensor; partLse: Tensor; // [B, nH, P, D] f32, [B, nH, P] f32 (compact: pooled row i)
  partOHost: Float32Array; partLseHost: Float32Array;
  mergeOut: Tensor; merge: Dispatch; // [B, nH, D]
  fbOut: Tensor; fallback: { lengths: Tensor; plans: DecodePlan[] }[]; // per cache group: attention on the base replica
  localLengths: Uint32Array; fbHost: Uint32Array;
  P: number;
  copies: Map<string, CopyStep>;  // prepared row copies, by (kind, from, to)
}

class MemberFailure extends Error {
  constructor(readonly member: number, override readonly cause: unknown) { super(errorMessage(cause)); }
}

const emptyBreakdown = (): LayerBreakdown => ({ layers: 0, baseMap: 0, encode: 0, roundTrip: 0, rankWrite: 0, rankWait: 0, decode: 0, baseWrite: 0 });

export class PoolAttention implements AttentionPlacement {
  private readonly placement = new Map<number, Placement | null>();
  /** Sequences that lost a rank: they stay on the base group for the rest of the generation. */
  private readonly pinned = new Set<number>();
  private buf: BaseBuffers | null = null;
  private gpu: Gpu | null = null;
  readonly stats: PoolStats = { perSeq: [], events: [], poolWaitMs: 0, transferMs: 0, migrateMs: 0, steps: 0, layer: emptyBreakdown() };

  constructor(
    readonly members: PoolMember[],
    readonly policy: RoutingPolicy,
    readonly opts: { deadlineMs?: number; minBlock?: number } = {},
  ) {}

  private alive(): number[] { return this.members.flatMap((m, i) => (m.alive ? [i] : [])); }

  private buffers(m: DeviceModel): BaseBuffers {
    if (this.buf && this.buf.kv === m.kv) return this.buf;
    if (this.gpu) this.dispose(this.gpu);
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
      staging: [0, 1].map((i) => gpu.readbackBuffer(B * rowBytes, `pool.staging${i}`)),
      stagingHost: new Uint8Array(B * rowBytes), packHost: new Uint8Array(B * rowBytes),
      partO, partLse, partOHost: new Float32Array(B * nH * P * D), partLseHost: new Float32Array(B * nH * P),
      mergeOut, merge: mergeAttention(gpu, { partialO: partO, partialLse: partLse, out: mergeOut }),
      fbOut, fallback: kv.groups.map((g, gi) => {
        const lengths = gpu.tensor([g.slots], 'u32', `pool.fbLengths.${gi}`);
        const q = sliceRows(state.q, g.first, g.slots), out = sliceRows(fbOut, g.first, g.slots);
        return { lengths, plans: g.k.map((k, l) => flashDecode(gpu, { q, out, kCache: k, vCache: g.v[l]!, lengths })) };
      }),
      localLengths: new Uint32Array(B), fbHost: new Uint32Array(B), P, copies: new Map(),
    };
    return this.buf;
  }

  async afterPrefill(m: DeviceModel, promptLengths: readonly number[]): Promise<void> {
    this.buffers(m);
    this.pinned.clear();
    for (let b = 0; b < promptLengths.length; b++) {
      this.placement.set(b, null);
      this.stats.perSeq[b] ??= { baseSteps: 0, poolSteps: 0, ranks: [] };
    }
  }

  // ---- route: which sequences run on the pool this step (placing or migrating them first)

  private async route(m: DeviceModel, input: DecodeStepInput): Promise<Pooled[]> {
    const pooled: Pooled[] = [];
    for (let b = 0; b < m.slots; b++) {
      const len = input.lengths[b]!;
      if (len === 0) continue;
      const p = await this.place(m, b, len, input.step);
      const seq = this.stats.perSeq[b]!;
      if (!p) { seq.baseSteps++; continue; }
      pooled.push({ b, len, p, i: pooled.length });
      seq.poolSteps++;
      for (const mi of p.members) { const n = this.members[mi]!.link.name; if (!seq.ranks.includes(n)) seq.ranks.push(n); }
    }
    return pooled;
  }

  /** Make seq b's placement match its length: allocate shards and copy its KV [0, len−1) from the base. */
  private async place(m: DeviceModel, b: number, len: number, step: number): Promise<Placement | null> {
    const cur = this.placement.get(b) ?? null;
    if (routeOf(len, this.policy) === 'base' || this.pinned.has(b)) return null;
    const alive = this.alive();
    if (alive.length === 0) return null;
    const size = poolSizeFor(len, this.policy, alive.length);
    if (cur && cur.poolSize === size && cur.members.every((mi) => this.members[mi]!.alive)) return cur;
    const t0 = performance.now();
    if (cur) await this.release(b, cur);
    const shards = planShards(m.cfg.nKvHeads, len, size, { minBlock: this.opts.minBlock ?? 64 });
    const members = shards.map((s) => alive[s.rank]!);
    const p: Placement = { shards, members, len, poolSize: size };
    try {
      await this.migrate(m, b, len - 1, p);
    } catch (e) {
      const failed = e instanceof MemberFailure ? e.member : p.members[0]!;
      this.placement.set(b, p); // so fault() reports the fallback
      this.fault(step, b, p, failed, e instanceof MemberFailure ? e.cause : e);
      return null;
    }
    this.placement.set(b, p);
    this.stats.events.push({ step, seq: b, kind: cur ? 'reshard' : 'to-pool', detail: `len ${len}: ${shards.length} shard(s) on ${members.map((mi) => this.members[mi]!.link.name).join(', ')}` });
    this.stats.migrateMs += performance.now() - t0;
    return p;
  }

  private async release(b: number, p: Placement): Promise<void> {
    await Promise.all(p.members.map((mi) => this.members[mi]!.alive ? this.members[mi]!.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined) : undefined));
  }

  /** Read seq b's cache rows [0, n) back from the base and load each shard's part on its rank. */
  private async migrate(m: DeviceModel, b: number, n: number, p: Placement): Promise<void> {
    for (const [i, sh] of p.shards.entries()) {
      try {
        await this.migrateShard(m, b, n, sh, this.members[p.members[i]!]!.link);
      } catch (e) {
        throw new MemberFailure(p.members[i]!, e);
      }
    }
  }

  private async migrateShard(m: DeviceModel, b: number, n: number, sh: PoolShard, link: RankLink): Promise<void> {
    const { gpu, cfg, dtype } = m;
    const at = kvSlot(m.kv, b);
    if (!at) throw new Error(`sequence ${b} has no KV cache on the base to migrate from`);
    const { group, slot } = at, capacity = group.capacity;
    const D = cfg.headDim, nKv = cfg.nKvHeads;
    const begin = sh.positions[0], end = Math.min(sh.positions[1], n);
    const cap = (Number.isFinite(sh.positions[1]) ? sh.positions[1] : capacity) - begin;
    const kvc = sh.kvHeads[1] - sh.kvHeads[0];
    await link.request({ kind: 'alloc', seq: b, nLayers: cfg.nLayers, kvHeads: sh.kvHeads, headDim: D, capacity: cap, posBase: begin, dtype: floatDtype(dtype), nHeadsPerKv: cfg.nHeads / nKv }, [], this.opts.deadlineMs);
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
        const frames = [host.subarray(0, half), host.subarray(half)].map((data) => frame(data, [kvc, count, D]));
        await link.request({ kind: 'load_kv', seq: b, layer: l, kvHeads: sh.kvHeads, pos0: begin, count }, frames, this.opts.deadlineMs);
      }
    } finally {
      gpu.release(tmp);
    }
  }

  /** Member `failed` failed while serving seq b: drop that rank, free b on the others, b goes to the base. */
  private fault(step: number, b: number, p: Placement, failed: number, e: unknown): void {
    const mem = this.members[failed]!;
    if (mem.alive) {
      mem.alive = false;
      this.stats.events.push({ step, seq: b, kind: 'fault', detail: `${mem.link.name}: ${errorMessage(e)}` });
    }
    for (const mi of new Set(p.members)) {
      if (mi !== failed && this.members[mi]!.alive) void this.members[mi]!.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined);
    }
    this.pinned.add(b);
    if (this.placement.get(b) !== null) {
      this.placement.set(b, null);
      this.stats.events.push({ step, seq: b, kind: 'fallback', detail: 'attention back on the base group (KV replica there)' });
    }
  }

  // ---- a decode step

  async decodeHooks(m: DeviceModel, input: DecodeStepInput): Promise<LayerHooks | null> {
    const buf = this.buffers(m);
    const pooled = await this.route(m, input);
    if (pooled.length === 0) return null;
    this.stats.steps++;
    // The base's own attention skips the pooled rows (length 0); they still write their k, v to the replica.
    buf.localLengths.set(input.lengths);
    for (const { b } of pooled) buf.localLengths[b] = 0;
    this.setLocal(m, input.rows, buf.localLengths);
    return { attention: (l, rec) => this.layer(m, input, pooled, l, rec) };
  }

  private setLocal(m: DeviceModel, rows: Uint32Array, lengths: Uint32Array): void {
    m.gpu.write(m.state.rows, rows);
    m.setLengths(lengths);
  }

  /** One layer: stage the pooled rows, run the local attention, ask the pool, merge, fall back where needed. */
  private async layer(m: DeviceModel, input: DecodeStepInput, pooled: Pooled[], l: number, rec: Recorder): Promise<void> {
    const buf = this.buf!, br = this.stats.layer;
    const staging = buf.staging[l % 2]!;
    const rowBytes = this.rowElems(m) * DTYPE_BYTES[m.dtype];
    for (const { b, i } of pooled) rec.record(this.copy(buf, `stage${l % 2}`, b, i, () => stagingCopy(m, b, staging, i)));
    for (const p of m.decode().plans[l]!) rec.record(...p.dispatches); // the base's own sequences, while the pool works
    rec.submit();
    const t0 = performance.now();
    const rows = await m.gpu.readMapped(staging, pooled.length * rowBytes, buf.stagingHost.subarray(0, pooled.length * rowBytes));
    const t1 = performance.now();
    const requests = this.requests(m, pooled, rows, input.step, l);
    const t2 = performance.now();
    const failed = await this.exchange(m, pooled, requests, input.step);
    const t3 = performance.now();
    m.gpu.write(buf.partO, buf.partOHost.subarray(0, pooled.length * m.cfg.nHeads * buf.P * m.cfg.headDim));
    m.gpu.write(buf.partLse, buf.partLseHost.subarray(0, pooled.length * m.cfg.nHeads * buf.P));
    const t4 = performance.now();
    buf.merge.setGrid(m.cfg.nHeads, pooled.length);
    rec.record(buf.merge);
    for (const { b, i } of pooled) if (!failed.has(b)) rec.record(this.copy(buf, 'merged', i, b, () => rowCopy(buf.mergeOut, i, m.state.attn, b)));
    if (failed.size) this.fallBack(m, input, pooled, failed, l, rec);
    br.layers++; br.baseMap += t1 - t0; br.encode += t2 - t1; br.baseWrite += t4 - t3;
    this.stats.transferMs += t1 - t0 + t4 - t3;
    this.stats.poolWaitMs += t3 - t2;
  }

  private rowElems(m: DeviceModel): number { return (m.cfg.nHeads + 2 * m.cfg.nKvHeads) * m.cfg.headDim; }

  private copy(buf: BaseBuffers, kind: string, from: number, to: number, make: () => CopyStep): CopyStep {
    const key = `${kind}/${from}/${to}`;
    let c = buf.copies.get(key);
    if (!c) buf.copies.set(key, (c = make()));
    return c;
  }

  /** Per rank: its items and one frame of their rows (q heads of its kv heads, then new k and v). */
  private requests(m: DeviceModel, pooled: Pooled[], staged: Uint8Array, step: number, layer: number): Map<number, RankRequest> {
    const { cfg } = m;
    const nH = cfg.nHeads, nKv = cfg.nKvHeads, D = cfg.headDim, g = nH / nKv;
    const rowElems = this.rowElems(m);
    const all = m.dtype === 'f16' ? new Uint16Array(staged.buffer, staged.byteOffset, staged.byteLength / 2) : new Float32Array(staged.buffer, staged.byteOffset, staged.byteLength / 4);
    const perRank = new Map<number, RankRequest>();
    for (const { b, len, p, i } of pooled) {
      p.shards.forEach((sh, si) => {
        const blockEnd = Math.min(sh.positions[1], len);
        if (blockEnd <= sh.positions[0]) return;
        const mi = p.members[si]!;
        const newPos = len - 1 >= sh.positions[0] && len - 1 < sh.positions[1] ? len - 1 : -1;
        let r = perRank.get(mi);
        if (!r) perRank.set(mi, (r = { items: [], parts: [], slots: [], rows: 0 }));
        const kvc = sh.kvHeads[1] - sh.kvHeads[0];
        r.items.push({ seq: b, kvHeads: kvc, len, newPos });
        const row = i * rowElems;
        r.parts.push([row + sh.kvHeads[0] * g * D, kvc * g * D]);
        if (newPos >= 0) r.parts.push([row + (nH + sh.kvHeads[0]) * D, kvc * D], [row + (nH + nKv + sh.kvHeads[0]) * D, kvc * D]);
        r.rows += kvc * (g + (newPos >= 0 ? 2 : 0));
        r.slots.push({ i, heads: [sh.kvHeads[0] * g, sh.kvHeads[1] * g], block: positionBlockIndex(p.shards, sh) });
      });
    }
    // One frame per rank: the staged rows themselves when they are exactly what it needs, else packed once.
    let packed = 0;
    const pack = this.buf!.packHost;
    const packView = m.dtype === 'f16' ? new Uint16Array(pack.buffer) : new Float32Array(pack.buffer);
    for (const r of perRank.values()) {
      const contiguous = r.parts.every(([at], k) => at === (k === 0 ? r.parts[0]![0] : r.parts[k - 1]![0] + r.parts[k - 1]![1]));
      const elems = r.rows * D;
      let data: Float32Array | Uint16Array;
      if (contiguous) {
        data = all.subarray(r.parts[0]![0], r.parts[0]![0] + elems);
      } else {
        let o = packed;
        for (const [at, n] of r.parts) { packView.set(all.subarray(at, at + n), o); o += n; }
        data = packView.subarray(packed, packed + elems);
        packed += elems;
      }
      r.message = { step, layer, group: g, items: r.items, frame: frame(data, [r.rows, D]) };
    }
    return perRank;
  }

  /** Send every rank its request, all in flight together; scatter the answers. Returns the sequences whose rank failed. */
  private async exchange(m: DeviceModel, pooled: Pooled[], requests: Map<number, RankRequest>, step: number): Promise<Set<number>> {
    const buf = this.buf!, br = this.stats.layer;
    const nH = m.cfg.nHeads, D = m.cfg.headDim, P = buf.P;
    buf.partLseHost.fill(-Infinity, 0, pooled.length * nH * P);
    buf.partOHost.fill(0, 0, pooled.length * nH * P * D);
    const failed = new Set<number>();
    await Promise.all([...requests.entries()].map(async ([mi, r]) => {
      const mem = this.members[mi]!;
      const msg = r.message!;
      try {
        const t0 = performance.now();
        const reply = await mem.link.request({ kind: 'attend', step: msg.step, layer: msg.layer, group: msg.group, items: msg.items }, [msg.frame], this.opts.deadlineMs);
        const t1 = performance.now();
        br.roundTrip += t1 - t0;
        br.rankWrite += reply.header.rankMs?.write ?? 0;
        br.rankWait += reply.header.rankMs?.wait ?? 0;
        const [oF, lseF] = reply.tensors as [TensorFrame, TensorFrame];
        const o = oF.dtype === 'f16' ? fromF16Array(oF.data as Uint16Array) : oF.data as Float32Array;
        const lse = lseF.data as Float32Array;
        let hRow = 0;
        for (const s of r.slots) {
          for (let h = s.heads[0]; h < s.heads[1]; h++, hRow++) {
            const at = (s.i * nH + h) * P + s.block;
            buf.partLseHost[at] = lse[hRow]!;
            buf.partOHost.set(o.subarray(hRow * D, (hRow + 1) * D), at * D);
          }
        }
        br.decode += performance.now() - t1;
      } catch (e) {
        // Every pooled sequence with a shard on this rank falls back to the base, from this layer on.
        for (const s of r.slots) {
          const b = pooled[s.i]!.b;
          const p = this.placement.get(b);
          if (p) this.fault(step, b, p, mi, e);
          failed.add(b);
        }
      }
    }));
    return failed;
  }

  /** Sequences whose rank failed: this layer's attention on the base replica; later layers stay on the base. */
  private fallBack(m: DeviceModel, input: DecodeStepInput, pooled: Pooled[], failed: Set<number>, l: number, rec: Recorder): void {
    const buf = this.buf!;
    buf.fbHost.fill(0);
    for (const b of failed) { buf.fbHost[b] = input.lengths[b]!; this.stats.perSeq[b]!.baseSteps++; }
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

  async finish(): Promise<void> {
    for (const [b, p] of this.placement) if (p) await this.release(b, p);
    this.placement.clear();
  }

  dispose(gpu: Gpu): void {
    const b = this.buf;
    if (!b) return;
    b.merge.release();
    for (const f of b.fallback) { for (const p of f.plans) p.release(); gpu.release(f.lengths); }
    gpu.release(...b.staging, b.partO, b.partLse, b.mergeOut, b.fbOut);
    this.buf = null;
  }
}

interface RankRequest {
  items: AttendItem[];
  /** [element offset, count] of each part of the frame in the staged rows, in order. */
  parts: [number, number][];
  rows: number;
  slots: { i: number; heads: [number, number]; block: number }[];
  message?: { step: number; layer: number; group: number; items: AttendItem[]; frame: TensorFrame };
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

function frame(data: Float32Array | Uint16Array, shape: number[]): TensorFrame {
  return data instanceof Uint16Array ? { dtype: 'f16', shape, data } : { dtype: 'f32', shape, data };
}

/** Which position block (0..P−1) of its kv-head group a shard is: partials of one head merge by block. */
function positionBlockIndex(shards: PoolShard[], sh: PoolShard): number {
  return shards.filter((s) => s.kvHeads[0] === sh.kvHeads[0] && s.positions[0] < sh.positions[0]).length;
}
