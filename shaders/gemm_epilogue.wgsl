// The fused epilogue of the GEMM family (gemm, gemm_quad, gemv, the subgroup-matrix GEMMs): bias, GELU
// (exact erf or tanh) or SiLU, residual add, in-place accumulate. Prepended to those files by the runtime
// (ProgramDef.includes), after the specialisation header. The including file declares the bindings
// `bias`, `residual`, `y` and the uniform `p` (with `N`); the switches are override constants set per
// pipeline, so a disabled step compiles away.

override ACT: u32 = 0u;            // 0 none, 1 gelu_erf, 2 gelu_tanh, 3 silu
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false; // y += result (y read and written in place)

// erf to ~1.4e-7 absolute (measured in f32 against double erf; A&S 7.1.26 is 1.5e-7 before rounding):
// |x| < 0.93: x·P(x²) (degree 5); above: 1 − exp(Q(|x|)) with Q a degree-8 fit of log(erfc),
// |x| clamped at 3.92 where erf rounds to 1 in f32. Least-squares fits on Chebyshev nodes.
fn erf_f32(v: f32) -> f32 {
  let t = abs(v);
  if (t < 0.93) {
    let s = v * v;
    var r = -6.01086067e-4;
    r = fma(r, s, 4.99879057e-3);
    r = fma(r, s, -2.67720018e-2);
    r = fma(r, s, 1.12820283e-1);
    r = fma(r, s, -3.76125246e-1);
    r = fma(r, s, 1.12837911);
    return v * r;
  }
  let u = min(t, 3.92);
  var q = 1.63846812e-6;
  q = fma(q, u, -4.60494921e-5);
  q = fma(q, u, 5.96440048e-4);
  q = fma(q, u, -4.7565042e-3);
  q = fma(q, u, 2.64084339e-2);
  q = fma(q, u, -1.10050865e-1);
  q = fma(q, u, -6.31864309e-1);
  q = fma(q, u, -1.13020682);
  q = fma(q, u, 3.12569842e-4);
  return sign(v) * (1.0 - exp(q));
}

fn activate(v: f32) -> f32 {
  if (ACT == 1u) { return 0.5 * v * (1.0 + erf_f32(v * 0.7071067811865476)); }
  if (ACT == 2u) {
    // tanh saturates to ±1 in f32 beyond |9|; clamping keeps exp-based tanh from inf/inf = NaN.
    let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -9.0, 9.0);
    return 0.5 * v * (1.0 + tanh(u));
  }
  // x·sigmoid(x). exp's argument held at 88 (exp(88) ≈ 1.7e38, finite in f32): WGSL may assume no infinities, so
  // v / (1 + inf) is not to be relied on; below −88 the quotient is within 1e-36 of the limit 0.
  if (ACT == 3u) { return v / (1.0 + exp(min(-v, 88.0))); }
  return v;
}

// The fused epilogue: y[m, n] = act(v + bias[n]) (+ residual[m, n]) (+ y[m, n] when accumulating).
fn epilogue(m: u32, n: u32, v0: f32) {
  y[m * p.N + n] = T(epilogue_value(m, n, v0));
}

// The value the epilogue stores at (m, n), before its rounding to T.
fn epilogue_value(m: u32, n: u32, v0: f32) -> f32 {
  let i = m * p.N + n;
  var v = v0;
  if (HAS_BIAS) { v += f32(bias[n]); }
  v = activate(v);
  if (HAS_RESIDUAL) { v += f32(residual[i]); }
  if (ACCUMULATE) { v += f32(y[i]); }
  return v;
}
