// float64 references for the GEMM family: y = x · Wᵀ with W as [out, in].
/** erf in float64 to ~1e-15: Taylor series near 0, continued fraction for erfc beyond. */
export function erfRef(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = t, sum = t;
    for (let n = 1; n < 100; n++) {
      term *= -t * t / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(t) = exp(-t²)/√π · 1/(t + 1/2/(t + 1/(t + 3/2/(t + ...)))) (Lentz-free backward evaluation)
  let f = t;
  for (let n = 60; n >= 1; n--) f = t + (n / 2) / f;
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export type ActivationRef = 'none' | 'gelu_erf' | 'gelu_tanh' | 'silu';

export function geluErfRef(v: number): number { return 0.5 * v * (1 + erfRef(v / Math.SQRT2)); }
export function geluTanhRef(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

export function siluRef(v: number): number { return v / (1 + Math.exp(-v)); }

export function actRef(act: ActivationRef, v: number): number {
  return act === 'gelu_erf' ? geluErfRef(v) : act === 'gelu_tanh' ? geluTanhRef(v) : act === 'silu' ? siluRef(v) : v;
}

/** x [M, K] · w [N, K]ᵀ → [M, N]. */
export function matmulRef(x: Float64Array, w: Float64Array, M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
      y[m * N + n] = s;
    }
  }
  return y;
}

export interface LinearRefArgs {
  x: Float64Array; w: Float64Array; M: number; N: number; K: number;
  bias?: Float64Array; act?: ActivationRef; residual?: Float64Array;
  /** Previous contents of out, added when accumulating. */
  accumulateInto?: Float64Array;
}

export function linearRef(a: LinearRefArgs): Float64Array {
  const y = matmulRef(a.x, a.w, a.M, a.N, a.K);
  for (let i = 0; i < y.length; i++) {
    const n = i % a.N;
    let v = actRef(a.act ?? 'none', y[i]! + (a.bias ? a.bias[n]! : 0));
    if (a.residual) v += a.residual[i]!;
    if (a.accumulateInto) v += a.accumulateInto[i]!;
    y[i] = v;
  }
  return y;
}

/** act(x·Wgᵀ) ⊙ (x·Wuᵀ) → [M, F]. */
export function gatedRef(x: Float64Array, wg: Float64Array, wu: Float64Array, M: number, F: number, K: number, act: ActivationRef): Float64Array {
  const g = matmulRef(x, wg, M, F, K), u = matmulRef(x, wu, M, F, K);
  return g.map((v, i) => actRef(act, v) * u[i]!);
}
