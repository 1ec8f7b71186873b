// Device probe of the subgroup-matrix operations the tensor-core prefill uses, one 16×16×16 f16 → f32
// product per slot, so a wrong result names the operation (kernels-bench/attention-sweep.ts and
// test/attention.test.ts compare every slot with float64). One workgroup of 4 subgroups of 32.
// Input `a`: A [16][16] at 0 (row-major), B [16][16] at 256 (row-major: B[k][n]), Bᵀ at 512 ([n][k]).
// Output `o`, 256 f32 per slot:
//   0: A·B, A left row-major, B right from Bᵀ column-major (the GEMM kernel's pattern), stride-16 store
//   1: A·B, B right row-major from B
//   2: as 0, stored with stride 36 at offset 16 of the scratch
//   3: as 0, stored, re-loaded as a result matrix, stored again
//   4: as 0, A loaded inside a branch of a loop, the staging overwritten after a barrier, product later
//   5: lane values after subgroupShuffleXor(·, 16): o[5·256 + tid] = lane id of the partner (entry probe;
//      probe_ns writes the expected values and uses no subgroup operation at all)
//   6..9: subgroup s computes (A + s)·B (each subgroup its own operand rows) and stores to slot 6 + s
//  10: as 0, through a loop of two K halves accumulating 8-wide... (A·B again, accumulated in two MMAs
//      of A with half of B zeroed): checks accumulation across statements
// Specialised by: enable f16 + subgroups + chromium_experimental_subgroup_matrix, uniformity diagnostic off.

struct Params { n: u32, _a: u32, _b: u32, _c: u32 }

@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> w16: array<f16, 3072>;   // A at 0 (stride 16), B at 256, Bᵀ at 512, per-subgroup A+s at 1024 + 256·s, B-halves at 2048
var<workgroup> w32: array<f32, 2304>;   // result scratch

fn copy_out(slot: u32, off: u32, stride: u32, ln: u32) {
  for (var e = ln; e < 256u; e += 32u) { o[slot * 256u + e] = w32[off + (e / 16u) * stride + e % 16u]; }
}

fn probe_body(tid: u32) {
  let sg = tid / 32u;
  let ln = tid % 32u;
  for (var i = tid; i < 768u; i += 128u) { w16[i] = a[i]; }
  for (var i = tid; i < 1024u; i += 128u) {
    let s = i / 256u;
    w16[1024u + i] = a[i % 256u] + f16(s);
  }
  // B with rows k ≥ 8 zeroed (2048) and rows k < 8 zeroed (2304).
  for (var i = tid; i < 256u; i += 128u) {
    let k = i / 16u;
    w16[2048u + i] = select(a[256u + i], f16(0.0), k >= 8u);
    w16[2304u + i] = select(a[256u + i], f16(0.0), k < 8u);
  }
  workgroupBarrier();
  var c0 = subgroup_matrix_result<f32, 16, 16>();
  var c1 = subgroup_matrix_result<f32, 16, 16>();
  if (sg == 0u) {
    let al = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&w16, 0u, 16u);
    let bc = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w16, 512u, 16u);
    let br = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&w16, 256u, 16u);
    c0 = subgroupMatrixMultiplyAccumulate(al, bc, c0);
    c1 = subgroupMatrixMultiplyAccumulate(al, br, c1);
  }
  // slot 0
  if (sg == 0u) { subgroupMatrixStore<row_major>(&w32, 0u, c0, 16u); }
  workgroupBarrier();
  if (sg == 0u) { copy_out(0u, 0u, 16u, ln); }
  workgroupBarrier();
  // slot 1
  if (sg == 0u) { subgroupMatrixStore<row_major>(&w32, 0u, c1, 16u); }
  workgroupBarrier();
  if (sg == 0u) { copy_out(1u, 0u, 16u, ln); }
  workgroupBarrier();
  // slot 2
  if (sg == 0u) { subgroupMatrixStore<row_major>(&w32, 16u, c0, 36u); }
  workgroupBarrier();
  if (sg == 0u) { copy_out(2u, 16u, 36u, ln); }
  workgroupBarrier();
  // slot 3
  if (sg == 0u) { subgroupMatrixStore<row_major>(&w32, 0u, c0, 16u); }
  workgroupBarrier();
  var c3 = subgroup_matrix_result<f32, 16, 16>();
  if (sg == 0u) { c3 = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&w32, 0u, 16u); }
  workgroupBarrier();
  if (sg == 0u) { subgroupMatrixStore<row_major>(&w32, 512u, c3, 16u); }
  workgroupBarrier();
  if (sg == 0u) { copy_out(3u, 512u, 16u, ln); }
  workgroupBarrier();
  // slot 4: A held in a register matrix across a barrier that overwrites its source.
  var q = subgroup_matrix_left<f16, 16, 16>();
  for (var it = 0u; it < p.n; it++) {
    if (sg == 0u && it == 0u) { q = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&w16, 0u, 16u); }
    workgroupBarrier();
  }
  for (var i = tid; i < 256u; i += 128u) { w16[i] = f16(7.0); }
  workgroupBarrier();
  var c4 = subgroup_matrix_result<f32, 16, 16>();
  if (sg == 0u) {
    c4 = subgroupMatrixMultiplyAccumulate(q, subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w16, 512u, 16u), c4);
    subgroupMatrixStore<row_major>(&w32, 0u, c4, 16u);
  }
  workgroupBarrier();
  if (sg == 0u) { copy_out(4u, 0u, 16u, ln); }
  workgroupBarrier();
  // slots 6..9
  var cs = subgroup_matrix_result<f32, 16, 16>();
  let as_ = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&w16, 1024u + sg * 256u, 16u);
  cs = subgroupMatrixMultiplyAccumulate(as_, subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w16, 512u, 16u), cs);
  subgroupMatrixStore<row_major>(&w32, sg * 256u, cs, 16u);
  workgroupBarrier();
  copy_out(6u + sg, sg * 256u, 16u, ln);
  workgroupBarrier();
  // slot 10
  if (sg == 0u) {
    let al = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&w16, 1024u, 16u);
    var acc = subgroup_matrix_result<f32, 16, 16>();
    acc = subgroupMatrixMultiplyAccumulate(al, subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&w16, 2048u, 16u), acc);
    acc = subgroupMatrixMultiplyAccumulate(al, subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&w16, 2304u, 16u), acc);
    subgroupMatrixStore<row_major>(&w32, 0u, acc, 16u);
  }
  workgroupBarrier();
  if (sg == 0u) { copy_out(10u, 0u, 16u, ln); }
}

@compute @workgroup_size(128)
fn probe(@builtin(local_invocation_index) tid: u32) {
  probe_body(tid);
  // slot 5
  o[5u * 256u + tid] = subgroupShuffleXor(f32(tid), 16u);
}

// The same without any subgroup operation (a module with cooperative matrices and subgroup operations is
// suspected on NVIDIA's driver): slot 5 gets the expected partners written directly.
@compute @workgroup_size(128)
fn probe_ns(@builtin(local_invocation_index) tid: u32) {
  probe_body(tid);
  o[5u * 256u + tid] = f32(tid ^ 16u);
}
