// GEMM on subgroup matrices (chromium_experimental_subgroup_matrix; tensor cores on the H100):
// y[M, N] = x[M, K] · w[N, K]ᵀ, f16 operands, f32 accumulation, 16×16×16 f16→f32 matrices.
// A workgroup of 4×2 subgroups computes a 128×128 tile;
// each subgroup owns a 32×64 block as 2×4 result matrices. Per 32-wide K slice the workgroup stages
// x and w as f16 into workgroup memory (zero outside the matrices, rows padded to 40 halves = 80 bytes,
// 16-byte aligned), then each subgroup runs 2 × (2×4) multiply-accumulates from there.
// x tile [m][k] row-major is the left matrix; w tile [n][k] is the right matrix (K×N) in column-major.
// Epilogue: each result matrix goes through a per-subgroup 16×16 f32 scratch in workgroup memory, then
// the subgroup's invocations apply bias/activation/residual/accumulate with bounds checks: ragged M and
// N are handled here; K must be a multiple of 4 (vec4 staging loads), the host falls back otherwise.
// Specialised by: enable f16 + subgroups + chromium_experimental_subgroup_matrix, the uniformity
// diagnostic off (see gemm_sgm), alias T = f16, overrides below. SG_SIZE must be the device's subgroup size (the workgroup's x size must be a
// multiple of it, and subgroup s is invocations [s·SG_SIZE, (s+1)·SG_SIZE)).

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

const BK = 32u;    // K slice per stage (two 16-deep matrix steps)
const LDS = 40u;   // staged row stride in halves

// Tile geometry is const (not override) so the matrix loads see fixed-size workgroup arrays.
const SG_ROWS = 4u;
const SG_COLS = 2u;
const BM = 32u * SG_ROWS;   // 128
const BN = 64u * SG_COLS;   // 128
override SG_SIZE: u32 = 32u;
override WG: u32 = SG_SIZE * SG_ROWS * SG_COLS;


@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> x4: array<T4>;
@group(0) @binding(7) var<storage, read> w4: array<T4>;

var<workgroup> As: array<f16, BM * LDS>;                  // [BM][LDS]
var<workgroup> Bs: array<f16, BN * LDS>;                  // [BN][LDS]
var<workgroup> Cs: array<f32, 256u * SG_ROWS * SG_COLS>;  // [subgroup][16][16] epilogue scratch

// Epilogue switches (ACT, HAS_BIAS, HAS_RESIDUAL, ACCUMULATE), erf_f32(), activate() and epilogue(m, n, v):
// shaders/gemm_epilogue.wgsl, prepended by the runtime (ProgramDef.includes).


// ---- staging ------------------------------------------------------------------------------------

fn stage(row0: u32, col0: u32, k0: u32, tid: u32) {
  let K4 = p.K / 4u;
  let q = BK / 4u;
  for (var e = tid; e < BM * q; e += WG) {
    let m = e / q; let c = e % q;
    let gm = row0 + m; let gk4 = k0 / 4u + c;
    var v = vec4<f16>();
    if (gm < p.M && gk4 < K4) { v = x4[gm * K4 + gk4]; }
    let o = m * LDS + c * 4u;
    As[o] = v.x; As[o + 1u] = v.y; As[o + 2u] = v.z; As[o + 3u] = v.w;
  }
  for (var e = tid; e < BN * q; e += WG) {
    let n = e / q; let c = e % q;
    let gn = col0 + n; let gk4 = k0 / 4u + c;
    var v = vec4<f16>();
    if (gn < p.N && gk4 < K4) { v = w4[gn * K4 + gk4]; }
    let o = n * LDS + c * 4u;
    Bs[o] = v.x; Bs[o + 1u] = v.y; Bs[o + 2u] = v.z; Bs[o + 3u] = v.w;
  }
}

// The subgroup's 16×16 result just stored at Cs[cb..cb+256) goes through the epilogue to y[m0.., n0..].
// Called by every invocation (barriers); each handles 256 / SG_SIZE elements.
fn flush(cb: u32, m0: u32, n0: u32, lane: u32) {
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG_SIZE) {
    let m = m0 + e / 16u; let n = n0 + e % 16u;
    if (m < p.M && n < p.N) { epilogue(m, n, Cs[cb + e]); }
  }
  workgroupBarrier();
}

// Offsets into workgroup memory derive from the subgroup index, which is uniform per subgroup but not
// per workgroup: the specialisation adds `diagnostic(off, chromium.subgroup_matrix_uniformity);`
// (the check is workgroup-scoped; the module-level directive because wgsl_reflect cannot parse the
// dotted rule name in an attribute).
@compute @workgroup_size(WG)
fn gemm_sgm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let sg = tid / SG_SIZE;
  let lane = tid % SG_SIZE;
  let sr = (sg / SG_COLS) * 32u;   // the subgroup's rows within the tile
  let sc = (sg % SG_COLS) * 64u;   // and columns
  var c00 = subgroup_matrix_result<f32, 16, 16>();
  var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>();
  var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>();
  var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>();
  var c13 = subgroup_matrix_result<f32, 16, 16>();
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    stage(row0, col0, k0, tid);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk += 16u) {
      let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&As, sr * LDS + kk, LDS);
      let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&As, (sr + 16u) * LDS + kk, LDS);
      let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, sc * LDS + kk, LDS);
      let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, (sc + 16u) * LDS + kk, LDS);
      let b2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, (sc + 32u) * LDS + kk, LDS);
      let b3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, (sc + 48u) * LDS + kk, LDS);
      c00 = subgroupMatrixMultiplyAccumulate(a0, b0, c00);
      c01 = subgroupMatrixMultiplyAccumulate(a0, b1, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a0, b2, c02);
      c03 = subgroupMatrixMultiplyAccumulate(a0, b3, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a1, b0, c10);
      c11 = subgroupMatrixMultiplyAccumulate(a1, b1, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a1, b2, c12);
      c13 = subgroupMatrixMultiplyAccumulate(a1, b3, c13);
    }
    workgroupBarrier();
  }
  let cb = sg * 256u;
  let m0 = row0 + sr; let n0 = col0 + sc;
  subgroupMatrixStore<row_major>(&Cs, cb, c00, 16u); flush(cb, m0, n0, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c01, 16u); flush(cb, m0, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c02, 16u); flush(cb, m0, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c03, 16u); flush(cb, m0, n0 + 48u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c10, 16u); flush(cb, m0 + 16u, n0, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c11, 16u); flush(cb, m0 + 16u, n0 + 16u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c12, 16u); flush(cb, m0 + 16u, n0 + 32u, lane);
  subgroupMatrixStore<row_major>(&Cs, cb, c13, 16u); flush(cb, m0 + 16u, n0 + 48u, lane);
}
