// Throughput probe of the subgroup-matrix multiply-accumulate (benchmark only, kernels-bench/gemm-sweep.ts):
// each subgroup keeps two left and four right 16×16 f16 matrices and eight f32 accumulators in
// registers and runs p.K rounds of eight independent 16×16×16 products — no memory traffic in the
// loop, so the time is the matrix units' issue rate through this path (Vulkan cooperative matrices on
// NVIDIA: mma.sync-class instructions or wgmma). FLOPs = workgroups · (WG / SG) · K · 8 · 2·16³.
// Specialised by: enable f16 + subgroups + chromium_experimental_subgroup_matrix, SG / WG overrides.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override SG: u32 = 32u;
override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> x: array<f16>;        // ≥ 1024 halves of operands
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // 8·256 floats per subgroup
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn sgm_peak(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, 0u, 16u);
  let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, 256u, 16u);
  let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&x, 512u, 16u);
  let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&x, 768u, 16u);
  let b2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&x, 128u, 16u);
  let b3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&x, 640u, 16u);
  var c0 = subgroup_matrix_result<f32, 16, 16>();
  var c1 = subgroup_matrix_result<f32, 16, 16>();
  var c2 = subgroup_matrix_result<f32, 16, 16>();
  var c3 = subgroup_matrix_result<f32, 16, 16>();
  var c4 = subgroup_matrix_result<f32, 16, 16>();
  var c5 = subgroup_matrix_result<f32, 16, 16>();
  var c6 = subgroup_matrix_result<f32, 16, 16>();
  var c7 = subgroup_matrix_result<f32, 16, 16>();
  for (var i = 0u; i < p.K; i++) {
    c0 = subgroupMatrixMultiplyAccumulate(a0, b0, c0);
    c1 = subgroupMatrixMultiplyAccumulate(a0, b1, c1);
    c2 = subgroupMatrixMultiplyAccumulate(a0, b2, c2);
    c3 = subgroupMatrixMultiplyAccumulate(a0, b3, c3);
    c4 = subgroupMatrixMultiplyAccumulate(a1, b0, c4);
    c5 = subgroupMatrixMultiplyAccumulate(a1, b1, c5);
    c6 = subgroupMatrixMultiplyAccumulate(a1, b2, c6);
    c7 = subgroupMatrixMultiplyAccumulate(a1, b3, c7);
  }
  // Every accumulator stored (keeps every product live).
  let o = (wid.x * (WG / SG) + tid / SG) * 2048u;
  subgroupMatrixStore<row_major>(&y, o, c0, 16u);
  subgroupMatrixStore<row_major>(&y, o + 256u, c1, 16u);
  subgroupMatrixStore<row_major>(&y, o + 512u, c2, 16u);
  subgroupMatrixStore<row_major>(&y, o + 768u, c3, 16u);
  subgroupMatrixStore<row_major>(&y, o + 1024u, c4, 16u);
  subgroupMatrixStore<row_major>(&y, o + 1280u, c5, 16u);
  subgroupMatrixStore<row_major>(&y, o + 1536u, c6, 16u);
  subgroupMatrixStore<row_major>(&y, o + 1792u, c7, 16u);
}
