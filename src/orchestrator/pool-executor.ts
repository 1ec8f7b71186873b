// FA Pool on the base group's side: each decode step, sequences longer than the threshold have their
// attention computed on the attention pool. The base runs layer by layer: it submits the projections,
// copies the pool sequences' q and new k/v rows to a mapped staging buffer, submits its own (short)
// sequences' attention, and while that runs on its GPU the pool ranks compute the long ones. Their
// partial (O, LSE) results are merged exactly on the base GPU (mergeAttention) before the O projection.
// A rank that fails or misses its deadline is dropped: its sequences fall back to the base, which keeps
// a replica of every KV cache, so generation continues with the same tokens.
import { copyStep, sliceRows, type Dispatch, type Gpu, type Step, type Tensor } from '../gpu/index.js';
import { flashDecode, mergeAttention, type DecodePlan } from '../kernels/attention.js';
import type { DecodeExecutor, DecodeStepInput, GeneratorInternals } from '../model/generator.js';
import { singleDeviceExecutor } from '../model/generator.js';
import { errorMessage, type RankLink } from './link.js';
import type { TensorFrame } from './messages.js';
import { planShards, poolSizeFor, routeOf, type PoolShard, type RoutingPolicy } from './policy.js';

export interface PoolMember { link: RankLink; alive: boolean }

export interface PoolEvent { step: number; seq: number; kind: 'to-pool' | 'reshard' | 'fault' | 'fallback'; detail: string }

export interface PoolStats {
  /** Per sequence: decode steps whose attention ran on the base, and on the pool (with the ranks used). */
  perSeq: { baseSteps: number; poolSteps: number; ranks: string[] }[];
  events: PoolEvent[];
  /** Wall-clock split of pooled steps (ms): waiting for the pool, moving data, migrating KV. */
  poolWaitMs: number; transferMs: number; migrateMs: number; steps: number;
}

interface Placement { shards: PoolShard[]; members: number[]; len: number; poolSize: number }

interface BaseBuffers {
  staging: GPUBuffer[];          // two, alternating by layer: per pool row q [nH, D] then new k, v [nKv, D]
  rowElems: number;
  partO: Tensor; partLse: Tensor;  // [B, nH, P, D] f32, [B, nH, P] f32
  partOHost: Float32Array; partLseHost: Float32Array;
  mergeOut: Tensor; merge: Dispatch;                     // [B, nH, D]
  fbLengths: Tensor; fbOut: Tensor; fbPlans: DecodePlan[]; // fallback attention on the base replica
  localLengths: Uint32Array; fbHost: Uint32Array;
  P: number;
}

class MemberFailure extends Error {
  constructor(readonly member: number, override readonly cause: unknown) { super(errorMessage(cause)); }
}

export class PoolExecutor implements DecodeExecutor {
  private readonly placement = new Map<number, Placement | null>();
  /** Sequences that lost a rank: they stay on the base group for the rest of the generation. */
  private readonly pinned = new Set<number>();
  private buf: BaseBuffers | null = null;
  readonly stats: PoolStats = { perSeq: [], events: [], poolWaitMs: 0, transferMs: 0, migrateMs: 0, steps: 0 };

  constructor(
    readonly members: PoolMember[],
    readonly policy: RoutingPolicy,
    readonly opts: { deadlineMs?: number; minBlock?: number } = {},
  ) {}

  private alive(): number[] { return this.members.flatMap((m, i) => (m.alive ? [i] : [])); }

  private buffers(g: GeneratorInternals): BaseBuffers {
    if (this.buf) return this.buf;
    const { gpu, cfg, dtype, slots: B, kv } = g;
    const nH = cfg.nHeads, D = cfg.headDim;
    const P = Math.max(1, this.members.length);
    const rowElems = nH * D + 2 * cfg.nKvHeads * D;
    const el = dtype === 'f16' ? 2 : 4;
    const staging = [0, 1].map((i) => gpu.createBuffer(Math.ceil(B * rowElems * el / 4) * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `pool.staging${i}`));
    const partO = gpu.tensor([B, nH, P, D], 'f32', 'pool.partO'), partLse = gpu.tensor([B, nH, P], 'f32', 'pool.partLse');
    const mergeOut = gpu.tensor([B, nH, D], dtype, 'pool.merged');
    const fbLengths = gpu.tensor([B], 'u32', 'pool.fbLengths'), fbOut = gpu.tensor([B, nH, D], dtype, 'pool.fbOut');
    const qView = g.state.q.shape[0] === B ? g.state.q : sliceRows(g.state.q, 0, B);
    const fbPlans = kv.k.map((k, l) => flashDecode(gpu, { q: qView, out: fbOut, kCache: k, vCache: kv.v[l]!, lengths: fbLengths }));
    this.buf = {
      staging, rowElems, partO, partLse, partOHost: new Float32Array(B * nH * P * D), partLseHost: new Float32Array(B * nH * P),
      mergeOut, merge: mergeAttention(gpu, { partialO: partO, partialLse: partLse, out: mergeOut }),
      fbLengths, fbOut, fbPlans, localLengths: new Uint32Array(B), fbHost: new Uint32Array(B), P,
    };
    for (let b = 0; b < B; b++) this.stats.perSeq[b] ??= { baseSteps: 0, poolSteps: 0, ranks: [] };
    return this.buf;
  }

  async afterPrefill(g: GeneratorInternals, promptLengths: readonly number[]): Promise<void> {
    this.buffers(g);
    this.pinned.clear();
    for (let b = 0; b < promptLengths.length; b++) this.placement.set(b, null);
  }

  /** Make seq b's placement match its length: allocate shards and copy its KV [0, len−1) from the base. */
  private async place(g: GeneratorInternals, b: number, len: number, step: number): Promise<Placement | null> {
    const cur = this.placement.get(b) ?? null;
    if (routeOf(len, this.policy) === 'base' || this.pinned.has(b)) return null;
    const alive = this.alive();
    if (alive.length === 0) return null;
    const size = poolSizeFor(len, this.policy, alive.length);
    if (cur && cur.poolSize === size && cur.members.every((m) => this.members[m]!.alive)) return cur;
    const t0 = performance.now();
    if (cur) await this.release(b, cur);
    const shards = planShards(g.cfg.nKvHeads, len, size, { minBlock: this.opts.minBlock ?? 64 });
    const members = shards.map((s) => alive[s.rank]!);
    const p: Placement = { shards, members, len, poolSize: size };
    try {
      await this.migrate(g, b, len - 1, p);
    } catch (e) {
      const failed = e instanceof MemberFailure ? e.member : p.members[0]!;
      this.placement.set(b, p); // so fault() reports the fallback
      this.fault(step, b, p, failed, e instanceof MemberFailure ? e.cause : e);
      return null;
    }
    this.placement.set(b, p);
    this.stats.events.push({ step, seq: b, kind: cur ? 'reshard' : 'to-pool', detail: `len ${len}: ${shards.length} shard(s) on ${members.map((m) => this.members[m]!.link.name).join(', ')}` });
    this.stats.migrateMs += performance.now() - t0;
    return p;
  }

  private async release(b: number, p: Placement): Promise<void> {
    await Promise.all(p.members.map((m) => this.members[m]!.alive ? this.members[m]!.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined) : undefined));
  }

  /** Read seq b's cache rows [0, n) back from the base and load each shard's part on its rank. */
  private async migrate(g: GeneratorInternals, b: number, n: number, p: Placement): Promise<void> {
    for (const [i, sh] of p.shards.entries()) {
      try {
        await this.migrateShard(g, b, n, sh, this.members[p.members[i]!]!.link);
      } catch (e) {
        throw new MemberFailure(p.members[i]!, e);
      }
    }
  }

  private async migrateShard(g: GeneratorInternals, b: number, n: number, sh: PoolShard, link: RankLink): Promise<void> {
    const { gpu, cfg, kv, capacity, dtype } = g;
    const D = cfg.headDim, nKv = cfg.nKvHeads;
    const begin = sh.positions[0], end = Math.min(sh.positions[1], n);
    const cap = (Number.isFinite(sh.positions[1]) ? sh.positions[1] : capacity) - begin;
    const kvc = sh.kvHeads[1] - sh.kvHeads[0];
    await link.request({ kind: 'alloc', seq: b, nLayers: cfg.nLayers, kvHeads: sh.kvHeads, headDim: D, capacity: cap, dtype, nHeadsPerKv: cfg.nHeads / nKv }, [], this.opts.deadlineMs);
    const count = end - begin;
    if (count <= 0) return;
    for (let l = 0; l < cfg.nLayers; l++) {
      const frames: TensorFrame[] = [];
      for (const cache of [kv.k[l]!, kv.v[l]!]) {
        const t = gpu.tensor([kvc, count, D], dtype, 'pool.migrate');
        const steps: Step[] = [];
        for (let h = 0; h < kvc; h++) steps.push(copyStep(cache, ((b * nKv + sh.kvHeads[0] + h) * capacity + begin) * D, t, h * count * D, count * D));
        gpu.submit(steps);
        const host = await gpu.read(t);
        gpu.release(t);
        frames.push(frame(host as Float32Array | Uint16Array, [kvc, count, D], dtype));
      }
      await link.request({ kind: 'load_kv', seq: b, layer: l, kvHeads: sh.kvHeads, pos0: 0, count }, frames, this.opts.deadlineMs);
    }
  }

  /** Member `failed` failed while serving seq b: drop that rank, free b on the others, b goes to the base. */
  private fault(step: number, b: number, p: Placement, failed: number, e: unknown): void {
    const mem = this.members[failed]!;
    if (mem.alive) {
      mem.alive = false;
      this.stats.events.push({ step, seq: b, kind: 'fault', detail: `${mem.link.name}: ${errorMessage(e)}` });
    }
    for (const m of new Set(p.members)) {
      if (m !== failed && this.members[m]!.alive) void this.members[m]!.link.request({ kind: 'free', seq: b }, [], this.opts.deadlineMs).catch(() => undefined);
    }
    this.pinned.add(b);
    if (this.placement.get(b) !== null) {
      this.placement.set(b, null);
      this.stats.events.push({ step, seq: b, kind: 'fallback', detail: 'attention back on the base group (KV replica there)' });
    }
  }

  async decodeStep(g: GeneratorInternals, input: DecodeStepInput): Promise<void> {
    const B = g.slots;
    const buf = this.buffers(g);
    // Route every live sequence; place (or re-place) the pooled ones.
    const pooled: { b: number; len: number; p: Placement }[] = [];
    for (let b = 0; b < B; b++) {
      const len = input.lengths[b]!;
      const p = len > 0 ? await this.place(g, b, len, input.step) : null;
      if (len > 0) {
        if (p) { pooled.push({ b, len, p }); this.stats.perSeq[b]!.poolSteps++; }
        else this.stats.perSeq[b]!.baseSteps++;
        if (p) for (const m of p.members) { const n = this.members[m]!.link.name; if (!this.stats.perSeq[b]!.ranks.includes(n)) this.stats.perSeq[b]!.ranks.push(n); }
      }
    }
    if (pooled.length === 0) return singleDeviceExecutor.decodeStep(g, input);
    this.stats.steps++;
    const { gpu, cfg, state, program, capacity, dtype } = g;
    const nH = cfg.nHeads, nKv = cfg.nKvHeads, D = cfg.headDim, P = buf.P;
    buf.localLengths.set(input.lengths);
    for (const { b } of pooled) buf.localLengths[b] = 0;
    gpu.write(state.rows, input.rows);
    gpu.write(state.lengths, buf.localLengths);
    const maxLocal = Math.max(1, ...buf.localLengths);
    for (const l of program.layers) l.plan.update(maxLocal);

    let pending: Step[] = [...program.embed];
    for (let l = 0; l < cfg.nLayers; l++) {
      const layer = program.layers[l]!;
      const staging = buf.staging[l % 2]!;
      // A: projections, then the pooled rows' q and new k/v to the staging buffer.
      const a: Step[] = [...pending, ...layer.pre];
      pooled.forEach(({ b, len }, i) => {
        const base = i * buf.rowElems;
        a.push(stagingCopy(state.q, b * nH * D, staging, base, nH * D, dtype));
        for (const [j, cache] of [g.kv.k[l]!, g.kv.v[l]!].entries()) {
          for (let h = 0; h < nKv; h++) {
            a.push(stagingCopy(cache, ((b * nKv + h) * capacity + len - 1) * D, staging, base + nH * D + (j * nKv + h) * D, D, dtype));
          }
        }
      });
      gpu.submit(a);
      gpu.submit(layer.plan.dispatches); // B: the base's own sequences, while the pool works
      const t0 = performance.now();
      await gpu.mapRead(staging, 0, Math.ceil(pooled.length * buf.rowElems * (dtype === 'f16' ? 2 : 4) / 4) * 4);
      const raw = staging.getMappedRange(0, Math.ceil(pooled.length * buf.rowElems * (dtype === 'f16' ? 2 : 4) / 4) * 4).slice(0);
      staging.unmap();
      const rows = dtype === 'f16' ? new Uint16Array(raw) : new Float32Array(raw);
      const t1 = performance.now();
      // Requests per rank, all in flight together.
      const perRank = new Map<number, { items: object[]; frames: TensorFrame[]; slots: { b: number; heads: [number, number]; block: number }[] }>();
      for (const [i, { b, len, p }] of pooled.entries()) {
        const row = rows.subarray(i * buf.rowElems, (i + 1) * buf.rowElems);
        p.shards.forEach((sh, si) => {
          const m = p.members[si]!;
          const blockEnd = Math.min(sh.positions[1], len);
          if (blockEnd <= sh.positions[0]) return;
          const g2 = nH / nKv;
          const heads: [number, number] = [sh.kvHeads[0] * g2, sh.kvHeads[1] * g2];
          const newPos = len - 1 >= sh.positions[0] && len - 1 < sh.positions[1] ? len - 1 : -1;
          let r = perRank.get(m);
          if (!r) perRank.set(m, (r = { items: [], frames: [], slots: [] }));
          r.items.push({ seq: b, kvHeads: sh.kvHeads, posRange: [sh.positions[0], blockEnd], len, newPos });
          r.frames.push(frame(row.subarray(heads[0] * D, heads[1] * D), [heads[1] - heads[0], D], dtype));
          if (newPos >= 0) {
            const kc = sh.kvHeads[1] - sh.kvHeads[0];
            r.frames.push(frame(row.subarray(nH * D + sh.kvHeads[0] * D, nH * D + sh.kvHeads[1] * D), [kc, D], dtype));
            r.frames.push(frame(row.subarray(nH * D + (nKv + sh.kvHeads[0]) * D, nH * D + (nKv + sh.kvHeads[1]) * D), [kc, D], dtype));
          }
          r.slots.push({ b, heads, block: positionBlockIndex(p.shards, sh) });
        });
      }
      buf.partLseHost.fill(-Infinity);
      buf.partOHost.fill(0);
      buf.fbHost.fill(0);
      let fallback = false;
      await Promise.all([...perRank.entries()].map(async ([m, r]) => {
        const mem = this.members[m]!;
        try {
          const reply = await mem.link.request({ kind: 'attend', step: input.step, layer: l, items: r.items }, r.frames, this.opts.deadlineMs);
          r.slots.forEach((s, k) => {
            const o = reply.tensors[2 * k]!.data as Float32Array, lse = reply.tensors[2 * k + 1]!.data as Float32Array;
            for (let h = s.heads[0]; h < s.heads[1]; h++) {
              const hi = h - s.heads[0];
              buf.partLseHost[(s.b * nH + h) * P + s.block] = lse[hi]!;
              buf.partOHost.set(o.subarray(hi * D, (hi + 1) * D), ((s.b * nH + h) * P + s.block) * D);
            }
          });
        } catch (e) {
          // Every pooled sequence with a shard on this rank falls back to the base, from this layer on.
          for (const s of r.slots) {
            const p = this.placement.get(s.b);
            if (p) this.fault(input.step, s.b, p, m, e);
            buf.fbHost[s.b] = input.lengths[s.b]!;
            fallback = true;
          }
        }
      }));
      const t2 = performance.now();
      this.stats.poolWaitMs += t2 - t1;
      this.stats.transferMs += t1 - t0;
      gpu.write(buf.partO, buf.partOHost);
      gpu.write(buf.partLse, buf.partLseHost);
      const c: Step[] = [buf.merge];
      for (const { b } of pooled) if (!buf.fbHost[b]) c.push(copyStep(buf.mergeOut, b * nH * D, state.attn, b * nH * D, nH * D));
      if (fallback) {
        // Layers before this one already ran on the pool; recompute only this layer's attention here.
        for (const { b } of pooled) if (buf.fbHost[b]) this.stats.perSeq[b]!.baseSteps++;
        gpu.write(buf.fbLengths, buf.fbHost);
        const fb = buf.fbPlans[l]!;
        fb.update(Math.max(1, ...buf.fbHost));
        c.push(...fb.dispatches);
        for (const { b } of pooled) if (buf.fbHost[b]) c.push(copyStep(buf.fbOut, b * nH * D, state.attn, b * nH * D, nH * D));
        // Later layers of this step: those sequences go with the base's own attention.
        for (const { b } of pooled) if (buf.fbHost[b]) buf.localLengths[b] = input.lengths[b]!;
        gpu.write(state.lengths, buf.localLengths);
        for (const ly of program.layers) ly.plan.update(Math.max(1, ...buf.localLengths));
        for (let i = pooled.length - 1; i >= 0; i--) if (buf.fbHost[pooled[i]!.b]) pooled.splice(i, 1);
      }
      pending = [...c, ...layer.post];
      if (pooled.length === 0) {
        // Nothing left on the pool: finish the step on the base in one submission.
        for (let r = l + 1; r < cfg.nLayers; r++) { const ly = program.layers[r]!; pending.push(...ly.pre, ...ly.plan.dispatches, ...ly.post); }
        break;
      }
    }
    gpu.submit([...pending, ...program.head, input.readback]);
  }

  async finish(g: GeneratorInternals): Promise<void> {
    for (const [b, p] of this.placement) if (p) await this.release(b, p);
    this.placement.clear();
    void g;
  }

  dispose(gpu: Gpu): void {
    const b = this.buf;
    if (!b) return;
    b.merge.release();
    for (const p of b.fbPlans) p.release();
    gpu.release(...b.staging, b.partO, b.partLse, b.mergeOut, b.fbLengths, b.fbOut);
    this.buf = null;
  }
}

/** A copy of `elems` elements of t (from element `at`) into a staging buffer (element offset `dstAt`). */
function stagingCopy(t: Tensor, at: number, dst: GPUBuffer, dstAt: number, elems: number, dtype: string): Step {
  const el = dtype === 'f16' ? 2 : 4;
  return { copy: { src: t.buffer, srcOffset: t.offset + at * el, dst, dstOffset: dstAt * el, size: elems * el } };
}

function frame(data: Float32Array | Uint16Array, shape: number[], dtype: string): TensorFrame {
  return dtype === 'f16' ? { dtype: 'f16', shape, data: data as Uint16Array } : { dtype: 'f32', shape, data: data as Float32Array };
}

/** Which position block (0..P−1) of its kv-head group a shard is: partials of one head merge by block. */
function positionBlockIndex(shards: PoolShard[], sh: PoolShard): number {
  return shards.filter((s) => s.kvHeads[0] === sh.kvHeads[0] && s.positions[0] < sh.positions[0]).length;
}

