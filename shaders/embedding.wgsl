// Embedding gather: out[t, :] = table[ids[t], :] * scale (scale applied in f32, then rounded to T).
// An id >= vocab writes a zero row (never reads out of bounds). `tokens` is a uniform, so a dispatch
// prepared for the largest batch serves any smaller one (rows >= tokens are left untouched).
// One workgroup per token row (rows strided by the grid when tokens exceed the grid).
// embedding_vec4 takes vec4 views of table/out (hidden % 4 == 0; p.hidden then counts vec4s).
// Specialised by: alias T/T4 (storage type), override WG (threads per row).

struct Params { tokens: u32, hidden: u32, vocab: u32, scale: f32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<storage, read> table4: array<T4>;
@group(0) @binding(4) var<storage, read_write> out4: array<T4>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn embedding(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  for (var row = wid.x; row < p.tokens; row += nwg.x) {
    let id = ids[row];
    let dst = row * p.hidden;
    if (id < p.vocab) {
      let src = id * p.hidden;
      for (var c = tid; c < p.hidden; c += WG) { out[dst + c] = T(f32(table[src + c]) * p.scale); }
    } else {
      for (var c = tid; c < p.hidden; c += WG) { out[dst + c] = T(0.0); }
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  for (var row = wid.x; row < p.tokens; row += nwg.x) {
    let id = ids[row];
    let dst = row * p.hidden;
    if (id < p.vocab) {
      let src = id * p.hidden;
      for (var c = tid; c < p.hidden; c += WG) { out4[dst + c] = T4(vec4f(table4[src + c]) * p.scale); }
    } else {
      for (var c = tid; c < p.hidden; c += WG) { out4[dst + c] = T4(0.0); }
    }
  }
}
