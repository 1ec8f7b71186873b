// Skinny GEMM on subgroup matrices for batched decode (16 ≤ M ≤ 64 rows): y[M, N] = x[M, K] · w[N, K]ᵀ,
// f16 operands, f32 accumulation, 16×16×16 f16→f32 matrices. Weight-bandwidth-bound: every weight
// byte is read once, so the kernel is built for bytes in flight, not for reuse.
//
// A workgroup is SN × SK subgroups and owns BN = 16·TN·SN output columns for all M rows. Subgroup
// (sn, sk) owns the TN column blocks of group sn and the K chunks sk, sk + SK, ... (chunk = U
// 16-deep steps): an intra-workgroup split of K, so a narrow N still gives many subgroups and no
// partial sums leave the workgroup. Per chunk it loads U·MT left matrices (x rows, row-major, stride K;
// MT = ceil(M / 16) row blocks) and U·TN right matrices (w rows = columns of wᵀ, col-major, stride K)
// straight from storage — all loads of a chunk are issued before its products — then U·MT·TN
// multiply-accumulates. x (≤ 64 rows) stays in L1/L2; the subgroups of a column group read the same x.
// End: per result matrix, every subgroup stores its partial into workgroup scratch, the workgroup sums
// the SK partials of each column group and applies the epilogue.
// Ragged M and N: a block whose 16 rows (columns) would run past M (N) loads from M − 16 (N − 16) and
// only rows (columns) at or after its nominal start are written. Needs M ≥ 16, N ≥ 16, K % 16 == 0.
//
// This file holds the reduction and the epilogue; the entry points are generated with every matrix in a
// named variable (shaders/gemm_sgm.gen.mjs → gemm_sgm_skinny_entries.wgsl, or ..._entries_emu.wgsl with
// the scalar operations of gemm_sgm_skinny_emu.wgsl for CPU adapters): sgm_skinny_m{MT}_n{TN}_u{U}
// (bias / GELU / residual / accumulate) and sgm_skinny_m{MT}_n{TN}_u{U}_gated (y = act(x·wgᵀ) ⊙ (x·wuᵀ)).
// Both reference every weight binding; the host binds placeholders for the unused ones.
// Specialised by: enables as gemm_sgm_tile.wgsl, aliases T/T4, Scratch = array<f32, 256·SN·SK>, and the
// overrides below (TN must match the entry point).

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override SG_SIZE: u32 = 32u;
override SN: u32 = 2u;          // subgroups along N
override SK: u32 = 4u;          // subgroups splitting K
override TN: u32 = 2u;          // 16-column blocks per subgroup (per product when gated)
override WG: u32 = SG_SIZE * SN * SK;
override BN: u32 = 16u * TN * SN;
override RED: u32 = (256u * SN + WG - 1u) / WG;   // outputs per invocation in the final sum (≤ 8)

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> w: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(8) var<storage, read> wg: array<T>;
@group(0) @binding(9) var<storage, read> wu: array<T>;

var<workgroup> Cs: Scratch;   // [subgroup][16][16] partial products
var<private> sg_lane: u32;

// Epilogue switches, activate() and epilogue(m, n, v): gemm_epilogue.wgsl; the entry points:
// gemm_sgm_skinny_entries[_emu].wgsl (ProgramDef.includes).

// Sum of the SK partials just stored at Cs[subgroup·256..] for each column group, for the RED outputs
// this invocation owns (q = tid + WG·r: column group q / 256, element q % 256). Called by every invocation.
fn reduce_sum(tid: u32) -> array<f32, 8> {
  workgroupBarrier();
  var out: array<f32, 8>;
  for (var r = 0u; r < RED; r++) {
    let q = tid + WG * r;
    if (q < 256u * SN) {
      var v = 0.0;
      for (var s = 0u; s < SK; s++) { v += Cs[(s * SN + q / 256u) * 256u + q % 256u]; }
      out[r] = v;
    }
  }
  workgroupBarrier();
  return out;
}

// Output element of row block i, column block j for q: (m, n), or (M, N) when another block owns it.
fn owned(i: u32, j: u32, q: u32, wx: u32) -> vec2u {
  let e = q % 256u;
  let nn = wx * BN + (q / 256u) * 16u * TN + 16u * j;   // nominal first column
  let m = min(16u * i, p.M - 16u) + e / 16u;
  let n = min(nn, p.N - 16u) + e % 16u;
  if (m < 16u * i || n < nn) { return vec2u(p.M, p.N); }
  return vec2u(m, n);
}

// Row block i, column block j: the epilogue on this invocation's sums v.
fn write_out(i: u32, j: u32, v: ptr<function, array<f32, 8>>, wx: u32, tid: u32) {
  for (var r = 0u; r < RED; r++) {
    let q = tid + WG * r;
    if (q < 256u * SN) {
      let mn = owned(i, j, q, wx);
      if (mn.x < p.M && mn.y < p.N) { epilogue(mn.x, mn.y, (*v)[r]); }
    }
  }
}

// Gated: y = act(gate) ⊙ up from this invocation's gate sums g and up sums u.
fn write_gated(i: u32, j: u32, g: ptr<function, array<f32, 8>>, u: ptr<function, array<f32, 8>>, wx: u32, tid: u32) {
  for (var r = 0u; r < RED; r++) {
    let q = tid + WG * r;
    if (q < 256u * SN) {
      let mn = owned(i, j, q, wx);
      if (mn.x < p.M && mn.y < p.N) { y[mn.x * p.N + mn.y] = T(activate((*g)[r]) * (*u)[r]); }
    }
  }
}
