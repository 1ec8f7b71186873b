// The static tensor-parallel × pipeline-parallel baseline (the FA Pool paper compares against TP=8/PP=2), over
// ranks in this process or in worker processes (one GPU each). Every rank is a StaticRank (a DeviceModel over its
// share of the weights running the one forward pass); the generation loop is the shared one. This file is the
// coordinator:
// - TP inside a stage (Megatron): each rank runs its heads' attention and its slice of the FFN; after the O
//   projection and after the down projection a pass stops with the rank's partial [tokens, hidden] sum; the
//   coordinator gathers the stage's partials and continues every rank with the other ranks' ones, which the rank
//   adds to its own on its GPU (rank order, f32, so every rank holds the same x). TP rank 0 adds the residual
//   stream into its partial, so the sum IS the new x. Nothing is summed on the host.
// - PP: stage s owns layers [s·L/pp, (s+1)·L/pp); the residual stream (x of the stage's TP rank 0) crosses to
//   the next stage through the CPU. Stages run one after another: no micro-batching, so PP adds latency
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
import { checkPlacement, PlacementError, placementStr, rankShares, sendsX, type StaticPlacement } from './placement.js';
import { StaticRank, localRank, type PassInput, type RankOut, type StaticRankHandle } from './static-rank.js';

export interface StaticStats {
  /**
   * Rounds of a stage's ranks (start, or continue with the sums → every rank's next stop: an all-reduce or the
   * pass's end), ms. Split into the slowest rank's own time (rankWriteMs + rankRunMs) and transportMs.
   */
  waitMs: number;
  /** Uploading the input or the other ranks' partials (and recording their sum), on the rank, ms. */
  rankWriteMs: number;
  /** Running to the stop on the rank: recording, the layers' GPU work and the read-back of the partial, ms. */
  rankRunMs: number;
  /** The rest of the rounds: requests and replies (encode, ZeroMQ, decode; ~0 in process), ms. */
  transportMs: number;
  /** All-reduces of the last generate(). */
  allReduces: number;
  /** Decode steps of the last generate() (the first token's head-only step not counted). */
  steps: number;
}

export class StaticParallelGenerator implements ForwardExecutor {
  readonly stats: StaticStats = zeroStats();
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
      local = gpus.map((gpu, i) => localRank(gpu.label || `rank${i}`, new StaticRank(gpu, cfg, shares[i]!, weights[i]!, dtype, sendsX(placement, i))));
    }
    return new StaticParallelGenerator(cfg, dtype, placement, [...local, ...remote], gpus);
  }

  private stage(s: number): StaticRankHandle[] { const tp = this.placement.tp; return this.ranks.slice(s * tp, (s + 1) * tp); }
  private get head(): StaticRankHandle { return this.ranks[(this.placement.pp - 1) * this.placement.tp]!; }
  get rankNames(): string[] { return this.ranks.map((r) => r.name); }
  /** Each rank and whether it still answers (a dead one fails every pass: the static baseline has no other copy of its share). */
  get rankHealth(): { name: string; alive: boolean }[] { return this.ranks.map((r) => ({ name: r.name, alive: r.alive ?? true })); }

  generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    Object.assign(this.stats, zeroStats());
    return generate(this, prompts, o);
  }

  async prepare(shape: BatchShape, sampling: SamplingParams): Promise<void> {
    await Promise.all(this.ranks.map((r) => r.prepare(shape, sampling)));
  }

  async prefill(c: PrefillChunk): Promise<void> {
    await this.pass({ kind: 'prefill', slot: c.b, p0: c.p0, n: c.n, last: c.last, rows: c.rows, ids: c.ids });
  }

  async sampleFirst(buf: number, keep: readonly number[] = [], firstAt?: Uint32Array): Promise<void> {
    this.tokens[buf] = this.lastTokens = await this.head.sampleFirst(keep, firstAt);
  }

  async decode(input: DecodeStepInput, buf: number): Promise<void> {
    // Stage 0 embeds the previous step's tokens (sent along); the head rank returns this step's.
    const end = await this.pass({ kind: 'decode', step: input.step, rows: input.rows, lengths: input.lengths, ids: this.lastTokens, keyed: input.keyed });
    if (!end.tokens) throw new Error('static baseline: the head rank returned no tokens');
    this.tokens[buf] = this.lastTokens = end.tokens;
    this.stats.steps++;
  }

  async readTokens(buf: number): Promise<Uint32Array> { return this.tokens[buf]!; }
  readLogits(): Promise<Float32Array> { return this.head.readLogits(); }
  async sync(): Promise<void> { /* every pass is awaited: nothing is left in flight */ }
  get gpuBytes(): number { return this.ranks.reduce((a, r) => a + r.gpuBytes, 0); }

  /** One forward pass through every stage; the head's end (tokens, on a decode step). */
  private async pass(input: PassInput): Promise<Extract<RankOut, { reduce: false }>> {
    const { pp } = this.placement;
    let x: HostArray | undefined;
    let head: Extract<RankOut, { reduce: false }> = { reduce: false };
    for (let s = 0; s < pp; s++) {
      const ends = await this.runStage(this.stage(s), s === 0 ? input : { ...input, x });
      if (s === pp - 1) head = ends[0]!;
      else if (!ends[0]!.x) throw new Error(`static baseline: stage ${s} handed no x to the next stage`);
      x = ends[0]!.x; // the next stage's input
    }
    return head;
  }

  /**
   * A stage's part of a pass: its ranks run to each all-reduce; a rank gets the others' partials as soon as they
   * are all in (not when every rank has stopped), so a rank that is ahead never waits for a round trip through
   * this process. Returns the ranks' ends.
   */
  private async runStage(ranks: StaticRankHandle[], first: PassInput): Promise<Extract<RankOut, { reduce: false }>[]> {
    const tp = ranks.length;
    let cur = ranks.map((r) => r.start(first));
    for (;;) {
      const t0 = performance.now();
      const outs: RankOut[] = new Array<RankOut>(tp);
      const parts: (HostArray | undefined)[] = new Array<HostArray | undefined>(tp).fill(undefined);
      const next: (Promise<RankOut> | undefined)[] = new Array<Promise<RankOut> | undefined>(tp).fill(undefined);
      const forward = () => {
        for (let i = 0; i < tp; i++) {
          if (next[i] || parts.some((p, j) => j !== i && !p)) continue;
          const p = ranks[i]!.continueWith(parts.filter((_, j) => j !== i) as HostArray[]);
          p.catch(() => undefined); // awaited below; a stage that fails first must not leave it unhandled
          next[i] = p;
        }
      };
      await Promise.all(cur.map(async (p, i) => {
        const o = outs[i] = await p;
        if (o.reduce) { parts[i] = o.partial; forward(); }
      }));
      this.account(outs, performance.now() - t0);
      if (!outs.some((o) => o.reduce)) return outs as Extract<RankOut, { reduce: false }>[];
      if (!outs.every((o) => o.reduce)) throw new Error('static baseline: the ranks of a stage stopped at different points');
      this.stats.allReduces++;
      cur = next as Promise<RankOut>[];
    }
  }

  /**
   * One round of a stage's stops, timed: the slowest rank's own time, the rest transport and waiting. A rank that
   * got its partials early started its own time before the round did: clipped to the round.
   */
  private account(outs: RankOut[], ms: number): void {
    const slow = outs.map((o) => o.rankMs ?? { write: 0, run: 0 }).reduce((a, b) => (b.write + b.run > a.write + a.run ? b : a));
    const write = Math.min(slow.write, ms), run = Math.min(slow.run, ms - write);
    this.stats.waitMs += ms;
    this.stats.rankWriteMs += write;
    this.stats.rankRunMs += run;
    this.stats.transportMs += ms - write - run;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.ranks.map((r) => r.dispose()));
  }
}

function zeroStats(): StaticStats {
  return { waitMs: 0, rankWriteMs: 0, rankRunMs: 0, transportMs: 0, allReduces: 0, steps: 0 };
}
