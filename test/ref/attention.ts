// float64 references for attention: one cache slot per call, the (O, LSE) merge.

export interface AttnRefArgs {
  T: number; nHeads: number; nKv: number; d: number;
  slots: number; capacity: number; slot: number;
  qPos0: number; kvBase: number; kvLen: number; causal: boolean; scale: number;
}

/** q/out [T, nHeads, d]; caches [slots, nKv, capacity, d]; lse [T, nHeads] natural log, -inf for no keys. */
export function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, a: AttnRefArgs): { out: Float64Array; lse: Float64Array } {
  const { T, nHeads, nKv, d } = a;
  const out = new Float64Array(T * nHeads * d);
  const lse = new Float64Array(T * nHeads);
  const group = nHeads / nKv;
  const s = new Float64Array(a.kvLen);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * d;
      const kvRow0 = (a.slot * nKv + Math.floor(h / group)) * a.capacity;
      let m = -Infinity;
      let n = 0;
      for (let j = 0; j < a.kvLen; j++) {
        if (a.causal && a.kvBase + j > a.qPos0 + t) break;
        const ko = (kvRow0 + j) * d;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[qo + c]! * k[ko + c]!;
        s[j] = dot * a.scale;
        m = Math.max(m, s[j]!);
        n = j + 1;
      }
      if (n === 0) { lse[t * nHeads + h] = -Infinity; continue; }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(s[j]! - m);
        sum += e;
        const vo = (kvRow0 + j) * d;
        for (let c = 0; c < d; c++) out[qo + c]! += e * v[vo + c]!;
      }
      for (let c = 0; c < d; c++) out[qo + c]! /= sum;
      lse[t * nHeads + h] = m + Math.log(sum);
    }
  }
  return { out, lse };
}

/** Decode: row b of q [B, nHeads, d] over slot b's first lengths[b] keys. */
export function decodeRef(q: Float64Array, k: Float64Array, v: Float64Array, lengths: readonly number[],
  nHeads: number, nKv: number, d: number, capacity: number, scale: number): { out: Float64Array; lse: Float64Array } {
  const B = lengths.length;
  const out = new Float64Array(B * nHeads * d);
  const lse = new Float64Array(B * nHeads);
  for (let b = 0; b < B; b++) {
    const r = attentionRef(q.subarray(b * nHeads * d, (b + 1) * nHeads * d), k, v, {
      T: 1, nHeads, nKv, d, slots: B, capacity, slot: b, qPos0: 0, kvBase: 0, kvLen: lengths[b]!, causal: false, scale,
    });
    out.set(r.out, b * nHeads * d);
    lse.set(r.lse, b * nHeads);
  }
  return { out, lse };
}

/** partialO [R, P, d], partialLse [R, P] (R = rows × heads) → merged out [R, d], lse [R]. */
export function mergeRef(po: Float64Array, pl: Float64Array, R: number, P: number, d: number): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(R * d);
  const lse = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let m = -Infinity;
    for (let i = 0; i < P; i++) m = Math.max(m, pl[r * P + i]!);
    if (m === -Infinity) { lse[r] = -Infinity; continue; }
    let den = 0;
    for (let i = 0; i < P; i++) {
      if (pl[r * P + i] === -Infinity) continue; // empty partial: weight 0, O unread
      const w = Math.exp(pl[r * P + i]! - m);
      den += w;
      for (let c = 0; c < d; c++) out[r * d + c]! += w * po[(r * P + i) * d + c]!;
    }
    for (let c = 0; c < d; c++) out[r * d + c]! /= den;
    lse[r] = m + Math.log(den);
  }
  return { out, lse };
}
