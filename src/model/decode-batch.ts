// The bookkeeping of a batch while it decodes, shared by every generator: where each sequence's next
// token goes, which sequences still want tokens, and what they produced. Also the paper's metrics.
import type { GenerateOptions, GenerateResult } from './generator.js';

export class DecodeBatch {
  readonly out: number[][];
  /** [B, 2] (slot, position) of each row's new token; position = capacity for a finished row. */
  readonly rows: Uint32Array;
  /** [B] cache entries after this step's token; 0 for a finished row (it attends to nothing). */
  readonly lengths: Uint32Array;
  private readonly lens: number[];
  private readonly active: boolean[];
  /** Tokens of each sequence produced or in flight (a pipelined generator reads a step late). */
  private readonly scheduled: number[];

  constructor(prompts: readonly (readonly number[])[], private readonly o: GenerateOptions, private readonly capacity: number) {
    const B = prompts.length;
    this.out = prompts.map(() => []);
    this.rows = new Uint32Array(2 * B);
    this.lengths = new Uint32Array(B);
    this.lens = prompts.map((p) => p.length);
    this.active = prompts.map(() => true);
    this.scheduled = prompts.map(() => 0);
  }

  private live(b: number): boolean {
    return this.active[b]! && this.scheduled[b]! < this.o.maxNewTokens;
  }

  /** Fill rows and lengths for the next decode step; false when no sequence wants another token. */
  next(): boolean {
    if (!this.out.some((_, b) => this.live(b))) return false;
    for (let b = 0; b < this.out.length; b++) {
      const on = this.live(b);
      this.rows[2 * b] = b;
      this.rows[2 * b + 1] = on ? this.lens[b]! : this.capacity;
      this.lengths[b] = on ? this.lens[b]! + 1 : 0;
      if (on) { this.lens[b]!++; this.scheduled[b]!++; }
    }
    return true;
  }

  get maxLength(): number {
    return this.lengths.reduce((m, v) => Math.max(m, v), 0);
  }

  /** Record the sampled ids of `step` for the sequences still generating (eos stops a sequence). */
  record(ids: Uint32Array, step: number): void {
    for (let b = 0; b < ids.length; b++) {
      if (!this.active[b] || this.out[b]!.length >= this.o.maxNewTokens) continue;
      const id = ids[b]!;
      if (this.o.eosId !== undefined && id === this.o.eosId) { this.active[b] = false; continue; }
      this.out[b]!.push(id);
      this.scheduled[b] = Math.max(this.scheduled[b]!, this.out[b]!.length);
      this.o.onToken?.(b, id, step);
    }
  }
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
    tpotMs: decodeMs / Math.max(1, outputTokens - out.length),
    tps: (inputTokens + outputTokens) / (totalMs / 1000),
  };
}
