// Batched generation on one device: chunked prefill per sequence, then decode steps for the whole batch
// with GPU-resident sampling. Every launch is prepared once; a decode step only writes uniforms and two
// tiny row tables, so nothing is allocated per token. Token read-back is double-buffered: step t+1 runs
// on the GPU while the CPU reads step t's tokens.
import { cast } from '../kernels/elementwise.js';
import { sampler as makeSampler, type Sampler, type SamplingParams } from '../kernels/sampling.js';
import { InputError, copyStep, sliceRows, type DType, type Gpu, type Step, type Tensor } from '../gpu/index.js';
import type { DecodePlan } from '../kernels/attention.js';
import type { ModelConfig } from './config.js';
import { DecodeBatch, generationMetrics } from './decode-batch.js';
import {
  decodeAttention, embedSteps, headSteps, keepLastRow, postAttention, preAttention, prefillAttention, type PrefillAttention,
} from './decoder.js';
import {
  allocKvCache, allocRunState, releaseKvCache, releaseRunState, stepViews, type KvCache, type RunState,
} from './run-state.js';
import type { Weights } from './weights.js';

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingParams;
  /** Stop a sequence when it emits this token (not counted as output). */
  eosId?: number;
  /** Prompt rows per prefill launch (bounds activation memory). */
  prefillChunk?: number;
  onToken?: (seq: number, token: number, step: number) => void;
  onPrefill?: (doneTokens: number, totalTokens: number) => void;
  /** Read back the logits that chose each sequence's first token (fidelity checks). */
  captureLogits?: boolean;
}

export interface GenerateResult {
  tokens: number[][];
  inputTokens: number;
  outputTokens: number;
  prefillMs: number;  // time to first token of the whole batch (TTFT)
  decodeMs: number;
  totalMs: number;
  /** Paper metrics: TPOT = generation time ÷ output tokens; TPS = (input + output) ÷ total time. */
  tpotMs: number;
  tps: number;
  gpuBytes: number;
  /** [batch][vocab] logits of the last prompt position, when captureLogits was set. */
  firstLogits?: Float32Array[];
}

interface PrefillProgram { steps: Step[]; attn: PrefillAttention[]; }

/** Prepared prefill launch lists kept (one per chunk length: the full chunk and recent ragged tails). */
const PREFILL_PROGRAM_CACHE = 8;

/** The prepared launches of one decode step, by segment, so an executor can run attention elsewhere. */
export interface DecodeProgram {
  embed: Step[];
  layers: { pre: Step[]; plan: DecodePlan; post: Step[] }[];
  head: Step[];       // final norm, LM head, sampling
  sampler: Sampler;
  all: Step[];        // embed + layers + head, for one submission
}

/** What one decode step needs: the row table and lengths to upload, and where the tokens go. */
export interface DecodeStepInput {
  step: number;
  rows: Uint32Array;     // [B, 2] (slot, position) of each new token; position = capacity for a finished row
  lengths: Uint32Array;  // [B] cache entries after this token; 0 for a finished row
  readback: Step;        // copy of the sampled ids to the CPU
}

/**
 * How a decode step is executed. The default submits the whole step in one command buffer; the FA Pool
 * executor runs layer by layer and sends the attention of long sequences to the pool.
 */
export interface DecodeExecutor {
  /** After prefill, before the first decode step: place sequences (e.g. move long ones' KV to the pool). */
  afterPrefill?(g: GeneratorInternals, promptLengths: readonly number[]): Promise<void>;
  decodeStep(g: GeneratorInternals, input: DecodeStepInput): Promise<void>;
  /** Called when generate() ends (free remote state). */
  finish?(g: GeneratorInternals): Promise<void>;
}

/** The generator's buffers and launches, as an executor sees them. */
export interface GeneratorInternals {
  gpu: Gpu; cfg: ModelConfig; dtype: DType; state: RunState; kv: KvCache; program: DecodeProgram;
  slots: number; capacity: number;
}

/**
 * Check a batch of prompts against the model (non-empty, ids in the vocabulary, within the context) and size
 * its buffers: slots, KV capacity (rounded to 16) and prefill chunk. Shared by every generator.
 */
export function batchShape(cfg: ModelConfig, prompts: readonly (readonly number[])[], o: Pick<GenerateOptions, 'maxNewTokens' | 'prefillChunk'>): { B: number; capacity: number; chunk: number } {
  if (prompts.length === 0) throw new InputError('generate: no prompts');
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new InputError(`prompt ${i} is empty`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new InputError(`prompt ${i}: token ${id} outside the vocabulary (0..${cfg.vocab - 1})`);
    if (p.length + o.maxNewTokens > cfg.maxSeq) {
      throw new InputError(`prompt ${i} has ${p.length} tokens; with ${o.maxNewTokens} new tokens that exceeds the model's context of ${cfg.maxSeq}`);
    }
  }
  const maxLen = prompts.reduce((m, p) => Math.max(m, p.length), 0); // no spread: a huge batch must not overflow the stack
  return {
    B: prompts.length,
    capacity: Math.ceil((maxLen + o.maxNewTokens) / 16) * 16,
    chunk: Math.max(1, Math.min(o.prefillChunk ?? 2048, maxLen)),
  };
}

/** One prefill launch: rows [p0, p0+n) of sequence b, with its (slot, position) table and token ids filled in. */
export interface PrefillChunk { b: number; p0: number; n: number; last: boolean; rows: Uint32Array; ids: Uint32Array }

/** Walk a batch's prompts in prefill chunks (sequence by sequence); the row table is one reused array. */
export function* prefillChunks(prompts: readonly (readonly number[])[], chunk: number): IterableIterator<PrefillChunk> {
  const rowsHost = new Uint32Array(chunk * 2);
  for (let b = 0; b < prompts.length; b++) {
    const p = prompts[b]!;
    for (let p0 = 0; p0 < p.length; p0 += chunk) {
      const n = Math.min(chunk, p.length - p0);
      for (let i = 0; i < n; i++) { rowsHost[2 * i] = b; rowsHost[2 * i + 1] = p0 + i; }
      yield { b, p0, n, last: p0 + n === p.length, rows: rowsHost.subarray(0, 2 * n), ids: Uint32Array.from(p.slice(p0, p0 + n)) };
    }
  }
}

export const singleDeviceExecutor: DecodeExecutor = {
  async decodeStep({ gpu, state, program }, input) {
    gpu.write(state.rows, input.rows);
    gpu.write(state.lengths, input.lengths);
    const maxLen = Math.max(...input.lengths);
    for (const l of program.layers) l.plan.update(maxLen);
    gpu.submit([...program.all, input.readback]);
  },
};

export class Generator {
  private state: RunState | null = null;
  private kv: KvCache | null = null;
  private logitsAct: Tensor | null = null;
  private readonly prefillPrograms = new Map<number, PrefillProgram>();
  private decodeProgram: DecodeProgram | null = null;
  private readBufs: GPUBuffer[] = [];
  private slots = 0;
  private capacity = 0;
  private maxTokens = 0;

  constructor(readonly gpu: Gpu, readonly cfg: ModelConfig, readonly weights: Weights, readonly dtype: DType,
    readonly executor: DecodeExecutor = singleDeviceExecutor) {}

  private internals(): GeneratorInternals {
    return { gpu: this.gpu, cfg: this.cfg, dtype: this.dtype, state: this.state!, kv: this.kv!, program: this.decodeProgram!, slots: this.slots, capacity: this.capacity };
  }

  /** (Re)build buffers and launches for a batch shape; reused while the shape fits. */
  private prepare(slots: number, capacity: number, maxTokens: number): void {
    if (this.state && slots === this.slots && capacity <= this.capacity && maxTokens <= this.maxTokens) return;
    this.releaseBuffers();
    const { gpu, cfg, dtype } = this;
    this.slots = slots; this.capacity = capacity; this.maxTokens = Math.max(maxTokens, slots);
    try {
      this.state = allocRunState(gpu, cfg, dtype, this.maxTokens, slots);
      this.kv = allocKvCache(gpu, cfg, dtype, slots, capacity);
      this.logitsAct = dtype === 'f32' ? null : gpu.tensor([slots, cfg.vocab], dtype, 'logits_act');
      this.readBufs = [0, 1].map((i) => gpu.createBuffer(slots * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `tokens_readback${i}`));
    } catch (e) {
      this.releaseBuffers(); // a batch too large for the device (LimitError) leaves nothing allocated
      this.slots = 0;
      throw e;
    }
  }

  private head(x: Tensor, xn: Tensor): Step[] {
    const s = this.state!;
    const logits = this.logitsAct ?? s.logits;
    const steps: Step[] = headSteps(this.gpu, this.cfg, this.weights, x, xn, logits);
    if (this.logitsAct) steps.push(cast(this.gpu, { x: this.logitsAct, out: s.logits }));
    return steps;
  }

  private prefillProgram(tokens: number): PrefillProgram {
    let p = this.prefillPrograms.get(tokens);
    if (p) {
      // Most recently used last: a server that sees many prompt lengths keeps a bounded cache.
      this.prefillPrograms.delete(tokens);
      this.prefillPrograms.set(tokens, p);
      return p;
    }
    if (this.prefillPrograms.size >= PREFILL_PROGRAM_CACHE) {
      const [oldest, old] = this.prefillPrograms.entries().next().value as [number, PrefillProgram];
      for (const st of old.steps) if ('release' in st) st.release();
      this.prefillPrograms.delete(oldest);
    }
    const { gpu, cfg, weights } = this;
    const s = this.state!, kv = this.kv!;
    const v = stepViews(s, tokens);
    const steps: Step[] = embedSteps(gpu, cfg, weights, sliceRows(s.ids, 0, tokens), v.x);
    const attn: PrefillAttention[] = [];
    weights.layers.forEach((w, l) => {
      const a = prefillAttention(gpu, v, kv, l, tokens);
      attn.push(a);
      steps.push(...preAttention(gpu, cfg, w, v, kv.k[l]!, kv.v[l]!), ...a.steps, ...postAttention(gpu, cfg, w, v));
    });
    p = { steps, attn };
    this.prefillPrograms.set(tokens, p);
    return p;
  }

  private buildDecode(params: SamplingParams): DecodeProgram {
    const { gpu, cfg, weights } = this;
    const s = this.state!, kv = this.kv!, B = this.slots;
    const v = stepViews(s, B);
    const embed: Step[] = embedSteps(gpu, cfg, weights, s.nextIds, v.x);
    const layers = weights.layers.map((w, l) => ({
      pre: preAttention(gpu, cfg, w, v, kv.k[l]!, kv.v[l]!),
      plan: decodeAttention(gpu, v, kv, l, s.lengths),
      post: postAttention(gpu, cfg, w, v),
    }));
    const sampler = makeSampler(gpu, { logits: s.logits, out: s.nextIds, params });
    const head = [...this.head(v.x, v.xn), sampler.dispatch];
    const all = [...embed, ...layers.flatMap((l) => [...l.pre, ...l.plan.dispatches, ...l.post]), ...head];
    return { embed, layers, head, sampler, all };
  }

  async generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    const { gpu, cfg } = this;
    const { B, capacity, chunk } = batchShape(cfg, prompts, o);
    this.prepare(B, capacity, chunk);
    const s = this.state!;
    const t0 = performance.now();

    // ---- prefill: each sequence in chunks; its last row goes to lastHidden[slot]
    const inputTokens = prompts.reduce((a, p) => a + p.length, 0);
    let done = 0;
    for (const c of prefillChunks(prompts, chunk)) {
      const prog = this.prefillProgram(c.n);
      gpu.write(s.rows, c.rows);
      gpu.write(s.ids, c.ids);
      for (const a of prog.attn) a.set(c.b, c.p0);
      const steps = [...prog.steps];
      if (c.last) steps.push(keepLastRow(s.x, c.n - 1, s.lastHidden, c.b));
      gpu.submit(steps);
      done += c.n;
      if (o.onPrefill) { await gpu.sync(); o.onPrefill(done, inputTokens); }
    }

    // ---- first tokens: head over lastHidden, then decode steps for the whole batch
    this.decodeProgram ??= this.buildDecode(o.sampling);
    const dec = this.decodeProgram;
    dec.sampler.setParams(o.sampling);
    const batch = new DecodeBatch(prompts, o, this.capacity);

    let step = 0;
    dec.sampler.setStep(step);
    const first: Step[] = [copyStep(s.lastHidden, 0, s.x, 0, B * cfg.hidden), ...dec.head];
    first.push(this.readbackStep(0));
    gpu.submit(first);
    await this.collect(0, batch, step);
    await this.executor.afterPrefill?.(this.internals(), prompts.map((p) => p.length));
    const tFirst = performance.now();
    let firstLogits: Float32Array[] | undefined;
    if (o.captureLogits) {
      const all = await gpu.read(s.logits) as Float32Array;
      firstLogits = prompts.map((_, b) => all.slice(b * cfg.vocab, (b + 1) * cfg.vocab));
    }

    // A step is submitted while any sequence wants more; its tokens are read while the next one runs.
    let pending = -1; // the step computing on the GPU whose tokens are not read yet
    for (;;) {
      let submitted = -1;
      if (batch.next()) {
        step++;
        dec.sampler.setStep(step);
        await this.executor.decodeStep(this.internals(), { step, rows: batch.rows, lengths: batch.lengths, readback: this.readbackStep(step % 2) });
        submitted = step;
      }
      if (pending >= 0) await this.collect(pending % 2, batch, pending);
      if (submitted < 0) break;
      pending = submitted;
    }
    await gpu.sync();
    await this.executor.finish?.(this.internals());
    const tEnd = performance.now();
    return {
      ...generationMetrics(batch.out, inputTokens, t0, tFirst, tEnd),
      gpuBytes: gpu.liveBytes,
      firstLogits,
    };
  }

  private readbackStep(i: number): Step {
    const s = this.state!;
    return { copy: { src: s.nextIds.buffer, srcOffset: s.nextIds.offset, dst: this.readBufs[i]!, dstOffset: 0, size: this.slots * 4 } };
  }

  /** Read the tokens of `step` (buffer i) and record them for the sequences still generating. */
  /** Read the tokens of `step` (read-back buffer i) into the batch. */
  private async collect(i: number, batch: DecodeBatch, step: number): Promise<void> {
    const buf = this.readBufs[i]!;
    await this.gpu.mapRead(buf); // a lost device → DeviceLostError, not a bare AbortError
    const ids = new Uint32Array(buf.getMappedRange().slice(0));
    buf.unmap();
    this.gpu.throwIfError();
    batch.record(ids, step);
  }

  private releaseBuffers(): void {
    const gpu = this.gpu;
    for (const p of this.prefillPrograms.values()) for (const st of p.steps) if ('release' in st) st.release();
    this.prefillPrograms.clear();
    if (this.decodeProgram) {
      for (const st of this.decodeProgram.all) if ('release' in st) st.release();
      for (const l of this.decodeProgram.layers) l.plan.release();
      this.decodeProgram = null;
    }
    if (this.state) releaseRunState(gpu, this.state);
    if (this.kv) releaseKvCache(gpu, this.kv);
    gpu.release(this.logitsAct ?? undefined, ...this.readBufs);
    this.state = null; this.kv = null; this.logitsAct = null; this.readBufs = [];
  }

  dispose(): void { this.releaseBuffers(); }
}
