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
// This file holds the staging and the epilogue; the entry points (K loop, matrix math) are generated
// with every matrix in a named variable (shaders/gemm_sgm.gen.mjs → gemm_sgm_tile_entries.wgsl, or
// gemm_sgm_tile_entries_emu.wgsl with the scalar matrix operations of gemm_sgm_tile_emu.wgsl, which
// lets CPU adapters without subgroup matrices test the same code): sgm_tile_{TM}x{TN} (bias / GELU /
// residual / accumulate epilogue) and sgm_tile_gated_{TM}x{TN} (y = act(x·wgᵀ) ⊙ (x·wuᵀ): the B tile
// holds BN gate rows then BN up rows). Both reference every weight binding (one fetch routine): the
// host binds placeholders for the unused ones.
// Epilogue: a result matrix is opaque (no element access, no f16 conversion), so each goes through a
// per-subgroup 16×16 f32 scratch in workgroup memory, then the subgroup's lanes apply the epilogue.
// Specialised by: enable f16 (+ subgroups, chromium_experimental_subgroup_matrix, the uniformity
// diagnostic off: load offsets are subgroup-uniform, not workgroup-uniform), aliases T/T4, the array
// types TileA = array<f16, NBUF·BM·LDS>, TileB = array<f16, NBUF·BROWS·LDS> (BROWS = BN, or 2·BN
// gated), Scratch = array<f32, 256·subgroups·(1 or 2)>, Stage = array<vec4<f16>, NLD> (NLD =
// ceil((BM + BROWS)·BK/4 / WG): per-thread prefetch registers), and the overrides below (TM, TN must
// match the entry point).

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override SG_SIZE: u32 = 32u;    // lanes of one subgroup (the device's; any value when emulated)
override SG_ROWS: u32 = 2u;     // subgroups along M
override SG_COLS: u32 = 4u;     // subgroups along N
override TM: u32 = 4u;          // result matrices per subgroup along M
override TN: u32 = 4u;          // and along N
override BK: u32 = 32u;         // K slice per stage, a multiple of 16
override NBUF: u32 = 1u;        // workgroup tiles: 1 or 2
override GATED: bool = false;   // set for the gated entries (B tile rows and scratch doubled)
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
// shaders/gemm_epilogue.wgsl; the entry points: gemm_sgm_tile_entries[_emu].wgsl (ProgramDef.includes).

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
