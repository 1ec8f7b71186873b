// The static tensor-parallel × pipeline-parallel baseline (the FA Pool paper compares against TP=8/PP=2),
// run by the same code paths and metrics as the single-device Generator, over in-process ranks (one
// GPUDevice each, stage-major: stage s, TP index t = gpus[s·tp + t]).
//
// - TP inside a stage (Megatron): each rank runs its heads' attention and its slice of the FFN; after the
//   O projection and after the down projection the partial [tokens, hidden] sums are all-reduced through
//   mapped staging buffers and summed on the CPU. TP rank 0 adds the residual stream into its partial
//   (the linear kernel's residual epilogue), so the sum IS the new x: it is written straight back.
// - PP: stage s owns layers [s·L/pp, (s+1)·L/pp); the residual stream crosses stages through the CPU.
//   With TP > 1 the crossing is the last all-reduce of the stage, whose sum goes to the next stage's
//   ranks instead of its own (counted as all-reduce time). Stages run one after another: no
//   micro-batching, so PP adds latency (and memory capacity) rather than overlap.
// - Embedding on every TP rank of stage 0; final norm, LM head and sampling on TP rank 0 of the last
//   stage; the sampled ids go back to stage 0 through the CPU every step.
// Every launch is prepared once per shape; a step writes uniforms and small row tables only.
import {
  FapoolError, copyStep, reshape, sliceRows,
  type DType, type Gpu, type HostArray, type Step, type Tensor,
} from '../gpu/index.js';
import type { DecodePlan } from '../kernels/attention.js';
import { cast } from '../kernels/elementwise.js';
import { embedding } from '../kernels/embedding.js';
import { gatedLinear } from '../kernels/ffn.js';
import { linear } from '../kernels/gemm.js';
import { rmsnorm } from '../kernels/rmsnorm.js';
import { sampler as makeSampler, type Sampler, type SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from '../model/config.js';
import {
  decodeAttention, keepLastRow, postAttention, preAttention, prefillAttention, type PrefillAttention,
} from '../model/decoder.js';
import { DecodeBatch, generationMetrics } from '../model/decode-batch.js';
import { batchShape, prefillChunks, type GenerateOptions, type GenerateResult } from '../model/generator.js';
import { convertElements } from '../model/safetensors.js';
import type { SafetensorsFile } from '../model/safetensors-node.js';
import { allocKvCache, releaseKvCache, type KvCache, type StepViews } from '../model/run-state.js';
import { qkvRows } from '../model/weights.js';
import { loadShardedWeights, releaseRankWeights, type RankSpec, type RankWeights } from './static-weights.js';

export interface StaticPlacement { tp: number; pp: number }

/** A placement that cannot run this model on these devices: names the rule and the numbers. */
export class PlacementError extends FapoolError {}

/** "tp=2,pp=2" (either order, a missing degree is 1) or "2x2" (tp × pp). */
export function parsePlacement(s: string): StaticPlacement {
  const text = s.trim().toLowerCase();
  const bad = (why: string): never => {
    throw new PlacementError(`placement '${s}': ${why} (expected 'tp=N,pp=M' or 'NxM', e.g. 'tp=2,pp=2' or '2x2')`);
  };
  const degree = (v: string, what: string): number => {
    if (!/^\d+$/.test(v)) bad(`${what} must be a positive integer, got '${v}'`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) bad(`${what} must be a positive integer, got '${v}'`);
    return n;
  };
  const x = /^(\w+)\s*x\s*(\w+)$/.exec(text);
  if (x) return { tp: degree(x[1]!, 'tp'), pp: degree(x[2]!, 'pp') };
  const p: Partial<StaticPlacement> = {};
  for (const part of text.split(',')) {
    const m = /^\s*(tp|pp)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) bad(`cannot read '${part.trim()}'`);
    const key = m![1] as keyof StaticPlacement;
    if (p[key] !== undefined) bad(`${key} given twice`);
    p[key] = degree(m![2]!, key);
  }
  return { tp: p.tp ?? 1, pp: p.pp ?? 1 };
}

export function placementStr(p: StaticPlacement): string { return `tp=${p.tp},pp=${p.pp}`; }

/** Check that a placement divides the model (heads, kv heads, FFN, layers) and, when given, the device count. */
export function checkPlacement(cfg: ModelConfig, p: StaticPlacement, gpuCount?: number): void {
  const where = `static placement ${placementStr(p)} for model '${cfg.name}'`;
  for (const k of ['tp', 'pp'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] < 1) throw new PlacementError(`${where}: ${k} must be a positive integer, got ${p[k]}`);
  }
  const divides = (n: number, what: string, k: 'tp' | 'pp') => {
    if (n % p[k] !== 0) throw new PlacementError(`${where}: ${k}=${p[k]} must divide ${what} (${n})`);
  };
  divides(cfg.nHeads, 'the number of attention heads', 'tp');
  divides(cfg.nKvHeads, 'the number of kv heads (each TP rank keeps whole kv heads)', 'tp');
  divides(cfg.ffn, 'the FFN width', 'tp');
  divides(cfg.nLayers, 'the number of layers (stages get equal layer counts)', 'pp');
  if (!cfg.gatedFfn) throw new PlacementError(`${where}: only gated FFNs are supported`);
  if (gpuCount !== undefined && gpuCount !== p.tp * p.pp) {
    throw new PlacementError(`${where}: needs tp·pp = ${p.tp * p.pp} GPUs (stage-major), got ${gpuCount}`);
  }
}

/** The config one TP rank runs: its share of heads, kv heads and FFN width, its stage's layer count. */
export function shardConfig(cfg: ModelConfig, p: StaticPlacement): ModelConfig {
  return { ...cfg, nHeads: cfg.nHeads / p.tp, nKvHeads: cfg.nKvHeads / p.tp, ffn: cfg.ffn / p.tp, nLayers: cfg.nLayers / p.pp };
}

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

interface Buffers {
  x: Tensor; xn: Tensor; qkv: Tensor; q: Tensor; attn: Tensor; ffnH: Tensor; // [maxTokens, …] shard widths
  rows: Tensor;      // [maxTokens, 2] u32
  lengths: Tensor;   // [slots] u32
  ids?: Tensor;      // [maxTokens] u32: stage 0
  partial?: Tensor;  // [maxTokens, hidden]: TP > 1
  staging?: GPUBuffer; // MAP_READ, maxTokens·hidden elements: ranks that send
  kv: KvCache;
  // TP rank 0 of the last stage:
  lastHidden?: Tensor; logits?: Tensor; logitsAct?: Tensor; nextIds?: Tensor; tokRead?: GPUBuffer;
}

/** Prepared launches of one forward shape on one rank: segments separated by all-reduces / transfers. */
interface RankProgram { segs: Step[][]; attn: PrefillAttention[]; plans: DecodePlan[] }
interface HeadProgram { first: Step[]; step: Step[]; sampler: Sampler }

class Rank {
  buf: Buffers | null = null;
  readonly prefill = new Map<number, RankProgram>();
  decode: RankProgram | null = null;
  head: HeadProgram | null = null;

  constructor(readonly spec: RankSpec, readonly w: RankWeights, readonly isHead: boolean) {}
  get gpu(): Gpu { return this.spec.gpu; }

  alloc(full: ModelConfig, dtype: DType, tp: number, sends: boolean, slots: number, capacity: number, maxTokens: number): void {
    const { gpu, shard: c, stage, tpIndex } = this.spec;
    const t = (shape: number[], dt: DType, label: string) => gpu.tensor(shape, dt, `s${stage}t${tpIndex}.${label}`);
    const el = dtype === 'f16' ? 2 : 4;
    const b: Buffers = {
      x: t([maxTokens, c.hidden], dtype, 'x'), xn: t([maxTokens, c.hidden], dtype, 'xn'),
      qkv: t([maxTokens, qkvRows(c)], dtype, 'qkv'), q: t([maxTokens, c.nHeads, c.headDim], dtype, 'q'),
      attn: t([maxTokens, c.nHeads, c.headDim], dtype, 'attn'), ffnH: t([maxTokens, c.ffn], dtype, 'ffn_h'),
      rows: t([maxTokens, 2], 'u32', 'rows'), lengths: t([slots], 'u32', 'lengths'),
      kv: allocKvCache(gpu, c, dtype, slots, capacity, this.w.layers.length),
    };
    if (stage === 0) b.ids = t([maxTokens], 'u32', 'ids');
    if (tp > 1) b.partial = t([maxTokens, c.hidden], dtype, 'partial');
    if (sends) b.staging = gpu.createBuffer(maxTokens * c.hidden * el, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `s${stage}t${tpIndex}.staging`);
    if (this.isHead) {
      b.lastHidden = t([slots, c.hidden], dtype, 'last_hidden');
      b.logits = t([slots, full.vocab], 'f32', 'logits');
      if (dtype !== 'f32') b.logitsAct = t([slots, full.vocab], dtype, 'logits_act');
      b.nextIds = t([slots], 'u32', 'next_ids');
      b.tokRead = gpu.createBuffer(slots * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'tokens_readback');
    }
    this.buf = b;
  }

  views(T: number): StepViews {
    const b = this.buf!;
    return {
      x: sliceRows(b.x, 0, T), xn: sliceRows(b.xn, 0, T), qkv: sliceRows(b.qkv, 0, T), q: sliceRows(b.q, 0, T),
      attn: sliceRows(b.attn, 0, T), ffnH: sliceRows(b.ffnH, 0, T), rows: sliceRows(b.rows, 0, T),
    };
  }

  /** Copy of the first T rows of `src` into the staging buffer (the rank's contribution to an exchange). */
  copyOut(src: Tensor, T: number): Step {
    const bytes = Math.ceil((T * src.shape[1]! * (src.dtype === 'f16' ? 2 : 4)) / 4) * 4;
    return { copy: { src: src.buffer, srcOffset: src.offset, dst: this.buf!.staging!, dstOffset: 0, size: bytes } };
  }

  /**
   * The forward pass of T rows through this rank's layers, cut into segments. TP = 1: one segment
   * (plus the copy-out of x when a later stage follows). TP > 1: two per layer, each ending with the
   * copy-out of the partial sum: [norm, qkv, rope, attention, O-proj] and [norm, gated FFN, down-proj].
   */
  build(T: number, attention: (l: number, v: StepViews) => { steps: Step[]; prefill?: PrefillAttention; plan?: DecodePlan }, tp: number, sendsX: boolean): RankProgram {
    const { gpu, shard: c, tpIndex } = this.spec;
    const b = this.buf!, v = this.views(T);
    const prog: RankProgram = { segs: [], attn: [], plans: [] };
    let cur: Step[] = [];
    if (b.ids) cur.push(embedding(gpu, { ids: sliceRows(b.ids, 0, T), table: this.w.embed!, out: v.x, scale: c.embedScale }));
    const partial = b.partial ? sliceRows(b.partial, 0, T) : null;
    // TP rank 0 folds the residual stream into its partial, so the all-reduced sum is the new x.
    const residual = tpIndex === 0 ? v.x : undefined;
    this.w.layers.forEach((w, l) => {
      const a = attention(l, v);
      if (a.prefill) prog.attn.push(a.prefill);
      if (a.plan) prog.plans.push(a.plan);
      cur.push(...preAttention(gpu, c, w, v, b.kv.k[l]!, b.kv.v[l]!), ...a.steps);
      if (!partial) { cur.push(...postAttention(gpu, c, w, v)); return; }
      cur.push(linear(gpu, { x: reshape(v.attn, [T, c.nHeads * c.headDim]), w: w.wo, out: partial, residual }), this.copyOut(partial, T));
      prog.segs.push(cur);
      prog.segs.push([
        rmsnorm(gpu, { x: v.x, weight: w.ffnNorm, out: v.xn, eps: c.normEps }),
        gatedLinear(gpu, { x: v.xn, wGate: w.wGate, wUp: w.wUp, out: v.ffnH, act: c.act }),
        linear(gpu, { x: v.ffnH, w: w.wDown, out: partial, residual }),
        this.copyOut(partial, T),
      ]);
      cur = [];
    });
    if (!partial) {
      if (sendsX) cur.push(this.copyOut(v.x, T));
      prog.segs.push(cur);
    }
    return prog;
  }

  /** Final norm, LM head (and cast), sampling and the token read-back over the first B rows of x. */
  buildHead(full: ModelConfig, B: number, params: SamplingParams): HeadProgram {
    const { gpu } = this.spec;
    const b = this.buf!, x = sliceRows(b.x, 0, B), xn = sliceRows(b.xn, 0, B);
    const logits = b.logitsAct ?? b.logits!;
    const sampler = makeSampler(gpu, { logits: b.logits!, out: b.nextIds!, params });
    const step: Step[] = [
      rmsnorm(gpu, { x, weight: this.w.finalNorm!, out: xn, eps: full.normEps }),
      linear(gpu, { x: xn, w: this.w.lmHead!, out: logits }),
    ];
    if (b.logitsAct) step.push(cast(gpu, { x: b.logitsAct, out: b.logits! }));
    step.push(sampler.dispatch, { copy: { src: b.nextIds!.buffer, srcOffset: b.nextIds!.offset, dst: b.tokRead!, dstOffset: 0, size: B * 4 } });
    const first = [copyStep(b.lastHidden!, 0, b.x, 0, B * full.hidden), ...step];
    return { first, step, sampler };
  }

  releasePrograms(): void {
    const progs = [...this.prefill.values(), ...(this.decode ? [this.decode] : [])];
    for (const p of progs) {
      for (const seg of p.segs) for (const s of seg) if ('release' in s) s.release();
      for (const pl of p.plans) pl.release();
    }
    for (const s of this.head?.step ?? []) if ('release' in s) s.release();
    this.prefill.clear();
    this.decode = null;
    this.head = null;
  }

  releaseBuffers(): void {
    this.releasePrograms();
    const b = this.buf;
    if (!b) return;
    const g = this.gpu;
    releaseKvCache(g, b.kv);
    g.release(b.x, b.xn, b.qkv, b.q, b.attn, b.ffnH, b.rows, b.lengths, b.ids, b.partial, b.staging,
      b.lastHidden, b.logits, b.logitsAct, b.nextIds, b.tokRead);
    this.buf = null;
  }
}

export class StaticParallelGenerator {
  readonly stats: StaticStats = { allReduceMs: 0, stageTransferMs: 0, waitMs: 0, steps: 0 };
  private slots = 0;
  private capacity = 0;
  private maxTokens = 0;
  // Host arrays of the exchanges, sized for maxTokens rows: reused every step.
  private sumF32 = new Float32Array(0);
  private partF32 = new Float32Array(0);
  private outHost: HostArray = new Float32Array(0);
  private lastIds = new Uint32Array(0);

  private constructor(
    readonly cfg: ModelConfig, readonly dtype: DType, readonly placement: StaticPlacement, private readonly ranks: Rank[],
  ) {}

  static async create(
    gpus: Gpu[], cfg: ModelConfig, file: SafetensorsFile, dtype: DType, placement: StaticPlacement,
    onProgress?: (done: number, total: number) => void,
  ): Promise<StaticParallelGenerator> {
    checkPlacement(cfg, placement, gpus.length);
    if (new Set(gpus).size !== gpus.length) throw new PlacementError(`static placement ${placementStr(placement)}: the same GPU appears twice; every rank needs its own device`);
    const { tp, pp } = placement;
    const shard = shardConfig(cfg, placement);
    const specs: RankSpec[] = gpus.map((gpu, i) => {
      const stage = Math.floor(i / tp);
      return { gpu, stage, tpIndex: i % tp, shard, layers: Array.from({ length: shard.nLayers }, (_, j) => stage * shard.nLayers + j) };
    });
    const weights = await loadShardedWeights(file, cfg, dtype, specs, onProgress);
    const ranks = specs.map((s, i) => new Rank(s, weights[i]!, s.stage === pp - 1 && s.tpIndex === 0));
    return new StaticParallelGenerator(cfg, dtype, placement, ranks);
  }

  get gpus(): Gpu[] { return this.ranks.map((r) => r.gpu); }
  private stage(s: number): Rank[] { const tp = this.placement.tp; return this.ranks.slice(s * tp, (s + 1) * tp); }
  private get headRank(): Rank { return this.ranks[(this.placement.pp - 1) * this.placement.tp]!; }

  /** (Re)build buffers for a batch shape; reused while the shape fits (as Generator.prepare). */
  private prepare(slots: number, capacity: number, maxTokens: number): void {
    if (this.ranks[0]!.buf && slots === this.slots && capacity <= this.capacity && maxTokens <= this.maxTokens) return;
    for (const r of this.ranks) r.releaseBuffers();
    const { tp, pp } = this.placement;
    this.slots = slots; this.capacity = capacity; this.maxTokens = Math.max(maxTokens, slots);
    for (const r of this.ranks) r.alloc(this.cfg, this.dtype, tp, tp > 1 || r.spec.stage < pp - 1, slots, capacity, this.maxTokens);
    const n = this.maxTokens * this.cfg.hidden;
    this.sumF32 = new Float32Array(n);
    this.partF32 = new Float32Array(this.dtype === 'f16' ? n : 0);
    this.outHost = this.dtype === 'f16' ? new Uint16Array(n) : this.sumF32;
    this.lastIds = new Uint32Array(slots);
  }

  private sendsX(r: Rank): boolean { return this.placement.tp === 1 && r.spec.stage < this.placement.pp - 1; }

  private prefillProgram(r: Rank, T: number): RankProgram {
    let p = r.prefill.get(T);
    if (!p) {
      p = r.build(T, (l, v) => { const a = prefillAttention(r.gpu, v, r.buf!.kv, l, T); return { steps: a.steps, prefill: a }; }, this.placement.tp, this.sendsX(r));
      r.prefill.set(T, p);
    }
    return p;
  }

  private buildDecode(params: SamplingParams): void {
    const B = this.slots;
    for (const r of this.ranks) {
      r.decode = r.build(B, (l, v) => { const plan = decodeAttention(r.gpu, v, r.buf!.kv, l, r.buf!.lengths); return { steps: plan.dispatches, plan }; }, this.placement.tp, this.sendsX(r));
      if (r.isHead) r.head = r.buildHead(this.cfg, B, params);
    }
  }

  /**
   * Read T rows from each source rank's staging buffer, sum them (one source: copy), and write the
   * result into x of every destination rank. Sums are f32 (f16 partials are widened first).
   */
  private async exchange(src: Rank[], T: number, dests: Rank[], kind: 'allReduceMs' | 'stageTransferMs'): Promise<void> {
    const n = T * this.cfg.hidden, f16 = this.dtype === 'f16';
    const bytes = Math.ceil((n * (f16 ? 2 : 4)) / 4) * 4;
    const t0 = performance.now();
    await Promise.all(src.map((r) => r.buf!.staging!.mapAsync(GPUMapMode.READ, 0, bytes)));
    const t1 = performance.now();
    this.stats.waitMs += t1 - t0;
    const sum = this.sumF32.subarray(0, n);
    src.forEach((r, i) => {
      const range = new Uint8Array(r.buf!.staging!.getMappedRange(0, bytes), 0, n * (f16 ? 2 : 4));
      const part = f16 ? this.partF32.subarray(0, n) : new Float32Array(range.buffer, 0, n);
      if (f16) convertElements(range, 'F16', part);
      if (i === 0) sum.set(part);
      else for (let j = 0; j < n; j++) sum[j]! += part[j]!;
      r.buf!.staging!.unmap();
    });
    let out: HostArray = sum;
    if (f16) {
      out = this.outHost.subarray(0, n) as Uint16Array;
      convertElements(new Uint8Array(sum.buffer, 0, n * 4), 'F32', out);
    }
    for (const d of dests) d.gpu.write(d.buf!.x, out);
    this.stats[kind] += performance.now() - t1;
  }

  /** One forward pass of T rows through every stage, segment by segment. */
  private async forward(T: number, prog: (r: Rank) => RankProgram): Promise<void> {
    const { tp, pp } = this.placement;
    for (let s = 0; s < pp; s++) {
      const ranks = this.stage(s);
      const next = s + 1 < pp ? this.stage(s + 1) : null;
      const nSeg = prog(ranks[0]!).segs.length;
      for (let i = 0; i < nSeg; i++) {
        for (const r of ranks) r.gpu.submit(prog(r).segs[i]!);
        if (tp > 1) {
          // The stage's last sum goes on: to the next stage, or to the head rank only.
          const dests = i < nSeg - 1 ? ranks : next ?? [this.headRank];
          await this.exchange(ranks, T, dests, 'allReduceMs');
        } else if (next) {
          await this.exchange(ranks, T, next, 'stageTransferMs');
        }
      }
    }
  }

  private async readTokens(): Promise<Uint32Array> {
    const buf = this.headRank.buf!.tokRead!;
    await buf.mapAsync(GPUMapMode.READ, 0, this.slots * 4);
    this.lastIds.set(new Uint32Array(buf.getMappedRange(0, this.slots * 4)));
    buf.unmap();
    for (const r of this.ranks) r.gpu.throwIfError();
    return this.lastIds;
  }

  async generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    const { cfg } = this;
    const { B, capacity, chunk } = batchShape(cfg, prompts, o);
    this.prepare(B, capacity, chunk);
    Object.assign(this.stats, { allReduceMs: 0, stageTransferMs: 0, waitMs: 0, steps: 0 });
    const head = this.headRank, stage0 = this.stage(0);
    const t0 = performance.now();

    // ---- prefill: each sequence in chunks; its last row goes to lastHidden[slot] on the head rank
    const inputTokens = prompts.reduce((a, p) => a + p.length, 0);
    let done = 0;
    for (const c of prefillChunks(prompts, chunk)) {
      for (const r of this.ranks) {
        r.gpu.write(r.buf!.rows, c.rows);
        if (r.buf!.ids) r.gpu.write(r.buf!.ids, c.ids);
        for (const at of this.prefillProgram(r, c.n).attn) at.set(c.b, c.p0);
      }
      await this.forward(c.n, (r) => this.prefillProgram(r, c.n));
      if (c.last) head.gpu.submit([keepLastRow(head.buf!.x, c.n - 1, head.buf!.lastHidden!, c.b)]);
      done += c.n;
      if (o.onPrefill) { await head.gpu.sync(); o.onPrefill(done, inputTokens); }
    }

    // ---- first tokens: head over lastHidden, then decode steps for the whole batch
    if (!this.ranks[0]!.decode) this.buildDecode(o.sampling);
    const hp = head.head!;
    hp.sampler.setParams(o.sampling);
    const batch = new DecodeBatch(prompts, o, this.capacity);

    let step = 0;
    hp.sampler.setStep(step);
    head.gpu.submit(hp.first);
    batch.record(await this.readTokens(), step);
    const tFirst = performance.now();
    let firstLogits: Float32Array[] | undefined;
    if (o.captureLogits) {
      const all = await head.gpu.read(head.buf!.logits!) as Float32Array;
      firstLogits = prompts.map((_, b) => all.slice(b * cfg.vocab, (b + 1) * cfg.vocab));
    }

    // Each step feeds every row its last sampled id; a finished row writes nothing (position = capacity)
    // and attends to nothing (length 0), as in Generator.
    while (batch.next()) {
      step++;
      const maxLenNow = batch.maxLength;
      for (const r of this.ranks) {
        r.gpu.write(r.buf!.rows, batch.rows);
        r.gpu.write(r.buf!.lengths, batch.lengths);
        for (const pl of r.decode!.plans) pl.update(maxLenNow);
      }
      for (const r of stage0) r.gpu.write(r.buf!.ids!, this.lastIds);
      hp.sampler.setStep(step);
      await this.forward(B, (r) => r.decode!);
      head.gpu.submit(hp.step);
      batch.record(await this.readTokens(), step);
      this.stats.steps++;
    }
    await Promise.all(this.ranks.map((r) => r.gpu.sync()));
    const tEnd = performance.now();
    return {
      ...generationMetrics(batch.out, inputTokens, t0, tFirst, tEnd),
      gpuBytes: this.ranks.reduce((a, r) => a + r.gpu.liveBytes, 0),
      firstLogits,
    };
  }

  dispose(): void {
    for (const r of this.ranks) { r.releaseBuffers(); releaseRankWeights(r.gpu, r.w); }
  }
}
