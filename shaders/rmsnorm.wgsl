// RMSNorm over the rows of x: y = x * rsqrt(mean(x^2) + eps) * weight.
// One workgroup per row; statistics in f32 whatever the storage type T.
// rmsnorm_vec4 takes vec4 views (cols % 4 == 0; p.cols still counts elements): a quarter of the loads, which
// is what a decode step's few rows wait on (one workgroup per row: latency, not bandwidth).
// Specialised by: alias T (storage element type) and T4, override ROW_WG (threads per row, a power of two: row_sum.wgsl).

struct Params { rows: u32, cols: u32, eps: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read> weight: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> x4: array<T4>;
@group(0) @binding(5) var<storage, read> weight4: array<T4>;
@group(0) @binding(6) var<storage, read_write> y4: array<T4>;

// row_sum, ROW_WG: shaders/row_sum.wgsl (ProgramDef.includes).

@compute @workgroup_size(ROW_WG)
fn rmsnorm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var ss = 0.0;
  for (var c = tid; c < p.cols; c += ROW_WG) { let v = f32(x[base + c]); ss += v * v; }
  let inv = inverseSqrt(row_sum(tid, ss) / f32(p.cols) + p.eps);
  for (var c = tid; c < p.cols; c += ROW_WG) {
    y[base + c] = T(f32(x[base + c]) * inv * f32(weight[c]));
  }
}

@compute @workgroup_size(ROW_WG)
fn rmsnorm_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = wid.x;
  if (row >= p.rows) { return; }
  let n4 = p.cols / 4u;
  let base = row * n4;
  var ss = 0.0;
  for (var c = tid; c < n4; c += ROW_WG) { let v = vec4f(x4[base + c]); ss += dot(v, v); }
  let inv = inverseSqrt(row_sum(tid, ss) / f32(p.cols) + p.eps);
  for (var c = tid; c < n4; c += ROW_WG) {
    y4[base + c] = T4(vec4f(x4[base + c]) * inv * vec4f(weight4[c]));
  }
}
