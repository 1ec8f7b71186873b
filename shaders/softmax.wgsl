// Row softmax: out[r, :] = exp(s*x - max) / sum(exp(s*x - max)), s = scale; f32 statistics.
// One workgroup per row (rows strided by the grid). Each thread keeps an online (max, sum) pair over its
// columns, pairs are merged in workgroup memory, then a second pass writes. Two reads of x per row.
// A row whose inputs are all -inf (fully masked) writes zeros, not NaN.
// Specialised by: alias T (storage type), override WG (threads per row, a power of two).

struct Params { rows: u32, cols: u32, scale: f32, _pad: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<T>;
@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// Finite "minus infinity": keeps exp(a - b) well defined when a row is fully masked.
const NEG_BIG: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn softmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  for (var row = wid.x; row < p.rows; row += nwg.x) {
    let base = row * p.cols;
    var m = NEG_BIG;
    var s = 0.0;
    for (var c = tid; c < p.cols; c += WG) {
      let v = max(f32(x[base + c]) * p.scale, NEG_BIG); // -inf -> NEG_BIG, contributes exp(<= 0)
      if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
    }
    red_m[tid] = m;
    red_s[tid] = s;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k = k >> 1u) {
      if (tid < k) {
        let m2 = red_m[tid + k];
        let mm = max(m, m2);
        s = s * exp(m - mm) + red_s[tid + k] * exp(m2 - mm);
        m = mm;
        red_m[tid] = m;
        red_s[tid] = s;
      }
      workgroupBarrier();
    }
    let mx = red_m[0];
    let total = red_s[0];
    workgroupBarrier(); // red_* are rewritten by the next row
    // Masked entries (-inf, or anything with exp underflowing) give 0; a fully masked row gives zeros.
    let inv = select(0.0, 1.0 / total, total > 0.0 && mx > NEG_BIG);
    for (var c = tid; c < p.cols; c += WG) {
      out[base + c] = T(exp(max(f32(x[base + c]) * p.scale, NEG_BIG) - mx) * inv);
    }
  }
}
