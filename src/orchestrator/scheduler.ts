// Continuous batching: a stream of requests shares one decode batch of `maxBatch` slots. A request joins at the
// next step once a slot is free: its prompt is prefilled chunk by chunk between decode steps (one chunk per
// step, so running sequences keep streaming), its first token is sampled while the others keep their next
// input, and it leaves (its slot freed) when done, stopped or cancelled. Requests decode together only with
// the same sampling parameters (the sampler's parameters are per batch; any greedy ones count as alike); others
// wait for the batch to drain — and once one has waited FAIR_WAIT_STEPS decode steps, no later request joins the
// running batch before it, so a steady stream of one kind of request cannot hold another kind back for ever. A
// request cancelled while it waits leaves the queue at the next admission; one cancelled while its prompt is
// prefilled stops before its next chunk.
// Decode steps are pipelined: step s + 1 is submitted before step s's tokens are read (its inputs are step s's
// samples, already on the GPU), so the GPU does not wait for the host's read-back and encoding between steps. A
// sequence that turns out to have ended at step s (end of sequence, a stop) has its step-s+1 token dropped.
import { InputError, shown } from '../gpu/index.js';
import { NONFINITE_ID, nonFiniteLogits, samplesGreedily, type SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from '../model/config.js';
import { checkCount, prefillChunks, type BatchShape, type ForwardExecutor, type PrefillChunk } from '../model/generation.js';
import { NO_POSITION } from '../model/run-state.js';

/** One request as the scheduler runs it; the engine turns its callbacks into events. */
export interface ScheduledRequest {
  prompt: number[];
  maxTokens: number;
  sampling: SamplingParams;
  /**
   * Sampled without a seed: each batch such requests start draws from a new random seed (its `sampling.seed` is
   * ignored), so the same prompt alone gives new text each time; such requests still batch together.
   */
  freshSeed?: boolean;
  /** Tokens that end the request (not emitted): EOS, and what the checkpoint adds. */
  eosIds?: readonly number[];
  /** True once the request wants no more tokens (cancelled, a stop string seen). */
  isStopped(): boolean;
  /** Admitted into batch slot `slot` (per-slot statistics of the placement are indexed by it). */
  onStart(slot: number): void;
  onToken(token: number): void;
  onDone(reason: 'length' | 'eos' | 'stopped'): void;
  onError(e: unknown): void;
}

export interface SchedulerOptions {
  /** Slots of the shared decode batch (default 8). */
  maxBatch?: number;
  /** Cache positions per slot: the longest prompt + output a request may have (default: the model's context). */
  maxContext?: number;
  /** Prompt rows per prefill chunk (default 512): smaller keeps running sequences' steps closer together. */
  prefillChunk?: number;
}

/**
 * Throws InputError for options no schedule can run: a prefill chunk of 0 cut prompts into empty chunks for ever (a
 * hang), NaN sizes reached the buffers. The engine checks them when it is made, before any request.
 */
export function checkSchedule(o: SchedulerOptions): void {
  if (o.maxBatch !== undefined) checkCount('schedule.maxBatch', o.maxBatch);
  if (o.maxContext !== undefined) checkCount('schedule.maxContext', o.maxContext, true);
  if (o.prefillChunk !== undefined) checkCount('schedule.prefillChunk', o.prefillChunk);
}

interface Slot {
  req: ScheduledRequest;
  chunks: Iterator<PrefillChunk>;
  pending: PrefillChunk | null; // the next chunk to run (already taken from the iterator)
  prefilled: boolean;
  generated: number;            // tokens emitted
  inFlight: boolean;            // a submitted decode step will give it a token not read yet
  done: boolean;
}

/**
 * Greedy parameters all pick the argmax (the sampler's one greedy path), whatever their temperature, top-p or seed:
 * one key, so they share a batch (top_k 1 or temperature 1e-31 with a seed each ran as a batch per seed, one at a time).
 */
const paramsKey = (p: SamplingParams, seed: number | 'fresh' = p.seed) =>
  samplesGreedily(p) ? 'greedy' : `${p.temperature}/${p.topK}/${p.topP}/${seed}`;
/** Which requests may share a batch: equal sampling parameters (any greedy ones), or equal but for the seed where it is fresh. */
const batchKeyOf = (r: ScheduledRequest) => paramsKey(r.sampling, r.freshSeed ? 'fresh' : r.sampling.seed);

/** A u32 seed from the platform's random source (Node and browsers). */
const randomSeed = (): number => globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;

/**
 * Decode steps a request of another kind may wait while later requests still join the running batch (then the
 * batch drains for it). Longer keeps batches full under mixed traffic (each distinct seed is a kind of its own); a
 * step is 1–10 ms on a GPU, so this bounds the wait to a second or so beyond the batch's drain.
 */
export const FAIR_WAIT_STEPS = 256;

export class Scheduler {
  private readonly waiting: ScheduledRequest[] = [];
  private readonly slots: (Slot | null)[];
  private running: Promise<void> | null = null;
  private batchKey: string | null = null;
  private step = 0;
  /** The running batch draws by each token's position (a seeded batch), not by step and slot. */
  private keyed = false;
  /** The decode step submitted and not read yet: its read-back buffer. */
  private inFlight: { buf: number } | null = null;
  readonly maxBatch: number;
  readonly maxContext: number;
  readonly chunk: number;

  /** `lock` runs the loop exclusively on the executor (the engine's batch generations share it). */
  constructor(private readonly ex: ForwardExecutor, private readonly cfg: ModelConfig,
    private readonly lock: <T>(work: () => Promise<T>) => Promise<T>, o: SchedulerOptions = {}) {
    checkSchedule(o);
    this.maxBatch = o.maxBatch ?? 8;
    this.maxContext = Math.min(o.maxContext ?? cfg.maxSeq, cfg.maxSeq);
    // A chunk longer than the context fills no slot: precompileServing built a 512-row prefill against a 112-row cache
    // and serve failed to start under --max-context 100 (or a model's own short context, a Mistral window).
    this.chunk = Math.min(o.prefillChunk ?? 512, this.maxContext);
    this.slots = Array<Slot | null>(this.maxBatch).fill(null);
  }

  get queued(): number { return this.waiting.length; }

  /**
   * End the waiting requests that stopped (cancelled before a slot was free), now: left in the queue until the next
   * admission they counted as queued, and clients who were still there got 429 (queue full) behind them.
   */
  dropStopped(): void {
    for (let i = 0; i < this.waiting.length;) {
      const r = this.waiting[i]!;
      if (r.isStopped()) { this.waiting.splice(i, 1); r.onDone('stopped'); } else i++;
    }
  }
  get active(): number { return this.slots.filter((s) => s).length; }

  /** Check a request against the model and queue it; the loop starts if it is idle. */
  submit(req: ScheduledRequest): void {
    const n = req.prompt.length;
    if (n === 0) throw new InputError('the prompt is empty');
    for (const id of req.prompt) if (!Number.isInteger(id) || id < 0 || id >= this.cfg.vocab) throw new InputError(`token ${shown(id)} outside the vocabulary (0..${this.cfg.vocab - 1})`);
    if (n + req.maxTokens > this.maxContext) {
      throw new InputError(`prompt of ${n} tokens + ${req.maxTokens} new tokens exceeds the context of ${this.maxContext} tokens`);
    }
    this.waiting.push(req);
    this.queuedAt.set(req, this.steps);
    this.startLoop();
  }

  private startLoop(): void {
    this.running ??= this.lock(() => this.loop())
      // loop() ends its requests on any error it meets; a throw that still escapes fails the waiting ones, not the process.
      .catch((e: unknown) => { for (const r of this.waiting.splice(0)) r.onError(e); })
      .finally(() => { this.running = null; if (this.waiting.length) this.startLoop(); });
  }

  /** The sampling parameters (paramsKey) the executor's batch was prepared for; null: prepare before use. */
  private preparedKey: string | null = null;

  private get shape(): BatchShape {
    const B = this.maxBatch;
    return { B, promptLengths: Array<number>(B).fill(0), capacities: Array<number>(B).fill(Math.ceil(this.maxContext / 16) * 16), chunk: this.chunk };
  }

  private async prepare(sampling: SamplingParams): Promise<void> {
    await this.ex.prepare(this.shape, sampling);
    this.preparedKey = paramsKey(sampling);
  }

  /** Compile the launches of this schedule (full prefill chunks, a one-row chunk, the decode step) before any request. */
  async precompile(sampling: SamplingParams): Promise<void> {
    await this.ex.precompile?.(this.shape, sampling, [this.chunk, 1]);
  }

  /** Admit what fits; one prefill chunk; first tokens of the prompts just done; one decode step. Until idle. */
  private async loop(): Promise<void> {
    this.preparedKey = null; // the batch API may have prepared other shapes in between
    for (;;) {
      try {
        // Every request of the batch has ended (an end of sequence or a stop may come with the next token in flight):
        // the batch is over — its last step read and its slots freed — before anyone joins, who then starts a batch
        // of its own.
        if (this.slots.some((s) => s) && this.slots.every((s) => !s || s.done)) { await this.drain(); await this.release(); }
        if (this.slots.every((s) => !s)) {
          // A new batch starts its steps at 0 (its draws, unless keyed, depend on the seed, the step and the slot).
          this.batchKey = null;
          this.step = 0;
        }
        await this.admit();
        if (this.slots.every((s) => !s)) {
          if (this.waiting.length === 0) return;
          continue;
        }
        await this.prefillOne();
        await this.firstTokens();
        await this.decodeStep();
        await this.release();
      } catch (e) {
        this.inFlight = null;
        // A slot already done (its token may still have been in flight) has had its end: it is only freed.
        for (const [b, s] of this.slots.entries()) if (s) { if (!s.done) s.req.onError(e); this.slots[b] = null; }
        this.emitted.clear();
        this.batchKey = null;
        this.step = 0;
        return;
      }
    }
  }

  /** Decode steps submitted since the scheduler was made (never reset: the waits of FAIR_WAIT_STEPS count them). */
  private steps = 0;
  /** When (in `steps`) each waiting request was queued. */
  private readonly queuedAt = new WeakMap<ScheduledRequest, number>();

  private async admit(): Promise<void> {
    let blocked = false; // a request of another kind has waited FAIR_WAIT_STEPS: nobody later joins before it
    for (let i = 0; i < this.waiting.length;) {
      const req = this.waiting[i]!;
      if (req.isStopped()) { this.waiting.splice(i, 1); req.onDone('stopped'); continue; } // cancelled while it waited
      const key = batchKeyOf(req);
      const free = this.slots.indexOf(null);
      if (free < 0) return;
      if (this.batchKey !== null && key !== this.batchKey) {
        if (this.steps - (this.queuedAt.get(req) ?? this.steps) >= FAIR_WAIT_STEPS) blocked = true;
        i++;
        continue;
      }
      if (blocked) return;
      // A new batch with other sampling parameters (after the last one drained), or requests without a seed, prepares
      // the sampler for them. A failure there (a dead rank of a static placement) fails this request: left queued, it
      // would be retried at once for ever. Later requests of this kind join the batch as it is prepared.
      const sampling = this.batchKey === null && req.freshSeed ? { ...req.sampling, seed: randomSeed() } : req.sampling;
      if (this.batchKey === null && this.preparedKey !== paramsKey(sampling)) {
        let failed: unknown = null;
        try {
          await this.prepare(sampling);
        } catch (e) {
          failed = e ?? new Error('the sampler could not be prepared');
        }
        // The queue may have changed while the sampler was prepared (dropStopped): find the request again.
        i = this.waiting.indexOf(req);
        if (i < 0) { i = 0; continue; }
        if (failed !== null) { this.waiting.splice(i, 1); req.onError(failed); continue; }
      }
      // A seeded batch draws by each token's position (keyed): a request's tokens do not depend on its slot, on when it
      // joined, nor on who else runs (it gave other text beside another request of its seed than alone). Unseeded
      // batches draw by step and slot, so two alike requests in one batch still differ.
      if (this.batchKey === null) this.keyed = !req.freshSeed && !samplesGreedily(req.sampling);
      this.batchKey = key;
      this.waiting.splice(i, 1);
      const chunks = prefillChunks([req.prompt], this.chunk, [free]);
      this.slots[free] = { req, chunks, pending: chunks.next().value ?? null, prefilled: false, generated: 0, inFlight: false, done: false };
      this.emitted.set(free, []);
      req.onStart(free);
    }
  }

  /** One chunk of one prompt (the first slot still prefilling). */
  private async prefillOne(): Promise<void> {
    // A request cancelled while its prompt is prefilled ends now, its slot freed at this step's release: its other
    // chunks ran for nobody (a client that sent a long prompt and left still cost the whole prefill, one chunk a step).
    for (const x of this.slots) if (x && !x.prefilled && !x.done && x.req.isStopped()) { x.done = true; x.req.onDone('stopped'); }
    const s = this.slots.find((x) => x && !x.done && !x.prefilled && x.pending);
    if (!s || !s.pending) return;
    const c = s.pending;
    await this.ex.prefill(c);
    const next = s.chunks.next();
    s.pending = next.done ? null : next.value;
    if (!s.pending) s.prefilled = true;
  }

  /** Sample the first token of slots whose prompt is done; the decoding ones keep their next input. */
  private async firstTokens(): Promise<void> {
    const fresh = this.slots.flatMap((s, b) => (s && s.prefilled && s.generated === 0 && !s.done ? [b] : []));
    if (fresh.length === 0) return;
    await this.drain(); // its read-back buffer may be the one the first tokens use
    const keep = this.slots.flatMap((s, b) => (s && s.generated > 0 && !s.done ? [b] : []));
    let firstAt: Uint32Array | undefined;
    if (this.keyed) {
      firstAt = new Uint32Array(this.maxBatch);
      for (const b of fresh) firstAt[b] = this.slots[b]!.req.prompt.length; // the first token's position
    }
    await this.ex.sampleFirst(0, keep, firstAt);
    const ids = await this.ex.readTokens(0);
    for (const b of fresh) this.take(b, ids[b]!);
  }

  /** A token for slot b: emitted, or the end of its request. */
  private take(b: number, id: number): void {
    const s = this.slots[b]!;
    if (s.req.isStopped()) { s.done = true; s.req.onDone('stopped'); return; }
    // Non-finite logits fail this request only (the sampler marked its row); the batch goes on.
    if (id === NONFINITE_ID) { s.done = true; s.req.onError(nonFiniteLogits(b, s.generated)); return; }
    if (s.req.eosIds?.includes(id)) { s.done = true; s.req.onDone('eos'); return; }
    s.generated++;
    this.emitted.get(b)!.push(id);
    s.req.onToken(id);
    if (s.generated >= s.req.maxTokens) { s.done = true; s.req.onDone('length'); }
  }

  /**
   * Submit one decode step of every slot that has its first token (or one in flight) and wants more, then read the
   * step before it. A slot whose last token is in flight gets no row; one that has ended unseen gets a row whose
   * token is dropped. With nothing to submit, the step in flight is read.
   */
  private async decodeStep(): Promise<void> {
    const B = this.maxBatch;
    const rows = new Uint32Array(2 * B), lengths = new Uint32Array(B);
    let any = false;
    for (let b = 0; b < B; b++) {
      const s = this.slots[b];
      rows[2 * b] = b;
      rows[2 * b + 1] = NO_POSITION;
      if (!s || s.done) continue;
      const have = s.generated + (s.inFlight ? 1 : 0); // tokens sampled, read or not
      if (have === 0 || have >= s.req.maxTokens) continue;
      if (s.req.isStopped()) { s.done = true; s.req.onDone('stopped'); continue; }
      // The step's input is the last token sampled (in the next-input buffer) at position prompt + have − 1.
      const pos = s.req.prompt.length + have - 1;
      rows[2 * b + 1] = pos;
      lengths[b] = pos + 1;
      any = true;
    }
    if (!any) { await this.drain(); return; }
    this.step++;
    this.steps++;
    // Cache rebuilds need the tokens before the step's input: emitted already (the input may still be in flight).
    const history = (b: number) => {
      const s = this.slots[b]!;
      return [...s.req.prompt, ...this.emitted.get(b)!].slice(0, lengths[b]! - 1);
    };
    const buf = this.step % 2;
    await this.ex.decode({ step: this.step, rows, lengths, history, keyed: this.keyed }, buf);
    await this.drain();
    for (let b = 0; b < B; b++) if (lengths[b]) this.slots[b]!.inFlight = true;
    this.inFlight = { buf };
  }

  /** Read the step in flight, if any, and hand each of its slots its token (dropped where the slot has ended). */
  private async drain(): Promise<void> {
    const f = this.inFlight;
    if (!f) return;
    this.inFlight = null;
    const ids = await this.ex.readTokens(f.buf);
    for (const [b, s] of this.slots.entries()) {
      if (!s?.inFlight) continue;
      s.inFlight = false;
      if (!s.done) this.take(b, ids[b]!);
    }
  }

  /** Tokens each slot emitted (a rebuilt cache needs them). */
  private readonly emitted = new Map<number, number[]>();

  private async release(): Promise<void> {
    for (const [b, s] of this.slots.entries()) {
      if (!s?.done || s.inFlight) continue;
      await this.ex.freeSlot?.(b);
      this.slots[b] = null;
      this.emitted.delete(b);
    }
  }
}
