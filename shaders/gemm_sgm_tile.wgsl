// GEMM on subgroup matrices staged through workgroup memory (tensor cores on NVIDIA):
// y[M, N] = x[M, K] · w[N, K]ᵀ, f16 operands, f32 accumulation, 16×16×16 f16→f32 matrices.
//
// A workgroup of SG_ROWS × SG_COLS subgroups computes a BM × BN block (BM = 16·TM·SG_ROWS,
// BN = 16·TN·SG_COLS); each subgroup owns TM × TN result matrices (a (16·TM) × (16·TN) block).
// Per K slice of BK (a multiple of 16) the workgroup copies the x rows [BM][BK] and the w rows [BN][BK]
// into padded workgroup tiles (row stride LDS = BK + 8 halves: 16-byte aligned rows whose 8-row groups
// fall on distinct banks) with cooperative vec4<f16> loads, then every subgroup loads its TM left
// (row-major) and TN right (w rows = columns of wᵀ: col-major) matrices from there and issues TM·TN
// multiply-accumulates per 16-deep step.
// Pipelining: the next slice's global loads go to registers (array Stage) before this slice's matrix
// math, so their latency hides behind it. NBUF = 1: one tile, two barriers per slice (before the
// registers overwrite it, after). NBUF = 2: two tiles alternate, one barrier per slice.
// Any M, N; K % 4 == 0 (vec4 loads; the host checks). Loads outside the matrices read 0 (ragged M, N,
// K), the epilogue writes only in-range outputs.
//
// Entry points: sgm_tile (bias / GELU / residual / accumulate epilogue) and sgm_tile_gated
// (y = act(x·wgᵀ) ⊙ (x·wuᵀ): the B tile holds BN gate rows then BN up rows, 2·TM·TN accumulators).
// Epilogue: a result matrix is opaque (no element access, no f16 conversion), so each goes through a
// per-subgroup 16×16 f32 scratch in workgroup memory, then the subgroup's lanes apply the epilogue.
//
// The matrix operations are the functions of an include: gemm_sgm_tile_ops.wgsl (subgroup-matrix builtins)
// or gemm_sgm_tile_emu.wgsl (the same arithmetic in scalar code, so CPU adapters without subgroup matrices
// test this file's indexing). Both operate on As, Bs, Cs below.
// Specialised by: enable f16 (+ subgroups, chromium_experimental_subgroup_matrix, the uniformity
// diagnostic off: load offsets are subgroup-uniform, not workgroup-uniform), aliases T/T4, the array
// types TileA = array<f16, NBUF·BM·LDS>, TileB = array<f16, NBUF·BROWS·LDS> (BROWS = BN, or 2·BN
// gated), Scratch = array<f32, 256·subgroups·(1 or 2)>, Stage = array<vec4<f16>, NLD> (NLD =
// ceil((BM + BROWS)·BK/4 / WG): per-thread prefetch registers), Acc = array<SmC, TM·TN (·2 gated)>,
// ArrL = array<SmL, TM>, ArrR = array<SmR, TN (·2 gated)>; and the overrides below.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override SG_SIZE: u32 = 32u;    // lanes of one subgroup (the device's; any value when emulated)
override SG_ROWS: u32 = 2u;     // subgroups along M
override SG_COLS: u32 = 4u;     // subgroups along N
override TM: u32 = 4u;          // result matrices per subgroup along M
override TN: u32 = 4u;          // and along N
override BK: u32 = 32u;         // K slice per stage, a multiple of 16
override NBUF: u32 = 1u;        // workgroup tiles: 1 or 2
override GATED: bool = false;   // set for sgm_tile_gated (B tile rows and scratch doubled)
override NLD: u32 = 12u;        // vec4 loads per thread per slice; must match Stage
override WG: u32 = SG_SIZE * SG_ROWS * SG_COLS;
override BM: u32 = 16u * TM * SG_ROWS;
override BN: u32 = 16u * TN * SG_COLS;
override BROWS: u32 = select(BN, 2u * BN, GATED);
override LDS: u32 = BK + 8u;
override A_STAGE: u32 = BM * LDS;
override B_STAGE: u32 = BROWS * LDS;
override QK: u32 = BK / 4u;     // vec4 chunks per tile row

@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(7) var<storage, read> w4: array<T4>;
@group(0) @binding(10) var<storage, read> wg4: array<T4>;
@group(0) @binding(11) var<storage, read> wu4: array<T4>;

var<workgroup> As: TileA;     // [NBUF][BM][LDS]    x rows
var<workgroup> Bs: TileB;     // [NBUF][BROWS][LDS] w rows (gated: gate rows, then up rows)
var<workgroup> Cs: Scratch;   // [subgroup][16][16] (gated: [subgroup][2][16][16]) epilogue scratch

var<private> stage: Stage;    // the next slice, in flight
var<private> sg_lane: u32;    // lane within the subgroup (the emulated matrix ops read it)
var<private> row0: u32;
var<private> col0: u32;

// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), erf_f32(), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl; load_a, load_b, mma, store_c and the Sm* types: gemm_sgm_tile_ops.wgsl or
// gemm_sgm_tile_emu.wgsl (both prepended by the runtime, ProgramDef.includes).

// ---- global → registers → workgroup tiles --------------------------------------------------------

// Element e of the combined A|B tile: rows [0, BM) are x rows, then BROWS w rows; QK chunks per row.
fn fetch(k0: u32, tid: u32) {
  let K4 = p.K / 4u;
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / QK;
    let k4 = k0 / 4u + e % QK;
    var v = vec4<f16>();
    if (k4 < K4) {
      if (r < BM) {
        let m = row0 + r;
        if (m < p.M) { v = x4[m * K4 + k4]; }
      } else if (r < BM + BROWS) {
        let rb = r - BM;
        if (GATED) {
          let n = col0 + rb % BN;
          if (n < p.N) {
            if (rb < BN) { v = wg4[n * K4 + k4]; } else { v = wu4[n * K4 + k4]; }
          }
        } else {
          let n = col0 + rb;
          if (n < p.N) { v = w4[n * K4 + k4]; }
        }
      }
    }
    stage[t] = v;
  }
}

fn commit(tid: u32, buf: u32) {
  for (var t = 0u; t < NLD; t++) {
    let e = tid + t * WG;
    let r = e / QK;
    let c = (e % QK) * 4u;
    let v = stage[t];
    if (r < BM) {
      let o = buf * A_STAGE + r * LDS + c;
      As[o] = v.x; As[o + 1u] = v.y; As[o + 2u] = v.z; As[o + 3u] = v.w;
    } else if (r < BM + BROWS) {
      let o = buf * B_STAGE + (r - BM) * LDS + c;
      Bs[o] = v.x; Bs[o + 1u] = v.y; Bs[o + 2u] = v.z; Bs[o + 3u] = v.w;
    }
  }
}

// ---- matrix math on one slice --------------------------------------------------------------------

// TM left and TN right matrices per 16-deep step, then TM·TN products (gated: TN gate + TN up).
fn slice(acc: ptr<function, Acc>, buf: u32, sr: u32, sc: u32) {
  var a: ArrL;
  var b: ArrR;
  let nb = select(TN, 2u * TN, GATED);
  for (var kk = 0u; kk < BK; kk += 16u) {
    for (var i = 0u; i < TM; i++) { a[i] = load_a(buf * A_STAGE + (sr + 16u * i) * LDS + kk); }
    for (var j = 0u; j < nb; j++) {
      // Gated: right matrices j ≥ TN are the up rows, BN below their gate rows.
      let r = sc + 16u * (j % TN) + select(0u, BN, j >= TN);
      b[j] = load_b(buf * B_STAGE + r * LDS + kk);
    }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < nb; j++) { (*acc)[i * nb + j] = mma(a[i], b[j], (*acc)[i * nb + j]); }
    }
  }
}

// The K loop: fetch slice 0, then per slice commit it, fetch the next, multiply.
fn mainloop(acc: ptr<function, Acc>, tid: u32, sr: u32, sc: u32) {
  let nk = (p.K + BK - 1u) / BK;
  fetch(0u, tid);
  if (NBUF == 1u) {
    for (var kt = 0u; kt < nk; kt++) {
      workgroupBarrier();            // the previous slice's matrix loads are done with the tile
      commit(tid, 0u);
      workgroupBarrier();
      if (kt + 1u < nk) { fetch((kt + 1u) * BK, tid); }
      slice(acc, 0u, sr, sc);
    }
  } else {
    commit(tid, 0u);
    workgroupBarrier();
    for (var kt = 0u; kt < nk; kt++) {
      let buf = kt % 2u;
      if (kt + 1u < nk) { fetch((kt + 1u) * BK, tid); }
      slice(acc, buf, sr, sc);
      // The other tile was last read in slice kt − 1, which every subgroup finished before the
      // barrier that ended it: overwrite it now, one barrier orders it before slice kt + 1.
      if (kt + 1u < nk) { commit(tid, 1u - buf); }
      workgroupBarrier();
    }
  }
}

// ---- epilogue ------------------------------------------------------------------------------------

// The subgroup's 16×16 result at Cs[cb..cb+256) covers rows m0.., columns n0..: through the epilogue.
// Called by every invocation (barriers); each lane handles 256 / SG_SIZE elements.
fn flush(cb: u32, m0: u32, n0: u32) {
  workgroupBarrier();
  for (var e = sg_lane; e < 256u; e += SG_SIZE) {
    let m = m0 + e / 16u; let n = n0 + e % 16u;
    if (m < p.M && n < p.N) { epilogue(m, n, Cs[cb + e]); }
  }
  workgroupBarrier();
}

// Gated: gate result at Cs[cb..), up result at Cs[cb + 256..): y = act(gate) ⊙ up.
fn flush_gated(cb: u32, m0: u32, n0: u32) {
  workgroupBarrier();
  for (var e = sg_lane; e < 256u; e += SG_SIZE) {
    let m = m0 + e / 16u; let n = n0 + e % 16u;
    if (m < p.M && n < p.N) { y[m * p.N + n] = T(activate(Cs[cb + e]) * Cs[cb + 256u + e]); }
  }
  workgroupBarrier();
}

// ---- entry points (grid: ceil(N / BN) × ceil(M / BM)) ---------------------------------------------

@compute @workgroup_size(WG)
fn sgm_tile(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  row0 = wid.y * BM; col0 = wid.x * BN;
  let sg = tid / SG_SIZE;
  sg_lane = tid % SG_SIZE;
  let sr = (sg / SG_COLS) * 16u * TM;   // the subgroup's rows within the block
  let sc = (sg % SG_COLS) * 16u * TN;   // and columns
  var acc: Acc;
  mainloop(&acc, tid, sr, sc);
  let cb = sg * 256u;
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      store_c(cb, acc[i * TN + j]);
      flush(cb, row0 + sr + 16u * i, col0 + sc + 16u * j);
    }
  }
}

@compute @workgroup_size(WG)
fn sgm_tile_gated(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  row0 = wid.y * BM; col0 = wid.x * BN;
  let sg = tid / SG_SIZE;
  sg_lane = tid % SG_SIZE;
  let sr = (sg / SG_COLS) * 16u * TM;
  let sc = (sg % SG_COLS) * 16u * TN;
  var acc: Acc;
  mainloop(&acc, tid, sr, sc);
  let cb = sg * 512u;
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      store_c(cb, acc[i * 2u * TN + j]);
      store_c(cb + 256u, acc[i * 2u * TN + TN + j]);
      flush_gated(cb, row0 + sr + 16u * i, col0 + sc + 16u * j);
    }
  }
}
