// A pool rank: holds KV-cache shards of long sequences and computes their decode attention on its own
// GPU. It answers the protocol of messages.ts; the same handler serves an in-process link (tests,
// one-GPU runs) and a ZeroMQ worker process (one per GPU).
//
// Shard coordinates: a rank holds, for a sequence, kv heads [h0, h1) and a block of positions that
// starts at the `posRange[0]` of its attend items. `load_kv.pos0` is the LOCAL index inside that block.
import { fromF16Array, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { flashDecode, type DecodePlan } from '../kernels/attention.js';
import type { RankHandler } from './link.js';
import { FrameError, type AllocMsg, type Message, type TensorFrame } from './messages.js';

interface SeqShard {
  nLayers: number; kvCount: number; heads: number; headDim: number; capacity: number; dtype: DType;
  k: Tensor[]; v: Tensor[];  // per layer [1, kvCount, capacity, headDim]
  q: Tensor;                 // [1, heads, headDim]
  out: Tensor;               // [1, heads, headDim]
  lse: Tensor;               // [1, heads] f32
  lengths: Tensor;           // [1] u32
  plans: DecodePlan[];       // per layer
  readback: GPUBuffer;       // out then lse
}

export class AttentionRank {
  private readonly seqs = new Map<number, SeqShard>();
  private queue: Promise<unknown> = Promise.resolve();
  readonly lenHost = new Uint32Array(1);

  constructor(readonly gpu: Gpu, readonly rank: number) {}

  /** Requests are served one at a time (GPU state is shared between them). */
  readonly handler: RankHandler = (h, t) => {
    const run = this.queue.then(() => this.handle(h, t));
    this.queue = run.catch(() => undefined);
    return run;
  };

  get sequences(): number { return this.seqs.size; }

  private async handle(h: Message, t: TensorFrame[]): Promise<{ header: object; tensors?: TensorFrame[] }> {
    switch (h.kind) {
      case 'hello': return { header: { kind: 'hello_ok', rank: this.rank, device: this.gpu.caps.device || this.gpu.caps.vendor, pid: typeof process !== 'undefined' ? process.pid : 0 } };
      case 'ping': return { header: { kind: 'pong' } };
      case 'alloc': this.alloc(h); return { header: { kind: 'ok' } };
      case 'free': this.free(h.seq); return { header: { kind: 'ok' } };
      case 'load_kv': {
        const s = this.shard(h.seq);
        const count = h.count;
        if (h.kvHeads[1] - h.kvHeads[0] !== s.kvCount || h.pos0 + count > s.capacity || h.layer >= s.nLayers) {
          throw new FrameError(`load_kv for seq ${h.seq}: kv heads [${h.kvHeads}] / positions ${h.pos0}+${count} / layer ${h.layer} do not fit the shard (${s.kvCount} heads, capacity ${s.capacity}, ${s.nLayers} layers)`);
        }
        this.expectFrames(t, 2, [s.kvCount, count, s.headDim], s.dtype, 'load_kv');
        for (const [i, cache] of [[0, s.k[h.layer]!], [1, s.v[h.layer]!]] as const) {
          const data = t[i]!.data;
          for (let kh = 0; kh < s.kvCount; kh++) {
            // Rows of one kv head are contiguous in the cache: one write per head.
            this.gpu.write(cache, data.subarray(kh * count * s.headDim, (kh + 1) * count * s.headDim) as Float32Array, (kh * s.capacity + h.pos0) * s.headDim);
          }
        }
        return { header: { kind: 'ok' } };
      }
      case 'attend': return this.attend(h.layer, h.items, t);
      default: throw new FrameError(`a pool rank does not serve '${h.kind}'`);
    }
  }

  private alloc(h: AllocMsg): void {
    if (this.seqs.has(h.seq)) this.free(h.seq);
    const { gpu } = this;
    const kvCount = h.kvHeads[1] - h.kvHeads[0], heads = kvCount * h.nHeadsPerKv, D = h.headDim, dtype = h.dtype;
    const k: Tensor[] = [], v: Tensor[] = [];
    for (let l = 0; l < h.nLayers; l++) {
      k.push(gpu.tensor([1, kvCount, h.capacity, D], dtype, `pool.k.${h.seq}.${l}`));
      v.push(gpu.tensor([1, kvCount, h.capacity, D], dtype, `pool.v.${h.seq}.${l}`));
    }
    const q = gpu.tensor([1, heads, D], dtype, 'pool.q'), out = gpu.tensor([1, heads, D], dtype, 'pool.out');
    const lse = gpu.tensor([1, heads], 'f32', 'pool.lse'), lengths = gpu.tensor([1], 'u32', 'pool.len');
    const plans = k.map((kc, l) => flashDecode(gpu, { q, out, lse, kCache: kc, vCache: v[l]!, lengths }));
    const bytes = heads * D * (dtype === 'f16' ? 2 : 4);
    const readback = gpu.createBuffer(Math.ceil(bytes / 4) * 4 + heads * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'pool.readback');
    this.seqs.set(h.seq, { nLayers: h.nLayers, kvCount, heads, headDim: D, capacity: h.capacity, dtype, k, v, q, out, lse, lengths, plans, readback });
  }

  private free(seq: number): void {
    const s = this.seqs.get(seq);
    if (!s) return;
    for (const p of s.plans) p.release();
    this.gpu.release(...s.k, ...s.v, s.q, s.out, s.lse, s.lengths, s.readback);
    this.seqs.delete(seq);
  }

  private shard(seq: number): SeqShard {
    const s = this.seqs.get(seq);
    if (!s) throw new FrameError(`sequence ${seq} is not allocated on rank ${this.rank}`);
    return s;
  }

  /** The first `count` frames must all be dtype[shape]. */
  private expectFrames(t: TensorFrame[], count: number, shape: number[], dtype: DType, what: string): void {
    if (t.length < count) throw new FrameError(`${what}: ${count} frames expected, got ${t.length}`);
    for (const fr of t.slice(0, count)) {
      if (fr.dtype !== dtype || fr.shape.length !== shape.length || fr.shape.some((d, i) => d !== shape[i])) {
        throw new FrameError(`${what}: frame ${fr.dtype}[${fr.shape}] where ${dtype}[${shape}] was expected`);
      }
    }
  }

  private async attend(layer: number, items: { seq: number; kvHeads: [number, number]; posRange: [number, number]; newPos: number }[], t: TensorFrame[]) {
    const { gpu } = this;
    const steps = [];
    let fi = 0;
    const used: SeqShard[] = [];
    for (const it of items) {
      const s = this.shard(it.seq);
      if (layer >= s.nLayers) throw new FrameError(`attend: layer ${layer} of seq ${it.seq} (${s.nLayers} layers)`);
      const local = it.posRange[1] - it.posRange[0];
      if (local > s.capacity) throw new FrameError(`attend: seq ${it.seq} block of ${local} positions exceeds the shard's capacity ${s.capacity}`);
      const q = t[fi++];
      if (!q || q.dtype !== s.dtype || q.data.length !== s.heads * s.headDim) throw new FrameError(`attend: q frame of seq ${it.seq} must be ${s.dtype}[${s.heads}, ${s.headDim}]`);
      gpu.write(s.q, q.data);
      if (it.newPos >= 0) {
        const idx = it.newPos - it.posRange[0];
        const kf = t[fi++], vf = t[fi++];
        if (!kf || !vf || idx < 0 || idx >= local) throw new FrameError(`attend: new token at ${it.newPos} outside block [${it.posRange}] or k/v frames missing`);
        for (const [f, cache] of [[kf, s.k[layer]!], [vf, s.v[layer]!]] as const) {
          if (f.dtype !== s.dtype || f.data.length !== s.kvCount * s.headDim) throw new FrameError(`attend: new k/v frame of seq ${it.seq} must be ${s.dtype}[${s.kvCount}, ${s.headDim}]`);
          for (let kh = 0; kh < s.kvCount; kh++) {
            gpu.write(cache, f.data.subarray(kh * s.headDim, (kh + 1) * s.headDim) as Float32Array, (kh * s.capacity + idx) * s.headDim);
          }
        }
      }
      this.lenHost[0] = local;
      gpu.write(s.lengths, this.lenHost);
      const plan = s.plans[layer]!;
      plan.update(Math.max(1, local));
      steps.push(...plan.dispatches);
      const outBytes = s.heads * s.headDim * (s.dtype === 'f16' ? 2 : 4);
      steps.push({ copy: { src: s.out.buffer, srcOffset: 0, dst: s.readback, dstOffset: 0, size: Math.ceil(outBytes / 4) * 4 } });
      steps.push({ copy: { src: s.lse.buffer, srcOffset: 0, dst: s.readback, dstOffset: Math.ceil(outBytes / 4) * 4, size: s.heads * 4 } });
      used.push(s);
      // One submission per item: the q/len uploads of the next item must not overwrite this one's.
      gpu.submit(steps.splice(0));
    }
    const out: TensorFrame[] = [];
    await Promise.all(used.map((s) => s.readback.mapAsync(GPUMapMode.READ)));
    for (const s of used) {
      const outBytes = Math.ceil(s.heads * s.headDim * (s.dtype === 'f16' ? 2 : 4) / 4) * 4;
      const raw = s.readback.getMappedRange();
      const o = s.dtype === 'f16' ? fromF16Array(new Uint16Array(raw.slice(0, s.heads * s.headDim * 2))) : new Float32Array(raw.slice(0, s.heads * s.headDim * 4));
      const lse = new Float32Array(raw.slice(outBytes, outBytes + s.heads * 4));
      s.readback.unmap();
      out.push({ dtype: 'f32', shape: [s.heads, s.headDim], data: o }, { dtype: 'f32', shape: [s.heads], data: lse });
    }
    gpu.throwIfError();
    return { header: { kind: 'attend_ok' }, tensors: out };
  }

  dispose(): void {
    for (const seq of [...this.seqs.keys()]) this.free(seq);
  }
}
