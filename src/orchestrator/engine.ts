// The public engine: a model on its devices (one GPU, FA Pool, or the static TP × PP baseline) behind one
// interface. `generate` streams token events as an AsyncIterable and ends with the paper's metrics; `dispose`
// frees every device, worker and buffer. This file has no Node dependency (the browser demo uses it);
// create-engine.ts builds an engine from options in Node.
import { describeCaps, type DType, type Gpu, type Step } from '../gpu/index.js';
import type { SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from '../model/config.js';
import { generate, type ForwardExecutor, type GenerateResult } from '../model/generation.js';
import { Generator, type AttentionPlacement } from '../model/generator.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { Weights } from '../model/weights.js';

/** Where attention ran and what the pool did, JSON-friendly. */
export interface PlacementReport {
  strategy: string;
  ranks: string[];
  perSeq?: { baseSteps: number; poolSteps: number; ranks: string[] }[];
  events?: { step: number; seq: number; kind: string; detail: string }[];
  /** Time split of the strategy's host work (ms). */
  split?: Record<string, number>;
}

export interface GenerateRequest {
  /** Prompts as text (tokenized with the model's tokenizer) or token ids; all decode together as one batch. */
  prompts: readonly (string | readonly number[])[];
  maxNewTokens: number;
  /** Default: greedy (temperature 0), seed 0. */
  sampling?: Partial<SamplingParams>;
  /** Prompt rows per prefill launch. */
  prefillChunk?: number;
  /** Stop a sequence at the tokenizer's end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /** Keep the logits that chose each first token (fidelity checks). */
  captureLogits?: boolean;
}

export type GenerationEvent =
  | { type: 'prefill'; doneTokens: number; totalTokens: number }
  | { type: 'token'; seq: number; token: number; step: number; text: string }
  /** The end: metrics, each sequence's whole text, what its stream had not emitted yet (`tails`), the placement. */
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
  /** The launches of one decode step on one device, when there is such a program (kernel profiles). */
  decodeLaunches?(): Step[];
  dispose(): Promise<void>;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export class Engine {
  private busy: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(private readonly parts: EngineParts) {}

  get config(): ModelConfig { return this.parts.config; }
  get dtype(): DType { return this.parts.dtype; }
  get tokenizer(): Tokenizer { return this.parts.tokenizer; }
  get device(): string { return this.parts.device; }
  report(): PlacementReport { return this.parts.report(); }
  decodeLaunches(): Step[] { return this.parts.decodeLaunches?.() ?? []; }

  /** Token ids of a prompt: text through the tokenizer, ids as given. */
  encode(prompt: string | readonly number[]): number[] {
    return typeof prompt === 'string' ? this.parts.tokenizer.encode(prompt) : [...prompt];
  }

  /**
   * Generate for a batch of prompts. Events stream as tokens are sampled; the last one carries the metrics
   * (TTFT, TPOT, TPS) and the placement report. Generations run one at a time on an engine.
   */
  generate(req: GenerateRequest): AsyncIterable<GenerationEvent> {
    if (this.disposed) throw new Error('this engine is disposed');
    const events = new EventQueue<GenerationEvent>();
    const tok = this.parts.tokenizer;
    const prompts = req.prompts.map((p) => this.encode(p));
    const decoders = prompts.map(() => tok.decodeStream());
    const run = this.busy.then(() => generate(this.parts.executor, prompts, {
      maxNewTokens: req.maxNewTokens,
      sampling: { ...GREEDY, ...req.sampling },
      eosId: req.stopAtEos === false ? undefined : tok.eosId,
      prefillChunk: req.prefillChunk,
      captureLogits: req.captureLogits,
      onPrefill: (doneTokens, totalTokens) => events.push({ type: 'prefill', doneTokens, totalTokens }),
      onToken: (seq, token, step) => events.push({ type: 'token', seq, token, step, text: decoders[seq]!.push(token) }),
    }));
    this.busy = run.catch(() => undefined);
    run.then((result) => {
      const texts = result.tokens.map((t) => tok.decode(t));
      events.push({ type: 'done', result, texts, tails: decoders.map((d) => d.flush()), placement: this.parts.report() });
      events.end();
    }, (e) => events.fail(e));
    return events;
  }

  /** Run a generation to its end: the final event (metrics, texts, placement). */
  async run(req: GenerateRequest, onEvent?: (e: GenerationEvent) => void): Promise<Extract<GenerationEvent, { type: 'done' }>> {
    let last: GenerationEvent | undefined;
    for await (const e of this.generate(req)) { onEvent?.(e); last = e; }
    if (last?.type !== 'done') throw new Error('generation ended without a result');
    return last;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.busy;
    await this.parts.dispose();
  }
}

/** A push queue read as an AsyncIterable (events arrive from GPU callbacks, the consumer pulls). */
class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private error: unknown = null;

  push(v: T): void { this.items.push(v); this.notify(); }
  end(): void { this.ended = true; this.notify(); }
  fail(e: unknown): void { this.error = e ?? new Error('generation failed'); this.ended = true; this.notify(); }
  private notify(): void { const w = this.wake; this.wake = null; w?.(); }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length) { yield this.items.shift()!; continue; }
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((r) => { this.wake = r; });
    }
  }
}

/** An engine over weights already on one GPU (the browser demo; createEngine's single-device and FA Pool cases). */
export function localEngine(o: {
  gpu: Gpu; config: ModelConfig; weights: Weights; dtype: DType; tokenizer: Tokenizer;
  placement?: AttentionPlacement; report?: () => PlacementReport; dispose?: () => Promise<void>;
}): Engine {
  const gen = new Generator(o.gpu, o.config, o.weights, o.dtype, o.placement);
  return new Engine({
    executor: gen, config: o.config, dtype: o.dtype, tokenizer: o.tokenizer, device: describeCaps(o.gpu.caps),
    report: o.report ?? (() => ({ strategy: 'single device', ranks: [o.gpu.label] })),
    decodeLaunches: () => gen.decodeLaunches(),
    dispose: async () => { gen.dispose(); await o.dispose?.(); },
  });
}
