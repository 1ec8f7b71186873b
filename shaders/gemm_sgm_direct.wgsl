// GEMM on subgroup matrices with operands loaded straight from the storage buffers (no workgroup
// staging): y[M, N] = x[M, K] · w[N, K]ᵀ, f16 operands, f32 accumulation, 16×16×16 f16→f32 matrices.
// A workgroup is SG_ROWS × SG_COLS subgroups; each subgroup owns TM × TN result matrices (entry
// sgm_direct_{TM}x{TN}; _k32: two 16-deep steps per iteration, K % 32 == 0), i.e. a (16·TM) × (16·TN) block. Per 16-deep K step it loads TM left matrices
// (rows of x, row-major, stride K) and TN right matrices (rows of w = columns of wᵀ: col-major, stride
// K) and issues TM·TN multiply-accumulates: each loaded operand feeds TN (or TM) products; the other
// subgroups of the workgroup re-read the same rows, which the L1 cache serves.
// PREFETCH: the next K step's operands are loaded before this step's products (register double
// buffering), so load latency overlaps the matrix math.
// Gated entries sgm_direct_gated_{TM}x{TN}: y = act(x·wgᵀ) ⊙ (x·wuᵀ), both products from one load of x
// (2·TM·TN accumulators).
// Ragged M and N: a matrix whose 16 rows would run past M (or N) loads from row M−16 instead (always
// inside the buffer) and the epilogue writes only the rows it owns (≥ its nominal first row), so no load
// is out of bounds and no output is written twice. Needs M ≥ 16, N ≥ 16, K % 16 == 0 (host checks;
// other shapes take gemm_subgroup_matrix.wgsl, which stages through zero-padded workgroup tiles).
// Epilogue: each result matrix goes through a per-subgroup 16×16 f32 scratch in workgroup memory (a
// subgroup-matrix value cannot be converted to f16 nor addressed per element), then
// bias/activation/residual/accumulate as in gemm.wgsl.
// Specialised by: enable f16 + subgroups + chromium_experimental_subgroup_matrix, the uniformity
// diagnostic off (offsets are subgroup-uniform), alias T = f16, overrides below.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

const MAX_SUBGROUPS = 8u;
override SG_SIZE: u32 = 32u;    // the device's subgroup size
override SG_ROWS: u32 = 2u;     // subgroups along M
override SG_COLS: u32 = 2u;     // subgroups along N (SG_ROWS · SG_COLS ≤ MAX_SUBGROUPS)
override WG: u32 = SG_SIZE * SG_ROWS * SG_COLS;
override PREFETCH: bool = true;

override ACT: u32 = 0u;            // 0 none, 1 gelu_erf, 2 gelu_tanh
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> w: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(8) var<storage, read> wg: array<T>;
@group(0) @binding(9) var<storage, read> wu: array<T>;

var<workgroup> Cs: array<f32, 256u * MAX_SUBGROUPS>;   // [subgroup][16][16] epilogue scratch
var<workgroup> Cs2: array<f32, 256u * MAX_SUBGROUPS>;  // up products (gated only)

// ---- activations (same code as gemm.wgsl) --------------------------------------------------------

// erf to ~1.4e-7 absolute (see gemm.wgsl for the fit).
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
    let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -9.0, 9.0);
    return 0.5 * v * (1.0 + tanh(u));
  }
  return v;
}

fn epilogue(m: u32, n: u32, v0: f32) {
  let i = m * p.N + n;
  var v = v0;
  if (HAS_BIAS) { v += f32(bias[n]); }
  v = activate(v);
  if (HAS_RESIDUAL) { v += f32(residual[i]); }
  if (ACCUMULATE) { v += f32(y[i]); }
  y[i] = T(v);
}

// First row a matrix loads: its nominal row, or lim − 16 when that would run past the matrix.
fn clamp_base(r: u32, lim: u32) -> u32 { return min(r, lim - 16u); }

// The subgroup's 16×16 result at Cs[cb..cb+256) holds rows bm.. and columns bn..; rows below fm and
// columns below fc belong to another matrix (clamped loads), the rest go through the epilogue.
// Called by every invocation (barriers); each handles 256 / SG_SIZE elements.
fn flush(cb: u32, bm: u32, fm: u32, bn: u32, fc: u32, lane: u32) {
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG_SIZE) {
    let m = bm + e / 16u; let n = bn + e % 16u;
    if (m >= fm && n >= fc && m < p.M && n < p.N) { epilogue(m, n, Cs[cb + e]); }
  }
  workgroupBarrier();
}

// Gated: y = act(gate) ⊙ up for the gate result in Cs and the up result in Cs2 (same rules as flush).
fn flush_gated(cb: u32, bm: u32, fm: u32, bn: u32, fc: u32, lane: u32) {
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG_SIZE) {
    let m = bm + e / 16u; let n = bn + e % 16u;
    if (m >= fm && n >= fc && m < p.M && n < p.N) { y[m * p.N + n] = T(activate(Cs[cb + e]) * Cs2[cb + e]); }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn sgm_direct_2x4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (32u * SG_ROWS) + (sg / SG_COLS) * 32u;  // the subgroup's first row
  let n0 = wid.x * (64u * SG_COLS) + (sg % SG_COLS) * 64u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let nb2 = clamp_base(n0 + 32u, p.N);
  let nb3 = clamp_base(n0 + 48u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  let ob2 = nb2 * p.K;
  let ob3 = nb3 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>();
  var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>();
  var c13 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    var b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 0u, p.K);
    var b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 0u, p.K);
    for (var k = 0u; k < p.K; k += 16u) {
      let kn = min(k + 16u, p.K - 16u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      let nb20_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 0u, p.K);
      let nb30_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      a00 = na00;
      a10 = na10;
      b00 = nb00_;
      b10 = nb10_;
      b20 = nb20_;
      b30 = nb30_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 16u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      let b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 0u, p.K);
      let b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c02, 16u); flush(cb, ma0, r0 + 0u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c03, 16u); flush(cb, ma0, r0 + 0u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c12, 16u); flush(cb, ma1, r0 + 16u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c13, 16u); flush(cb, ma1, r0 + 16u, nb3, n0 + 48u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_4x4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (64u * SG_ROWS) + (sg / SG_COLS) * 64u;  // the subgroup's first row
  let n0 = wid.x * (64u * SG_COLS) + (sg % SG_COLS) * 64u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let ma2 = clamp_base(r0 + 32u, p.M);
  let ma3 = clamp_base(r0 + 48u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let nb2 = clamp_base(n0 + 32u, p.N);
  let nb3 = clamp_base(n0 + 48u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let oa2 = ma2 * p.K;
  let oa3 = ma3 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  let ob2 = nb2 * p.K;
  let ob3 = nb3 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>();
  var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>();
  var c13 = subgroup_matrix_result<f32, 16, 16>();
  var c20 = subgroup_matrix_result<f32, 16, 16>();
  var c21 = subgroup_matrix_result<f32, 16, 16>();
  var c22 = subgroup_matrix_result<f32, 16, 16>();
  var c23 = subgroup_matrix_result<f32, 16, 16>();
  var c30 = subgroup_matrix_result<f32, 16, 16>();
  var c31 = subgroup_matrix_result<f32, 16, 16>();
  var c32 = subgroup_matrix_result<f32, 16, 16>();
  var c33 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 0u, p.K);
    var a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 0u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    var b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 0u, p.K);
    var b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 0u, p.K);
    for (var k = 0u; k < p.K; k += 16u) {
      let kn = min(k + 16u, p.K - 16u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let na20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 0u, p.K);
      let na30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 0u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      let nb20_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 0u, p.K);
      let nb30_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a20, b20, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a20, b30, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a30, b20, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a30, b30, c33);
      a00 = na00;
      a10 = na10;
      a20 = na20;
      a30 = na30;
      b00 = nb00_;
      b10 = nb10_;
      b20 = nb20_;
      b30 = nb30_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 16u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 0u, p.K);
      let a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 0u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      let b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 0u, p.K);
      let b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a20, b20, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a20, b30, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a30, b20, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a30, b30, c33);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c02, 16u); flush(cb, ma0, r0 + 0u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c03, 16u); flush(cb, ma0, r0 + 0u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c12, 16u); flush(cb, ma1, r0 + 16u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c13, 16u); flush(cb, ma1, r0 + 16u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c20, 16u); flush(cb, ma2, r0 + 32u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c21, 16u); flush(cb, ma2, r0 + 32u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c22, 16u); flush(cb, ma2, r0 + 32u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c23, 16u); flush(cb, ma2, r0 + 32u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c30, 16u); flush(cb, ma3, r0 + 48u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c31, 16u); flush(cb, ma3, r0 + 48u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c32, 16u); flush(cb, ma3, r0 + 48u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c33, 16u); flush(cb, ma3, r0 + 48u, nb3, n0 + 48u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_4x2(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (64u * SG_ROWS) + (sg / SG_COLS) * 64u;  // the subgroup's first row
  let n0 = wid.x * (32u * SG_COLS) + (sg % SG_COLS) * 32u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let ma2 = clamp_base(r0 + 32u, p.M);
  let ma3 = clamp_base(r0 + 48u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let oa2 = ma2 * p.K;
  let oa3 = ma3 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c20 = subgroup_matrix_result<f32, 16, 16>();
  var c21 = subgroup_matrix_result<f32, 16, 16>();
  var c30 = subgroup_matrix_result<f32, 16, 16>();
  var c31 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 0u, p.K);
    var a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 0u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    for (var k = 0u; k < p.K; k += 16u) {
      let kn = min(k + 16u, p.K - 16u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let na20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 0u, p.K);
      let na30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 0u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      a00 = na00;
      a10 = na10;
      a20 = na20;
      a30 = na30;
      b00 = nb00_;
      b10 = nb10_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 16u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 0u, p.K);
      let a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 0u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c20, 16u); flush(cb, ma2, r0 + 32u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c21, 16u); flush(cb, ma2, r0 + 32u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c30, 16u); flush(cb, ma3, r0 + 48u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c31, 16u); flush(cb, ma3, r0 + 48u, nb1, n0 + 16u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_2x4_k32(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (32u * SG_ROWS) + (sg / SG_COLS) * 32u;  // the subgroup's first row
  let n0 = wid.x * (64u * SG_COLS) + (sg % SG_COLS) * 64u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let nb2 = clamp_base(n0 + 32u, p.N);
  let nb3 = clamp_base(n0 + 48u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  let ob2 = nb2 * p.K;
  let ob3 = nb3 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>();
  var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>();
  var c13 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 16u, p.K);
    var a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 16u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    var b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 0u, p.K);
    var b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 0u, p.K);
    var b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 16u, p.K);
    var b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 16u, p.K);
    var b21 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 16u, p.K);
    var b31 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 16u, p.K);
    for (var k = 0u; k < p.K; k += 32u) {
      let kn = min(k + 32u, p.K - 32u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let na01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 16u, p.K);
      let na11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 16u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      let nb20_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 0u, p.K);
      let nb30_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 0u, p.K);
      let nb01_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 16u, p.K);
      let nb11_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 16u, p.K);
      let nb21_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 16u, p.K);
      let nb31_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a01, b21, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a01, b31, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a11, b21, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a11, b31, c13);
      a00 = na00;
      a10 = na10;
      a01 = na01;
      a11 = na11;
      b00 = nb00_;
      b10 = nb10_;
      b20 = nb20_;
      b30 = nb30_;
      b01 = nb01_;
      b11 = nb11_;
      b21 = nb21_;
      b31 = nb31_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 32u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 16u, p.K);
      let a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 16u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      let b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 0u, p.K);
      let b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 0u, p.K);
      let b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 16u, p.K);
      let b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 16u, p.K);
      let b21 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 16u, p.K);
      let b31 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a01, b21, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a01, b31, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a11, b21, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a11, b31, c13);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c02, 16u); flush(cb, ma0, r0 + 0u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c03, 16u); flush(cb, ma0, r0 + 0u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c12, 16u); flush(cb, ma1, r0 + 16u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c13, 16u); flush(cb, ma1, r0 + 16u, nb3, n0 + 48u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_4x2_k32(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (64u * SG_ROWS) + (sg / SG_COLS) * 64u;  // the subgroup's first row
  let n0 = wid.x * (32u * SG_COLS) + (sg % SG_COLS) * 32u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let ma2 = clamp_base(r0 + 32u, p.M);
  let ma3 = clamp_base(r0 + 48u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let oa2 = ma2 * p.K;
  let oa3 = ma3 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c20 = subgroup_matrix_result<f32, 16, 16>();
  var c21 = subgroup_matrix_result<f32, 16, 16>();
  var c30 = subgroup_matrix_result<f32, 16, 16>();
  var c31 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 0u, p.K);
    var a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 0u, p.K);
    var a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 16u, p.K);
    var a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 16u, p.K);
    var a21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 16u, p.K);
    var a31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 16u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    var b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 16u, p.K);
    var b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 16u, p.K);
    for (var k = 0u; k < p.K; k += 32u) {
      let kn = min(k + 32u, p.K - 32u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let na20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 0u, p.K);
      let na30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 0u, p.K);
      let na01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 16u, p.K);
      let na11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 16u, p.K);
      let na21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 16u, p.K);
      let na31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 16u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      let nb01_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 16u, p.K);
      let nb11_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a21, b01, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a21, b11, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a31, b01, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a31, b11, c31);
      a00 = na00;
      a10 = na10;
      a20 = na20;
      a30 = na30;
      a01 = na01;
      a11 = na11;
      a21 = na21;
      a31 = na31;
      b00 = nb00_;
      b10 = nb10_;
      b01 = nb01_;
      b11 = nb11_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 32u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 0u, p.K);
      let a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 0u, p.K);
      let a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 16u, p.K);
      let a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 16u, p.K);
      let a21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 16u, p.K);
      let a31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 16u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      let b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 16u, p.K);
      let b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c20 = subgroupMatrixMultiplyAccumulate(a21, b01, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a21, b11, c21);
      c30 = subgroupMatrixMultiplyAccumulate(a31, b01, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a31, b11, c31);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c20, 16u); flush(cb, ma2, r0 + 32u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c21, 16u); flush(cb, ma2, r0 + 32u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c30, 16u); flush(cb, ma3, r0 + 48u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c31, 16u); flush(cb, ma3, r0 + 48u, nb1, n0 + 16u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_4x4_k32(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (64u * SG_ROWS) + (sg / SG_COLS) * 64u;  // the subgroup's first row
  let n0 = wid.x * (64u * SG_COLS) + (sg % SG_COLS) * 64u;  // and column
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let ma2 = clamp_base(r0 + 32u, p.M);
  let ma3 = clamp_base(r0 + 48u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let nb2 = clamp_base(n0 + 32u, p.N);
  let nb3 = clamp_base(n0 + 48u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let oa2 = ma2 * p.K;
  let oa3 = ma3 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  let ob2 = nb2 * p.K;
  let ob3 = nb3 * p.K;
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>();
  var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>();
  var c13 = subgroup_matrix_result<f32, 16, 16>();
  var c20 = subgroup_matrix_result<f32, 16, 16>();
  var c21 = subgroup_matrix_result<f32, 16, 16>();
  var c22 = subgroup_matrix_result<f32, 16, 16>();
  var c23 = subgroup_matrix_result<f32, 16, 16>();
  var c30 = subgroup_matrix_result<f32, 16, 16>();
  var c31 = subgroup_matrix_result<f32, 16, 16>();
  var c32 = subgroup_matrix_result<f32, 16, 16>();
  var c33 = subgroup_matrix_result<f32, 16, 16>();
  if (PREFETCH) {
    var a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 0u, p.K);
    var a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 0u, p.K);
    var a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 0u, p.K);
    var a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 0u, p.K);
    var a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + 16u, p.K);
    var a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + 16u, p.K);
    var a21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + 16u, p.K);
    var a31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + 16u, p.K);
    var b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 0u, p.K);
    var b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 0u, p.K);
    var b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 0u, p.K);
    var b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 0u, p.K);
    var b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + 16u, p.K);
    var b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + 16u, p.K);
    var b21 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + 16u, p.K);
    var b31 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + 16u, p.K);
    for (var k = 0u; k < p.K; k += 32u) {
      let kn = min(k + 32u, p.K - 32u);  // the last step reloads itself (in bounds, unused)
      let na00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 0u, p.K);
      let na10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 0u, p.K);
      let na20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 0u, p.K);
      let na30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 0u, p.K);
      let na01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + kn + 16u, p.K);
      let na11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + kn + 16u, p.K);
      let na21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + kn + 16u, p.K);
      let na31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + kn + 16u, p.K);
      let nb00_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 0u, p.K);
      let nb10_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 0u, p.K);
      let nb20_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 0u, p.K);
      let nb30_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 0u, p.K);
      let nb01_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + kn + 16u, p.K);
      let nb11_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + kn + 16u, p.K);
      let nb21_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + kn + 16u, p.K);
      let nb31_ = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + kn + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a20, b20, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a20, b30, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a30, b20, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a30, b30, c33);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a01, b21, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a01, b31, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a11, b21, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a11, b31, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a21, b01, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a21, b11, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a21, b21, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a21, b31, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a31, b01, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a31, b11, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a31, b21, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a31, b31, c33);
      a00 = na00;
      a10 = na10;
      a20 = na20;
      a30 = na30;
      a01 = na01;
      a11 = na11;
      a21 = na21;
      a31 = na31;
      b00 = nb00_;
      b10 = nb10_;
      b20 = nb20_;
      b30 = nb30_;
      b01 = nb01_;
      b11 = nb11_;
      b21 = nb21_;
      b31 = nb31_;
    }
  } else {
    for (var k = 0u; k < p.K; k += 32u) {
      let a00 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 0u, p.K);
      let a10 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 0u, p.K);
      let a20 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 0u, p.K);
      let a30 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 0u, p.K);
      let a01 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k + 16u, p.K);
      let a11 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k + 16u, p.K);
      let a21 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa2 + k + 16u, p.K);
      let a31 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa3 + k + 16u, p.K);
      let b00 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 0u, p.K);
      let b10 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 0u, p.K);
      let b20 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 0u, p.K);
      let b30 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 0u, p.K);
      let b01 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob0 + k + 16u, p.K);
      let b11 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob1 + k + 16u, p.K);
      let b21 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob2 + k + 16u, p.K);
      let b31 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, ob3 + k + 16u, p.K);
      c00 = subgroupMatrixMultiplyAccumulate(a00, b00, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a00, b10, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a00, b20, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a00, b30, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a10, b00, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a10, b10, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a10, b20, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a10, b30, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a20, b00, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a20, b10, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a20, b20, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a20, b30, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a30, b00, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a30, b10, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a30, b20, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a30, b30, c33);
      c00 = subgroupMatrixMultiplyAccumulate(a01, b01, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a01, b11, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a01, b21, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a01, b31, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a11, b01, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a11, b11, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a11, b21, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a11, b31, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a21, b01, c20);
      c21 = subgroupMatrixMultiplyAccumulate(a21, b11, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a21, b21, c22);
      c23 = subgroupMatrixMultiplyAccumulate(a21, b31, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a31, b01, c30);
      c31 = subgroupMatrixMultiplyAccumulate(a31, b11, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a31, b21, c32);
      c33 = subgroupMatrixMultiplyAccumulate(a31, b31, c33);
    }
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c02, 16u); flush(cb, ma0, r0 + 0u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c03, 16u); flush(cb, ma0, r0 + 0u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c12, 16u); flush(cb, ma1, r0 + 16u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c13, 16u); flush(cb, ma1, r0 + 16u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c20, 16u); flush(cb, ma2, r0 + 32u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c21, 16u); flush(cb, ma2, r0 + 32u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c22, 16u); flush(cb, ma2, r0 + 32u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c23, 16u); flush(cb, ma2, r0 + 32u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c30, 16u); flush(cb, ma3, r0 + 48u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c31, 16u); flush(cb, ma3, r0 + 48u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c32, 16u); flush(cb, ma3, r0 + 48u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c33, 16u); flush(cb, ma3, r0 + 48u, nb3, n0 + 48u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_gated_2x2(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (32u * SG_ROWS) + (sg / SG_COLS) * 32u;
  let n0 = wid.x * (32u * SG_COLS) + (sg % SG_COLS) * 32u;
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  var g00 = subgroup_matrix_result<f32, 16, 16>();
  var u00 = subgroup_matrix_result<f32, 16, 16>();
  var g01 = subgroup_matrix_result<f32, 16, 16>();
  var u01 = subgroup_matrix_result<f32, 16, 16>();
  var g10 = subgroup_matrix_result<f32, 16, 16>();
  var u10 = subgroup_matrix_result<f32, 16, 16>();
  var g11 = subgroup_matrix_result<f32, 16, 16>();
  var u11 = subgroup_matrix_result<f32, 16, 16>();
  for (var k = 0u; k < p.K; k += 16u) {
    let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k, p.K);
    let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k, p.K);
    let bg0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob0 + k, p.K);
    let bu0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob0 + k, p.K);
    let bg1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob1 + k, p.K);
    let bu1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob1 + k, p.K);
    g00 = subgroupMatrixMultiplyAccumulate(a0, bg0, g00);
    u00 = subgroupMatrixMultiplyAccumulate(a0, bu0, u00);
    g01 = subgroupMatrixMultiplyAccumulate(a0, bg1, g01);
    u01 = subgroupMatrixMultiplyAccumulate(a0, bu1, u01);
    g10 = subgroupMatrixMultiplyAccumulate(a1, bg0, g10);
    u10 = subgroupMatrixMultiplyAccumulate(a1, bu0, u10);
    g11 = subgroupMatrixMultiplyAccumulate(a1, bg1, g11);
    u11 = subgroupMatrixMultiplyAccumulate(a1, bu1, u11);
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, g00, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u00, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g01, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u01, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g10, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u10, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g11, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u11, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
}

@compute @workgroup_size(WG)
fn sgm_direct_gated_2x4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let r0 = wid.y * (32u * SG_ROWS) + (sg / SG_COLS) * 32u;
  let n0 = wid.x * (64u * SG_COLS) + (sg % SG_COLS) * 64u;
  let ma0 = clamp_base(r0 + 0u, p.M);
  let ma1 = clamp_base(r0 + 16u, p.M);
  let nb0 = clamp_base(n0 + 0u, p.N);
  let nb1 = clamp_base(n0 + 16u, p.N);
  let nb2 = clamp_base(n0 + 32u, p.N);
  let nb3 = clamp_base(n0 + 48u, p.N);
  let oa0 = ma0 * p.K;
  let oa1 = ma1 * p.K;
  let ob0 = nb0 * p.K;
  let ob1 = nb1 * p.K;
  let ob2 = nb2 * p.K;
  let ob3 = nb3 * p.K;
  var g00 = subgroup_matrix_result<f32, 16, 16>();
  var u00 = subgroup_matrix_result<f32, 16, 16>();
  var g01 = subgroup_matrix_result<f32, 16, 16>();
  var u01 = subgroup_matrix_result<f32, 16, 16>();
  var g02 = subgroup_matrix_result<f32, 16, 16>();
  var u02 = subgroup_matrix_result<f32, 16, 16>();
  var g03 = subgroup_matrix_result<f32, 16, 16>();
  var u03 = subgroup_matrix_result<f32, 16, 16>();
  var g10 = subgroup_matrix_result<f32, 16, 16>();
  var u10 = subgroup_matrix_result<f32, 16, 16>();
  var g11 = subgroup_matrix_result<f32, 16, 16>();
  var u11 = subgroup_matrix_result<f32, 16, 16>();
  var g12 = subgroup_matrix_result<f32, 16, 16>();
  var u12 = subgroup_matrix_result<f32, 16, 16>();
  var g13 = subgroup_matrix_result<f32, 16, 16>();
  var u13 = subgroup_matrix_result<f32, 16, 16>();
  for (var k = 0u; k < p.K; k += 16u) {
    let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa0 + k, p.K);
    let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, oa1 + k, p.K);
    let bg0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob0 + k, p.K);
    let bu0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob0 + k, p.K);
    let bg1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob1 + k, p.K);
    let bu1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob1 + k, p.K);
    let bg2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob2 + k, p.K);
    let bu2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob2 + k, p.K);
    let bg3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, ob3 + k, p.K);
    let bu3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, ob3 + k, p.K);
    g00 = subgroupMatrixMultiplyAccumulate(a0, bg0, g00);
    u00 = subgroupMatrixMultiplyAccumulate(a0, bu0, u00);
    g01 = subgroupMatrixMultiplyAccumulate(a0, bg1, g01);
    u01 = subgroupMatrixMultiplyAccumulate(a0, bu1, u01);
    g02 = subgroupMatrixMultiplyAccumulate(a0, bg2, g02);
    u02 = subgroupMatrixMultiplyAccumulate(a0, bu2, u02);
    g03 = subgroupMatrixMultiplyAccumulate(a0, bg3, g03);
    u03 = subgroupMatrixMultiplyAccumulate(a0, bu3, u03);
    g10 = subgroupMatrixMultiplyAccumulate(a1, bg0, g10);
    u10 = subgroupMatrixMultiplyAccumulate(a1, bu0, u10);
    g11 = subgroupMatrixMultiplyAccumulate(a1, bg1, g11);
    u11 = subgroupMatrixMultiplyAccumulate(a1, bu1, u11);
    g12 = subgroupMatrixMultiplyAccumulate(a1, bg2, g12);
    u12 = subgroupMatrixMultiplyAccumulate(a1, bu2, u12);
    g13 = subgroupMatrixMultiplyAccumulate(a1, bg3, g13);
    u13 = subgroupMatrixMultiplyAccumulate(a1, bu3, u13);
  }
  let cb = sg * 256u;
  subgroupMatrixStore<row_major>(&Cs, cb, g00, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u00, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g01, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u01, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g02, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u02, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g03, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u03, 16u);
  flush_gated(cb, ma0, r0 + 0u, nb3, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g10, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u10, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb0, n0 + 0u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g11, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u11, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb1, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g12, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u12, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb2, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, g13, 16u); subgroupMatrixStore<row_major>(&Cs2, cb, u13, 16u);
  flush_gated(cb, ma1, r0 + 16u, nb3, n0 + 48u, lane);
}
