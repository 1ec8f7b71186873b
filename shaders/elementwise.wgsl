// Elementwise helpers over flat arrays of n elements (any shape; the binding checks shapes).
//   cast_scalar / cast_vec4: out = TO(x) for x of TI (f32 <-> f16, or a same-dtype copy).
// The _vec4 entry points take vec4 views (used when n % 4 == 0; n then counts vec4s).
// Grid-stride loop: the grid is capped at the device's per-dimension limit and each thread strides.
// Specialised by: alias TI/TO; override WG (threads per workgroup).

struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> cx: array<TI>;
@group(0) @binding(1) var<storage, read_write> cout: array<TO>;
@group(0) @binding(2) var<storage, read> cx4: array<vec4<TI>>;
@group(0) @binding(3) var<storage, read_write> cout4: array<vec4<TO>>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn cast_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { cout[i] = TO(cx[i]); }
}

@compute @workgroup_size(WG)
fn cast_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { cout4[i] = vec4<TO>(cx4[i]); }
}
