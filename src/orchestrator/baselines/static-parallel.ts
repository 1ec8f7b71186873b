// The static tensor-parallel × pipeline-parallel baseline (the FA Pool paper compares against TP=8/PP=2). Every
// rank is a DeviceModel over its share of the weights and runs the same forward pass as one device; the
// generation loop is the shared one. What differs is said through the layer hooks:
// - TP inside a stage (Megatron): each rank runs its heads' attention and its slice of the FFN; after the O
//   projection and after the down projection the partial [tokens, hidden] sums are all-reduced through mapped
//   staging buffers and summed on the CPU. TP rank 0 adds the residual stream into its partial, so the sum IS
//   the new x: it is written straight back (the stage's last sum goes to the next stage instead).
// - PP: stage s owns layers [s·L/pp, (s+1)·L/pp); the residual stream crosses stages through the CPU. Stages run
//   one after another: no micro-batching, so PP adds latency (and memory capacity) rather than overlap.
// - Embedding on every TP rank of stage 0; final norm, LM head and sampling on TP rank 0 of the last stage;
//   the sampled ids go back to stage 0 through the CPU every step.
import { DTYPE_BYTES, sliceRows, type DType, type Gpu, type HostArray, type Step, type Tensor } from '../../gpu/index.js';
import type { SamplingParams } from '../../kernels/sampling.js';
import type { ModelConfig } from '../../model/config.js';
import { DeviceModel, decodeLaunches, localAttention } from '../../model/device-model.js';
import { Recorder, runLayers, type LayerHooks, type LayerProgram } from '../../model/forward.js';
import {
  generate, type BatchShape, type DecodeStepInput, type ForwardExecutor, type GenerateOptions, type GenerateResult, type PrefillChunk,
} from '../../model/generation.js';
import { loadShares, shareConfig, type ByteSource, type LoadProgress } from '../../model/load-weights.js';
import { convertElements } from '../../model/safetensors.js';
import { releaseWeights, range, type WeightShare } from '../../model/weights.js';
import { checkPlacement, PlacementError, placementStr, type StaticPlacement } from './placement.js';

export interface StaticStats {
  /** Host side of the all-reduces (read the mapped partials, sum, write the sums back), ms. */
  allReduceMs: number;
  /** Host side of stage crossings without TP (read x, write it to the next stage), ms. */
  stageTransferMs: number;
  /** Waiting for the ranks' segments and their copy-out to the mapped buffers (GPU compute + device→host), ms. */
  waitMs: number;
  /** Decode steps of the last generate() (the first token's head-only step not counted). */
  steps: number;
}

/** What a rank runs for one forward pass. */
interface RankPass { embed: Step[]; layers: LayerProgram[]; attention: LayerHooks }

interface Rank {
  gpu: Gpu; stage: number; tp: number; model: DeviceModel;
  staging: GPUBuffer | null; // MAP_READ [maxTokens, hidden]: what this rank contributes to an exchange
  host: Uint8Array;          // its mapped bytes, copied out
}

export class StaticParallelGenerator implements ForwardExecutor {
  readonly stats: StaticStats = { allReduceMs: 0, stageTransferMs: 0, waitMs: 0, steps: 0 };
  private sumF32 = new Float32Array(0);
  private partF32 = new Float32Array(0);
  private outHost: HostArray = new Float32Array(0);
  private maxTokens = 0;
  /** Tokens read early (the next step's embedding needs them on stage 0), by read-back buffer. */
  private readonly early = new Map<number, Uint32Array>();

  private constructor(readonly cfg: ModelConfig, readonly dtype: DType, readonly placement: StaticPlacement, private readonly ranks: Rank[]) {}

  /** Load each rank's share of the weights from `src` (stage-major: stage s, TP index t = gpus[s·tp + t]). */
  static async create(gpus: Gpu[], cfg: ModelConfig, src: ByteSource, dtype: DType, placement: StaticPlacement,
    onProgress?: LoadProgress): Promise<StaticParallelGenerator> {
    checkPlacement(cfg, placement, gpus.length);
    if (new Set(gpus).size !== gpus.length) throw new PlacementError(`static placement ${placementStr(placement)}: the same GPU appears twice; every rank needs its own device`);
    const { tp, pp } = placement;
    const perStage = cfg.nLayers / pp;
    const shares: WeightShare[] = gpus.map((_, i) => {
      const stage = Math.floor(i / tp), t = i % tp;
      return { tp: t, tpSize: tp, layers: range(perStage).map((j) => stage * perStage + j), embed: stage === 0, head: stage === pp - 1 && t === 0 };
    });
    const { weights } = await loadShares(src, cfg, dtype, gpus.map((gpu, i) => ({ gpu, share: shares[i]! })), onProgress);
    const ranks = gpus.map((gpu, i): Rank => ({
      gpu, stage: Math.floor(i / tp), tp: i % tp, staging: null, host: new Uint8Array(0),
      model: new DeviceModel(gpu, shareConfig(cfg, shares[i]!), weights[i]!, dtype, tp > 1 ? { partialSums: { addResidual: i % tp === 0 } } : {}),
    }));
    return new StaticParallelGenerator(cfg, dtype, placement, ranks);
  }

  get gpus(): Gpu[] { return this.ranks.map((r) => r.gpu); }
  private stage(s: number): Rank[] { const tp = this.placement.tp; return this.ranks.slice(s * tp, (s + 1) * tp); }
  private get head(): Rank { return this.ranks[(this.placement.pp - 1) * this.placement.tp]!; }

  generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    Object.assign(this.stats, { allReduceMs: 0, stageTransferMs: 0, waitMs: 0, steps: 0 });
    return generate(this, prompts, o);
  }

  prepare(shape: BatchShape, sampling: SamplingParams): void {
    const maxTokens = Math.max(shape.chunk, shape.B);
    for (const r of this.ranks) r.model.prepare(shape, sampling);
    if (maxTokens === this.maxTokens) return;
    this.maxTokens = maxTokens;
    const n = maxTokens * this.cfg.hidden, bytes = n * DTYPE_BYTES[this.dtype];
    for (const r of this.ranks) {
      r.gpu.release(r.staging ?? undefined);
      r.staging = r.gpu.readbackBuffer(bytes, `s${r.stage}t${r.tp}.staging`);
      r.host = new Uint8Array(Math.ceil(bytes / 4) * 4);
    }
    this.sumF32 = new Float32Array(n);
    this.partF32 = new Float32Array(this.dtype === 'f16' ? n : 0);
    this.outHost = this.dtype === 'f16' ? new Uint16Array(n) : this.sumF32;
  }

  async prefill(c: PrefillChunk): Promise<void> {
    const progs = this.ranks.map((r) => {
      const p = r.model.prefill(c.n, c.b), s = r.model.state;
      r.gpu.write(s.rows, c.rows);
      if (r.stage === 0) r.gpu.write(s.ids, c.ids);
      for (const a of p.attn) a.set(c.b, c.p0);
      return p;
    });
    await this.forward(c.n, (r, i) => ({ layers: progs[i]!.layers, embed: progs[i]!.embed, attention: localAttention(progs[i]!.attn.map((a) => a.steps)) }));
    if (c.last) this.head.gpu.submit([this.head.model.keepLast(c.n, c.b)]);
  }

  async sampleFirst(buf: number, keep: readonly number[] = []): Promise<void> {
    const m = this.head.model;
    m.setStep(0);
    this.head.gpu.submit([...m.firstTokenSteps(keep), m.readbackStep(buf)]);
  }

  async decode(input: DecodeStepInput, buf: number): Promise<void> {
    // Stage 0 embeds the previous step's tokens: read them first where the head is not on that device.
    const ids = this.stage(0).some((r) => r !== this.head) ? await this.earlyTokens(1 - buf) : null;
    const progs = this.ranks.map((r) => {
      const p = r.model.decode(), s = r.model.state;
      r.gpu.write(s.rows, input.rows);
      r.model.setLengths(input.lengths);
      if (ids && r.stage === 0 && r !== this.head) r.gpu.write(s.nextIds, ids);
      return p;
    });
    this.head.model.setStep(input.step);
    await this.forward(this.ranks[0]!.model.slots, (r, i) => ({ layers: progs[i]!.layers, embed: progs[i]!.embed, attention: localAttention(decodeLaunches(progs[i]!.plans)) }));
    this.head.gpu.submit([...this.head.model.head().steps, this.head.model.readbackStep(buf)]);
    this.stats.steps++;
  }

  private async earlyTokens(buf: number): Promise<Uint32Array> {
    const ids = await this.head.model.readTokens(buf);
    this.early.set(buf, ids);
    return ids;
  }

  async readTokens(buf: number): Promise<Uint32Array> {
    const ids = this.early.get(buf);
    this.early.delete(buf);
    return ids ?? this.head.model.readTokens(buf);
  }

  async readLogits(): Promise<Float32Array> { return await this.head.gpu.read(this.head.model.state.logits) as Float32Array; }

  async sync(): Promise<void> { await Promise.all(this.ranks.map((r) => r.gpu.sync())); }

  get gpuBytes(): number { return [...new Set(this.gpus)].reduce((a, g) => a + g.liveBytes, 0); }

  /**
   * One forward pass of T rows through every stage: the ranks of a stage run their layers together, meeting at
   * each all-reduce; x crosses to the next stage through the host.
   */
  private async forward(T: number, prog: (r: Rank, i: number) => RankPass): Promise<void> {
    const { tp, pp } = this.placement;
    for (let s = 0; s < pp; s++) {
      const ranks = this.stage(s);
      const next = s + 1 < pp ? this.stage(s + 1) : null;
      const lastReduce = 2 * ranks[0]!.model.weights.layers.length - 1;
      let reduces = 0;
      const reduce = tp > 1 ? new Rendezvous(tp, () => {
        const dests = reduces++ === lastReduce && next ? next : ranks;
        return this.exchange(ranks, T, dests, (r) => sliceRows(r.model.state.partial!, 0, T), 'allReduceMs');
      }) : null;
      await Promise.all(ranks.map(async (r) => {
        const i = this.ranks.indexOf(r), p = prog(r, i);
        const rec = new Recorder(r.gpu);
        rec.record(...p.embed);
        const hooks: LayerHooks = reduce ? { attention: p.attention.attention, reduce: () => reduce.arrive(rec) } : p.attention;
        await runLayers(p.layers, hooks, rec);
        rec.submit();
      }));
      if (tp === 1 && next) await this.exchange(ranks, T, next, (r) => sliceRows(r.model.state.x, 0, T), 'stageTransferMs');
    }
  }

  /**
   * Read T rows of `part` from each source rank (through its mapped staging buffer), sum them (one source: copy),
   * and write the result into x of every destination rank. Sums are f32 (f16 partials are widened first).
   */
  private async exchange(src: Rank[], T: number, dests: Rank[], part: (r: Rank) => Tensor,
    kind: 'allReduceMs' | 'stageTransferMs'): Promise<void> {
    const n = T * this.cfg.hidden, f16 = this.dtype === 'f16', el = DTYPE_BYTES[this.dtype];
    const t0 = performance.now();
    for (const r of src) {
      const t = part(r);
      r.gpu.submit([{ copy: { src: t.buffer, srcOffset: t.offset, dst: r.staging!, dstOffset: 0, size: Math.ceil(n * el / 4) * 4 } }]);
    }
    await Promise.all(src.map((r) => r.gpu.readMapped(r.staging!, n * el, r.host.subarray(0, n * el))));
    const t1 = performance.now();
    this.stats.waitMs += t1 - t0;
    const sum = this.sumF32.subarray(0, n);
    src.forEach((r, i) => {
      const bytes = r.host.subarray(0, n * el);
      const p = f16 ? this.partF32.subarray(0, n) : new Float32Array(bytes.buffer, bytes.byteOffset, n);
      if (f16) convertElements(bytes, 'F16', p);
      if (i === 0) sum.set(p);
      else for (let j = 0; j < n; j++) sum[j]! += p[j]!;
    });
    let out: HostArray = sum;
    if (f16) {
      out = this.outHost.subarray(0, n) as Uint16Array;
      convertElements(new Uint8Array(sum.buffer, 0, n * 4), 'F32', out);
    }
    for (const d of dests) d.gpu.write(d.model.state.x, out);
    this.stats[kind] += performance.now() - t1;
  }

  dispose(): void {
    for (const r of this.ranks) {
      r.model.dispose();
      releaseWeights(r.gpu, r.model.weights);
      r.gpu.release(r.staging ?? undefined);
    }
  }
}

/**
 * The ranks of a stage meet here at each all-reduce: each submits what it recorded and waits; the last to
 * arrive runs the exchange, which releases them all.
 */
class Rendezvous {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly n: number, private readonly meet: () => Promise<void>) {}
  arrive(rec: Recorder): Promise<void> {
    rec.submit();
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.waiting.length === this.n) {
      const all = this.waiting;
      this.waiting = [];
      this.meet().then(() => { for (const w of all) w.resolve(); }, (e) => { for (const w of all) w.reject(e); });
    }
    return done;
  }
}
