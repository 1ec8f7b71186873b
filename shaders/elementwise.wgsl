// Elementwise helpers over flat arrays of n elements (any shape; the binding checks shapes).
//   cast_scalar / cast_vec4: out = TO(x) for x of TI (f32 <-> f16, or a same-dtype copy).
//   sum_parts: a tensor-parallel all-reduce's last step on one rank: out = TO(Σ_r part_r) over `ranks` partial
//     sums in rank order, accumulated in f32. The rank's own partial (index `own`) is `mine`; the others arrive in
//     `others`, [ranks − 1, n] in rank order without `own`. Every rank adds in the same order, so all get the same bits.
// The _vec4 entry points take vec4 views (used when n % 4 == 0; n then counts vec4s).
// Grid-stride loop: the grid is capped at the device's per-dimension limit and each thread strides.
// Specialised by: alias TI/TO; override WG (threads per workgroup).

struct Params { n: u32, own: u32, ranks: u32, _p0: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> cx: array<TI>;
@group(0) @binding(1) var<storage, read_write> cout: array<TO>;
@group(0) @binding(2) var<storage, read> cx4: array<vec4<TI>>;
@group(0) @binding(3) var<storage, read_write> cout4: array<vec4<TO>>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read> mine: array<TI>;
@group(0) @binding(6) var<storage, read> others: array<TI>;

@compute @workgroup_size(WG)
fn cast_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { cout[i] = TO(cx[i]); }
}

@compute @workgroup_size(WG)
fn cast_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { cout4[i] = vec4<TO>(cx4[i]); }
}

@compute @workgroup_size(WG)
fn sum_parts(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    var acc = 0.0;
    for (var r = 0u; r < p.ranks; r++) {
      if (r == p.own) { acc += f32(mine[i]); }
      else { acc += f32(others[(r - select(0u, 1u, r > p.own)) * p.n + i]); }
    }
    cout[i] = TO(acc);
  }
}
