// Skinny GEMM for decode: y[M, N] = x[M, K] · w[N, K]ᵀ with M = MR ≤ 8. Bandwidth-bound on w.
// A workgroup computes RPW output columns n; LANES threads stream each weight row, so consecutive
// threads read consecutive vec4s of w (coalesced), and every thread accumulates all MR rows of x
// against each weight vector it loads (w is read once for the whole batch). The LANES partial sums
// per (m, n) are reduced through workgroup memory; lanes then write y[m, n] for m ≡ lane (mod LANES).
// Any K: the scalar entries read w/x four elements at a time plus a scalar tail.
//
// Entry points (bindings differ):
//   gemv / gemv_vec4              y = act(x·wᵀ + bias) + residual (+ y when ACCUMULATE)
//   gemv_gated / gemv_gated_vec4  y = act(x·wgᵀ) ⊙ (x·wuᵀ)
//   gemv_h8 / gemv_gated_h8       the same, f16 read 8 halves at a time
//   gemv_rope / gemv_vec4_rope / gemv_h8_rope   the fused QKV product with RoPE and the K/V append in its epilogue
//                                 (shaders/rope_epilogue.wgsl): the workgroup's column c streams weight row
//                                 rope_col(c), and the threads of each even c store the pair with c + 1's sums
//                                 (RPW even: a pair never straddles two workgroups)
// With NORM on, x is RMS-normalised as it is read (the decoder's pre-norm, one launch instead of two):
//   y[m, n] = epilogue(rsqrt(mean_k(x[m, k]²) + eps) · Σ_k x[m, k] · norm_w[k] · w[n, k])
// Each column's LANES threads stream the whole of x anyway: the threads of one column per row also sum that
// row's squares (rows dealt round-robin to the workgroup's valid columns, so no sum is computed twice), reduced
// with the dot products (no extra pass over x; MR more sums in the reduction); norm_w scales the weights as loaded.
// *_vec4 read x and w as vec4 (K % 4 == 0). *_h8 (f16, K % 8 == 0) read 8 halves per 16-byte load
// (vec4<u32> views of the f16 tensors), four loads in flight per lane before their math: decode is
// bound by the bytes in flight per SM, and 8-byte loads one at a time left it at ~75% of copy.
// Unused optional operands get a placeholder binding
// (see gemm.wgsl). Grid: ceil(N / RPW) workgroups, folded into (x, y) when over the per-dim limit.
// Specialised by: alias T/T4, overrides below (MR is compiled in so the row loops unroll into
// registers).

// eps: the RMSNorm prologue's (NORM); slots, capacity, slotBase: the RoPE epilogue's cache group (*_rope entries).
struct Params { M: u32, N: u32, K: u32, eps: f32, slots: u32, capacity: u32, slotBase: u32, _pad: u32 }

const MAXM = 8u;
override MR: u32 = 1u;             // rows of x, 1..MAXM
override LANES: u32 = 64u;         // threads per output column (power of two)
override RPW: u32 = 4u;            // output columns per workgroup
override WG: u32 = LANES * RPW;
override PARTS: u32 = 1u;         // products per output: 1, or 2 for the gated entries
override NORM: bool = false;      // RMSNorm prologue on x (norm_w, p.eps)
override NSUM: u32 = PARTS * MR + select(0u, MR, NORM); // sums per thread to reduce: products, then squares
override RED_LEN: u32 = NSUM * WG;


@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> w: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(7) var<storage, read> w4: array<T4>;
@group(0) @binding(8) var<storage, read> wg: array<T>;
@group(0) @binding(9) var<storage, read> wu: array<T>;
@group(0) @binding(10) var<storage, read> wg4: array<T4>;
@group(0) @binding(11) var<storage, read> wu4: array<T4>;
@group(0) @binding(12) var<storage, read> x8: array<vec4<u32>>;   // f16 tensors, 8 halves per element
@group(0) @binding(13) var<storage, read> w8: array<vec4<u32>>;
@group(0) @binding(14) var<storage, read> wg8: array<vec4<u32>>;
@group(0) @binding(15) var<storage, read> wu8: array<vec4<u32>>;
@group(0) @binding(16) var<storage, read> norm_w: array<T>;            // [K] RMSNorm weight (placeholder when NORM is off)
@group(0) @binding(17) var<storage, read> norm_w4: array<T4>;
@group(0) @binding(18) var<storage, read> norm_w8: array<vec4<u32>>;

var<workgroup> red: array<f32, RED_LEN>;   // [NSUM][WG] partial sums: [PARTS][MR] products, then [MR] squares (NORM)

var<private> acc: array<f32, MAXM>;
var<private> acc2: array<f32, MAXM>;
var<private> ss: array<f32, MAXM>;      // NORM: sums of squares of the rows of x, then their rsqrt scales
var<private> sq_cols: u32;              // NORM: this workgroup's columns below N (row m's squares: column m % sq_cols)
var<private> sums: array<bool, MAXM>;   // NORM: whether this thread's column sums row m's squares

// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), erf_f32(), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).


// ---- streaming dot products (n may be past N: those threads stream nothing) ------------------------

fn col_of(wid: vec3u, nwg: vec3u, tid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * RPW + tid / LANES;
}

fn span(n: u32, len: u32) -> u32 { return select(0u, len, n < p.N); }

fn x_quad(m: u32, k: u32) -> vec4f {
  let b = m * p.K + k;
  return vec4f(f32(x[b]), f32(x[b + 1u]), f32(x[b + 2u]), f32(x[b + 3u]));
}

// NORM: the norm weight at k (1 when off) and the sums of squares of x.
fn norm_quad(k: u32) -> vec4f {
  if (NORM) { return vec4f(f32(norm_w[k]), f32(norm_w[k + 1u]), f32(norm_w[k + 2u]), f32(norm_w[k + 3u])); }
  return vec4f(1.0);
}
fn norm_at(k: u32) -> f32 { if (NORM) { return f32(norm_w[k]); } return 1.0; }
fn norm_quad4(j: u32) -> vec4f { if (NORM) { return vec4f(norm_w4[j]); } return vec4f(1.0); }
fn sums_row(m: u32) -> bool { return NORM && sums[m]; }   // NORM first: off, the check compiles away
fn square_sum(m: u32, xv: vec4f) { if (sums_row(m)) { ss[m] += dot(xv, xv); } }

fn dots(n: u32, lane: u32) {
  let K = p.K; let wb = n * K;
  let k4 = span(n, K / 4u);
  for (var j = lane; j < k4; j += LANES) {
    let k = 4u * j;
    let wv = vec4f(f32(w[wb + k]), f32(w[wb + k + 1u]), f32(w[wb + k + 2u]), f32(w[wb + k + 3u])) * norm_quad(k);
    for (var m = 0u; m < MR; m++) { let xv = x_quad(m, k); acc[m] += dot(wv, xv); square_sum(m, xv); }
  }
  for (var k = 4u * k4 + lane; k < span(n, K); k += LANES) {
    let wv = f32(w[wb + k]) * norm_at(k);
    for (var m = 0u; m < MR; m++) {
      let xv = f32(x[m * K + k]);
      acc[m] = fma(wv, xv, acc[m]); square_sum(m, vec4f(xv, 0.0, 0.0, 0.0));
    }
  }
}

fn dots4(n: u32, lane: u32) {
  let K4 = p.K / 4u; let wb = n * K4;
  for (var j = lane; j < span(n, K4); j += LANES) {
    let wv = vec4f(w4[wb + j]) * norm_quad4(j);
    for (var m = 0u; m < MR; m++) { let xv = vec4f(x4[m * K4 + j]); acc[m] += dot(wv, xv); square_sum(m, xv); }
  }
}

fn dots_gated(n: u32, lane: u32) {
  let K = p.K; let wb = n * K;
  let k4 = span(n, K / 4u);
  for (var j = lane; j < k4; j += LANES) {
    let k = 4u * j;
    let nv = norm_quad(k);
    let gv = vec4f(f32(wg[wb + k]), f32(wg[wb + k + 1u]), f32(wg[wb + k + 2u]), f32(wg[wb + k + 3u])) * nv;
    let uv = vec4f(f32(wu[wb + k]), f32(wu[wb + k + 1u]), f32(wu[wb + k + 2u]), f32(wu[wb + k + 3u])) * nv;
    for (var m = 0u; m < MR; m++) {
      let xv = x_quad(m, k);
      acc[m] += dot(gv, xv); acc2[m] += dot(uv, xv); square_sum(m, xv);
    }
  }
  for (var k = 4u * k4 + lane; k < span(n, K); k += LANES) {
    let nv = norm_at(k);
    let gv = f32(wg[wb + k]) * nv; let uv = f32(wu[wb + k]) * nv;
    for (var m = 0u; m < MR; m++) {
      let xv = f32(x[m * K + k]);
      acc[m] = fma(gv, xv, acc[m]); acc2[m] = fma(uv, xv, acc2[m]); square_sum(m, vec4f(xv, 0.0, 0.0, 0.0));
    }
  }
}

fn dots_gated4(n: u32, lane: u32) {
  let K4 = p.K / 4u; let wb = n * K4;
  for (var j = lane; j < span(n, K4); j += LANES) {
    let nv = norm_quad4(j);
    let gv = vec4f(wg4[wb + j]) * nv; let uv = vec4f(wu4[wb + j]) * nv;
    for (var m = 0u; m < MR; m++) {
      let xv = vec4f(x4[m * K4 + j]);
      acc[m] += dot(gv, xv); acc2[m] += dot(uv, xv); square_sum(m, xv);
    }
  }
}

// 8 halves (a vec4<u32> view) dotted with 8 halves, in f32 (unpack2x16float: no f16 types, so the
// f32 specialisation of this file compiles without `enable f16`).
fn dot8(a: vec4<u32>, b: vec4<u32>) -> f32 {
  let a0 = vec4f(unpack2x16float(a.x), unpack2x16float(a.y));
  let a1 = vec4f(unpack2x16float(a.z), unpack2x16float(a.w));
  let b0 = vec4f(unpack2x16float(b.x), unpack2x16float(b.y));
  let b1 = vec4f(unpack2x16float(b.z), unpack2x16float(b.w));
  return dot(a0, b0) + dot(a1, b1);
}

fn dots8(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = span(n, K8);
  var j = lane;
  // Four independent 16-byte weight loads per lane before the math that needs them.
  for (; j + 3u * LANES < len; j += 4u * LANES) {
    let w0 = w8[wb + j]; let w1 = w8[wb + j + LANES];
    let w2 = w8[wb + j + 2u * LANES]; let w3 = w8[wb + j + 3u * LANES];
    for (var m = 0u; m < MR; m++) {
      let xb = m * K8 + j;
      acc[m] += dot8(w0, x8[xb]) + dot8(w1, x8[xb + LANES]) + dot8(w2, x8[xb + 2u * LANES]) + dot8(w3, x8[xb + 3u * LANES]);
    }
  }
  for (; j < len; j += LANES) {
    let w0 = w8[wb + j];
    for (var m = 0u; m < MR; m++) { acc[m] += dot8(w0, x8[m * K8 + j]); }
  }
}

fn dots_gated8(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = span(n, K8);
  var j = lane;
  for (; j + LANES < len; j += 2u * LANES) {
    let g0 = wg8[wb + j]; let g1 = wg8[wb + j + LANES];
    let u0 = wu8[wb + j]; let u1 = wu8[wb + j + LANES];
    for (var m = 0u; m < MR; m++) {
      let x0 = x8[m * K8 + j]; let x1 = x8[m * K8 + j + LANES];
      acc[m] += dot8(g0, x0) + dot8(g1, x1);
      acc2[m] += dot8(u0, x0) + dot8(u1, x1);
    }
  }
  for (; j < len; j += LANES) {
    let g0 = wg8[wb + j]; let u0 = wu8[wb + j];
    for (var m = 0u; m < MR; m++) {
      let x0 = x8[m * K8 + j];
      acc[m] += dot8(g0, x0); acc2[m] += dot8(u0, x0);
    }
  }
}

// The h8 loops with the RMSNorm prologue (kept apart so the plain ones stay as tuned): 8 halves as two
// vec4f (F8, unpack8, dot8f: shaders/half8.wgsl), the weights scaled by norm_w as loaded.
fn scaled8(a: vec4<u32>, s: F8) -> F8 { let u = unpack8(a); return F8(u.lo * s.lo, u.hi * s.hi); }

fn dots8_norm(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = span(n, K8);
  var j = lane;
  for (; j + 3u * LANES < len; j += 4u * LANES) {
    let w0 = w8[wb + j]; let w1 = w8[wb + j + LANES];
    let w2 = w8[wb + j + 2u * LANES]; let w3 = w8[wb + j + 3u * LANES];
    let s0 = scaled8(w0, unpack8(norm_w8[j])); let s1 = scaled8(w1, unpack8(norm_w8[j + LANES]));
    let s2 = scaled8(w2, unpack8(norm_w8[j + 2u * LANES])); let s3 = scaled8(w3, unpack8(norm_w8[j + 3u * LANES]));
    for (var m = 0u; m < MR; m++) {
      let xb = m * K8 + j;
      let x0 = unpack8(x8[xb]); let x1 = unpack8(x8[xb + LANES]);
      let x2 = unpack8(x8[xb + 2u * LANES]); let x3 = unpack8(x8[xb + 3u * LANES]);
      acc[m] += dot8f(s0, x0) + dot8f(s1, x1) + dot8f(s2, x2) + dot8f(s3, x3);
      if (sums_row(m)) { ss[m] += dot8f(x0, x0) + dot8f(x1, x1) + dot8f(x2, x2) + dot8f(x3, x3); }
    }
  }
  for (; j < len; j += LANES) {
    let s0 = scaled8(w8[wb + j], unpack8(norm_w8[j]));
    for (var m = 0u; m < MR; m++) {
      let x0 = unpack8(x8[m * K8 + j]);
      acc[m] += dot8f(s0, x0);
      if (sums_row(m)) { ss[m] += dot8f(x0, x0); }
    }
  }
}

fn dots_gated8_norm(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = span(n, K8);
  var j = lane;
  for (; j + LANES < len; j += 2u * LANES) {
    let n0 = unpack8(norm_w8[j]); let n1 = unpack8(norm_w8[j + LANES]);
    let g0 = scaled8(wg8[wb + j], n0); let g1 = scaled8(wg8[wb + j + LANES], n1);
    let u0 = scaled8(wu8[wb + j], n0); let u1 = scaled8(wu8[wb + j + LANES], n1);
    for (var m = 0u; m < MR; m++) {
      let x0 = unpack8(x8[m * K8 + j]); let x1 = unpack8(x8[m * K8 + j + LANES]);
      acc[m] += dot8f(g0, x0) + dot8f(g1, x1);
      acc2[m] += dot8f(u0, x0) + dot8f(u1, x1);
      if (sums_row(m)) { ss[m] += dot8f(x0, x0) + dot8f(x1, x1); }
    }
  }
  for (; j < len; j += LANES) {
    let n0 = unpack8(norm_w8[j]);
    let g0 = scaled8(wg8[wb + j], n0); let u0 = scaled8(wu8[wb + j], n0);
    for (var m = 0u; m < MR; m++) {
      let x0 = unpack8(x8[m * K8 + j]);
      acc[m] += dot8f(g0, x0); acc2[m] += dot8f(u0, x0);
      if (sums_row(m)) { ss[m] += dot8f(x0, x0); }
    }
  }
}

// Tree-reduce the LANES partials of each (m, column) in workgroup memory (PARTS sums per output, and with
// NORM each row's sum of squares).
fn reduce(tid: u32) {
  let lane = tid % LANES;
  for (var m = 0u; m < MR; m++) {
    red[m * WG + tid] = acc[m];
    if (PARTS == 2u) { red[(MR + m) * WG + tid] = acc2[m]; }
    if (NORM) { red[(PARTS * MR + m) * WG + tid] = ss[m]; }
  }
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var r = 0u; r < NSUM; r++) { red[r * WG + tid] += red[r * WG + tid + s]; }
    }
    workgroupBarrier();
  }
}

fn zero(wid: vec3u, nwg: vec3u, tid: u32) {
  for (var m = 0u; m < MAXM; m++) { acc[m] = 0.0; acc2[m] = 0.0; ss[m] = 0.0; }
  let first = (wid.x + wid.y * nwg.x) * RPW;
  sq_cols = clamp(p.N - min(first, p.N), 1u, RPW); // a workgroup past N (a folded grid's tail) stores nothing
  for (var m = 0u; m < MAXM; m++) { sums[m] = NORM && m % sq_cols == tid / LANES; }
}

// After reduce(): this thread's reduced sums (rows m ≡ lane mod LANES) into acc/acc2, and each such row's
// scale into ss: rsqrt(mean(x²) + eps) from the column that summed the row's squares (NORM), else 1.
fn gather(tid: u32) {
  let lane = tid % LANES;
  for (var m = lane; m < MR; m += LANES) {
    acc[m] = red[m * WG + tid - lane];
    if (PARTS == 2u) { acc2[m] = red[(MR + m) * WG + tid - lane]; }
    ss[m] = 1.0;
    if (NORM) { ss[m] = inverseSqrt(red[(PARTS * MR + m) * WG + (m % sq_cols) * LANES] / f32(p.K) + p.eps); }
  }
}

fn store(n: u32, tid: u32) {
  let lane = tid % LANES;
  gather(tid);
  if (n < p.N) {
    for (var m = lane; m < MR; m += LANES) { epilogue(m, n, acc[m] * ss[m]); }
  }
}

// ---- entry points -------------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn gemv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid); let lane = tid % LANES;
  zero(wid, nwg, tid);
  dots(n, lane);
  reduce(tid);
  store(n, tid);
}

@compute @workgroup_size(WG)
fn gemv_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid); let lane = tid % LANES;
  zero(wid, nwg, tid);
  dots4(n, lane);
  reduce(tid);
  store(n, tid);
}

@compute @workgroup_size(WG)
fn gemv_h8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid); let lane = tid % LANES;
  zero(wid, nwg, tid);
  if (NORM) { dots8_norm(n, lane); } else { dots8(n, lane); }
  reduce(tid);
  store(n, tid);
}

fn store_gated(n: u32, tid: u32) {
  let lane = tid % LANES;
  gather(tid);
  if (n < p.N) {
    for (var m = lane; m < MR; m += LANES) { y[m * p.N + n] = T(activate(acc[m] * ss[m]) * (acc2[m] * ss[m])); }
  }
}

@compute @workgroup_size(WG)
fn gemv_gated(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid);
  zero(wid, nwg, tid);
  dots_gated(n, tid % LANES);
  reduce(tid);
  store_gated(n, tid);
}

@compute @workgroup_size(WG)
fn gemv_gated_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid);
  zero(wid, nwg, tid);
  dots_gated4(n, tid % LANES);
  reduce(tid);
  store_gated(n, tid);
}

@compute @workgroup_size(WG)
fn gemv_gated_h8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) tid: u32) {
  let n = col_of(wid, nwg, tid);
  zero(wid, nwg, tid);
  if (NORM) { dots_gated8_norm(n, tid % LANES); } else { dots_gated8(n, tid % LANES); }
  reduce(tid);
  store_gated(n, tid);
}

// ---- the QKV product with RoPE in its epilogue (shaders/rope_epilogue.wgsl) -------------------------------

// After reduce(): the threads of each even slot c hand row m's sums of c and c + 1 (the next LANES threads' reduced
// total) to rope_pair; the RMSNorm scale ss[m] is the row's, the same for both. row0 (row `lane`'s slot and
// position) and g (the pair's frequency words) were loaded before the K loop, their latency hidden behind it.
fn store_rope(c: u32, tid: u32, row0: vec2<u32>, g: vec2<u32>) {
  let lane = tid % LANES;
  gather(tid);
  if ((tid / LANES) % 2u == 0u && c < p.N) {
    for (var m = lane; m < MR; m += LANES) {
      var row = row0;
      if (m != lane) { row = rope_row(m); }
      rope_pair_at(m, c, acc[m] * ss[m], red[m * WG + tid - lane + LANES] * ss[m], row, g);
    }
  }
}

// This thread's first row (lane, clamped to the rows) for store_rope.
fn rope_row0(tid: u32) -> vec2<u32> { return rope_row(min(tid % LANES, MR - 1u)); }

@compute @workgroup_size(WG)
fn gemv_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) tid: u32) {
  let c = col_of(wid, nwg, tid);
  let row0 = rope_row0(tid); let g = rope_freq(c);
  zero(wid, nwg, tid);
  dots(rope_col(c), tid % LANES);
  reduce(tid);
  store_rope(c, tid, row0, g);
}

@compute @workgroup_size(WG)
fn gemv_vec4_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) tid: u32) {
  let c = col_of(wid, nwg, tid);
  let row0 = rope_row0(tid); let g = rope_freq(c);
  zero(wid, nwg, tid);
  dots4(rope_col(c), tid % LANES);
  reduce(tid);
  store_rope(c, tid, row0, g);
}

@compute @workgroup_size(WG)
fn gemv_h8_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) tid: u32) {
  let c = col_of(wid, nwg, tid);
  let row0 = rope_row0(tid); let g = rope_freq(c);
  zero(wid, nwg, tid);
  if (NORM) { dots8_norm(rope_col(c), tid % LANES); } else { dots8(rope_col(c), tid % LANES); }
  reduce(tid);
  store_rope(c, tid, row0, g);
}
