// Tiled GEMM with vec4 register quads: y[M, N] = x[M, K] · w[N, K]ᵀ, f32 accumulation.
// Differs from gemm.wgsl in the inner loop: workgroup tiles are stored k-major as vec4 along M and N, so
// per k a thread reads its 4·QM rows of x and 4·QN columns of w with QM + QN 16-byte loads (gemm.wgsl:
// one 4-byte load per value) for 16·QM·QN FMAs. Thread (tx, ty) of TX × TY owns the QM × QN quads of
// 4×4 outputs at rows 4·(ty + q·TY) and columns 4·(tx + q·TX): BM = 4·QM·TY, BN = 4·QN·TX (QM = QN = 2:
// 8×8 per thread; 4×2: 16×8).
// Global loads are prefetched into registers one K slice ahead (issued before the math of the
// current slice, written to workgroup memory after it), so their latency overlaps the FMAs; PF = false
// loads each slice just before it is written (the staging registers then are not live across the math:
// fewer registers a thread, for a second workgroup a SM where the prefetch keeps the kernel above 128).
// NBUF = 2 double-buffers the workgroup tiles: one barrier per slice instead of two.
// Any M, N, K: loads outside the matrices read as 0, stores outside are skipped (EXACT: the host guarantees none).
//
// Entry points: gemm_quad (scalar x, w) and gemm_quad_vec4 (x4, w4: K % 4 == 0); epilogue as gemm.wgsl.
// Specialised by: alias T/T4 (storage type), alias Stage = array<vec4f, NLD> with
// NLD = ceil(max(BM, BN)·BK/4 / (TX·TY)) (per-thread prefetch registers for each operand; a const size),
// alias AccQ = array<vec4f, 4·QM·QN> (the accumulators), overrides.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override TX: u32 = 16u;      // threads along N
override TY: u32 = 16u;      // threads along M
override BK: u32 = 16u;      // K slice per stage (multiple of 4)
override NLD: u32 = 2u;      // vec4 loads per thread per operand per slice; must match Stage
override NBUF: u32 = 1u;     // 2: double-buffered tiles, one barrier per slice instead of two
override PF: bool = true;    // the next slice's global loads issued before this slice's math
override EXACT: bool = false;   // M, N whole tiles and K whole slices (the host checks): loads and stores without bounds
override QM: u32 = 2u;       // 4-row quads per thread (≤ 4); must match AccQ
override QN: u32 = 2u;       // 4-column quads per thread (≤ 4)
override WG: u32 = TX * TY;
override BM: u32 = 4u * QM * TY;
override BN: u32 = 4u * QN * TX;
override LA: u32 = BM / 4u;  // vec4s per k row of the x tile
override LB: u32 = BN / 4u;
override A_LEN: u32 = NBUF * BK * LA;
override B_LEN: u32 = NBUF * BK * LB;


@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> w: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(7) var<storage, read> w4: array<T4>;

var<workgroup> As: array<vec4f, A_LEN>;   // [NBUF][BK][BM/4]: x tile, k-major, 4 rows per element
var<workgroup> Bs: array<vec4f, B_LEN>;   // [NBUF][BK][BN/4]: w tile, k-major, 4 columns per element

var<private> acc: AccQ;                   // [4·QM rows][QN column quads]
var<private> ra: Stage;                   // prefetched x slice
var<private> rb: Stage;                   // prefetched w slice
var<private> row0: u32;
var<private> col0: u32;

// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), erf_f32(), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).


// ---- global → registers (slice k0; element e of a tile is row e / (BK/4), k quad e % (BK/4)) --------

fn fetch_scalar(k0: u32, tid: u32) {
  let q = BK / 4u;
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / q; let gk = k0 + (e % q) * 4u;
    var va = vec4f(); var vb = vec4f();
    for (var c = 0u; c < 4u; c++) {
      if (r < BM && row0 + r < p.M && gk + c < p.K) { va[c] = f32(x[(row0 + r) * p.K + gk + c]); }
      if (r < BN && col0 + r < p.N && gk + c < p.K) { vb[c] = f32(w[(col0 + r) * p.K + gk + c]); }
    }
    ra[t] = va; rb[t] = vb;
  }
}

fn fetch_vec4(k0: u32, tid: u32) {
  if (EXACT) { fetch_vec4_exact(k0, tid); return; }
  let q = BK / 4u;
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / q; let gk = k0 + (e % q) * 4u;
    var va = vec4f(); var vb = vec4f();
    if (gk < p.K) {
      if (r < BM && row0 + r < p.M) { va = vec4f(x4[((row0 + r) * p.K + gk) / 4u]); }
      if (r < BN && col0 + r < p.N) { vb = vec4f(w4[((col0 + r) * p.K + gk) / 4u]); }
    }
    ra[t] = va; rb[t] = vb;
  }
}

// fetch_vec4 for an EXACT launch (M, N whole tiles, K whole slices, vec4 entry): no bounds, no zero fill, no copies.
// A pipeline constant, so the checked form is not in the pipeline at all: session 34's runtime form (a uniform
// branch between the two loads) kept the branch and both loads in the loop (638 instructions against the checked
// loop's 622, 36.2 TFLOP/s against 37.7 on an H100, session 35); the checked loop itself carries a divergent branch
// (BSSY/BSYNC), zero fills (CS2R) and register copies (MOV) the CUDA mirror's 570-instruction loop does not.
fn fetch_vec4_exact(k0: u32, tid: u32) {
  let q = BK / 4u;
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / q; let gk = k0 + (e % q) * 4u;
    // Every staged row exists when the workgroup's loads cover the tiles exactly (the default shapes): the check
    // folds away at pipeline creation.
    if (NLD * WG * 4u == BM * BK || r < BM) { ra[t] = vec4f(x4[((row0 + r) * p.K + gk) / 4u]); }
    if (NLD * WG * 4u == BN * BK || r < BN) { rb[t] = vec4f(w4[((col0 + r) * p.K + gk) / 4u]); }
  }
}

// Registers → workgroup tiles, transposed to k-major (component r % 4 of element [k][r / 4]).
fn commit(tid: u32, buf: u32) {
  let q = BK / 4u;
  let oa = buf * BK * LA; let ob = buf * BK * LB;
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / q; let kk = (e % q) * 4u;
    if (r < BM) {
      for (var c = 0u; c < 4u; c++) { As[oa + (kk + c) * LA + r / 4u][r % 4u] = ra[t][c]; }
    }
    if (r < BN) {
      for (var c = 0u; c < 4u; c++) { Bs[ob + (kk + c) * LB + r / 4u][r % 4u] = rb[t][c]; }
    }
  }
}

fn mma(tx: u32, ty: u32, buf: u32) {
  let oa = buf * BK * LA + ty; let ob = buf * BK * LB + tx;
  var a: array<vec4f, 4>;
  var b: array<vec4f, 4>;
  for (var kk = 0u; kk < BK; kk++) {
    for (var q = 0u; q < QM; q++) { a[q] = As[oa + kk * LA + q * TY]; }
    for (var q = 0u; q < QN; q++) { b[q] = Bs[ob + kk * LB + q * TX]; }
    for (var qm = 0u; qm < QM; qm++) {
      for (var i = 0u; i < 4u; i++) {
        for (var qn = 0u; qn < QN; qn++) {
          let r = (qm * 4u + i) * QN + qn;
          acc[r] = fma(vec4f(a[qm][i]), b[qn], acc[r]);
        }
      }
    }
  }
}

fn store(tx: u32, ty: u32) {
  for (var r = 0u; r < 4u * QM; r++) {
    let m = row0 + 4u * (ty + (r / 4u) * TY) + r % 4u;
    if (!EXACT && m >= p.M) { continue; }
    for (var qj = 0u; qj < QN; qj++) {
      let n = col0 + 4u * (tx + qj * TX);
      let v = acc[r * QN + qj];
      for (var c = 0u; c < 4u; c++) {
        if (EXACT || n + c < p.N) { epilogue(m, n + c, v[c]); }
      }
    }
  }
}

// ---- entry points (grid: ceil(N / BN) × ceil(M / BM)) ---------------------------------------------

@compute @workgroup_size(WG)
fn gemm_quad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  row0 = wid.y * BM; col0 = wid.x * BN;
  let tx = tid % TX; let ty = tid / TX;
  fetch_scalar(0u, tid);
  var buf = 0u;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // One buffer: wait until the previous slice's reads are done. Two: the barrier of the previous slice
    // already ordered the reads of this buffer (two slices ago) before these writes.
    if (NBUF == 1u) { workgroupBarrier(); }
    if (!PF && k0 > 0u) { fetch_scalar(k0, tid); }
    commit(tid, buf);
    workgroupBarrier();
    if (PF && k0 + BK < p.K) { fetch_scalar(k0 + BK, tid); }
    mma(tx, ty, buf);
    buf = (buf + 1u) % NBUF;
  }
  store(tx, ty);
}

@compute @workgroup_size(WG)
fn gemm_quad_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  row0 = wid.y * BM; col0 = wid.x * BN;
  let tx = tid % TX; let ty = tid / TX;
  fetch_vec4(0u, tid);
  var buf = 0u;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // One buffer: wait until the previous slice's reads are done. Two: the barrier of the previous slice
    // already ordered the reads of this buffer (two slices ago) before these writes.
    if (NBUF == 1u) { workgroupBarrier(); }
    if (!PF && k0 > 0u) { fetch_vec4(k0, tid); }
    commit(tid, buf);
    workgroupBarrier();
    if (PF && k0 + BK < p.K) { fetch_vec4(k0 + BK, tid); }
    mma(tx, ty, buf);
    buf = (buf + 1u) % NBUF;
  }
  store(tx, ty);
}
