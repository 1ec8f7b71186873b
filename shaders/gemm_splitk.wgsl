// Split-K reduce: the second pass of a product whose K was shared out over S workgroups (the split-K entries of
// gemm_sgm_tile_gen.wgsl). part[S][M][NP] holds f32 partial sums; this sums them per output in split order (the
// same order every run: deterministic) and applies the product's epilogue.
//   splitk_reduce        NP = N:  y[m, n] = epilogue(Σ_s part[s, m, n])  (bias, GELU, residual, accumulate)
//   splitk_reduce_gated  NP = 2N: y[m, n] = act(Σ_s part[s, m, n]) ⊙ Σ_s part[s, m, N + n]   (gate, then up)
//   splitk_reduce_norm   NP = N:  y as splitk_reduce, then xn[m] = rmsnorm(y[m]) ⊙ nweight: one workgroup a row
//       (ROW_WG invocations, N % 4 == 0), summing squares in rmsnorm_vec4's order, so xn is what a separate
//       rmsnorm launch on y would write — the launch the residual stream's next norm no longer needs.
//   splitk_reduce_rope   NP = N:  the fused QKV product's RoPE and K/V append (shaders/rope_epilogue.wgsl) on the sums:
//       one invocation a pair of output slots c, c + 1, which sums qkv columns rope_col(c), rope_col(c + 1) (a rotation
//       pair) and calls rope_pair — what the unsplit tiles' _r entries do in their own epilogue.
// One invocation per output, consecutive invocations on consecutive n: every partial read is coalesced. The grid
// may be folded into 2D (x · y workgroups of 256); invocations past M·N return.
// Specialised by: enable f16, alias T = f16, T4; the epilogue's overrides (gemm_epilogue.wgsl, prepended); ROW_WG
// (row_sum.wgsl, prepended); the RoPE epilogue's (rope_angle.wgsl, rope_epilogue.wgsl, prepended).

// eps: splitk_reduce_norm's only; slots, capacity, slotBase: splitk_reduce_rope's (rope_epilogue.wgsl reads them).
struct Params { M: u32, N: u32, S: u32, eps: f32, slots: u32, capacity: u32, slotBase: u32 }

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;
@group(0) @binding(6) var<storage, read> part4: array<vec4f>;       // part, 4 columns a load (norm entry)
@group(0) @binding(7) var<storage, read> nweight4: array<T4>;       // [N / 4] the norm's weight
@group(0) @binding(8) var<storage, read_write> xn4: array<T4>;      // [M, N / 4] the normed rows

const WG = 256u;

// The output this invocation owns (m · N + n), or M·N past the end.
fn output_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return min((wid.y * nwg.x + wid.x) * WG + lid, p.M * p.N);
}

@compute @workgroup_size(256)
fn splitk_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = output_index(wid, nwg, lid);
  let mn = p.M * p.N;
  if (i >= mn) { return; }
  var s = 0.0;
  for (var z = 0u; z < p.S; z++) { s += part[z * mn + i]; }
  epilogue(i / p.N, i % p.N, s);
}

@compute @workgroup_size(256)
fn splitk_reduce_gated(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = output_index(wid, nwg, lid);
  if (i >= p.M * p.N) { return; }
  let m = i / p.N; let n = i % p.N;
  let stride = 2u * p.M * p.N;
  let o = m * 2u * p.N + n;
  var g = 0.0; var u = 0.0;
  for (var z = 0u; z < p.S; z++) { g += part[z * stride + o]; u += part[z * stride + o + p.N]; }
  y[i] = T(activate(g) * u);
}

// row_sum, ROW_WG (invocations a row in splitk_reduce_norm): shaders/row_sum.wgsl (ProgramDef.includes).

fn y_vec4(i: u32) -> vec4f { return vec4f(f32(y[i]), f32(y[i + 1u]), f32(y[i + 2u]), f32(y[i + 3u])); }

@compute @workgroup_size(ROW_WG)
fn splitk_reduce_norm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let m = wid.x;   // grid [M]: uniform per workgroup, so the barriers below are reached by all or none
  if (m >= p.M) { return; }
  let n4 = p.N / 4u;
  let mn4 = p.M * n4;
  for (var c = tid; c < n4; c += ROW_WG) {
    var s = vec4f(0.0);
    for (var z = 0u; z < p.S; z++) { s += part4[z * mn4 + m * n4 + c]; }
    let n = 4u * c;
    let i = m * p.N + n;
    y[i] = T(epilogue_value(m, n, s.x)); y[i + 1u] = T(epilogue_value(m, n + 1u, s.y));
    y[i + 2u] = T(epilogue_value(m, n + 2u, s.z)); y[i + 3u] = T(epilogue_value(m, n + 3u, s.w));
  }
  // The squares of the stored row, read back (this invocation's own stores) and summed as rmsnorm_vec4 sums them.
  var ss = 0.0;
  for (var c = tid; c < n4; c += ROW_WG) { let v = y_vec4(m * p.N + 4u * c); ss += dot(v, v); }
  let inv = inverseSqrt(row_sum(tid, ss) / f32(p.N) + p.eps);
  for (var c = tid; c < n4; c += ROW_WG) {
    xn4[m * n4 + c] = T4(y_vec4(m * p.N + 4u * c) * inv * vec4f(nweight4[c]));
  }
}

@compute @workgroup_size(256)
fn splitk_reduce_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let half = p.N / 2u;   // N even (kernels/gemm.ts ropeEpilogueApplies)
  let pairs = p.M * half;
  let i = min((wid.y * nwg.x + wid.x) * WG + lid, pairs);
  if (i >= pairs) { return; }
  let m = i / half;
  let c = 2u * (i % half);
  let mn = p.M * p.N;
  let o0 = m * p.N + rope_col(c);
  let o1 = m * p.N + rope_col(c + 1u);
  var s0 = 0.0; var s1 = 0.0;
  for (var z = 0u; z < p.S; z++) { s0 += part[z * mn + o0]; s1 += part[z * mn + o1]; }
  rope_pair(m, c, s0, s1);
}
