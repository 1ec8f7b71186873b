// Generation on one device (the base group of FA Pool is one such device): every launch is prepared once; a
// decode step only writes uniforms and two tiny row tables, so nothing is allocated per token. Where attention
// runs is pluggable: all on this device, or (FA Pool) the long sequences' attention on the attention pool.
import { FapoolError, type DType, type Gpu, type Step } from '../gpu/index.js';
import type { SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from './config.js';
import { DeviceModel, decodeLaunches, localAttention } from './device-model.js';
import { Recorder, runLayers, runLayersWithTail, type LayerHooks } from './forward.js';
import {
  generate, prefillChunks, type BatchShape, type DecodeStepInput, type ForwardExecutor, type GenerateOptions, type GenerateResult, type PrefillChunk,
} from './generation.js';
import type { Weights } from './weights.js';

/** A part of the decode step's launch list: the embedding, a layer's pre/attention/oProj/ffn, the head. */
export interface DecodePart { part: 'embed' | 'pre' | 'attention' | 'oProj' | 'ffn' | 'head'; layer: number | null; steps: Step[] }

/** A pass's launches by part: the embedding, then each layer's pre-attention, attention, O projection and FFN. */
function layerParts(embed: Step[], layers: readonly { pre: Step[]; oProj: Step[]; ffn: Step[] }[], attn: readonly Step[][]): DecodePart[] {
  return [
    { part: 'embed', layer: null, steps: embed },
    ...layers.flatMap((l, i): DecodePart[] => [
      { part: 'pre', layer: i, steps: l.pre }, { part: 'attention', layer: i, steps: attn[i]! },
      { part: 'oProj', layer: i, steps: l.oProj }, { part: 'ffn', layer: i, steps: l.ffn },
    ]),
  ];
}

/** Where attention runs when not all of it runs on this device (the FA Pool's attention pool). */
export interface AttentionPlacement {
  /** The KV capacity each slot gets on this device: 0 for a sequence whose cache lives elsewhere. */
  baseCapacities?(shape: BatchShape): number[];
  /** Before a prefill chunk's launches are chosen: may give its slot a cache here for the prompt's duration. */
  beforePrefillChunk?(m: DeviceModel, c: PrefillChunk): Promise<void>;
  /**
   * A prefill chunk's attention: `local` runs it on this device (null when the slot has no cache here); the
   * answer may add to it (streaming the chunk's K/V elsewhere) or run it elsewhere.
   */
  prefillHooks?(m: DeviceModel, c: PrefillChunk, local: LayerHooks | null): Promise<LayerHooks>;
  /** After a prefill chunk is submitted (at `c.end`, a streamed hand-off completes). */
  afterPrefillChunk?(m: DeviceModel, c: PrefillChunk): Promise<void>;
  /** After the first tokens, before the first decode step: place the sequences. */
  afterPrefill?(m: DeviceModel, promptLengths: readonly number[]): Promise<void>;
  /**
   * This decode step's attention: hooks that send some of it elsewhere (they write the step's row table and
   * lengths themselves), or null when it all runs here. Given the model's micro-batch split, it may answer one
   * set of hooks per micro-batch: they then run together, so one computes while the other waits.
   */
  decodeHooks(m: DeviceModel, input: DecodeStepInput, split: number | null): Promise<LayerHooks[] | null>;
  /**
   * After an AttentionLost: place those sequences anew (on the ranks left, or on this device with a cache of
   * their own). The generator then rebuilds their caches from their tokens and runs the step again.
   */
  replace?(m: DeviceModel, seqs: readonly number[]): Promise<void>;
  /** A slot's sequence is done and the slot will be reused: free what it holds elsewhere. */
  freeSlot?(m: DeviceModel, b: number): Promise<void>;
  /** When generation ends: free what the placement holds elsewhere. */
  finish?(m: DeviceModel): Promise<void>;
}

/**
 * The attention of these sequences could not be computed where they were placed and their caches are gone (a
 * rank died and no replica was kept): the step stops before anything is sampled, and is run again once their
 * caches are rebuilt.
 */
export class AttentionLost extends FapoolError {
  constructor(readonly seqs: readonly number[], message: string) { super(message); }
}

/** How many times one chunk or step is tried again after losing ranks (each loss drops a rank: this bounds it). */
const MAX_RETRIES = 8;
/** A local prefill goes to the GPU this many launches at a time (about a layer: norm, QKV, RoPE, KV, attention, O, FFN). */
const PREFILL_SUBMIT_STEPS = 12;

export class Generator implements ForwardExecutor {
  readonly model: DeviceModel;

  constructor(readonly gpu: Gpu, readonly cfg: ModelConfig, weights: Weights, readonly dtype: DType,
    readonly placement?: AttentionPlacement, opts: { microBatches?: boolean } = {}) {
    this.model = new DeviceModel(gpu, cfg, weights, dtype);
    if (placement?.baseCapacities) this.model.capacities = (shape) => placement.baseCapacities!(shape);
    this.model.microBatches = Boolean(placement && opts.microBatches);
  }

  generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    return generate(this, prompts, o);
  }

  prepare(shape: BatchShape, sampling: SamplingParams): void { this.model.prepare(shape, sampling); }

  async prefill(c: PrefillChunk): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        return await this.prefillOnce(c);
      } catch (e) {
        if (!(e instanceof AttentionLost) || tries >= MAX_RETRIES) throw e;
        // The chunk's sequence lost its cache: place it again, rebuild the chunks before this one, retry this one.
        await this.recover(e.seqs, () => this.promptOf(c.b, c.p0));
      }
    }
  }

  /** The prompt tokens of slot b before position end (kept while it prefills, for a rebuild). */
  private readonly prompts = new Map<number, number[]>();
  private promptOf(b: number, end: number): number[] { return (this.prompts.get(b) ?? []).slice(0, end); }

  private async prefillOnce(c: PrefillChunk): Promise<void> {
    const m = this.model, s = m.state;
    await this.placement?.beforePrefillChunk?.(m, c);
    const prog = m.prefill(c.n, c.b);
    if (c.p0 === 0) this.prompts.set(c.b, []);
    const seen = this.prompts.get(c.b)!;
    if (seen.length === c.p0) seen.push(...c.ids);
    this.gpu.write(s.rows, c.rows);
    this.gpu.write(s.ids, c.ids);
    for (const a of prog.attn) a.set(c.b, c.p0);
    prog.tail?.attn.set(c.b, c.p0);
    const local = prog.attn.length ? localAttention(prog.attn.map((a) => a.steps)) : null;
    const hooks = this.placement?.prefillHooks ? await this.placement.prefillHooks(m, c, local) : local;
    if (!hooks) throw new Error(`sequence ${c.b} has no cache on this device and no placement runs its attention`);
    // Local attention never waits: submit a layer's worth of launches at a time (the GPU starts while the rest encode).
    const rec = new Recorder(this.gpu, hooks === local ? PREFILL_SUBMIT_STEPS : Infinity);
    rec.record(...prog.embed);
    // The last layer past its K/V only for the rows whose output is used, and only in the prompt's last chunk.
    if (hooks.cacheLocal && prog.tail) await runLayersWithTail(prog.layers, prog.tail, hooks, rec, c.last);
    else await runLayers(prog.layers, hooks, rec);
    if (c.last) rec.record(m.keepLast(c.n, c.b));
    rec.submit();
    await this.placement?.afterPrefillChunk?.(m, c);
  }

  /** Place lost sequences again and rebuild their caches from their tokens (chunked prefills, nothing kept). */
  private async recover(seqs: readonly number[], tokensOf: (b: number) => number[]): Promise<void> {
    await this.placement!.replace!(this.model, seqs);
    const chunk = this.model.batch.chunk;
    for (const b of seqs) {
      const tokens = tokensOf(b);
      for (const c of prefillChunks([tokens], chunk, [b])) await this.prefillOnce({ ...c, last: false });
    }
  }

  async sampleFirst(buf: number, keep: readonly number[] = [], firstAt?: Uint32Array): Promise<void> {
    this.model.setStep(0);
    this.model.setDraws(firstAt ?? null);
    this.gpu.submit([...this.model.firstTokenSteps(keep), this.model.readbackStep(buf)]);
  }

  async afterPrefill(promptLengths: readonly number[]): Promise<void> {
    await this.placement?.afterPrefill?.(this.model, promptLengths);
  }

  async decode(input: DecodeStepInput, buf: number): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        return await this.decodeOnce(input, buf);
      } catch (e) {
        if (!(e instanceof AttentionLost) || tries >= MAX_RETRIES) throw e;
        // Nothing of this step was sampled: rebuild the lost caches, then run the whole step again (the cache
        // writes of the first try land on the same positions with the same values).
        await this.recover(e.seqs, input.history);
      }
    }
  }

  private async decodeOnce(input: DecodeStepInput, buf: number): Promise<void> {
    const m = this.model;
    m.setStep(input.step);
    m.setDrawsFromRows(input.keyed ? input.rows : null);
    let hooks = this.placement ? await this.placement.decodeHooks(m, input, m.splitPoint) : null;
    // All on this device: only the rows up to the last busy slot (a server's batch is rarely full).
    const rows = hooks ? m.slots : m.busyRows(input.lengths);
    const prog = m.decodeRows(rows);
    if (!hooks) {
      m.setRows(input.rows);
      m.setLengths(input.lengths);
      hooks = [localAttention(decodeLaunches(prog.plans))];
    }
    const rec = new Recorder(this.gpu);
    rec.record(...prog.embed);
    if (hooks.length === 1) {
      await runLayers(prog.layers, hooks[0]!, rec);
    } else {
      // Ping-pong: the micro-batches run side by side; while one waits for the pool the other's layers go on.
      rec.submit();
      const halves = m.decodeHalves();
      const runs = await Promise.allSettled(halves.map(async (h, i) => {
        const r = new Recorder(this.gpu);
        await runLayers(h.layers, hooks[i]!, r);
        r.submit();
      }));
      const failed = runs.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed) throw failed.reason; // both have stopped: a retry may reuse the buffers
    }
    // The last layer's down projection wrote the head's xn where it could (in every program that ran).
    const normed = (hooks.length === 1 ? [prog] : m.decodeHalves()).every((p) => p.layers.at(-1)?.xnNext === true);
    rec.record(...m.headRows(rows, normed).steps, m.readbackStep(buf, rows));
    rec.submit();
  }

  readTokens(buf: number): Promise<Uint32Array> { return this.model.readTokens(buf); }

  async precompile(shape: BatchShape, sampling: SamplingParams, chunks: readonly number[]): Promise<void> {
    const m = this.model;
    m.prepare(shape, sampling);
    for (const n of chunks) m.prefill(n, 0);
    for (const n of m.rowClasses()) {
      m.decodeRows(n);
      if (m.hasHead) m.headRows(n);
    }
    if (m.hasHead) m.firstTokenSteps();
  }

  /** Every launch of one all-local decode step, in order, by the part of the step it belongs to (kernel profiles). */
  decodeParts(): DecodePart[] {
    const m = this.model, prog = m.decode();
    const attn = decodeLaunches(prog.plans);
    return [...layerParts(prog.embed, prog.layers, attn), { part: 'head', layer: null, steps: m.headRows(m.slots, prog.layers.at(-1)?.xnNext === true).steps }];
  }

  /** Every launch of one all-local decode step, in order (kernel profiles). */
  decodeLaunches(): Step[] { return this.decodeParts().flatMap((p) => p.steps); }

  /**
   * Every launch of prefill chunk [p0, p0 + tokens) of sequence 0 on this device, by part (kernel profiles), as a
   * local prefill runs it (the last layer past its K/V only in the prompt's `last` chunk, for its tail rows): its
   * attention is pointed at that chunk; the rows' positions are whatever the last chunk left (rope costs the same).
   */
  prefillParts(tokens: number, p0: number, last = true): DecodePart[] {
    const prog = this.model.prefill(tokens, 0);
    if (prog.attn.length !== prog.layers.length) throw new Error('prefillParts: sequence 0 has no cache on this device');
    for (const a of prog.attn) a.set(0, p0);
    prog.tail?.attn.set(0, p0);
    const layers = [...prog.layers], attn = prog.attn.map((a) => a.steps), t = prog.tail, l = layers.length - 1;
    if (t) {
      layers[l] = { pre: layers[l]!.pre, oProj: last ? t.oProj : [], ffn: last ? t.ffn : [], xnNext: false };
      attn[l] = last ? t.attn.steps : [];
    }
    return layerParts(prog.embed, layers, attn);
  }

  async readLogits(): Promise<Float32Array> { return await this.model.readLogits(); }

  async finish(): Promise<void> {
    await this.gpu.sync();
    await this.placement?.finish?.(this.model);
  }

  sync(): Promise<void> { return this.gpu.sync(); }

  async freeSlot(b: number): Promise<void> { await this.placement?.freeSlot?.(this.model, b); }

  get gpuBytes(): number { return this.gpu.liveBytes; }
  get gpuPeakBytes(): number { return this.gpu.peakBytes; }
  resetGpuPeak(): void { this.gpu.resetPeak(); }

  dispose(): void { this.model.dispose(); }
}
