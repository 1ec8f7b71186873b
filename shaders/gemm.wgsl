// Tiled GEMM: y[M, N] = x[M, K] · w[N, K]ᵀ (weights [out, in], as nn.Linear), f32 accumulation.
// A workgroup computes a BM×BN tile of y. Per BK-wide slice of K it stages x and w into workgroup
// memory (f32, k-major, rows padded by PAD to stagger banks), then every thread accumulates an R×R
// register tile. Thread (tx, ty) owns rows ty + i·TY and columns tx + j·TX (strided, so a subgroup
// reads consecutive shared addresses and writes consecutive output columns).
// Any M, N, K: loads outside the matrices read as 0, stores outside are skipped.
//
// Entry points (bindings differ):
//   gemm / gemm_vec4              y = act(x·wᵀ + bias) + residual (+ y when ACCUMULATE)
//   gemm_gated / gemm_gated_vec4  y = act(x·wgᵀ) ⊙ (x·wuᵀ)   (both products in one pass over x)
// The *_vec4 variants read x and w as vec4 (K % 4 == 0). Optional operands are switched by overrides
// (HAS_BIAS, HAS_RESIDUAL): the binding still exists and the host binds a placeholder (x) that is
// never read, which keeps the entry points at four instead of sixteen.
// Specialised by: alias T/T4 (storage type), alias Acc = array<f32, R*R> and Frag = array<f32, R>
// (register arrays need a const size; WGSL overrides cannot size them), overrides below.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override BM: u32 = 32u;      // tile rows (multiple of R)
override BN: u32 = 32u;      // tile columns (multiple of R)
override BK: u32 = 16u;      // K slice per stage (multiple of 4)
override R: u32 = 4u;        // register tile edge; must match Acc/Frag
override PAD: u32 = 2u;      // shared row padding (bank staggering)
override TX: u32 = BN / R;   // threads along N
override TY: u32 = BM / R;   // threads along M
override WG: u32 = TX * TY;
override LDA: u32 = BM + PAD;
override LDB: u32 = BN + PAD;
override A_LEN: u32 = BK * LDA;
override B_LEN: u32 = BK * LDB;


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

var<workgroup> As: array<f32, A_LEN>;   // [BK][LDA]: x tile, k-major
var<workgroup> Bs: array<f32, B_LEN>;   // [BK][LDB]: w (or gate) tile, k-major
var<workgroup> Bs2: array<f32, B_LEN>;  // up tile (gated only)

var<private> acc: Acc;    // [R][R]
var<private> acc2: Acc;   // up products (gated only)
var<private> row0: u32;
var<private> col0: u32;
var<private> tx: u32;
var<private> ty: u32;

// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), erf_f32(), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).


// ---- tile staging -------------------------------------------------------------------------------

fn begin(wid: vec3u, tid: u32) {
  row0 = wid.y * BM;
  col0 = wid.x * BN;
  tx = tid % TX;
  ty = tid / TX;
  for (var i = 0u; i < R * R; i++) { acc[i] = 0.0; }
}

// Consecutive threads take consecutive k of one row: coalesced reads along the K-contiguous rows.
fn load_x(k0: u32, tid: u32) {
  for (var e = tid; e < BM * BK; e += WG) {
    let m = e / BK; let kk = e % BK;
    let gm = row0 + m; let gk = k0 + kk;
    var v = 0.0;
    if (gm < p.M && gk < p.K) { v = f32(x[gm * p.K + gk]); }
    As[kk * LDA + m] = v;
  }
}

fn load_x4(k0: u32, tid: u32) {
  let q = BK / 4u;
  for (var e = tid; e < BM * q; e += WG) {
    let m = e / q; let kk = (e % q) * 4u;
    let gm = row0 + m; let gk = k0 + kk;
    var v = vec4f();
    if (gm < p.M && gk < p.K) { v = vec4f(x4[(gm * p.K + gk) / 4u]); }
    As[kk * LDA + m] = v.x; As[(kk + 1u) * LDA + m] = v.y;
    As[(kk + 2u) * LDA + m] = v.z; As[(kk + 3u) * LDA + m] = v.w;
  }
}

fn load_w(k0: u32, tid: u32) {
  for (var e = tid; e < BN * BK; e += WG) {
    let n = e / BK; let kk = e % BK;
    let gn = col0 + n; let gk = k0 + kk;
    var v = 0.0;
    if (gn < p.N && gk < p.K) { v = f32(w[gn * p.K + gk]); }
    Bs[kk * LDB + n] = v;
  }
}

fn load_w4(k0: u32, tid: u32) {
  let q = BK / 4u;
  for (var e = tid; e < BN * q; e += WG) {
    let n = e / q; let kk = (e % q) * 4u;
    let gn = col0 + n; let gk = k0 + kk;
    var v = vec4f();
    if (gn < p.N && gk < p.K) { v = vec4f(w4[(gn * p.K + gk) / 4u]); }
    Bs[kk * LDB + n] = v.x; Bs[(kk + 1u) * LDB + n] = v.y;
    Bs[(kk + 2u) * LDB + n] = v.z; Bs[(kk + 3u) * LDB + n] = v.w;
  }
}

fn load_gate_up(k0: u32, tid: u32) {
  for (var e = tid; e < BN * BK; e += WG) {
    let n = e / BK; let kk = e % BK;
    let gn = col0 + n; let gk = k0 + kk;
    var g = 0.0; var u = 0.0;
    if (gn < p.N && gk < p.K) { g = f32(wg[gn * p.K + gk]); u = f32(wu[gn * p.K + gk]); }
    Bs[kk * LDB + n] = g;
    Bs2[kk * LDB + n] = u;
  }
}

fn load_gate_up4(k0: u32, tid: u32) {
  let q = BK / 4u;
  for (var e = tid; e < BN * q; e += WG) {
    let n = e / q; let kk = (e % q) * 4u;
    let gn = col0 + n; let gk = k0 + kk;
    var g = vec4f(); var u = vec4f();
    if (gn < p.N && gk < p.K) {
      let i = (gn * p.K + gk) / 4u;
      g = vec4f(wg4[i]); u = vec4f(wu4[i]);
    }
    for (var c = 0u; c < 4u; c++) {
      Bs[(kk + c) * LDB + n] = g[c];
      Bs2[(kk + c) * LDB + n] = u[c];
    }
  }
}

// ---- register-tile products ---------------------------------------------------------------------

fn mma() {
  for (var kk = 0u; kk < BK; kk++) {
    var a: Frag; var b: Frag;
    for (var i = 0u; i < R; i++) { a[i] = As[kk * LDA + ty + i * TY]; }
    for (var j = 0u; j < R; j++) { b[j] = Bs[kk * LDB + tx + j * TX]; }
    for (var i = 0u; i < R; i++) {
      for (var j = 0u; j < R; j++) { acc[i * R + j] = fma(a[i], b[j], acc[i * R + j]); }
    }
  }
}

fn mma_gated() {
  for (var kk = 0u; kk < BK; kk++) {
    var a: Frag; var g: Frag; var u: Frag;
    for (var i = 0u; i < R; i++) { a[i] = As[kk * LDA + ty + i * TY]; }
    for (var j = 0u; j < R; j++) { g[j] = Bs[kk * LDB + tx + j * TX]; u[j] = Bs2[kk * LDB + tx + j * TX]; }
    for (var i = 0u; i < R; i++) {
      for (var j = 0u; j < R; j++) {
        acc[i * R + j] = fma(a[i], g[j], acc[i * R + j]);
        acc2[i * R + j] = fma(a[i], u[j], acc2[i * R + j]);
      }
    }
  }
}

fn store() {
  for (var i = 0u; i < R; i++) {
    let m = row0 + ty + i * TY;
    if (m >= p.M) { break; }
    for (var j = 0u; j < R; j++) {
      let n = col0 + tx + j * TX;
      if (n < p.N) { epilogue(m, n, acc[i * R + j]); }
    }
  }
}

fn store_gated() {
  for (var i = 0u; i < R; i++) {
    let m = row0 + ty + i * TY;
    if (m >= p.M) { break; }
    for (var j = 0u; j < R; j++) {
      let n = col0 + tx + j * TX;
      if (n < p.N) { y[m * p.N + n] = T(activate(acc[i * R + j]) * acc2[i * R + j]); }
    }
  }
}

// ---- entry points (grid: ceil(N / BN) × ceil(M / BM)) ------------------------------------------

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  begin(wid, tid);
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_x(k0, tid); load_w(k0, tid);
    workgroupBarrier();
    mma();
    workgroupBarrier();
  }
  store();
}

@compute @workgroup_size(WG)
fn gemm_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  begin(wid, tid);
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_x4(k0, tid); load_w4(k0, tid);
    workgroupBarrier();
    mma();
    workgroupBarrier();
  }
  store();
}

@compute @workgroup_size(WG)
fn gemm_gated(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  begin(wid, tid);
  acc2 = acc;  // zeros
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_x(k0, tid); load_gate_up(k0, tid);
    workgroupBarrier();
    mma_gated();
    workgroupBarrier();
  }
  store_gated();
}

@compute @workgroup_size(WG)
fn gemm_gated_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  begin(wid, tid);
  acc2 = acc;  // zeros
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_x4(k0, tid); load_gate_up4(k0, tid);
    workgroupBarrier();
    mma_gated();
    workgroupBarrier();
  }
  store_gated();
}
