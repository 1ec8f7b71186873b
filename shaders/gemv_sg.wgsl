// Batched-decode GEMV on subgroups: y[M, N] = x[M, K] · w[N, K]ᵀ for M = MR ≤ 8 rows, f16 read 8 halves per
// 16-byte load (vec4<u32> views), f32 math. gemv.wgsl gives each output column its own threads, so every
// weight vector a thread loads costs MR loads of x as well: at 8 rows x is 8× the weight bytes through L1, and
// the M = 8 GEMVs read the weights at 1–2 TB/s (H200). Here one subgroup owns CPT adjacent columns: each lane
// streams its slice of K for all CPT weight rows (CPT independent 16-byte loads in flight), unpacks each x
// vector once for the CPT columns (x traffic ÷ CPT), and the SGS partial sums of each (row, column) are added
// with subgroupAdd (no workgroup memory, no barrier). Columns past N load row N − 1 and are not written.
//
// Entry points: gemv_sg (y = act(x·wᵀ + bias) + residual, + y when ACCUMULATE) and gemv_sg_gated
// (y = act(x·wgᵀ) ⊙ (x·wuᵀ)); the host binds placeholders for the optional operands it does not use.
// Specialised by: enable f16 + subgroups, alias T, overrides below (SGS must equal the runtime subgroup size,
// which must be fixed; subgroups are taken as consecutive runs of local_invocation_index, as everywhere here).

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

const MAXACC = 32u;                // MR · CPT accumulators (and as many again for gated)
override MR: u32 = 1u;             // rows of x, 1..8
override CPT: u32 = 4u;            // columns per subgroup (MR · CPT ≤ MAXACC)
override SGS: u32 = 32u;           // subgroup size
override SPW: u32 = 4u;            // subgroups per workgroup
override WG: u32 = SGS * SPW;

@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(12) var<storage, read> x8: array<vec4<u32>>;
@group(0) @binding(13) var<storage, read> w8: array<vec4<u32>>;
@group(0) @binding(14) var<storage, read> wg8: array<vec4<u32>>;
@group(0) @binding(15) var<storage, read> wu8: array<vec4<u32>>;

var<private> acc: array<f32, MAXACC>;    // [MR][CPT]
var<private> acc2: array<f32, MAXACC>;   // up products (gated)

// Epilogue switches, activate() and epilogue(m, n, v): shaders/gemm_epilogue.wgsl; F8, unpack8, dot8f:
// shaders/half8.wgsl (ProgramDef.includes).

// The subgroup's first column: workgroups fold into (x, y) past the per-dimension limit.
fn first_col(wid: vec3u, nwg: vec3u, tid: u32) -> u32 {
  return ((wid.x + wid.y * nwg.x) * SPW + tid / SGS) * CPT;
}

fn row_of(n0: u32, c: u32) -> u32 { return min(n0 + c, p.N - 1u); }

@compute @workgroup_size(WG)
fn gemv_sg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) tid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let n0 = first_col(wid, nwg, tid);
  let K8 = p.K / 8u;
  for (var i = 0u; i < MAXACC; i++) { acc[i] = 0.0; }
  var wf: array<F8, 8>;
  for (var j = lane; j < K8; j += SGS) {
    for (var c = 0u; c < CPT; c++) { wf[c] = unpack8(w8[row_of(n0, c) * K8 + j]); }
    for (var m = 0u; m < MR; m++) {
      let xf = unpack8(x8[m * K8 + j]);
      for (var c = 0u; c < CPT; c++) { acc[m * CPT + c] += dot8f(wf[c], xf); }
    }
  }
  for (var m = 0u; m < MR; m++) {
    for (var c = 0u; c < CPT; c++) {
      let v = subgroupAdd(acc[m * CPT + c]);
      if (lane == (m * CPT + c) % SGS && n0 + c < p.N) { epilogue(m, n0 + c, v); }
    }
  }
}

@compute @workgroup_size(WG)
fn gemv_sg_gated(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) tid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let n0 = first_col(wid, nwg, tid);
  let K8 = p.K / 8u;
  for (var i = 0u; i < MAXACC; i++) { acc[i] = 0.0; acc2[i] = 0.0; }
  var gf: array<F8, 8>;
  var uf: array<F8, 8>;
  for (var j = lane; j < K8; j += SGS) {
    for (var c = 0u; c < CPT; c++) {
      let r = row_of(n0, c) * K8 + j;
      gf[c] = unpack8(wg8[r]); uf[c] = unpack8(wu8[r]);
    }
    for (var m = 0u; m < MR; m++) {
      let xf = unpack8(x8[m * K8 + j]);
      for (var c = 0u; c < CPT; c++) {
        acc[m * CPT + c] += dot8f(gf[c], xf);
        acc2[m * CPT + c] += dot8f(uf[c], xf);
      }
    }
  }
  for (var m = 0u; m < MR; m++) {
    for (var c = 0u; c < CPT; c++) {
      let g = subgroupAdd(acc[m * CPT + c]);
      let u = subgroupAdd(acc2[m * CPT + c]);
      if (lane == (m * CPT + c) % SGS && n0 + c < p.N) { y[m * p.N + n0 + c] = T(activate(g) * u); }
    }
  }
}
