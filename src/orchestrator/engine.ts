// The public engine: a model on its devices (one GPU, FA Pool, or the static TP × PP baseline) behind one
// interface. `generate` streams token events as an AsyncIterable and ends with the paper's metrics; `dispose`
// frees every device, worker and buffer. This file has no Node dependency (the browser demo uses it);
// create-engine.ts builds an engine from options in Node.
import { FapoolError, InputError, checkOptionKeys, describeCaps, shown, type CompileProgress, type DType, type Gpu, type Step } from '../gpu/index.js';
import { samplesGreedily, samplingProblem, type SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from '../model/config.js';
import {
  batchShape, checkCount, chunkSizes, defaultPrefillChunk, generate, PREFILL_CHUNK_MIN, type BatchShape, type ForwardExecutor, type GenerateResult,
} from '../model/generation.js';
import { Generator, type AttentionPlacement, type DecodePart } from '../model/generator.js';
import { continuationText, endIds, type Tokenizer } from '../model/tokenizer.js';
import type { Weights } from '../model/weights.js';
import { checkSchedule, Scheduler, type SchedulerOptions } from './scheduler.js';

/** A placement report as it stands, apart from the live one (its events are the same objects). */
export function placementSnapshot(r: PlacementReport): PlacementReport {
  return { ...r, perSeq: r.perSeq?.map((s) => ({ ...s, ranks: [...s.ranks] })), events: r.events?.slice(), split: r.split && { ...r.split } };
}

/**
 * What a placement report counted since `before` (a snapshot): steps per slot (and the ranks of slots that used the
 * pool), the events after `before`'s last; the time split as the strategy keeps it (see PlacementReport.split).
 */
export function placementSince(before: PlacementReport, now: PlacementReport): PlacementReport {
  const r = placementSnapshot(now);
  r.perSeq = r.perSeq?.map((s, b) => {
    const poolSteps = s.poolSteps - (before.perSeq?.[b]?.poolSteps ?? 0);
    return { baseSteps: s.baseSteps - (before.perSeq?.[b]?.baseSteps ?? 0), poolSteps, ranks: poolSteps > 0 ? s.ranks : [] };
  });
  // The log keeps its latest entries: the run's are those after the last one seen before it (all, if that one is gone).
  const last = before.events?.at(-1);
  if (r.events && last) r.events = r.events.slice(r.events.lastIndexOf(last) + 1);
  return r;
}

/** Where attention ran and what the pool did, JSON-friendly. */
export interface PlacementReport {
  strategy: string;
  ranks: string[];
  perSeq?: { baseSteps: number; poolSteps: number; ranks: string[] }[];
  events?: { step: number; seq: number; kind: string; detail: string }[];
  /** FA Pool: its members now, and whether each takes sequences (a failed one is probed until it answers). */
  poolMembers?: { name: string; alive: boolean }[];
  /** The static baseline: its ranks and whether each answers (a dead one fails every request from then on). */
  rankHealth?: { name: string; alive: boolean }[];
  /** Time split of the strategy's host work (ms): FA Pool's over the engine's life, the static baseline's per generation. */
  split?: Record<string, number>;
}

export interface GenerateRequest {
  /** Prompts as text (tokenized with the model's tokenizer) or token ids; all decode together as one batch. */
  prompts: readonly (string | readonly number[])[];
  maxNewTokens: number;
  /** Default: greedy (temperature 0), seed 0. */
  sampling?: Partial<SamplingParams>;
  /** Prompt rows per prefill launch (default: Engine.prefillChunk — on one device from its binding limit, else 2048). */
  prefillChunk?: number;
  /**
   * Stop a sequence at an end id (default true): the tokenizer's end of sequence and the checkpoint's eos_token_id
   * (generation_config.json, else config.json; e.g. Llama 3's <|eot_id|>). False ignores them all.
   */
  stopAtEos?: boolean;
  /** Keep the logits that chose each first token (fidelity checks). */
  captureLogits?: boolean;
}

export type GenerationEvent =
  | { type: 'prefill'; doneTokens: number; totalTokens: number }
  | { type: 'token'; seq: number; token: number; step: number; text: string }
  /**
   * The end: metrics, each sequence's whole text (as its stream emits it, decoded after the prompt's last tokens: a
   * leading space a decoder strips at a text's start stays, so it can differ from tokenizer.decode(tokens)), what its
   * stream had not emitted yet (`tails`), the placement.
   */
  | { type: 'done'; result: GenerateResult; texts: string[]; tails: string[]; placement: PlacementReport };

/** What an engine runs on: built by createEngine (Node) or localEngine (one GPU, e.g. the browser). */
export interface EngineParts {
  executor: ForwardExecutor;
  config: ModelConfig;
  dtype: DType;
  tokenizer: Tokenizer;
  /** The base device, in words. */
  device: string;
  report(): PlacementReport;
  /** The launches of one decode step on one device by part of the step, when there is such a program (kernel profiles). */
  decodeParts?(): DecodePart[];
  /** The launches of prefill chunk [p0, p0 + tokens) of sequence 0 of the last batch, by part (kernel profiles). */
  prefillParts?(tokens: number, p0: number, last?: boolean): DecodePart[];
  /** The device those launches run on (kernel profiles time them there). */
  gpu?: Gpu;
  /** Continuous batching of submitted requests: slots, context per slot, prefill chunk. */
  schedule?: SchedulerOptions;
  /** The prefill chunk of a generate() or precompile() request that names none (default PREFILL_CHUNK_MIN). */
  prefillChunk?: number;
  dispose(): Promise<void>;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, seed: 0 };

/** The shape precompile() compiles for: a generation's prompt lengths and new tokens (and its chunk, its sampling). */
export interface PrecompileOptions {
  promptLengths: readonly number[];
  maxNewTokens: number;
  prefillChunk?: number;
  sampling?: Partial<SamplingParams>;
  onProgress?: CompileProgress;
}

/** One request of a stream of requests (a server's): its own prompt, length, sampling and stop strings. */
export interface CompletionRequest {
  prompt: string | readonly number[];
  maxTokens: number;
  /**
   * Default: greedy. Sampled (temperature > 0) without a seed: new random draws each time (such requests still decode
   * together; each batch they start takes a new random seed). With a seed: the same text each time, alone or among other
   * requests (draws keyed by each token's position), up to rounding across batch sizes.
   */
  sampling?: Partial<SamplingParams>;
  /** Stop when the text contains one of these (it is not part of the output). */
  stop?: readonly string[];
  /** Aborting frees the request's sequence: no more tokens, a last 'done' event with reason 'cancelled'. */
  signal?: AbortSignal;
}

export type FinishReason = 'length' | 'stop' | 'eos' | 'cancelled';

export type CompletionEvent =
  | { type: 'token'; token: number; text: string; index: number }
  | {
    type: 'done'; reason: FinishReason; tokens: number[]; text: string; promptTokens: number;
    /** From submission: queueing, then the request's own first token. */
    ttftMs: number; queueMs: number; tpotMs: number;
    /** Where its attention ran (FA Pool): decode steps on the base group and on the pool. */
    baseSteps: number; poolSteps: number;
  };

/** A request was refused because the queue is full (a server answers 429). */
export class QueueFullError extends FapoolError {}

/** The engine is disposed: a call after dispose(), or a stream that dispose() cut short. */
export class EngineDisposedError extends FapoolError {}

export interface EngineLoad { running: number; queued: number; maxQueue: number; completed: number }

export class Engine {
  private busy: Promise<unknown> = Promise.resolve();
  private disposing: Promise<void> | null = null;
  private sched: Scheduler | null = null;
  private running = 0;
  private completed = 0;
  private queueBound = 64;
  /** What dispose() calls to cut each stream still running (generate or submit) at its next step. */
  private readonly live = new Set<() => void>();

  constructor(private readonly parts: EngineParts) {
    if (parts.schedule) checkSchedule(parts.schedule); // at creation, not at the first submit()
  }

  /** Most requests waiting for their turn before submit() refuses more (a positive integer: 0 refused every request, NaN none). */
  get maxQueue(): number { return this.queueBound; }
  set maxQueue(n: number) { checkCount('maxQueue', n); this.queueBound = n; }

  private get disposed(): boolean { return this.disposing !== null; }

  private checkOpen(call: string): void {
    if (this.disposed) throw new EngineDisposedError(`${call}(): this engine is disposed; create another one`);
  }

  load(): EngineLoad { return { running: this.running, queued: this.sched?.queued ?? 0, maxQueue: this.maxQueue, completed: this.completed }; }

  get config(): ModelConfig { return this.parts.config; }
  get dtype(): DType { return this.parts.dtype; }
  get tokenizer(): Tokenizer { return this.parts.tokenizer; }
  get device(): string { return this.parts.device; }
  report(): PlacementReport { return this.parts.report(); }
  decodeLaunches(): Step[] { return this.decodeParts().flatMap((p) => p.steps); }
  /** The same launches by part of the step (embedding, each layer's pre/attention/oProj/ffn, head). */
  decodeParts(): DecodePart[] { return this.parts.decodeParts?.() ?? []; }
  prefillParts(tokens: number, p0: number, last = true): DecodePart[] { return this.parts.prefillParts?.(tokens, p0, last) ?? []; }
  /** The device decodeLaunches() runs on, when the engine has such a program. */
  get gpu(): Gpu | undefined { return this.parts.gpu; }

  /** The prefill chunk of a generate() / run() / precompile() request that names none (submit() uses the schedule's). */
  get prefillChunk(): number { return this.parts.prefillChunk ?? PREFILL_CHUNK_MIN; }

  /**
   * Compile now what a generation of this shape will launch (prefill chunks of its prompt lengths, the decode
   * step), so that its first request pays no pipeline creation. The pipelines are created concurrently; progress
   * counts them. Strategies without a single-device program (the static baseline) compile nothing here. Returns
   * the time taken and the pipelines created on the base device.
   */
  async precompile(o: PrecompileOptions): Promise<{ ms: number; pipelines: number }> {
    this.checkOpen('precompile');
    checkOptionKeys(o, PRECOMPILE_KEYS, 'precompile() options');
    const ex = this.parts.executor;
    const shape = this.precompileShape(o), sampling = samplingOf(o.sampling);
    return this.compiling(async () => {
      await ex.precompile?.(shape, sampling, chunkSizes(shape.promptLengths, shape.chunk));
    }, o.onProgress);
  }

  /** The batch shape of precompile(): its lengths checked before stand-in prompts of those lengths are made. */
  private precompileShape(o: { promptLengths: readonly number[]; maxNewTokens: number; prefillChunk?: number }): BatchShape {
    const cfg = this.parts.config;
    if (!Array.isArray(o.promptLengths) || o.promptLengths.length === 0) {
      throw new InputError(`precompile: promptLengths must be a non-empty array of prompt lengths, got ${shown(o.promptLengths)}`);
    }
    // A length of 1e9 filled the heap building its prompt (the process died) before the context check saw it.
    for (const [i, n] of o.promptLengths.entries()) {
      checkCount(`promptLengths[${i}]`, n);
      if (n > cfg.maxSeq) throw new InputError(`promptLengths[${i}] is ${n}, over the model's context of ${cfg.maxSeq}`);
    }
    const prompts = o.promptLengths.map((n) => new Array<number>(n).fill(0));
    return this.checkRows(batchShape(cfg, prompts, { maxNewTokens: o.maxNewTokens, prefillChunk: o.prefillChunk ?? this.prefillChunk }));
  }

  /**
   * A batch or prefill chunk against the device's workgroups per dispatch dimension (RMSNorm and the sampler launch one
   * per row): 70,000 prompts failed in the kernel after all their prefills (193 s on lavapipe).
   */
  private checkRows(shape: BatchShape): BatchShape {
    const limit = this.parts.gpu?.caps.maxWorkgroupsPerDim;
    if (limit === undefined) return shape;
    const [what, rows] = shape.B > limit ? [`prompts: ${shape.B} sequences in one batch`, shape.B] : [`prefillChunk: a chunk of ${shape.chunk} prompt tokens`, shape.chunk];
    if (rows > limit) throw new InputError(`${what} need ${rows} workgroups in one dispatch dimension (one per row), over this GPU's limit of ${limit}`);
    return shape;
  }

  /** precompile() for the request stream of submit(): the scheduler's batch shape and prefill chunk. */
  async precompileServing(onProgress?: CompileProgress): Promise<{ ms: number; pipelines: number }> {
    this.checkOpen('precompileServing');
    return this.compiling(() => this.scheduler.precompile(GREEDY), onProgress);
  }

  /** Run `build` alone on the executor, its pipelines created together; its time and the pipelines it created on the base device. */
  private compiling(build: () => Promise<void>, onProgress?: CompileProgress): Promise<{ ms: number; pipelines: number }> {
    const gpu = this.parts.gpu;
    return this.exclusive(async () => {
      const t0 = performance.now(), before = gpu?.programCount ?? 0;
      await (gpu ? gpu.compileAll(build, onProgress) : build());
      return { ms: performance.now() - t0, pipelines: (gpu?.programCount ?? 0) - before };
    });
  }

  /** A lower bound on a prompt's tokens, without encoding text (0 where the tokenizer has no cheap bound). */
  minTokens(prompt: string | readonly number[]): number {
    return typeof prompt === 'string' ? this.parts.tokenizer.minTokens?.(prompt) ?? 0 : prompt.length;
  }

  /** Token ids of a prompt: text through the tokenizer, ids as given (a copy). InputError for anything else, named `name`. */
  encode(prompt: string | readonly number[], name = 'prompt'): number[] {
    if (typeof prompt === 'string') {
      // A lone surrogate (JSON allows "\ud800") was encoded as U+FFFD: another prompt ran, without a word.
      if (LONE_SURROGATE.test(prompt)) throw new InputError(`${name} holds a lone UTF-16 surrogate: a prompt must be well-formed text`);
      return this.parts.tokenizer.encode(prompt);
    }
    if (!Array.isArray(prompt) && !(ArrayBuffer.isView(prompt) && !(prompt instanceof DataView))) {
      throw new InputError(`${name} must be a string or an array of token ids, got ${shown(prompt)}`);
    }
    return Array.from(prompt);
  }

  /**
   * Generate for a batch of prompts. Events stream as tokens are sampled; the last one carries the metrics
   * (TTFT, TPOT, TPS) and the placement report. Generations run one at a time on an engine.
   */
  generate(req: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.checkOpen('generate');
    const { prompts, sampling, prefillChunk } = this.checkGenerate(req);
    const tok = this.parts.tokenizer;
    const decoders = prompts.map((p) => tok.decodeStream(p));
    // Why it stops early: its reader left (a break, a throw in the loop body), or dispose(). Either ends it at its
    // next step; before, an abandoned generation ran to its end and held the engine meanwhile.
    let cut: 'abandoned' | 'disposed' | null = null;
    const events = new EventQueue<GenerationEvent>(() => { cut ??= 'abandoned'; });
    const onDispose = () => { cut ??= 'disposed'; };
    this.live.add(onDispose);
    let tokens = 0;
    let before: PlacementReport | null = null;
    const run = this.exclusive(async () => {
      if (cut) return null; // cut while it waited for its turn: nothing to run
      // The report counts over the engine's life: this run's steps are the difference; its events, those since the
      // last run ended (start-up faults and probes that answered in between go to the next run, not to none).
      before = { ...placementSnapshot(this.parts.report()), events: this.lastRunEvent ? [this.lastRunEvent] : [] };
      return generate(this.parts.executor, prompts, {
        maxNewTokens: req.maxNewTokens, sampling, prefillChunk, captureLogits: req.captureLogits,
        eosIds: req.stopAtEos === false ? undefined : endIds(tok),
        isStopped: () => cut !== null,
        onPrefill: (doneTokens, totalTokens) => events.push({ type: 'prefill', doneTokens, totalTokens }),
        onToken: (seq, token, step) => { tokens++; events.push({ type: 'token', seq, token, step, text: decoders[seq]!.push(token) }); },
      });
    });
    run.then((result) => {
      if (cut === 'disposed') throw new EngineDisposedError(`the engine was disposed while this generation ran (after ${tokens} tokens)`);
      if (!result) return;
      const texts = result.tokens.map((t, i) => continuationText(tok, prompts[i]!, t));
      const now = this.parts.report();
      const placement = placementSince(before!, now);
      this.lastRunEvent = now.events?.at(-1) ?? this.lastRunEvent;
      events.push({ type: 'done', result, texts, tails: decoders.map((d) => d.flush()), placement });
      events.end();
    }).catch((e: unknown) => events.fail(e)).finally(() => this.live.delete(onDispose));
    return events;
  }

  /** A generate() request checked whole before anything runs: InputError naming the field, thrown by generate() itself. */
  private checkGenerate(req: GenerateRequest): { prompts: number[][]; sampling: SamplingParams; prefillChunk: number } {
    if (typeof req !== 'object' || req === null) throw new InputError(`generate() takes a request object, got ${shown(req)}`);
    checkOptionKeys(req, GENERATE_KEYS, 'a generate() request');
    for (const k of ['stopAtEos', 'captureLogits'] as const) {
      if (req[k] !== undefined && typeof req[k] !== 'boolean') throw new InputError(`${k} must be a boolean, got ${shown(req[k])}`);
    }
    if (!Array.isArray(req.prompts)) throw new InputError(`prompts must be an array (of strings or arrays of token ids), got ${shown(req.prompts)}`);
    const prompts = req.prompts.map((p, i) => this.encode(p, `prompts[${i}]`));
    const prefillChunk = req.prefillChunk ?? this.prefillChunk;
    this.checkRows(batchShape(this.parts.config, prompts, { maxNewTokens: req.maxNewTokens, prefillChunk }));
    return { prompts, sampling: samplingOf(req.sampling), prefillChunk };
  }

  /** Run `work` when nothing else runs on the executor (batch generations and the scheduler take turns). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busy.then(work);
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** The placement's last event when the last generate()/run() ended: the next run's events are those after it. */
  private lastRunEvent: { step: number; seq: number; kind: string; detail: string } | undefined;

  private get scheduler(): Scheduler {
    this.sched ??= new Scheduler(this.parts.executor, this.parts.config, (w) => this.exclusive(w), this.parts.schedule);
    return this.sched;
  }

  /**
   * One request of a stream: its tokens as they come, then a 'done' event with its metrics. Requests share the
   * decode batch (continuous batching: they join and leave between steps). Throws QueueFullError when maxQueue
   * requests already wait, InputError for a request the model cannot take.
   */
  submit(req: CompletionRequest): AsyncIterable<CompletionEvent> {
    this.checkOpen('submit');
    if (typeof req !== 'object' || req === null) throw new InputError(`submit() takes a request object, got ${shown(req)}`);
    checkOptionKeys(req, SUBMIT_KEYS, 'a submit() request');
    checkCount('maxTokens', req.maxTokens);
    const sampling = samplingOf(req.sampling), stops = stopsOf(req.stop), signal = signalOf(req.signal);
    const sched = this.scheduler;
    if (sched.queued >= this.maxQueue) throw new QueueFullError(`the queue is full (${this.maxQueue} requests waiting)`);
    const prompt = this.encode(req.prompt);
    const tok = this.parts.tokenizer;
    const stop = new StopMatcher(stops);
    const decoder = tok.decodeStream(prompt);
    const t0 = performance.now();
    let tStart = 0, tFirst = 0, tLast = 0;
    let steps: SlotSteps | null = null;
    const tokens: number[] = [];
    // Why it ends early: a stop string, an abort or its reader leaving (cancelled), dispose().
    let stopped: 'stop' | 'cancelled' | 'disposed' | null = null, started = false;
    // A request cancelled while it waits leaves the queue at once (it counted toward the queue's limit till then).
    const onAbort = () => { stopped ??= 'cancelled'; sched.dropStopped(); };
    const events = new EventQueue<CompletionEvent>(onAbort);
    const onDispose = () => { stopped ??= 'disposed'; };
    const unlisten = () => { signal?.removeEventListener('abort', onAbort); this.live.delete(onDispose); };
    sched.submit({
      prompt, maxTokens: req.maxTokens, sampling, eosIds: endIds(tok),
      freshSeed: req.sampling?.seed === undefined && !samplesGreedily(sampling),
      isStopped: () => stopped !== null,
      onStart: (slot) => {
        tStart = performance.now();
        this.running++;
        started = true;
        // The placement counts steps per batch slot for its lifetime: this request's share is the difference.
        const at = this.parts.report?.().perSeq?.[slot];
        steps = { slot, base: at?.baseSteps ?? 0, pool: at?.poolSteps ?? 0 };
      },
      onToken: (token) => {
        tLast = performance.now();
        if (tokens.length === 0) tFirst = tLast;
        tokens.push(token);
        const text = stop.push(decoder.push(token));
        if (stop.hit) stopped = 'stop';
        if (text) events.push({ type: 'token', token, text, index: tokens.length - 1 });
      },
      onDone: (why) => {
        if (started) { this.running--; this.completed++; } // (a request cancelled while it waited ends unstarted)
        unlisten();
        if (stopped === 'disposed' && why === 'stopped') {
          events.fail(new EngineDisposedError(`the engine was disposed while this request ran (after ${tokens.length} of ${req.maxTokens} tokens)`));
          return;
        }
        const asked = stopped === 'stop' || stopped === 'cancelled' ? stopped : null; // an end its caller made
        if (!asked) {
          const tail = stop.push(decoder.flush(), true);
          if (tail) events.push({ type: 'token', token: tokens.at(-1) ?? -1, text: tail, index: tokens.length - 1 });
        }
        events.push({
          type: 'done', reason: asked ?? (why === 'stopped' ? 'cancelled' : why), tokens, text: stop.text, promptTokens: prompt.length,
          ttftMs: (tFirst || performance.now()) - t0, queueMs: (tStart || performance.now()) - t0,
          tpotMs: tokens.length > 1 ? (tLast - tFirst) / (tokens.length - 1) : 0,
          // Decode steps that sampled for it: each token after the first, and an end of sequence they sampled.
          ...this.stepsSince(steps, Math.max(0, tokens.length - 1) + (why === 'eos' && tokens.length > 0 ? 1 : 0)),
        });
        events.end();
      },
      onError: (e) => { if (started) this.running--; unlisten(); events.fail(e); },
    });
    // Only once the scheduler took it (a refused request leaves no listener on the caller's signal); it runs later.
    // Listed before an aborted signal ends it here (its end unlists it: listed after, it stayed for the engine's life).
    this.live.add(onDispose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    return events;
  }

  /**
   * Decode steps a request's slot made on the base and on the pool since it was admitted; without per-slot counts
   * (one device, the static baseline) every decode step ran on the base group: `decodeSteps`.
   */
  private stepsSince(at: SlotSteps | null, decodeSteps: number): { baseSteps: number; poolSteps: number } {
    if (!at) return { baseSteps: 0, poolSteps: 0 };
    const now = this.parts.report?.().perSeq?.[at.slot];
    if (!now) return { baseSteps: decodeSteps, poolSteps: 0 };
    return { baseSteps: now.baseSteps - at.base, poolSteps: now.poolSteps - at.pool };
  }

  /** Run a generation to its end: the final event (metrics, texts, placement). */
  async run(req: GenerateRequest, onEvent?: (e: GenerationEvent) => void): Promise<Extract<GenerationEvent, { type: 'done' }>> {
    let last: GenerationEvent | undefined;
    for await (const e of this.generate(req)) { onEvent?.(e); last = e; }
    if (last?.type !== 'done') throw new Error('generation ended without a result');
    return last;
  }

  /**
   * Free every device, worker and buffer. Streams still running end at their next step (a generate() prompt being
   * prefilled is finished first; a submit() one stops at its next chunk): their readers get EngineDisposedError. Every
   * call returns the same promise (a second call used to resolve at once, before the first had freed anything).
   */
  dispose(): Promise<void> {
    return this.disposing ??= this.disposeNow();
  }

  private async disposeNow(): Promise<void> {
    for (const cut of this.live) cut();
    // Until the executor is idle: a scheduler loop that ends may take one more turn (to end its cancelled waiters).
    for (let b = this.busy; ; b = this.busy) { await b; if (b === this.busy) break; }
    await this.parts.dispose();
  }
}

/** Sampling parameters with the defaults (GREEDY) for those not given; InputError for an unknown or invalid one. */
function samplingOf(s: Partial<SamplingParams> | undefined): SamplingParams {
  if (s === undefined || s === null) return { ...GREEDY };
  // An array is an object too: `[]` ran greedy without a word.
  if (typeof s !== 'object' || Array.isArray(s)) throw new InputError(`sampling must be an object, got ${shown(s)}`);
  const p: SamplingParams = { ...GREEDY };
  for (const [k, v] of Object.entries(s)) {
    // A misspelt option (top_p, topk) was ignored: the request ran with the default.
    if (!Object.hasOwn(GREEDY, k)) throw new InputError(`sampling has no option ${JSON.stringify(k)} (it takes ${Object.keys(GREEDY).join(', ')})`);
    if (v !== undefined) p[k as keyof SamplingParams] = v as number; // undefined: the default (it reached the sampler as NaN)
  }
  const problem = samplingProblem(p);
  if (problem) throw new InputError(`sampling.${problem}`);
  return p;
}

// The keys of a request, once: `satisfies` fails the build when the interface gains one the list lacks.
const GENERATE_KEYS = Object.keys({ prompts: 1, maxNewTokens: 1, sampling: 1, prefillChunk: 1, stopAtEos: 1, captureLogits: 1 } satisfies Record<keyof GenerateRequest, 1>);
const SUBMIT_KEYS = Object.keys({ prompt: 1, maxTokens: 1, sampling: 1, stop: 1, signal: 1 } satisfies Record<keyof CompletionRequest, 1>);
const PRECOMPILE_KEYS = Object.keys({ promptLengths: 1, maxNewTokens: 1, prefillChunk: 1, sampling: 1, onProgress: 1 } satisfies Record<keyof PrecompileOptions, 1>);

/** A UTF-16 surrogate without its pair (with the u flag a pair is one code point, not Cs). */
export const LONE_SURROGATE = /\p{Cs}/u;

/** A request's stop strings: an array of strings, or none. */
function stopsOf(stop: unknown): readonly string[] {
  if (stop === undefined || stop === null) return [];
  if (!Array.isArray(stop)) throw new InputError(`stop must be an array of strings, got ${shown(stop)}`);
  for (const [i, s] of stop.entries()) {
    if (typeof s !== 'string') throw new InputError(`stop[${i}] must be a string, got ${shown(s)}`);
    // A lone surrogate would match inside a character and cut the text there (half an emoji).
    if (LONE_SURROGATE.test(s)) throw new InputError(`stop[${i}] holds a lone UTF-16 surrogate (${shown(s)}): a stop string must be well-formed text`);
  }
  return stop as string[];
}

/** A request's abort signal: anything that listens like an AbortSignal (one of another realm too), or none. */
function signalOf(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  const s = signal as Partial<AbortSignal>;
  if (typeof s.addEventListener !== 'function' || typeof s.aborted !== 'boolean') throw new InputError(`signal must be an AbortSignal, got ${shown(signal)}`);
  return signal as AbortSignal;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/**
 * Watches streamed text for stop strings: what it returns is safe to emit (text that cannot be the start of a
 * stop string); `text` is everything kept so far, without the stop string once one is seen.
 */
class StopMatcher {
  text = '';
  hit = false;
  private emitted = 0;
  private readonly hold: number;
  /** Whether finding the held tail exactly is cheap (Σ (length − 1)² small): else the longest stop string's length − 1 is held. */
  private readonly exact: boolean;
  constructor(private readonly stops: readonly string[]) {
    // No spread: 200,000 stop strings overflowed the stack.
    this.hold = stops.reduce((m, x) => Math.max(m, x.length - 1), 0);
    this.exact = stops.reduce((w, x) => w + (x.length - 1) ** 2, 0) <= 1 << 20;
  }

  /**
   * How much of the text's end to hold back: the longest end that begins a stop string (holding the longest stop
   * string's length − 1 always, a 100-character stop string held back all of a 40-character answer till its end).
   */
  private holdNow(): number {
    if (!this.exact) return this.hold;
    const avail = this.text.length - this.emitted;
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, avail); k > best; k--) {
        if (this.text.endsWith(s.slice(0, k))) { best = k; break; }
      }
    }
    return best;
  }
  push(delta: string, final = false): string {
    if (this.hit) return '';
    const before = this.text.length;
    this.text += delta;
    // A stop string seen now ends in the new text (an earlier one would have been seen then): search from there,
    // not the whole text again for every token.
    let at = -1;
    for (const s of this.stops) {
      const i = s ? this.text.indexOf(s, Math.max(0, before - s.length + 1)) : -1;
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) { this.hit = true; this.text = this.text.slice(0, at); }
    let safe = this.hit || final ? this.text.length : Math.max(this.emitted, this.text.length - this.holdNow());
    // Never cut between a high and a low surrogate: a stream piece must be well-formed text (the hold counts UTF-16 units).
    if (safe > this.emitted && safe < this.text.length && isHighSurrogate(this.text.charCodeAt(safe - 1))) safe--;
    const out = this.text.slice(this.emitted, safe);
    this.emitted = safe;
    return out;
  }
}

/**
 * A push queue read as an AsyncIterable (events arrive from GPU callbacks, the consumer pulls), by one reader:
 * `onAbandon` runs when that reader leaves before the end (a break, a throw in its loop body).
 */
class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private read = false;

  constructor(private readonly onAbandon: () => void) {}

  push(v: T): void { this.items.push(v); this.notify(); }
  end(): void { this.ended = true; this.notify(); }
  fail(error: unknown): void { this.failure ??= { error }; this.ended = true; this.notify(); }
  private notify(): void { const w = this.wake; this.wake = null; w?.(); }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    // A second reader took the first one's wake-up: both waited for ever.
    if (this.read) throw new InputError('this event stream is already being read (or was read): a stream of generate() or submit() can be iterated once');
    this.read = true;
    const gen = this.events();
    // A generator closed before its first next() never runs its finally: a reader that took the iterator and closed it
    // unread (Readable.from destroyed early, a try/finally around the first read) left its request decoding for nobody.
    let started = false;
    const unread = () => { if (!started) { started = true; this.onAbandon(); } };
    return {
      next: () => { started = true; return gen.next(); },
      return: (value?: unknown) => { unread(); return gen.return(value as undefined); },
      throw: (e?: unknown) => { unread(); return gen.throw(e); },
      [Symbol.asyncIterator]() { return this; },
    } as AsyncIterator<T>;
  }

  private async *events(): AsyncGenerator<T> {
    let whole = false;
    try {
      for (;;) {
        if (this.items.length) { yield this.items.shift()!; continue; }
        if (this.failure) throw this.failure.error;
        if (this.ended) { whole = true; return; }
        await new Promise<void>((r) => { this.wake = r; });
      }
    } finally {
      if (!whole) this.onAbandon();
    }
  }
}

/** An engine over weights already on one GPU (the browser demo; createEngine's single-device and FA Pool cases). */
export function localEngine(o: {
  gpu: Gpu; config: ModelConfig; weights: Weights; dtype: DType; tokenizer: Tokenizer;
  placement?: AttentionPlacement; report?: () => PlacementReport; dispose?: () => Promise<void>;
  /** With a placement: run decode steps as two micro-batches (ping-pong). */
  microBatches?: boolean;
  schedule?: SchedulerOptions;
}): Engine {
  const gen = new Generator(o.gpu, o.config, o.weights, o.dtype, o.placement, { microBatches: o.microBatches });
  return new Engine({
    executor: gen, config: o.config, dtype: o.dtype, tokenizer: o.tokenizer, device: describeCaps(o.gpu.caps),
    report: o.report ?? (() => ({ strategy: 'single device', ranks: [o.gpu.label] })),
    decodeParts: () => gen.decodeParts(),
    prefillParts: (tokens, p0, last) => gen.prefillParts(tokens, p0, last),
    gpu: o.gpu,
    schedule: o.schedule,
    // One device holding the whole model: chunks as large as its binding limit allows (TTFT). With an attention
    // pool the smallest: the base's activations and KV hand-off staging grow with the chunk, and the pool is there
    // to keep the base's memory small.
    prefillChunk: o.placement ? undefined : defaultPrefillChunk(o.config, o.dtype, o.gpu.caps),
    dispose: async () => { gen.dispose(); await o.dispose?.(); },
  });
}

/** A slot's step counts when a request was admitted into it. */
interface SlotSteps { slot: number; base: number; pool: number }
