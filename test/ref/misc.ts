// float64 references for the small decoder kernels: embedding, RoPE, sampling.

/** out[t] = table[ids[t]] * scale, zero row for ids >= vocab. */
export function embeddingRef(ids: ArrayLike<number>, table: ArrayLike<number>, vocab: number, hidden: number, scale = 1): Float64Array {
  const out = new Float64Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id >= vocab) continue;
    for (let c = 0; c < hidden; c++) out[t * hidden + c] = table[id * hidden + c]! * scale;
  }
  return out;
}

export interface RopeRefCfg { nHeads: number; nKvHeads: number; headDim: number; theta: number; style: 'neox' | 'gptj'; ropeDim: number }

/** Rotate one head vector x[0..D) at position pos (float64 angles pos * theta^(-2i/ropeDim)). */
export function ropeHeadRef(x: ArrayLike<number>, pos: number, c: RopeRefCfg): Float64Array {
  const y = Float64Array.from(x);
  const half = c.ropeDim / 2;
  for (let i = 0; i < half; i++) {
    const a = pos * c.theta ** (-(2 * i) / c.ropeDim);
    const [d0, d1] = c.style === 'neox' ? [i, i + half] : [2 * i, 2 * i + 1];
    const x0 = x[d0]!, x1 = x[d1]!;
    y[d0] = x0 * Math.cos(a) - x1 * Math.sin(a);
    y[d1] = x1 * Math.cos(a) + x0 * Math.sin(a);
  }
  return y;
}

/** Split qkv [T, (H + 2KV) * D] into rotated q [T, H, D], rotated k and copied v [T, KV, D]. */
export function ropeQkvRef(qkv: ArrayLike<number>, positions: ArrayLike<number>, c: RopeRefCfg): { q: Float64Array; k: Float64Array; v: Float64Array } {
  const { nHeads: H, nKvHeads: KV, headDim: D } = c;
  const T = positions.length;
  const stride = (H + 2 * KV) * D;
  const q = new Float64Array(T * H * D), k = new Float64Array(T * KV * D), v = new Float64Array(T * KV * D);
  const head = (t: number, h: number) => Array.prototype.slice.call(qkv, t * stride + h * D, t * stride + (h + 1) * D) as number[];
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) q.set(ropeHeadRef(head(t, h), positions[t]!, c), (t * H + h) * D);
    for (let h = 0; h < KV; h++) {
      k.set(ropeHeadRef(head(t, H + h), positions[t]!, c), (t * KV + h) * D);
      v.set(head(t, H + KV + h), (t * KV + h) * D);
    }
  }
  return { q, k, v };
}

export interface SamplingRefParams { temperature: number; topK: number; topP: number }

/**
 * float64 sampling of one row: greedy argmax (lowest index on ties) for temperature 0 / topK 1; otherwise
 * p = softmax(l / T), keep logits >= the k-th largest, then the smallest nucleus by probability whose mass
 * >= topP (every logit tied with its smallest member kept), renormalise, and pick the first index whose
 * cumulative probability exceeds u. `pSlack` / `uSlack` shift topP and u (to probe boundary ambiguity).
 */
export function sampleRowRef(l: ArrayLike<number>, p: SamplingRefParams, u: number, pSlack = 0, uSlack = 0): { token: number; kept: number[] } {
  const V = l.length;
  let imax = 0;
  for (let i = 1; i < V; i++) if (l[i]! > l[imax]!) imax = i;
  if (p.temperature === 0 || p.topK === 1 || V === 1) return { token: imax, kept: [imax] };
  const m = l[imax]!;
  const w = Array.from(l, (v) => Math.exp((v - m) / p.temperature));
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => l[b]! - l[a]!); // by logit, descending
  let t = -Infinity;
  if (p.topK > 0 && p.topK < V) t = l[order[p.topK - 1]!]!;
  if (p.topP < 1) {
    let total = 0;
    for (let i = 0; i < V; i++) if (l[i]! >= t) total += w[i]!;
    const target = (p.topP + pSlack) * total;
    let mass = 0;
    for (let j = 0; j < V && l[order[j]!]! >= t; j++) {
      mass += w[order[j]!]!;
      const v = l[order[j]!]!;
      // Equal logits enter together: decide only at the end of a group.
      if (j + 1 < V && l[order[j + 1]!] === v) continue;
      if (mass >= target) { t = v; break; }
    }
  }
  const kept: number[] = [];
  let z = 0;
  for (let i = 0; i < V; i++) if (l[i]! >= t) { kept.push(i); z += w[i]!; }
  const target = (u + uSlack) * z;
  let acc = 0;
  for (const i of kept) { acc += w[i]!; if (acc > target) return { token: i, kept }; }
  return { token: kept[kept.length - 1]!, kept };
}

/**
 * Tokens the GPU may legitimately return: every token whose slice of the cumulative distribution meets
 * [u - slack, u + slack], for topP at and slack either side of its value. A range, not three points: a
 * token lighter than 2·slack can sit between the draws at u ± slack (f32 accumulation lands on it).
 */
export function acceptedTokens(l: ArrayLike<number>, p: SamplingRefParams, u: number, slack = 1e-5): Set<number> {
  const out = new Set<number>();
  for (const ps of [0, -slack, slack]) {
    const lo = sampleRowRef(l, p, u, ps, -slack), hi = sampleRowRef(l, p, u, ps, slack);
    const a = lo.kept.indexOf(lo.token), b = hi.kept.indexOf(hi.token);
    for (let i = a; i <= b; i++) out.add(hi.kept[i]!);
    out.add(sampleRowRef(l, p, u, ps, 0).token);
  }
  return out;
}
