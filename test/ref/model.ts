// float64 reference of the dense decoder (llama2.c style), independent of the GPU code: embedding,
// pre-norm attention with RoPE (rotate_half pairs) and GQA, pre-norm gated GELU FFN, final norm, head.
import type { ModelConfig } from '../../src/model/config.js';

export type RefWeights = Map<string, Float64Array>; // our canonical names

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

/** y[n] = Σ_k x[k] W[n, k] for W stored [N, K]. */
function matvec(x: Float64Array, w: Float64Array, n: number): Float64Array {
  const k = x.length, y = new Float64Array(n);
  for (let r = 0; r < n; r++) { let s = 0; for (let c = 0; c < k; c++) s += x[c]! * w[r * k + c]!; y[r] = s; }
  return y;
}

function activation(x: number, kind: ModelConfig['act']): number {
  if (kind === 'silu') return x / (1 + Math.exp(-x));
  if (kind === 'gelu_tanh') return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

function erf(x: number): number { // series/continued fraction good to ~1e-15 for our ranges
  const t = Math.abs(x);
  if (t < 3) { let s = 0, term = t; for (let n = 0; n < 60; n++) { s += term / (2 * n + 1); term *= -t * t / (n + 1); } return Math.sign(x) * 2 / Math.sqrt(Math.PI) * s; }
  return Math.sign(x) * (1 - Math.exp(-t * t) / (t * Math.sqrt(Math.PI)) * (1 - 1 / (2 * t * t)));
}

function rope(v: Float64Array, pos: number, D: number, theta: number): void {
  for (let i = 0; i < D / 2; i++) {
    const a = pos * theta ** (-(2 * i) / D);
    const x1 = v[i]!, x2 = v[i + D / 2]!;
    v[i] = x1 * Math.cos(a) - x2 * Math.sin(a);
    v[i + D / 2] = x2 * Math.cos(a) + x1 * Math.sin(a);
  }
}

export class RefModel {
  private readonly k: Float64Array[][] = []; // [layer][pos] → [nKv*D]
  private readonly v: Float64Array[][] = [];
  constructor(readonly c: ModelConfig, readonly w: RefWeights) {
    for (let l = 0; l < c.nLayers; l++) { this.k.push([]); this.v.push([]); }
  }
  private g(name: string): Float64Array { const t = this.w.get(name); if (!t) throw new Error(`missing ${name}`); return t; }

  /** Feed one token at the next position; returns the logits. */
  step(token: number): Float64Array {
    const c = this.c, D = c.headDim, H = c.nHeads, Hk = c.nKvHeads, pos = this.k[0]!.length;
    let x = this.g('embed').slice(token * c.hidden, (token + 1) * c.hidden).map((v) => v * c.embedScale);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `layers.${l}.`;
      const h = rmsnorm(x, this.g(p + 'attn_norm'), c.normEps);
      const q = matvec(h, this.g(p + 'wq'), H * D), k = matvec(h, this.g(p + 'wk'), Hk * D), v = matvec(h, this.g(p + 'wv'), Hk * D);
      for (let hh = 0; hh < H; hh++) rope(q.subarray(hh * D, (hh + 1) * D), pos, D, c.ropeTheta);
      for (let hh = 0; hh < Hk; hh++) rope(k.subarray(hh * D, (hh + 1) * D), pos, D, c.ropeTheta);
      this.k[l]!.push(k); this.v[l]!.push(v);
      const att = new Float64Array(H * D);
      for (let hh = 0; hh < H; hh++) {
        const kh = Math.floor(hh / (H / Hk));
        const s = this.k[l]!.map((kk) => { let d = 0; for (let i = 0; i < D; i++) d += q[hh * D + i]! * kk[kh * D + i]!; return d / Math.sqrt(D); });
        const m = Math.max(...s), e = s.map((z) => Math.exp(z - m)), z = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t < s.length; t++) for (let i = 0; i < D; i++) att[hh * D + i]! += (e[t]! / z) * this.v[l]![t]![kh * D + i]!;
      }
      const o = matvec(att, this.g(p + 'wo'), c.hidden);
      x = x.map((xv, i) => xv + o[i]!);
      const h2 = rmsnorm(x, this.g(p + 'ffn_norm'), c.normEps);
      const gate = matvec(h2, this.g(p + 'w_gate'), c.ffn), up = matvec(h2, this.g(p + 'w_up'), c.ffn);
      const f = gate.map((gv, i) => activation(gv, c.act) * up[i]!);
      const down = matvec(f, this.g(p + 'w_down'), c.hidden);
      x = x.map((xv, i) => xv + down[i]!);
    }
    const head = c.tiedEmbeddings ? this.g('embed') : this.g('lm_head');
    return matvec(rmsnorm(x, this.g('final_norm'), c.normEps), head, c.vocab);
  }

  /** Prompt then `steps` greedy tokens; logits of the last prompt position and of each greedy step. */
  greedy(prompt: readonly number[], steps: number): { tokens: number[]; logits: Float64Array[] } {
    let logits: Float64Array = new Float64Array();
    for (const t of prompt) logits = this.step(t);
    const tokens: number[] = [], all: Float64Array[] = [logits];
    for (let s = 0; s < steps; s++) {
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      tokens.push(best);
      if (s + 1 < steps) { logits = this.step(best); all.push(logits); }
    }
    return { tokens, logits: all };
  }
}

/**
 * Where a generated token path parts from the reference's greedy one (`want`): the first step that differs and how far
 * the token taken there lies below the reference's best, relative to its largest |logit|, fed the prompt and the
 * common prefix — a near-tie when small. Null when the paths agree.
 */
export function partingGap(c: ModelConfig, w: RefWeights, prompt: readonly number[], got: readonly number[], want: readonly number[]): { step: number; gap: number } | null {
  const k = got.findIndex((t, i) => t !== want[i]);
  if (k < 0) return null;
  const model = new RefModel(c, w);
  let logits: Float64Array = new Float64Array();
  for (const t of [...prompt, ...got.slice(0, k)]) logits = model.step(t);
  const top = Math.max(...logits), scale = Math.max(...logits.map(Math.abs));
  return { step: k, gap: (top - logits[got[k]!]!) / scale };
}
