// A workgroup's sum of one f32 per invocation, by one fixed tree in workgroup memory, so that every kernel that
// includes it sums a row in the same order and gets the same bits: rmsnorm.wgsl, and the split-K reduce that writes
// the next block's norm (gemm_splitk.wgsl's splitk_reduce_norm). Prepended by the runtime (ProgramDef.includes).
// Specialised by: override ROW_WG (invocations a row, a power of two).

override ROW_WG: u32 = 256u;

var<workgroup> row_partial: array<f32, ROW_WG>;

fn row_sum(tid: u32, v: f32) -> f32 {
  row_partial[tid] = v;
  workgroupBarrier();
  for (var s = ROW_WG / 2u; s > 0u; s = s >> 1u) {
    if (tid < s) { row_partial[tid] += row_partial[tid + s]; }
    workgroupBarrier();
  }
  let total = row_partial[0];
  workgroupBarrier();   // row_partial may be written again after this
  return total;
}
