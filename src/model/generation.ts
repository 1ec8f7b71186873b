// The generation loop, once for every strategy: chunked prefill of each prompt, the first tokens, then decode
// steps for the whole batch until every sequence is done, with the next step's GPU work overlapping the read-back
// of the previous step's tokens. A strategy (one device, FA Pool, static TP × PP) is a ForwardExecutor: it says
// how a prefill chunk and a decode step run; this file owns the order, the bookkeeping and the paper's metrics.
import { InputError, shown, type DType } from '../gpu/index.js';
import { NONFINITE_ID, nonFiniteLogits, type SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from './config.js';
import { tensorLimit, type BindingLimits } from './load-weights.js';
import { ReadPacer } from './read-pacer.js';
import { NO_POSITION } from './run-state.js';
import { qkvRows } from './weights.js';

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingParams;
  /** Stop a sequence when it emits one of these tokens (not counted as output): EOS, and what the checkpoint adds. */
  eosIds?: readonly number[];
  /** Prompt rows per prefill launch (bounds activation memory; default PREFILL_CHUNK_MIN — the Engine picks its own). */
  prefillChunk?: number;
  onToken?: (seq: number, token: number, step: number) => void;
  onPrefill?: (doneTokens: number, totalTokens: number) => void;
  /** Read back the logits that chose each sequence's first token (fidelity checks). */
  captureLogits?: boolean;
  /** A sequence for which this says true gets no more tokens (a cancelled request, a stop string seen). */
  isStopped?: (seq: number) => boolean;
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
  /** The most GPU memory this device held during the generation (a prompt's transient cache included), where known. */
  gpuPeakBytes?: number;
  /** [batch][vocab] logits of the last prompt position, when captureLogits was set. */
  firstLogits?: Float32Array[];
}

/** Buffer sizes of a batch: slots (sequences), each one's prompt length and KV capacity, rows per prefill launch. */
export interface BatchShape { B: number; promptLengths: number[]; capacities: number[]; chunk: number }

/**
 * One prefill launch: rows [p0, p0+n) of sequence b, with its (slot, position) table and token ids filled in.
 * `end`: the chunk that ends what is prefilled of b now (its prompt, or a rebuilt cache's tokens); `last`: its
 * last row is kept for the first token (the prompt's end, not a rebuild's).
 */
export interface PrefillChunk { b: number; p0: number; n: number; end: boolean; last: boolean; rows: Uint32Array; ids: Uint32Array }

/** What one decode step needs: the row table and lengths to upload. */
export interface DecodeStepInput {
  step: number;
  rows: Uint32Array;     // [B, 2] (slot, position) of each new token; position = NO_POSITION for a finished row
  lengths: Uint32Array;  // [B] cache entries after this token; 0 for a finished row
  /** The tokens already in sequence b's cache, when it must be rebuilt: its prompt and its outputs before this step's input. */
  history(b: number): number[];
  /**
   * Each row draws by the position of the token it samples (rows[2b+1] + 1), not by step and slot: a request's draws are
   * its own (continuous batching), so a seeded request gives the same tokens alone or among others.
   */
  keyed?: boolean;
}

/** How a strategy runs the model: the generation loop drives it. */
export interface ForwardExecutor {
  readonly cfg: ModelConfig;
  /** (Re)build buffers and launches for a batch shape; reused while the shape fits. */
  prepare(shape: BatchShape, sampling: SamplingParams): void | Promise<void>;
  /** Run a prefill chunk; when it is the sequence's last, keep its last row for the first token. */
  prefill(c: PrefillChunk): Promise<void>;
  /**
   * Sample every sequence's first token from its kept row into read-back buffer `buf` (submitted); the slots
   * in `keep` (already decoding) keep their next input. firstAt [B]: keyed draws (DecodeStepInput.keyed), each slot's
   * prompt length (the position of the token it samples; 0 where it samples none).
   */
  sampleFirst(buf: number, keep?: readonly number[], firstAt?: Uint32Array): Promise<void>;
  /** After the first tokens, before the first decode step (the pool places long sequences here). */
  afterPrefill?(promptLengths: readonly number[]): Promise<void>;
  /** One decode step of the whole batch; its sampled tokens go to read-back buffer `buf` (submitted). */
  decode(input: DecodeStepInput, buf: number): Promise<void>;
  /** The tokens of read-back buffer `buf`, once its step is done. */
  readTokens(buf: number): Promise<Uint32Array>;
  /** [B·vocab] logits of the last sampled step (captureLogits). */
  readLogits(): Promise<Float32Array>;
  /** Wait until the submitted work is done (progress reports). */
  sync(): Promise<void>;
  /** A slot's sequence is done (continuous batching): free what it holds elsewhere before the slot is reused. */
  freeSlot?(b: number): Promise<void>;
  /** When generation ends: wait for the GPU work, free remote state. */
  finish?(): Promise<void>;
  /**
   * Build, without running them, the launches of a batch of this shape: prefill chunks of each size in `chunks` (≤ shape.chunk)
   * and the decode step; every pipeline they need is compiled now (at load) rather than on the first request.
   */
  precompile?(shape: BatchShape, sampling: SamplingParams, chunks: readonly number[]): Promise<void>;
  /** Bytes of GPU memory in use (all devices). */
  readonly gpuBytes: number;
  /** The most bytes in use on this device since resetGpuPeak (where the executor tracks it). */
  readonly gpuPeakBytes?: number;
  resetGpuPeak?(): void;
}

/**
 * Prefill chunks (rows), largest first, that defaultPrefillChunk picks from. Larger chunks give the attention more
 * query blocks per launch (H200, seed-4l f16, warm TTFT at 32K: 2048 rows 924–988 ms, 8192 880–895, 16384 842–846;
 * 4K in one chunk of 4096: 56.3 ms against 57.3–58.1 in two; kernels-bench/NOTES.md, session 14).
 */
export const PREFILL_CHUNKS: readonly number[] = [16384, 8192, 4096, 2048];
/** The smallest of them: the chunk of a request that names none on an engine of several devices, and of generate(). */
export const PREFILL_CHUNK_MIN = PREFILL_CHUNKS[PREFILL_CHUNKS.length - 1]!;

/** Elements a row of a prefill chunk's widest activation (the QKV or FFN output, …). */
export function activationWidth(cfg: ModelConfig): number {
  return Math.max(cfg.hidden, qkvRows(cfg), cfg.nHeads * cfg.headDim, cfg.ffn);
}

/**
 * The prefill chunk of one device holding the model when none is asked for: the largest of PREFILL_CHUNKS whose
 * widest activation takes at most half of a storage binding (the smaller of the device's binding and buffer limits),
 * else PREFILL_CHUNK_MIN (which checkRunFits and the tensor allocation check against the whole limit). Activation
 * memory grows with it: ≈ 1.4 GiB for seed-4l f16 at 16384 rows, 0.18 at 2048.
 */
export function defaultPrefillChunk(cfg: ModelConfig, dtype: DType, limits: BindingLimits): number {
  const rowBytes = activationWidth(cfg) * (dtype === 'f16' ? 2 : 4);
  return PREFILL_CHUNKS.find((rows) => rows * rowBytes <= tensorLimit(limits) / 2) ?? PREFILL_CHUNK_MIN;
}

/**
 * Throws InputError unless `v` is a positive integer (with `orInfinity`, Infinity too: "no bound"). A count that is
 * 0, negative, fractional or NaN made buffers of that size (a ShapeError deep in a kernel) or ran a silently different
 * generation (1.5 new tokens gave 2).
 */
export function checkCount(name: string, v: unknown, orInfinity = false): asserts v is number {
  if (Number.isSafeInteger(v) && (v as number) >= 1) return;
  if (orInfinity && v === Infinity) return;
  // 2^64 is an integer: "must be a positive integer" read as wrong for it.
  const past = Number.isInteger(v) && (v as number) > Number.MAX_SAFE_INTEGER ? ' of at most 2^53 − 1' : '';
  throw new InputError(`${name} must be a positive integer${past}${orInfinity ? ' (or Infinity)' : ''}, got ${shown(v)}`);
}

/**
 * Check a batch of prompts against the model (non-empty, ids in the vocabulary, within the context) and size
 * its buffers: slots, each slot's KV capacity (its prompt and new tokens, rounded to 16) and prefill chunk.
 */
export function batchShape(cfg: ModelConfig, prompts: readonly (readonly number[])[], o: Pick<GenerateOptions, 'maxNewTokens' | 'prefillChunk'>): BatchShape {
  checkCount('maxNewTokens', o.maxNewTokens);
  if (o.prefillChunk !== undefined) checkCount('prefillChunk', o.prefillChunk, true);
  if (prompts.length === 0) throw new InputError('generate: no prompts');
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new InputError(`prompt ${i} is empty`);
    // The last new token is never fed back, so it needs no cache entry. (Checked before the ids: a huge prompt is not scanned.)
    if (p.length + o.maxNewTokens - 1 > cfg.maxSeq) {
      throw new InputError(`prompt ${i} has ${p.length} tokens; with ${o.maxNewTokens} new tokens that exceeds the model's context of ${cfg.maxSeq}`);
    }
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new InputError(`prompt ${i}: token ${shown(id)} outside the vocabulary (0..${cfg.vocab - 1})`);
  }
  const maxLen = prompts.reduce((m, p) => Math.max(m, p.length), 0); // no spread: a huge batch must not overflow the stack
  return {
    B: prompts.length,
    promptLengths: prompts.map((p) => p.length),
    capacities: prompts.map((p) => Math.ceil((p.length + o.maxNewTokens) / 16) * 16),
    chunk: Math.max(1, Math.min(o.prefillChunk ?? PREFILL_CHUNK_MIN, maxLen)),
  };
}

/** The distinct prefill chunk sizes that prompts of these lengths are cut into (full chunks, then each remainder). */
export function chunkSizes(promptLengths: readonly number[], chunk: number): number[] {
  const sizes = new Set<number>();
  for (const n of promptLengths) {
    if (n >= chunk) sizes.add(chunk);
    if (n % chunk) sizes.add(n % chunk);
  }
  return [...sizes].sort((a, b) => b - a);
}

/**
 * Walk prompts in prefill chunks, sequence by sequence (prompt i in slot slots[i], default i); the row table is
 * one reused array.
 */
export function* prefillChunks(prompts: readonly (readonly number[])[], chunk: number, slots?: readonly number[]): IterableIterator<PrefillChunk> {
  const rowsHost = new Uint32Array(chunk * 2);
  for (let i = 0; i < prompts.length; i++) {
    const p = prompts[i]!, b = slots?.[i] ?? i;
    for (let p0 = 0; p0 < p.length; p0 += chunk) {
      const n = Math.min(chunk, p.length - p0);
      for (let r = 0; r < n; r++) { rowsHost[2 * r] = b; rowsHost[2 * r + 1] = p0 + r; }
      const end = p0 + n === p.length;
      yield { b, p0, n, end, last: end, rows: rowsHost.subarray(0, 2 * n), ids: Uint32Array.from(p.slice(p0, p0 + n)) };
    }
  }
}

/** The bookkeeping of a batch while it decodes: where each new token goes, who still wants tokens, the output. */
export class DecodeBatch {
  readonly out: number[][];
  /** [B, 2] (slot, position) of each row's new token; position = NO_POSITION for a finished row. */
  readonly rows: Uint32Array;
  /** [B] cache entries after this step's token; 0 for a finished row (it attends to nothing). */
  readonly lengths: Uint32Array;
  private readonly lens: number[];
  private readonly active: boolean[];
  /** Tokens of each sequence produced or in flight (the loop reads a step late). */
  private readonly scheduled: number[];

  constructor(prompts: readonly (readonly number[])[], private readonly o: GenerateOptions) {
    const B = prompts.length;
    this.out = prompts.map(() => []);
    this.rows = new Uint32Array(2 * B);
    this.lengths = new Uint32Array(B);
    this.lens = prompts.map((p) => p.length);
    this.active = prompts.map(() => true);
    this.scheduled = prompts.map(() => 0);
  }

  private live(b: number): boolean {
    return !this.stopped(b) && this.scheduled[b]! < this.o.maxNewTokens;
  }

  /** Sequence b takes no more tokens: an end of sequence, or isStopped (once true, for good). */
  private stopped(b: number): boolean {
    if (this.active[b] && this.o.isStopped?.(b)) this.active[b] = false;
    return !this.active[b];
  }

  /** Fill rows and lengths for the next decode step; false when no sequence wants another token. */
  next(): boolean {
    if (!this.out.some((_, b) => this.live(b))) return false;
    for (let b = 0; b < this.out.length; b++) {
      const on = this.live(b);
      this.rows[2 * b] = b;
      this.rows[2 * b + 1] = on ? this.lens[b]! : NO_POSITION;
      this.lengths[b] = on ? this.lens[b]! + 1 : 0;
      if (on) { this.lens[b]!++; this.scheduled[b]!++; }
    }
    return true;
  }

  /** Record the sampled ids of `step` for the sequences still generating (eos stops a sequence). */
  record(ids: Uint32Array, step: number): void {
    for (let b = 0; b < this.out.length; b++) {
      // A sequence stopped since this step was submitted (or before its first token) drops the token.
      if (this.stopped(b) || this.out[b]!.length >= this.o.maxNewTokens) continue;
      const id = ids[b]!;
      if (id === NONFINITE_ID) throw nonFiniteLogits(b, step);
      if (this.o.eosIds?.includes(id)) { this.active[b] = false; continue; }
      this.out[b]!.push(id);
      this.scheduled[b] = Math.max(this.scheduled[b]!, this.out[b]!.length);
      this.o.onToken?.(b, id, step);
    }
  }
}

/** Tokens the decode phase produced: each sequence's first token comes from its prefill (none where it ended at once). */
export function decodedTokens(out: readonly (readonly number[])[]): number {
  return out.reduce((a, t) => a + Math.max(0, t.length - 1), 0);
}

/**
 * The FA Pool paper's metrics: TPOT = generation time ÷ output tokens, where generation time is the decode
 * phase (first token to last) and its output the tokens it produced; TPS = (input + output) ÷ total time.
 */
export function generationMetrics(out: number[][], inputTokens: number, t0: number, tFirst: number, tEnd: number):
  Pick<GenerateResult, 'tokens' | 'inputTokens' | 'outputTokens' | 'prefillMs' | 'decodeMs' | 'totalMs' | 'tpotMs' | 'tps'> {
  const outputTokens = out.reduce((a, t) => a + t.length, 0);
  const prefillMs = tFirst - t0, totalMs = tEnd - t0, decodeMs = tEnd - tFirst;
  return {
    tokens: out, inputTokens, outputTokens, prefillMs, decodeMs, totalMs,
    // No decode phase (one token a sequence): 0, as submit()'s requests report it, not the read-back's time.
    tpotMs: decodedTokens(out) > 0 ? decodeMs / decodedTokens(out) : 0,
    tps: (inputTokens + outputTokens) / (totalMs / 1000),
  };
}

/** Generate for a batch of prompts with any strategy. */
export async function generate(ex: ForwardExecutor, prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
  const shape = batchShape(ex.cfg, prompts, o);
  await ex.prepare(shape, o.sampling);
  ex.resetGpuPeak?.();
  const t0 = performance.now();

  // ---- prefill: each sequence in chunks
  const inputTokens = prompts.reduce((a, p) => a + p.length, 0);
  let done = 0;
  // Every sequence stopped (a cancelled or abandoned stream, a disposed engine): no more prompts, no tokens.
  const allStopped = () => o.isStopped !== undefined && prompts.every((_, b) => o.isStopped!(b));
  for (const c of prefillChunks(prompts, shape.chunk)) {
    // Only between prompts: a prompt whose K/V streams to a pool is handed off whole.
    if (c.p0 === 0 && allStopped()) break;
    await ex.prefill(c);
    done += c.n;
    if (o.onPrefill) { await ex.sync(); o.onPrefill(done, inputTokens); }
  }

  // ---- first tokens, then decode steps for the whole batch
  const batch = new DecodeBatch(prompts, o);
  if (allStopped()) return stoppedEarly(ex, batch, inputTokens, t0);
  await ex.sampleFirst(0);
  batch.record(await ex.readTokens(0), 0);
  await ex.afterPrefill?.(prompts.map((p) => p.length));
  const tFirst = performance.now();
  let firstLogits: Float32Array[] | undefined;
  if (o.captureLogits) {
    const all = await ex.readLogits();
    firstLogits = prompts.map((_, b) => all.slice(b * ex.cfg.vocab, (b + 1) * ex.cfg.vocab));
  }

  // A step is submitted while any sequence wants more; its tokens are read while the next one runs.
  let step = 0;
  // Reads start shortly before a step is due (read-pacer.ts): this loop's steps follow each other without gaps, so
  // recent arrivals say when the next is due. (The server's scheduler interleaves prefills and idles: not paced.)
  const pacer = new ReadPacer();
  let pending = -1; // the step computing on the GPU whose tokens are not read yet
  // What sequence b's cache holds before this step: its prompt and outputs, up to (not with) the step's input token.
  const history = (b: number) => [...prompts[b]!, ...batch.out[b]!].slice(0, Math.max(0, batch.lengths[b]! - 1));
  for (;;) {
    let submitted = -1;
    if (batch.next()) {
      step++;
      await ex.decode({ step, rows: batch.rows, lengths: batch.lengths, history }, step % 2);
      submitted = step;
    }
    if (pending >= 0) {
      await pacer.untilDue();
      batch.record(await ex.readTokens(pending % 2), pending);
      pacer.arrived();
    }
    if (submitted < 0) break;
    pending = submitted;
  }
  await (ex.finish ? ex.finish() : ex.sync());
  const tEnd = performance.now();
  return { ...generationMetrics(batch.out, inputTokens, t0, tFirst, tEnd), gpuBytes: ex.gpuBytes, gpuPeakBytes: ex.gpuPeakBytes, firstLogits };
}

/** The result of a generation whose every sequence was stopped before its first token: the GPU idle, no tokens. */
async function stoppedEarly(ex: ForwardExecutor, batch: DecodeBatch, inputTokens: number, t0: number): Promise<GenerateResult> {
  await (ex.finish ? ex.finish() : ex.sync());
  const tEnd = performance.now();
  return { ...generationMetrics(batch.out, inputTokens, t0, tEnd, tEnd), gpuBytes: ex.gpuBytes, gpuPeakBytes: ex.gpuPeakBytes };
}
