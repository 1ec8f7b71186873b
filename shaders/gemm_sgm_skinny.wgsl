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
// Entry points: sgm_skinny (bias / GELU / residual / accumulate) and sgm_skinny_gated
// (y = act(x·wgᵀ) ⊙ (x·wuᵀ): TN gate and TN up blocks per subgroup). Matrix operations (load_x, load_w,
// load_wg, load_wu, mma, store_c, Sm* types) come from gemm_sgm_skinny_ops.wgsl or, on adapters without
// subgroup matrices, the scalar gemm_sgm_skinny_emu.wgsl. Both entries reference every weight binding;
// the host binds placeholders for the unused ones.
// Specialised by: enables as gemm_sgm_tile.wgsl, aliases T/T4, Scratch = array<f32, 256·SN·SK>,
// Acc = array<SmC, MT·NB>, ArrL = array<SmL, U·MT>, ArrR = array<SmR, U·NB> (NB = TN, or 2·TN gated),
// and the overrides below.

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

override SG_SIZE: u32 = 32u;
override SN: u32 = 2u;          // subgroups along N
override SK: u32 = 4u;          // subgroups splitting K
override MT: u32 = 4u;          // 16-row blocks of x: ceil(M / 16), 1..4
override TN: u32 = 2u;          // 16-column blocks per subgroup (per product when gated)
override U: u32 = 4u;           // 16-deep steps per K chunk (loads in flight per subgroup: U·(MT + NB))
override GATED: bool = false;
override NB: u32 = select(TN, 2u * TN, GATED);
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

// Epilogue switches, activate() and epilogue(m, n, v): gemm_epilogue.wgsl; matrix operations:
// gemm_sgm_skinny_ops.wgsl or gemm_sgm_skinny_emu.wgsl (ProgramDef.includes).

// Right matrix j of a subgroup: block j of w (gated: gate for j < TN, up for j ≥ TN).
fn load_right(j: u32, o: u32) -> SmR {
  if (!GATED) { return load_w(o); }
  if (j < TN) { return load_wg(o); }
  return load_wu(o);
}

// The split-K main loop; returns the subgroup's partial products in acc.
fn mainloop(acc: ptr<function, Acc>, sk: u32, n0: u32) {
  var oa: array<u32, 4>;
  for (var i = 0u; i < MT; i++) { oa[i] = min(16u * i, p.M - 16u) * p.K; }
  var ob: array<u32, 16>;
  for (var j = 0u; j < NB; j++) { ob[j] = min(n0 + 16u * (j % TN), p.N - 16u) * p.K; }
  var a: ArrL;
  var b: ArrR;
  let chunk = 16u * U;
  let nfull = p.K / chunk;
  for (var c = sk; c < nfull; c += SK) {
    let k0 = c * chunk;
    for (var u = 0u; u < U; u++) {
      for (var i = 0u; i < MT; i++) { a[u * MT + i] = load_x(oa[i] + k0 + 16u * u); }
      for (var j = 0u; j < NB; j++) { b[u * NB + j] = load_right(j, ob[j] + k0 + 16u * u); }
    }
    for (var u = 0u; u < U; u++) {
      for (var i = 0u; i < MT; i++) {
        for (var j = 0u; j < NB; j++) { (*acc)[i * NB + j] = mma(a[u * MT + i], b[u * NB + j], (*acc)[i * NB + j]); }
      }
    }
  }
  // K % chunk: single 16-deep steps, dealt to the subgroups in turn.
  let tail = (p.K - nfull * chunk) / 16u;
  for (var t = sk; t < tail; t += SK) {
    let k0 = nfull * chunk + 16u * t;
    for (var i = 0u; i < MT; i++) { a[i] = load_x(oa[i] + k0); }
    for (var j = 0u; j < NB; j++) { b[j] = load_right(j, ob[j] + k0); }
    for (var i = 0u; i < MT; i++) {
      for (var j = 0u; j < NB; j++) { (*acc)[i * NB + j] = mma(a[i], b[j], (*acc)[i * NB + j]); }
    }
  }
}

// Sum of the SK partials of result matrix `mat` of each column group, for the RED outputs this
// invocation owns (q = tid + WG·r: column group q / 256, element q % 256). Called by every invocation.
fn reduce(acc: ptr<function, Acc>, mat: u32, sg: u32, tid: u32) -> array<f32, 8> {
  store_c(sg * 256u, (*acc)[mat]);
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

@compute @workgroup_size(WG)
fn sgm_skinny(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  sg_lane = tid % SG_SIZE;
  let sn = sg % SN; let sk = sg / SN;
  var acc: Acc;
  mainloop(&acc, sk, wid.x * BN + sn * 16u * TN);
  for (var i = 0u; i < MT; i++) {
    for (var j = 0u; j < TN; j++) {
      var v = reduce(&acc, i * NB + j, sg, tid);
      for (var r = 0u; r < RED; r++) {
        let q = tid + WG * r;
        if (q < 256u * SN) {
          let mn = owned(i, j, q, wid.x);
          if (mn.x < p.M && mn.y < p.N) { epilogue(mn.x, mn.y, v[r]); }
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn sgm_skinny_gated(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / SG_SIZE;
  sg_lane = tid % SG_SIZE;
  let sn = sg % SN; let sk = sg / SN;
  var acc: Acc;
  mainloop(&acc, sk, wid.x * BN + sn * 16u * TN);
  for (var i = 0u; i < MT; i++) {
    for (var j = 0u; j < TN; j++) {
      var g = reduce(&acc, i * NB + j, sg, tid);
      var u = reduce(&acc, i * NB + TN + j, sg, tid);
      for (var r = 0u; r < RED; r++) {
        let q = tid + WG * r;
        if (q < 256u * SN) {
          let mn = owned(i, j, q, wid.x);
          if (mn.x < p.M && mn.y < p.N) { y[mn.x * p.N + mn.y] = T(activate(g[r]) * u[r]); }
        }
      }
    }
  }
}
