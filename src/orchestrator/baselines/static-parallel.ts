// The static tensor-parallel × pipeline-parallel baseline (the FA Pool paper compares against TP=8/PP=2), over
// ranks in this process or in worker processes (one GPU each). Every rank is a StaticRank (a DeviceModel over its
// share of the weights running the one forward pass); the generation loop is the shared one. This file is the
// coordinator:
// - TP inside a stage (Megatron): each rank runs its heads' attention and its slice of the FFN; after the O
//   projection and after the down projection a pass stops with the rank's partial [tokens, hidden] sum; the
//   coordinator sums the stage's partials on the CPU (f32) and continues every rank with the sum. TP rank 0
//   adds the residual stream into its partial, so the sum IS the new x.
// - PP: stage s owns layers [s·L/pp, (s+1)·L/pp); the residual stream (the stage's last sum, or its x) crosses
//   to the next stage through the CPU. Stages run one after another: no micro-batching, so PP adds latency
//   (and memory capacity) rather than overlap.
// - Embedding on every TP rank of stage 0; final norm, LM head and sampling on TP rank 0 of the last stage;
//   the sampled ids go back to stage 0 through the CPU every step.
import type { DType, Gpu, HostArray } from '../../gpu/index.js';
import type { SamplingParams } from '../../kernels/sampling.js';
import type { ModelConfig } from '../../model/config.js';
import {
  generate, type BatchShape, type DecodeStepInput, type ForwardExecutor, type GenerateOptions, type GenerateResult, type PrefillChunk,
} from '../../model/generation.js';
import { loadShares, type ByteSource, type LoadProgress } from '../../model/load-weights.js';
import { convertElements } from '../../model/safetensors.js';
import { checkPlacement, PlacementError, placementStr, rankShares, sendsX, type StaticPlacement } from './placement.js';
import { StaticRank, localRank, type PassInput, type RankOut, type StaticRankHandle } from './static-rank.js';

export interface StaticStats {
  /**
   * Rounds of a stage's ranks (start, or continue with the sums → every rank's next stop: an all-reduce or the
   * pass's end), ms. Split into the slowest rank's own time (rankWriteMs + rankRunMs) and transportMs.
   */
  waitMs: number;
  /** Uploading the input or the sum, on the rank, ms. */
  rankWriteMs: number;
  /** Running to the stop on the rank: recording, the layers' GPU work and the read-back of the partial, ms. */
  rankRunMs: number;
  /** The rest of the rounds: requests and replies (encode, ZeroMQ, decode; ~0 in process), ms. */
  transportMs: number;
  /** Summing the partials on the host (f32), ms. */
  sumMs: number;
  /** All-reduces of the last generate(). */
  allReduces: number;
  /** Decode steps of the last generate() (the first token's head-only step not counted). */
  steps: number;
}

export class StaticParallelGenerator implements ForwardExecutor {
  readonly stats: StaticStats = zeroStats();
  // All-reduce buffers, sized by prepare(): the f32 sum, a partial widened from f16, the sum rounded to f16. The sum
  // handed out is a view into them: every rank has written it to its GPU (or sent it) before the next all-reduce.
  private sumF32 = new Float32Array(0);
  private partF32 = new Float32Array(0);
  private sumF16 = new Uint16Array(0);
  private tokens: Uint32Array[] = [new Uint32Array(0), new Uint32Array(0)];
  private lastTokens: Uint32Array = new Uint32Array(0);

  private constructor(readonly cfg: ModelConfig, readonly dtype: DType, readonly placement: StaticPlacement,
    private readonly ranks: StaticRankHandle[], readonly gpus: Gpu[]) {}

  /**
   * Ranks on these GPUs of this process, loading their shares from `src`; when `remote` ranks are given (worker
   * processes, already loaded), they take the last places of the placement.
   */
  static async create(gpus: Gpu[], cfg: ModelConfig, src: ByteSource | null, dtype: DType, placement: StaticPlacement,
    onProgress?: LoadProgress, remote: StaticRankHandle[] = []): Promise<StaticParallelGenerator> {
    checkPlacement(cfg, placement, gpus.length + remote.length);
    if (new Set(gpus).size !== gpus.length) throw new PlacementError(`static placement ${placementStr(placement)}: the same GPU appears twice; every rank needs its own device`);
    const shares = rankShares(cfg, placement).slice(0, gpus.length);
    let local: StaticRankHandle[] = [];
    if (gpus.length) {
      if (!src) throw new PlacementError('static placement: ranks in this process need the weights file');
      const { weights } = await loadShares(src, cfg, dtype, gpus.map((gpu, i) => ({ gpu, share: shares[i]! })), onProgress);
      local = gpus.map((gpu, i) => localRank(gpu.label || `rank${i}`, new StaticRank(gpu, cfg, shares[i]!, weights[i]!, dtype, sendsX(placement, shares[i]!))));
    }
    return new StaticParallelGenerator(cfg, dtype, placement, [...local, ...remote], gpus);
  }

  private stage(s: number): StaticRankHandle[] { const tp = this.placement.tp; return this.ranks.slice(s * tp, (s + 1) * tp); }
  private get head(): StaticRankHandle { return this.ranks[(this.placement.pp - 1) * this.placement.tp]!; }
  get rankNames(): string[] { return this.ranks.map((r) => r.name); }

  generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    Object.assign(this.stats, zeroStats());
    return generate(this, prompts, o);
  }

  async prepare(shape: BatchShape, sampling: SamplingParams): Promise<void> {
    await Promise.all(this.ranks.map((r) => r.prepare(shape, sampling)));
    const n = Math.max(shape.chunk, shape.B) * this.cfg.hidden;
    if (this.sumF32.length < n) {
      this.sumF32 = new Float32Array(n);
      this.partF32 = new Float32Array(this.dtype === 'f16' ? n : 0);
      this.sumF16 = new Uint16Array(this.dtype === 'f16' ? n : 0);
    }
  }

  async prefill(c: PrefillChunk): Promise<void> {
    await this.pass({ kind: 'prefill', slot: c.b, p0: c.p0, n: c.n, last: c.last, rows: c.rows, ids: c.ids }, c.n);
  }

  async sampleFirst(buf: number, keep: readonly number[] = []): Promise<void> {
    this.tokens[buf] = this.lastTokens = await this.head.sampleFirst(keep);
  }

  async decode(input: DecodeStepInput, buf: number): Promise<void> {
    // Stage 0 embeds the previous step's tokens (sent along); the head rank returns this step's.
    const end = await this.pass({ kind: 'decode', step: input.step, rows: input.rows, lengths: input.lengths, ids: this.lastTokens }, input.lengths.length);
    if (!end.tokens) throw new Error('static baseline: the head rank returned no tokens');
    this.tokens[buf] = this.lastTokens = end.tokens;
    this.stats.steps++;
  }

  async readTokens(buf: number): Promise<Uint32Array> { return this.tokens[buf]!; }
  readLogits(): Promise<Float32Array> { return this.head.readLogits(); }
  async sync(): Promise<void> { /* every pass is awaited: nothing is left in flight */ }
  get gpuBytes(): number { return this.ranks.reduce((a, r) => a + r.gpuBytes, 0); }

  /** One forward pass of T rows through every stage; the head's end (tokens, on a decode step). */
  private async pass(input: PassInput, T: number): Promise<Extract<RankOut, { reduce: false }>> {
    const { tp, pp } = this.placement;
    let x: HostArray | undefined;
    let head: Extract<RankOut, { reduce: false }> = { reduce: false };
    for (let s = 0; s < pp; s++) {
      const ranks = this.stage(s);
      const first = s === 0 ? input : { ...input, x };
      let outs = await this.round(() => ranks.map((r) => r.start(first)));
      let sum: HostArray | undefined;
      while (outs.some((o) => o.reduce)) {
        const t0 = performance.now();
        sum = this.allReduce(outs.map((o) => (o as Extract<RankOut, { reduce: true }>).partial), T);
        this.stats.sumMs += performance.now() - t0;
        this.stats.allReduces++;
        outs = await this.round(() => ranks.map((r) => r.continueWith(sum!)));
      }
      const ends = outs as Extract<RankOut, { reduce: false }>[];
      if (s === pp - 1) head = ends[0]!;
      // The next stage's input: the stage's last sum (TP), or its rank's x.
      x = tp > 1 ? sum : ends[0]!.x;
    }
    return head;
  }

  /** Requests to a stage's ranks and their next stops, timed: the slowest rank's own time, the rest transport. */
  private async round(send: () => Promise<RankOut>[]): Promise<RankOut[]> {
    const t0 = performance.now();
    const outs = await Promise.all(send());
    const ms = performance.now() - t0;
    const slow = outs.map((o) => o.rankMs ?? { write: 0, run: 0 }).reduce((a, b) => (b.write + b.run > a.write + a.run ? b : a));
    this.stats.waitMs += ms;
    this.stats.rankWriteMs += slow.write;
    this.stats.rankRunMs += slow.run;
    this.stats.transportMs += Math.max(0, ms - slow.write - slow.run);
    return outs;
  }

  /** Sum the ranks' partials in f32 (f16 partials widened first) and return them in the model dtype (a view of a reused buffer). */
  private allReduce(parts: HostArray[], T: number): HostArray {
    const n = T * this.cfg.hidden, f16 = this.dtype === 'f16';
    const sum = this.sumF32.subarray(0, n);
    parts.forEach((p, i) => {
      const v = f16 ? this.partF32.subarray(0, n) : p as Float32Array;
      if (f16) convertElements(new Uint8Array(p.buffer, p.byteOffset, n * 2), 'F16', v);
      if (i === 0) sum.set(v);
      else for (let j = 0; j < n; j++) sum[j]! += v[j]!;
    });
    if (!f16) return sum;
    const out = this.sumF16.subarray(0, n);
    convertElements(new Uint8Array(sum.buffer, 0, n * 4), 'F32', out);
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.ranks.map((r) => r.dispose()));
  }
}

function zeroStats(): StaticStats {
  return { waitMs: 0, rankWriteMs: 0, rankRunMs: 0, transportMs: 0, sumMs: 0, allReduces: 0, steps: 0 };
}
