// An attention-pool rank: it holds shards of long sequences' KV caches (a range of kv heads × a block of
// positions, every layer) for its clients, and computes attention over them: a decode step of several
// sequences per request (one message in, one out), or causal prefill attention of a prompt chunk. It returns
// partial (O, LSE) results that the base merges exactly with the other ranks' blocks.
// Clients are kept apart: a shard belongs to the client that allocated it; another client can neither see,
// overwrite nor free it. A request is checked whole before any GPU work, so a bad one changes nothing. With a
// byte budget per client (maxClientBytes), one client cannot fill the device with shards.
import { FapoolError } from '../../gpu/errors.js';
import { DTYPE_BYTES, reshape, sliceRows, type DType, type Gpu, type Step, type Tensor } from '../../gpu/index.js';
import { flashDecode, flashPrefill, type DecodePlan } from '../../kernels/attention.js';
import { appendKv, type AppendKv } from '../../kernels/kv-cache.js';
import type { HandlerReply, RankHandler } from '../transport/link.js';
import {
  FrameError, attendItems, rankTimingFrame, type AttendItem, type MessageOf, type RequestMsg, type TensorFrame,
} from '../transport/messages.js';

interface Shard {
  nLayers: number; kvHeads: number; heads: number; headDim: number; capacity: number; posBase: number; dtype: 'f32' | 'f16';
  k: Tensor[]; v: Tensor[];   // per layer [1, kvHeads, capacity, headDim]
  rows: Tensor;               // [heads + 2·kvHeads, headDim] one decode item as sent: q, new k, new v
  q: Tensor;                  // [1, heads, headDim]
  out: Tensor;                // [1, heads, headDim]
  lse: Tensor;                // [1, heads] f32
  lengths: Tensor;            // [1] u32
  plans: DecodePlan[];        // per layer
  appends: AppendKv[];        // per layer: rows → q and the cache
  bytes: number;              // GPU memory it holds (its tensors and its plans' scratch), charged to its client
}

/** An attend request, checked: each item's shard and where its rows sit in the frame. */
interface AttendJob {
  key: string;                // what the launches depend on (not the rows themselves): the layer and `at`
  at: string;                 // everything but the layer
  client: string; layer: number; group: number; dtype: 'f32' | 'f16'; D: number;
  items: AttendItem[];
  work: { s: Shard; row: number; local: number; newLocal: number }[];
  rows: number; heads: number; oBytes: number;
}

const attendKey = (layer: number, at: string): string => `${layer}|${at}`;

/** Bytes of a shard's tensors (the K and V caches of every layer, the decode rows, q, out, LSE, length). */
function shardTensorBytes(nLayers: number, kvHeads: number, heads: number, capacity: number, D: number, dtype: 'f32' | 'f16'): number {
  const el = DTYPE_BYTES[dtype];
  return (2 * nLayers * kvHeads * capacity * D + (heads + 2 * kvHeads) * D + 2 * heads * D) * el + heads * 4 + 4;
}

/** Launches encoded ahead for the request that most likely comes next (the next layer, or the next step's first). */
interface Speculation { key: string; client: string; seqs: number[]; reply: GPUBuffer; commands: GPUCommandBuffer }

/** Guesses kept (one per client and set of sequences: the micro-batches of a ping-pong decode take turns). */
const MAX_GUESSES = 4;

/** Rows of one prompt chunk on the device, grown to the largest chunk seen. */
interface PrefillStage { key: string; rows: number; src: Tensor; q: Tensor; out: Tensor; lse: Tensor }

/** A shard that would take its client over the rank's per-client budget (the request fails; nothing stays allocated). */
export class ClientBudgetError extends FapoolError {}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;

export class AttentionRank {
  private readonly clients = new Map<string, Map<number, Shard>>();
  /** Bytes of GPU memory each client's shards hold. */
  private readonly held = new Map<string, number>();
  /** Most bytes of shards one client may hold (0: no limit but the device's). The worker's --max-client-mb. */
  maxClientBytes = 0;
  /** Said in hello: a coordinator that reaches this rank through two endpoints sees one rank (cluster.ts). */
  readonly instance = globalThis.crypto.randomUUID();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lenHost = new Uint32Array(1);
  private readback: GPUBuffer | null = null;
  private readbackBytes = 0;
  private stage: PrefillStage | null = null;
  /** Launches encoded ahead, by client and sequences (AttendJob.at). */
  private readonly guesses = new Map<string, Speculation>();
  /** The job to encode ahead once the current reply is on its way. */
  private ahead: AttendJob | null = null;
  /** Requests handed in and not started: a guess is not encoded while one waits. */
  private waiting = 0;
  /** Attend requests whose launches were encoded ahead (hits) or not (misses). */
  readonly guessed = { hits: 0, misses: 0 };

  constructor(readonly gpu: Gpu, readonly rank: number) {}

  /**
   * Requests are served one at a time (GPU state is shared between them). After an attend, the launches of the
   * request that most likely comes next are encoded while the base computes (a later turn of the event loop: the
   * reply goes out first); a request that differs encodes its own.
   */
  readonly handler: RankHandler = (req, tensors, client) => {
    this.waiting++;
    const run = this.queue.then(() => { this.waiting--; return this.handle(req, tensors, client); });
    this.queue = run.catch(() => undefined).then(() => new Promise<void>((done) => setImmediate(() => {
      try { this.encodeAhead(); } catch { this.guesses.clear(); } // a guess that fails costs nothing
      done();
    })));
    return run;
  };

  /** Shards held, over every client. */
  get sequences(): number { let n = 0; for (const c of this.clients.values()) n += c.size; return n; }

  /** Bytes of GPU memory held in shards, over every client. */
  get heldBytes(): number { let n = 0; for (const b of this.held.values()) n += b; return n; }

  private async handle(req: RequestMsg, t: TensorFrame[], client: string): Promise<HandlerReply> {
    this.ahead = null;
    if (req.kind !== 'attend' && req.kind !== 'ping' && req.kind !== 'hello') this.guesses.clear(); // shards may change
    switch (req.kind) {
      case 'hello': return { header: { kind: 'hello_ok', rank: this.rank, device: this.gpu.caps.device || this.gpu.caps.vendor, pid: typeof process !== 'undefined' ? process.pid : 0, instance: this.instance } };
      case 'ping': return { header: { kind: 'pong' } };
      case 'alloc': this.alloc(client, req); return { header: { kind: 'ok' } };
      case 'free': this.free(client, req.seq); return { header: { kind: 'ok' } };
      case 'load_kv': this.loadKv(this.shard(client, req.seq), req, t); return { header: { kind: 'ok' } };
      case 'prefill': return this.prefill(this.shard(client, req.seq), req, t[0]!);
      case 'attend': return this.attend(client, req, attendItems(t[0]!), t[1]!);
      default: throw new FrameError(`${req.kind} is not an attention-pool request`);
    }
  }

  /**
   * Refuses a shard of `bytes` that would take the client over its budget. Called with the shard's tensors before
   * anything is allocated (a huge ask allocates nothing), and with what it really took (the plans' scratch too).
   */
  private checkBudget(client: string, seq: number, bytes: number): void {
    const has = this.held.get(client) ?? 0;
    if (this.maxClientBytes <= 0 || has + bytes <= this.maxClientBytes) return;
    throw new ClientBudgetError(`rank ${this.rank}: alloc of seq ${seq} asks for ${mib(bytes)}; this client holds ${mib(has)} of its ` +
      `${mib(this.maxClientBytes)} budget (worker --max-client-mb)`);
  }

  private alloc(client: string, h: MessageOf<'alloc'>): void {
    const { gpu } = this;
    if (this.clients.get(client)?.has(h.seq)) this.free(client, h.seq); // its bytes return before the new ask
    const kvHeads = h.kvHeads[1] - h.kvHeads[0], heads = kvHeads * h.nHeadsPerKv, D = h.headDim, dtype = h.dtype;
    this.checkBudget(client, h.seq, shardTensorBytes(h.nLayers, kvHeads, heads, h.capacity, D, dtype));
    let shards = this.clients.get(client);
    if (!shards) this.clients.set(client, (shards = new Map()));
    const before = gpu.liveBytes;
    const made: Tensor[] = [];
    const t = (shape: number[], dt: DType, label: string) => { const x = gpu.tensor(shape, dt, label); made.push(x); return x; };
    try {
      const k: Tensor[] = [], v: Tensor[] = [];
      for (let l = 0; l < h.nLayers; l++) {
        k.push(t([1, kvHeads, h.capacity, D], dtype, `pool.k.${h.seq}.${l}`));
        v.push(t([1, kvHeads, h.capacity, D], dtype, `pool.v.${h.seq}.${l}`));
      }
      const rows = t([heads + 2 * kvHeads, D], dtype, 'pool.rows');
      const q = t([1, heads, D], dtype, 'pool.q'), out = t([1, heads, D], dtype, 'pool.out');
      const lse = t([1, heads], 'f32', 'pool.lse'), lengths = t([1], 'u32', 'pool.len');
      const plans: DecodePlan[] = [], appends: AppendKv[] = [];
      let bytes: number;
      try {
        for (let l = 0; l < h.nLayers; l++) {
          plans.push(flashDecode(gpu, { q, out, lse, kCache: k[l]!, vCache: v[l]!, lengths }));
          appends.push(appendKv(gpu, { src: rows, q: reshape(q, [heads, D]), kCache: k[l]!, vCache: v[l]!, maxElems: (heads + 2 * kvHeads) * D }));
        }
        bytes = gpu.liveBytes - before;
        this.checkBudget(client, h.seq, bytes); // what it really took: the plans' scratch and the rounding too
      } catch (e) {
        for (const p of plans) p.release();
        for (const a of appends) a.dispatch.release();
        throw e;
      }
      shards.set(h.seq, { nLayers: h.nLayers, kvHeads, heads, headDim: D, capacity: h.capacity, posBase: h.posBase, dtype, k, v, rows, q, out, lse, lengths, plans, appends, bytes });
      this.held.set(client, (this.held.get(client) ?? 0) + bytes);
    } catch (e) {
      gpu.release(...made);
      if (shards.size === 0) this.clients.delete(client);
      throw e;
    }
  }

  private free(client: string, seq: number): void {
    const shards = this.clients.get(client);
    const s = shards?.get(seq);
    if (!shards || !s) return;
    for (const p of s.plans) p.release();
    for (const a of s.appends) a.dispatch.release();
    this.gpu.release(...s.k, ...s.v, s.rows, s.q, s.out, s.lse, s.lengths);
    shards.delete(seq);
    const left = (this.held.get(client) ?? 0) - s.bytes;
    if (shards.size === 0) { this.clients.delete(client); this.held.delete(client); } else this.held.set(client, left);
  }

  /** Frees every shard of a client (it is gone). */
  dropClient(client: string): void {
    this.guesses.clear();
    this.ahead = null;
    for (const seq of [...(this.clients.get(client)?.keys() ?? [])]) this.free(client, seq);
  }

  private shard(client: string, seq: number): Shard {
    const s = this.clients.get(client)?.get(seq);
    if (!s) throw new FrameError(`sequence ${seq} is not allocated on rank ${this.rank} for this client`);
    return s;
  }

  private checkLayer(s: Shard, layer: number, what: string, seq: number): void {
    if (layer >= s.nLayers) throw new FrameError(`${what}: layer ${layer} of seq ${seq} (${s.nLayers} layers)`);
  }

  private checkFrame(f: TensorFrame, s: Shard, what: string): void { this.checkRows(f.dtype, f.shape.at(-1), s, what); }

  private checkRows(dtype: string, D: number | undefined, s: Shard, what: string): void {
    if (dtype !== s.dtype) throw new FrameError(`${what}: frame is ${dtype}, the shard is ${s.dtype}`);
    if (D !== s.headDim) throw new FrameError(`${what}: rows of ${D} elements, the shard's head dim is ${s.headDim}`);
  }

  /** Migration: K and V [kvHeads, count, D] of absolute positions [pos0, pos0 + count). */
  private loadKv(s: Shard, h: MessageOf<'load_kv'>, t: TensorFrame[]): void {
    this.checkLayer(s, h.layer, 'load_kv', h.seq);
    const local = h.pos0 - s.posBase;
    if (h.kvHeads[1] - h.kvHeads[0] !== s.kvHeads || local < 0 || local + h.count > s.capacity) {
      throw new FrameError(`load_kv for seq ${h.seq}: kv heads [${h.kvHeads}] / positions ${h.pos0}+${h.count} do not fit the shard (${s.kvHeads} heads, positions ${s.posBase}+${s.capacity})`);
    }
    for (const f of t) this.checkFrame(f, s, 'load_kv');
    const D = s.headDim;
    for (const [i, cache] of [[0, s.k[h.layer]!], [1, s.v[h.layer]!]] as const) {
      const data = t[i]!.data;
      // Rows of one kv head are contiguous in the cache: one write per head.
      for (let kh = 0; kh < s.kvHeads; kh++) {
        this.gpu.write(cache, data.subarray(kh * h.count * D, (kh + 1) * h.count * D) as Float32Array, (kh * s.capacity + local) * D);
      }
    }
  }

  /** The rank's reply buffer, grown to the largest reply (O then LSE of every item). */
  private replyBuffer(bytes: number): GPUBuffer {
    if (!this.readback || this.readbackBytes < bytes) {
      this.gpu.release(this.readback ?? undefined);
      this.readbackBytes = Math.max(bytes, 2 * this.readbackBytes);
      this.readback = this.gpu.readbackBuffer(this.readbackBytes, 'pool.reply');
    }
    return this.readback;
  }

  /** One decode step of one layer: every item's q (+ new k, v) in one frame; O and LSE of all of them back. */
  private async attend(client: string, h: MessageOf<'attend'>, items: AttendItem[], frame: TensorFrame): Promise<HandlerReply> {
    const t0 = performance.now();
    const job = this.checkAttend(client, h.layer, h.group, items, frame.dtype, frame.shape[1]!);
    if (frame.shape[0] !== job.rows) throw new FrameError(`attend: the frame has ${frame.shape[0]} rows, the items need ${job.rows}`);
    const { D, heads, oBytes } = job;
    const reply = this.replyBuffer(oBytes + heads * 4);
    for (const { s, row: r, newLocal } of job.work) {
      const n = (s.heads + (newLocal >= 0 ? 2 * s.kvHeads : 0)) * D;
      this.gpu.write(s.rows, frame.data.subarray(r * D, r * D + n) as Float32Array);
    }
    const tEnc = performance.now();
    const guess = this.guesses.get(job.at);
    const hit = guess !== undefined && guess.key === job.key && guess.reply === reply;
    // Guesses over any of these sequences are spent or stale now (this request sets their lengths and uniforms).
    const seqs = new Set(job.items.map((it) => it.seq));
    for (const [at, g] of this.guesses) if (g.client === client && g.seqs.some((s) => seqs.has(s))) this.guesses.delete(at);
    if (hit) this.guessed.hits++; else this.guessed.misses++;
    const commands = hit ? guess.commands : this.encodeAttend(job, reply);
    this.gpu.submitBuffers([commands]);
    const t1 = performance.now();
    this.ahead = this.nextJob(job);
    const bytes = await this.gpu.readMapped(reply, oBytes + heads * 4);
    const o = frame.dtype === 'f16' ? new Uint16Array(bytes.buffer, 0, heads * D) : new Float32Array(bytes.buffer, 0, heads * D);
    const lse = new Float32Array(bytes.buffer, oBytes, heads);
    return {
      header: { kind: 'attend_ok' },
      tensors: [{ dtype: frame.dtype === 'f16' ? 'f16' : 'f32', shape: [heads, D], data: o }, { dtype: 'f32', shape: [heads], data: lse },
        rankTimingFrame({ write: t1 - t0, wait: performance.now() - t1, at: performance.timeOrigin + t0, submit: t1 - tEnc })],
    };
  }

  /** Checks an attend request whole before any GPU work (every item's shard, layer, heads, positions). */
  private checkAttend(client: string, layer: number, group: number, items: AttendItem[], dtype: string, D: number): AttendJob {
    const seen = new Set<number>();
    let row = 0, heads = 0, itemsKey = '';
    const work: AttendJob['work'] = [];
    for (const it of items) {
      if (seen.has(it.seq)) throw new FrameError(`attend: sequence ${it.seq} is listed twice`);
      seen.add(it.seq);
      const s = this.shard(client, it.seq);
      this.checkLayer(s, layer, 'attend', it.seq);
      if (s.kvHeads !== it.kvHeads || s.heads !== it.kvHeads * group) {
        throw new FrameError(`attend: seq ${it.seq} has ${s.kvHeads} kv heads × ${s.heads / s.kvHeads} on this rank, the request says ${it.kvHeads} × ${group}`);
      }
      this.checkRows(dtype, D, s, 'attend');
      const local = Math.min(it.len - s.posBase, s.capacity); // keys of this block the new query sees
      if (local < 1) throw new FrameError(`attend: seq ${it.seq} of length ${it.len} has no keys in this block (positions ${s.posBase}+)`);
      const newLocal = it.newPos >= 0 ? it.newPos - s.posBase : -1;
      if (it.newPos >= 0 && (newLocal < 0 || newLocal >= s.capacity || newLocal !== local - 1)) {
        throw new FrameError(`attend: seq ${it.seq} new token at ${it.newPos} is not the last position of this block (${s.posBase}+${s.capacity}, length ${it.len})`);
      }
      work.push({ s, row, local, newLocal });
      row += s.heads + (it.newPos >= 0 ? 2 * s.kvHeads : 0);
      heads += s.heads;
      itemsKey += `|${it.seq},${it.len},${it.newPos},${it.kvHeads}`;
    }
    const el = DTYPE_BYTES[dtype === 'f16' ? 'f16' : 'f32'];
    const at = `${group}|${dtype}|${D}|${client}${itemsKey}`;
    return { key: attendKey(layer, at), at, client, layer, group, dtype: dtype === 'f16' ? 'f16' : 'f32', D, items, work, rows: row, heads, oBytes: Math.ceil(heads * D * el / 4) * 4 };
  }

  /** The job's launches (uniforms and lengths uploaded now), every copy out after them (they share one pass). */
  private encodeAttend(job: AttendJob, reply: GPUBuffer): GPUCommandBuffer {
    const { D, oBytes, layer } = job, el = DTYPE_BYTES[job.dtype];
    const steps: Step[] = [], copies: Step[] = [];
    let hOff = 0;
    for (const { s, local, newLocal } of job.work) {
      s.appends[layer]!.set({ srcRow: 0, stride: s.heads + 2 * s.kvHeads, qRows: s.heads, qTokens: 1, kvTokens: newLocal >= 0 ? 1 : 0, pos0: newLocal });
      this.lenHost[0] = local;
      this.gpu.write(s.lengths, this.lenHost);
      const plan = s.plans[layer]!;
      plan.update(local);
      steps.push(s.appends[layer]!.dispatch, ...plan.dispatches);
      copies.push(
        { copy: { src: s.out.buffer, srcOffset: s.out.offset, dst: reply, dstOffset: hOff * D * el, size: s.heads * D * el } },
        { copy: { src: s.lse.buffer, srcOffset: s.lse.offset, dst: reply, dstOffset: oBytes + hOff * 4, size: s.heads * 4 } });
      hOff += s.heads;
    }
    return this.gpu.commandBuffer([...steps, ...copies]);
  }

  /** The request a decode sends after this one: the next layer, or after the last the next step's first. */
  private nextJob(job: AttendJob): AttendJob | null {
    const nLayers = job.work[0]?.s.nLayers ?? 0;
    if (job.layer + 1 < nLayers) return { ...job, layer: job.layer + 1, key: attendKey(job.layer + 1, job.at) };
    if (job.items.some((it) => it.newPos < 0)) return null;
    try {
      return this.checkAttend(job.client, 0, job.group, job.items.map((it) => ({ ...it, len: it.len + 1, newPos: it.newPos + 1 })), job.dtype, job.D);
    } catch {
      return null; // a shard full: no next step here
    }
  }

  /** Encode the expected next request's launches (once the reply has gone, and no request is waiting). */
  private encodeAhead(): void {
    const job = this.ahead;
    this.ahead = null;
    if (!job || !this.readback || this.waiting > 0) return;
    if (this.guesses.size >= MAX_GUESSES) this.guesses.delete(this.guesses.keys().next().value!);
    this.guesses.set(job.at, {
      key: job.key, client: job.client, seqs: job.items.map((it) => it.seq), reply: this.readback, commands: this.encodeAttend(job, this.readback),
    });
  }

  private prefillStage(s: Shard, count: number): PrefillStage {
    const key = `${s.dtype}/${s.heads}/${s.kvHeads}/${s.headDim}`;
    if (this.stage && this.stage.key === key && this.stage.rows >= count) return this.stage;
    const old = this.stage;
    if (old) this.gpu.release(old.src, old.q, old.out, old.lse);
    const rows = Math.max(count, old?.key === key ? old.rows : 0);
    const D = s.headDim;
    this.stage = {
      key, rows,
      src: this.gpu.tensor([rows * (s.heads + 2 * s.kvHeads), D], s.dtype, 'pool.prefill.rows'),
      q: this.gpu.tensor([rows, s.heads, D], s.dtype, 'pool.prefill.q'),
      out: this.gpu.tensor([rows, s.heads, D], s.dtype, 'pool.prefill.out'),
      lse: this.gpu.tensor([rows, s.heads], 'f32', 'pool.prefill.lse'),
    };
    return this.stage;
  }

  /** A prompt chunk: store the rows in this block, attend causally over the block, return O and LSE per row. */
  private async prefill(s: Shard, h: MessageOf<'prefill'>, frame: TensorFrame): Promise<HandlerReply> {
    const t0 = performance.now();
    this.checkLayer(s, h.layer, 'prefill', h.seq);
    if (h.kvHeads !== s.kvHeads || h.kvHeads * h.group !== s.heads) {
      throw new FrameError(`prefill: seq ${h.seq} has ${s.kvHeads} kv heads × ${s.heads / s.kvHeads} here, the request says ${h.kvHeads} × ${h.group}`);
    }
    this.checkFrame(frame, s, 'prefill');
    const { gpu } = this;
    const n = h.count, D = s.headDim, stride = s.heads + 2 * s.kvHeads;
    const st = this.prefillStage(s, n);
    const src = sliceRows(st.src, 0, n * stride), q = sliceRows(st.q, 0, n), out = sliceRows(st.out, 0, n), lse = sliceRows(st.lse, 0, n);
    gpu.write(st.src, frame.data as Float32Array);
    const kvLen = Math.max(0, Math.min(s.capacity, h.pos0 + n - s.posBase));
    const append = appendKv(gpu, { src, q: reshape(q, [n * s.heads, D]), kCache: s.k[h.layer]!, vCache: s.v[h.layer]!, maxElems: n * stride * D });
    const attn = flashPrefill(gpu, {
      q, out, lse, kCache: s.k[h.layer]!, vCache: s.v[h.layer]!, slot: 0, qPos0: h.pos0, kvBase: s.posBase, kvLen,
    });
    const el = DTYPE_BYTES[s.dtype];
    const oBytes = Math.ceil(n * s.heads * D * el / 4) * 4;
    const reply = this.replyBuffer(oBytes + n * s.heads * 4);
    try {
      append.set({ srcRow: 0, stride, qRows: s.heads, qTokens: n, kvTokens: n, pos0: h.pos0 - s.posBase });
      gpu.submit([append.dispatch, attn,
        { copy: { src: out.buffer, srcOffset: out.offset, dst: reply, dstOffset: 0, size: oBytes } },
        { copy: { src: lse.buffer, srcOffset: lse.offset, dst: reply, dstOffset: oBytes, size: n * s.heads * 4 } }]);
    } finally {
      append.dispatch.release();
      attn.release();
    }
    const t1 = performance.now();
    const bytes = await gpu.readMapped(reply, oBytes + n * s.heads * 4);
    const o = s.dtype === 'f16' ? new Uint16Array(bytes.buffer, 0, n * s.heads * D) : new Float32Array(bytes.buffer, 0, n * s.heads * D);
    return {
      header: { kind: 'attend_ok' },
      tensors: [{ dtype: s.dtype, shape: [n * s.heads, D], data: o }, { dtype: 'f32', shape: [n * s.heads], data: new Float32Array(bytes.buffer, oBytes, n * s.heads) },
        rankTimingFrame({ write: t1 - t0, wait: performance.now() - t1, at: performance.timeOrigin + t0, submit: 0 })],
    };
  }

  dispose(): void {
    this.ahead = null;
    this.guesses.clear();
    for (const client of [...this.clients.keys()]) this.dropClient(client);
    const st = this.stage;
    if (st) this.gpu.release(st.src, st.q, st.out, st.lse);
    this.gpu.release(this.readback ?? undefined);
    this.stage = null; this.readback = null; this.readbackBytes = 0;
  }
}
