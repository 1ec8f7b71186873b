// Decode GEMV for f16 (M = MR ≤ 8 rows): y[M, N] = x[M, K] · w[N, K]ᵀ, one subgroup per output column.
// The subgroup's lanes stream the column's weight row with 16-byte loads (vec4<u32> views: 8 halves),
// four independent loads in flight per lane before their math, every lane accumulating all MR rows of x
// (w is read once for the batch); subgroupAdd reduces the lanes — no workgroup memory, no barriers
// (gemv.wgsl's *_h8 entries reduce through workgroup memory with log2(LANES) barriers).
// K % 8 == 0 (the host checks); any N (columns past N stream nothing and write nothing).
// Needs `subgroups` with one fixed subgroup size SG (the host passes it); subgroup s of a workgroup is
// invocations [s·SG, (s+1)·SG) of the one-dimensional workgroup.
// Entry points: gemv_sg_h8 (epilogue of gemm_epilogue.wgsl) and gemv_sg_gated_h8 (act(x·wgᵀ) ⊙ (x·wuᵀ)).
// Grid: ceil(N / CPW) workgroups, folded into (x, y) when over the per-dimension limit.
// Specialised by: enable f16 + subgroups, aliases T/T4, the overrides below.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

const MAXM = 8u;
override MR: u32 = 1u;       // rows of x, 1..MAXM
override SG: u32 = 32u;      // lanes per column = the subgroup size
override CPW: u32 = 8u;      // columns (subgroups) per workgroup
override WG: u32 = SG * CPW;

@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(12) var<storage, read> x8: array<vec4<u32>>;   // f16 tensors, 8 halves per element
@group(0) @binding(13) var<storage, read> w8: array<vec4<u32>>;
@group(0) @binding(14) var<storage, read> wg8: array<vec4<u32>>;
@group(0) @binding(15) var<storage, read> wu8: array<vec4<u32>>;

var<private> acc: array<f32, MAXM>;
var<private> acc2: array<f32, MAXM>;

// Epilogue switches, activate() and epilogue(m, n, v): gemm_epilogue.wgsl (ProgramDef.includes).

fn dot8(a: vec4<u32>, b: vec4<u32>) -> f32 {
  let a0 = vec4f(unpack2x16float(a.x), unpack2x16float(a.y));
  let a1 = vec4f(unpack2x16float(a.z), unpack2x16float(a.w));
  let b0 = vec4f(unpack2x16float(b.x), unpack2x16float(b.y));
  let b1 = vec4f(unpack2x16float(b.z), unpack2x16float(b.w));
  return dot(a0, b0) + dot(a1, b1);
}

fn column(wid: vec3u, nwg: vec3u, tid: u32) -> u32 { return (wid.x + wid.y * nwg.x) * CPW + tid / SG; }

fn dots(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = select(0u, K8, n < p.N);
  var j = lane;
  for (; j + 3u * SG < len; j += 4u * SG) {
    let w0 = w8[wb + j]; let w1 = w8[wb + j + SG]; let w2 = w8[wb + j + 2u * SG]; let w3 = w8[wb + j + 3u * SG];
    for (var m = 0u; m < MR; m++) {
      let xb = m * K8 + j;
      acc[m] += dot8(w0, x8[xb]) + dot8(w1, x8[xb + SG]) + dot8(w2, x8[xb + 2u * SG]) + dot8(w3, x8[xb + 3u * SG]);
    }
  }
  for (; j < len; j += SG) {
    let w0 = w8[wb + j];
    for (var m = 0u; m < MR; m++) { acc[m] += dot8(w0, x8[m * K8 + j]); }
  }
}

fn dots_gated(n: u32, lane: u32) {
  let K8 = p.K / 8u; let wb = n * K8;
  let len = select(0u, K8, n < p.N);
  var j = lane;
  for (; j + SG < len; j += 2u * SG) {
    let g0 = wg8[wb + j]; let g1 = wg8[wb + j + SG]; let u0 = wu8[wb + j]; let u1 = wu8[wb + j + SG];
    for (var m = 0u; m < MR; m++) {
      let x0 = x8[m * K8 + j]; let x1 = x8[m * K8 + j + SG];
      acc[m] += dot8(g0, x0) + dot8(g1, x1);
      acc2[m] += dot8(u0, x0) + dot8(u1, x1);
    }
  }
  for (; j < len; j += SG) {
    let g0 = wg8[wb + j]; let u0 = wu8[wb + j];
    for (var m = 0u; m < MR; m++) {
      let x0 = x8[m * K8 + j];
      acc[m] += dot8(g0, x0); acc2[m] += dot8(u0, x0);
    }
  }
}

@compute @workgroup_size(WG)
fn gemv_sg_h8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) tid: u32) {
  let n = column(wid, nwg, tid); let lane = tid % SG;
  dots(n, lane);
  // Lane m writes row m: the MR sums are spread over the subgroup's lanes.
  for (var m = 0u; m < MR; m++) {
    let s = subgroupAdd(acc[m]);
    if (lane == m && n < p.N) { epilogue(m, n, s); }
  }
}

@compute @workgroup_size(WG)
fn gemv_sg_gated_h8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) tid: u32) {
  let n = column(wid, nwg, tid); let lane = tid % SG;
  dots_gated(n, lane);
  for (var m = 0u; m < MR; m++) {
    let g = subgroupAdd(acc[m]);
    let u = subgroupAdd(acc2[m]);
    if (lane == m && n < p.N) { y[m * p.N + n] = T(activate(g) * u); }
  }
}
