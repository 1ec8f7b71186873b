// Generation on one device (the base group of FA Pool is one such device): every launch is prepared once; a
// decode step only writes uniforms and two tiny row tables, so nothing is allocated per token. Where attention
// runs is pluggable: all on this device, or (FA Pool) the long sequences' attention on the attention pool.
import type { DType, Gpu, Step } from '../gpu/index.js';
import type { SamplingParams } from '../kernels/sampling.js';
import type { ModelConfig } from './config.js';
import { DeviceModel, decodeLaunches, localAttention } from './device-model.js';
import { Recorder, runLayers, type LayerHooks } from './forward.js';
import {
  generate, type BatchShape, type DecodeStepInput, type ForwardExecutor, type GenerateOptions, type GenerateResult, type PrefillChunk,
} from './generation.js';
import type { Weights } from './weights.js';

/** Where attention runs when not all of it runs on this device (the FA Pool's attention pool). */
export interface AttentionPlacement {
  /** After the first tokens, before the first decode step: place the sequences. */
  afterPrefill?(m: DeviceModel, promptLengths: readonly number[]): Promise<void>;
  /**
   * This decode step's attention: hooks that send some of it elsewhere (they write the step's row table and
   * lengths themselves), or null when it all runs here.
   */
  decodeHooks(m: DeviceModel, input: DecodeStepInput): Promise<LayerHooks | null>;
  /** When generation ends: free what the placement holds elsewhere. */
  finish?(m: DeviceModel): Promise<void>;
}

export class Generator implements ForwardExecutor {
  readonly model: DeviceModel;

  constructor(readonly gpu: Gpu, readonly cfg: ModelConfig, weights: Weights, readonly dtype: DType,
    readonly placement?: AttentionPlacement) {
    this.model = new DeviceModel(gpu, cfg, weights, dtype);
  }

  generate(prompts: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerateResult> {
    return generate(this, prompts, o);
  }

  prepare(shape: BatchShape, sampling: SamplingParams): void { this.model.prepare(shape, sampling); }

  async prefill(c: PrefillChunk): Promise<void> {
    const m = this.model, s = m.state, prog = m.prefill(c.n, c.b);
    this.gpu.write(s.rows, c.rows);
    this.gpu.write(s.ids, c.ids);
    for (const a of prog.attn) a.set(c.b, c.p0);
    const rec = new Recorder(this.gpu);
    rec.record(...prog.embed);
    await runLayers(prog.layers, localAttention(prog.attn.map((a) => a.steps)), rec);
    if (c.last) rec.record(m.keepLast(c.n, c.b));
    rec.submit();
  }

  async sampleFirst(buf: number): Promise<void> {
    this.model.setStep(0);
    this.gpu.submit([...this.model.firstTokenSteps(), this.model.readbackStep(buf)]);
  }

  async afterPrefill(promptLengths: readonly number[]): Promise<void> {
    await this.placement?.afterPrefill?.(this.model, promptLengths);
  }

  async decode(input: DecodeStepInput, buf: number): Promise<void> {
    const m = this.model, s = m.state, prog = m.decode();
    m.setStep(input.step);
    let hooks = this.placement ? await this.placement.decodeHooks(m, input) : null;
    if (!hooks) {
      this.gpu.write(s.rows, input.rows);
      m.setLengths(input.lengths);
      hooks = localAttention(decodeLaunches(prog.plans));
    }
    const rec = new Recorder(this.gpu);
    rec.record(...prog.embed);
    await runLayers(prog.layers, hooks, rec);
    rec.record(...m.head().steps, m.readbackStep(buf));
    rec.submit();
  }

  readTokens(buf: number): Promise<Uint32Array> { return this.model.readTokens(buf); }

  /** Every launch of one all-local decode step, in order (kernel profiles). */
  decodeLaunches(): Step[] {
    const m = this.model, prog = m.decode();
    const attn = decodeLaunches(prog.plans);
    return [...prog.embed, ...prog.layers.flatMap((l, i) => [...l.pre, ...attn[i]!, ...l.oProj, ...l.ffn]), ...m.head().steps];
  }

  async readLogits(): Promise<Float32Array> { return await this.gpu.read(this.model.state.logits) as Float32Array; }

  async finish(): Promise<void> {
    await this.gpu.sync();
    await this.placement?.finish?.(this.model);
  }

  sync(): Promise<void> { return this.gpu.sync(); }

  get gpuBytes(): number { return this.gpu.liveBytes; }

  dispose(): void { this.model.dispose(); }
}
