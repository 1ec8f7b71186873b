// Split-K reduce: the second pass of a product whose K was shared out over S workgroups (the split-K entries of
// gemm_sgm_tile_gen.wgsl). part[S][M][NP] holds f32 partial sums; this sums them per output in split order (the
// same order every run: deterministic) and applies the product's epilogue.
//   splitk_reduce        NP = N:  y[m, n] = epilogue(Σ_s part[s, m, n])  (bias, GELU, residual, accumulate)
//   splitk_reduce_gated  NP = 2N: y[m, n] = act(Σ_s part[s, m, n]) ⊙ Σ_s part[s, m, N + n]   (gate, then up)
// One invocation per output, consecutive invocations on consecutive n: every partial read is coalesced. The grid
// may be folded into 2D (x · y workgroups of 256); invocations past M·N return.
// Specialised by: enable f16, alias T = f16; the epilogue's overrides (gemm_epilogue.wgsl, prepended).

struct Params { M: u32, N: u32, S: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<T>;

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
