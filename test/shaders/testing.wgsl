// Small kernels used only by the device-layer tests: a scaled copy with a uniform block, and an
// entry point that uses no uniforms, so reflection of both cases is exercised.

struct Params { n: u32, scale: f32, offset: i32, _pad: u32 }

@group(0) @binding(0) var<storage, read> src: array<T>;
@group(0) @binding(1) var<storage, read_write> dst: array<T>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn scale_copy(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { dst[g.x] = T(f32(src[g.x]) * p.scale + f32(p.offset)); }
}

@compute @workgroup_size(64)
fn fill_index(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&dst)) { dst[g.x] = T(f32(g.x)); }
}
