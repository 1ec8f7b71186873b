// One rank of the static TP × PP baseline: a DeviceModel over its share of the weights, run one forward pass at
// a time. A pass stops at each all-reduce point (a tensor-parallel block's partial sum) and hands the partial to
// the coordinator, which gathers the stage's partials and continues every rank with the others' ones; the rank
// sums them with its own on its GPU (rank order, f32: every rank gets the same bits) into x. A pass ends with what
// the next stage or the coordinator needs (x for the next stage, the sampled tokens on the head rank). The same
// class runs in the coordinator's process or in a worker process (static-remote.ts serves it over the transport).
import { DTYPE_BYTES, sliceRows, type DType, type Gpu, type HostArray, type Tensor } from '../../gpu/index.js';
import { sumParts, type SumParts } from '../../kernels/elementwise.js';
import type { SamplingParams } from '../../kernels/sampling.js';
import type { ModelConfig } from '../../model/config.js';
import { DeviceModel, decodeLaunches, localAttention, type PrefillTail } from '../../model/device-model.js';
import { Recorder, runLayers, runLayersWithTail, type LayerHooks, type LayerProgram } from '../../model/forward.js';
import type { BatchShape } from '../../model/generation.js';
import { shareConfig } from '../../model/load-weights.js';
import { releaseWeights, type PartialWeights, type WeightShare } from '../../model/weights.js';

/** Where a pass stopped: at an all-reduce with the rank's partial sum, or at its end. */
export type RankOut = (
  | { reduce: true; partial: HostArray }
  | { reduce: false; x?: HostArray; tokens?: Uint32Array }
) & {
  /**
   * The rank's own time since the request (start or continueWith), ms: uploading its input or the sum, and
   * running to this stop (recording, the GPU work of the layers, the read-back of the partial or x).
   */
  rankMs?: RankMs;
};
export interface RankMs { write: number; run: number }

/** A pass's input: a prefill chunk or a decode step (rows, lengths and, on the first stage, token ids). */
export type PassInput =
  | { kind: 'prefill'; slot: number; p0: number; n: number; last: boolean; rows: Uint32Array; ids: Uint32Array; x?: HostArray }
  | { kind: 'decode'; step: number; rows: Uint32Array; lengths: Uint32Array; ids?: Uint32Array; x?: HostArray; keyed?: boolean };

/** What the coordinator drives: a rank here, or one in a worker process. */
export interface StaticRankHandle {
  readonly name: string;
  prepare(shape: BatchShape, sampling: SamplingParams): Promise<void>;
  start(input: PassInput): Promise<RankOut>;
  /** The other ranks' partials of the all-reduce the pass waits at (rank order, without this rank's own). */
  continueWith(others: readonly HostArray[]): Promise<RankOut>;
  /** Head rank: sample every slot's first token from its kept row (the slots in `keep` keep their next input; firstAt: keyed draws). */
  sampleFirst(keep: readonly number[], firstAt?: Uint32Array): Promise<Uint32Array>;
  /** Head rank: the logits of the last sampled step. */
  readLogits(): Promise<Float32Array>;
  readonly gpuBytes: number;
  /** False once the rank stopped answering (a worker's process gone or silent); in this process always true. */
  readonly alive?: boolean;
  /** The rank itself where it runs in this process (tests look at its programs). */
  readonly local?: StaticRank;
  dispose(): Promise<void>;
}

export class StaticRank {
  readonly model: DeviceModel;
  private staging: GPUBuffer | null = null;
  private host = new Uint8Array(0);
  private stagingRows = 0;
  /**
   * The pass in flight: the outputs promised to requests, in order (start: the first stop; each continueWith:
   * the stop after its all-reduce), the other ranks' partials that came before the pass reached their all-reduce
   * (at most one), and the all-reduce the pass waits at.
   */
  private running = false;
  private outs: Deferred<RankOut>[] = [];
  private early: (readonly HostArray[])[] = [];
  private sumWait: Deferred<readonly HostArray[]> | null = null;
  /** All-reduces whose partials were here before the pass got to them (the coordinator forwarded them early). */
  earlyPartials = 0;
  /** Tensor parallelism: the other ranks' partials [tp − 1, rows · hidden] and the kernel summing them into x. */
  private others: Tensor | null = null;
  /** Sums into x from row `first` (0: every row; else a prefill tail's first row), by that row. */
  private readonly sums = new Map<number, SumParts>();
  /** When the current request arrived, and its upload time. */
  private t0 = 0;
  private writeMs = 0;

  /**
   * `sendsX`: the rank ends a pass by handing x to the next stage (pipeline parallelism without tensor
   * parallelism); `partialSums`: it stops at each all-reduce (tensor parallelism).
   */
  constructor(readonly gpu: Gpu, readonly full: ModelConfig, readonly share: WeightShare, weights: PartialWeights, readonly dtype: DType,
    readonly sendsX: boolean) {
    const tp = share.tpSize > 1, endsModel = share.layers[share.layers.length - 1] === full.nLayers - 1;
    this.model = new DeviceModel(gpu, shareConfig(full, share), weights, dtype, { endsModel, ...(tp ? { partialSums: { addResidual: share.tp === 0 } } : {}) });
  }

  get isHead(): boolean { return this.model.hasHead; }

  prepare(shape: BatchShape, sampling: SamplingParams): void {
    this.model.prepare(shape, sampling);
    const s = this.model.state, rows = s.maxTokens;   // the run state's rows (whole tiles: activationRows), which sumInto spans
    if (s.partial) {
      // Bound over the run state's x and partial, which prepare() may have replaced.
      this.releaseSums();
      const need = (this.share.tpSize - 1) * rows * this.full.hidden;
      if (!this.others || this.others.shape[0]! < need) {
        this.gpu.release(this.others ?? undefined);
        this.others = this.gpu.tensor([need], this.dtype, 'static.others');
      }
    }
    if (rows <= this.stagingRows) return;
    const bytes = rows * this.full.hidden * DTYPE_BYTES[this.dtype];
    this.gpu.release(this.staging ?? undefined);
    this.staging = this.gpu.readbackBuffer(bytes, 'static.staging');
    this.host = new Uint8Array(Math.ceil(bytes / 4) * 4);
    this.stagingRows = rows;
  }

  /** The sum of the partials (from the partial's first row) into x from row `first`, made on first use. */
  private sumInto(first: number): SumParts {
    let k = this.sums.get(first);
    if (!k) {
      const s = this.model.state, rows = s.x.shape[0]! - first;
      k = sumParts(this.gpu, { mine: sliceRows(s.partial!, 0, rows), others: this.others!, out: sliceRows(s.x, first, rows), ranks: this.share.tpSize });
      this.sums.set(first, k);
    }
    return k;
  }

  private releaseSums(): void {
    for (const k of this.sums.values()) k.dispatch.release();
    this.sums.clear();
  }

  /** Start a pass; resolves at its first all-reduce, or at its end. */
  start(input: PassInput): Promise<RankOut> {
    if (this.running) throw new Error('static rank: a pass is already in flight');
    this.t0 = performance.now();
    const m = this.model, s = m.state, T = input.kind === 'prefill' ? input.n : m.slots;
    let layers: LayerProgram[], embed, attention: LayerHooks, tail: PrefillTail | undefined;
    if (input.kind === 'prefill') {
      const p = m.prefill(input.n, input.slot);
      this.gpu.write(s.rows, input.rows);
      if (p.embed.length) this.gpu.write(s.ids, input.ids);
      for (const a of p.attn) a.set(input.slot, input.p0);
      p.tail?.attn.set(input.slot, input.p0);
      ({ layers, embed, tail } = p);
      attention = localAttention(p.attn.map((a) => a.steps));
    } else {
      const p = m.decode();
      m.setRows(input.rows);
      m.setLengths(input.lengths);
      if (input.ids && p.embed.length) this.gpu.write(s.nextIds, input.ids);
      if (m.hasHead) { m.setStep(input.step); m.setDrawsFromRows(input.keyed ? input.rows : null); }
      ({ layers, embed } = p);
      attention = localAttention(decodeLaunches(p.plans));
    }
    if (input.x) this.gpu.write(s.x, input.x);
    this.writeMs = performance.now() - this.t0;
    const out = deferred<RankOut>();
    this.outs = [out];
    this.running = true;
    void this.pass(input, T, layers, embed, attention, tail).then(
      (end) => {
        this.stop(end);
        this.finish(new Error('static rank: a continueWith came after the pass ended'));
      },
      (e) => this.finish(e),
    );
    return out.promise;
  }

  /** Resolves the oldest promised output with this stop. */
  private stop(o: RankOut): void {
    const d = this.outs.shift();
    if (!d) throw new Error('static rank: a stop with no request waiting for it');
    d.resolve(this.timed(o));
  }

  /** The pass is over: whatever is still promised fails with `e`. */
  private finish(e: unknown): void {
    this.running = false;
    const left = this.outs;
    this.outs = []; this.early = []; this.sumWait = null;
    for (const d of left) d.reject(e);
  }

  /**
   * The other ranks' partials for the pass's next all-reduce; resolves at the stop after it (the next all-reduce,
   * or the end). They may come before the pass gets there (the coordinator forwards partials as they arrive).
   */
  continueWith(others: readonly HostArray[]): Promise<RankOut> {
    if (!this.running) throw new Error('static rank: no pass is in flight');
    if (others.length !== this.share.tpSize - 1) throw new Error(`static rank: ${others.length} partials sent, the all-reduce needs the other ${this.share.tpSize - 1}`);
    if (this.early.length) throw new Error('static rank: partials for two all-reduces ahead of the pass');
    const next = deferred<RankOut>();
    this.outs.push(next);
    const w = this.sumWait;
    if (w) {
      this.t0 = performance.now();
      this.sumWait = null;
      w.resolve(others);
    } else {
      this.early.push(others);
    }
    return next.promise;
  }

  private async pass(input: PassInput, T: number, layers: LayerProgram[], embed: LayerProgram['pre'], attention: LayerHooks,
    tail: PrefillTail | undefined): Promise<RankOut> {
    const m = this.model, s = m.state;
    const rec = new Recorder(this.gpu);
    rec.record(...embed);
    /** The all-reduce of `rows` rows of partial sums (from the partial's first row) into x from row `first`. */
    const reduce = async (rows: number, first: number) => {
      const n = rows * this.full.hidden;
      const reading = this.readRows(rec, sliceRows(s.partial!, 0, rows), rows);
      // The sum is the new x (rank 0 added the residual); the pass records on after it.
      const sum = this.sumInto(first);
      sum.set(n, this.share.tp);
      rec.record(sum.dispatch);
      const partial = await reading;
      this.stop({ reduce: true, partial });
      let others = this.early.shift();
      if (others) { this.t0 = performance.now(); this.earlyPartials++; } // they were here first: the rank's time starts now
      else others = await (this.sumWait = deferred<readonly HostArray[]>()).promise;
      others.forEach((p, j) => {
        if (p.length !== n) throw new Error(`static rank: a partial of ${p.length} elements, the all-reduce sums ${n}`);
        this.gpu.write(this.others!, p, j * n);
      });
      this.writeMs = performance.now() - this.t0;
    };
    // The sum is recorded before the wait (LayerHooks.overlap): the partials' writes land before it runs.
    const hooks: LayerHooks = !s.partial ? attention : {
      ...attention, overlap: true, reduce: (_l, _block, _rec, rows) => reduce(rows?.count ?? T, rows?.first ?? 0),
    };
    // As the Generator's prefill (PrefillTail): the last layer past its K/V only for the prompt's last rows, its
    // all-reduces over those rows only; nothing past the K/V in a chunk that is not the prompt's last.
    if (tail && input.kind === 'prefill') await runLayersWithTail(layers, tail, hooks, rec, input.last);
    else await runLayers(layers, hooks, rec);
    if (input.kind === 'prefill') {
      if (input.last && m.hasHead) rec.record(m.keepLast(input.n, input.slot));
      rec.submit();
      return this.sendsX ? { reduce: false, x: await this.readRows(rec, sliceRows(s.x, 0, T), T) } : { reduce: false };
    }
    if (m.hasHead) {
      rec.record(...m.head().steps, m.readbackStep(0));
      rec.submit();
      return { reduce: false, tokens: new Uint32Array(await m.readTokens(0)) };
    }
    rec.submit();
    return this.sendsX ? { reduce: false, x: await this.readRows(rec, sliceRows(s.x, 0, T), T) } : { reduce: false };
  }

  private timed(o: RankOut): RankOut {
    return { ...o, rankMs: { write: this.writeMs, run: performance.now() - this.t0 - this.writeMs } };
  }

  /** Submit what is recorded with a copy of T rows of `t` out, and read them (a copy the caller keeps). */
  private async readRows(rec: Recorder, t: Tensor, T: number): Promise<HostArray> {
    const bytes = T * this.full.hidden * DTYPE_BYTES[this.dtype];
    rec.record({ copy: { src: t.buffer, srcOffset: t.offset, dst: this.staging!, dstOffset: 0, size: Math.ceil(bytes / 4) * 4 } });
    rec.submit();
    const got = await this.gpu.readMapped(this.staging!, bytes, this.host.subarray(0, bytes));
    return this.dtype === 'f16' ? new Uint16Array(got.slice().buffer, 0, T * this.full.hidden) : new Float32Array(got.slice().buffer, 0, T * this.full.hidden);
  }

  async sampleFirst(keep: readonly number[], firstAt?: Uint32Array): Promise<Uint32Array> {
    const m = this.model;
    m.setStep(0);
    m.setDraws(firstAt ?? null);
    this.gpu.submit([...m.firstTokenSteps(keep), m.readbackStep(0)]);
    return new Uint32Array(await m.readTokens(0));
  }

  async readLogits(): Promise<Float32Array> { return await this.model.readLogits(); }

  dispose(): void {
    this.model.dispose();
    releaseWeights(this.gpu, this.model.weights);
    this.releaseSums();
    this.gpu.release(this.staging ?? undefined, this.others ?? undefined);
    this.staging = null; this.others = null;
    this.stagingRows = 0;
  }
}

/** The in-process handle of a StaticRank. */
export function localRank(name: string, rank: StaticRank): StaticRankHandle {
  return {
    name,
    local: rank,
    prepare: async (shape, sampling) => rank.prepare(shape, sampling),
    start: (input) => rank.start(input),
    continueWith: (others) => rank.continueWith(others),
    sampleFirst: (keep, firstAt) => rank.sampleFirst(keep, firstAt),
    readLogits: () => rank.readLogits(),
    get gpuBytes() { return rank.gpu.liveBytes; },
    dispose: async () => rank.dispose(),
  };
}

interface Deferred<T> { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void }
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b; });
  promise.catch(() => undefined); // a rejection is seen by whoever awaits it
  return { promise, resolve, reject };
}
