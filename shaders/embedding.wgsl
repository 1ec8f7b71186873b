// Embedding gather: out[t, :] = table[ids[t], :] * scale (scale applied in f32, then rounded to T).
// An id >= vocab writes a zero row (never reads out of bounds). `tokens` is a uniform, so a dispatch
// prepared for the largest batch serves any smaller one (rows >= tokens are left untouched).
// One workgroup per token row (rows strided by the grid when tokens exceed the grid).
// embedding_vec4 takes vec4 views of table/out (hidden % 4 == 0; p.hidden then counts vec4s).
// embedding_vec4_norm also writes xn = rmsnorm(out row) ⊙ nweight (the first layer's norm, which then needs no launch):
// ROW_WG invocations a row, the squares of the stored row summed as rmsnorm_vec4 sums them (row_sum.wgsl), so xn is
// the same bits as that launch would write.
// Specialised by: alias T/T4 (storage type), override WG (threads per row; ROW_WG for embedding_vec4_norm).

struct Params { tokens: u32, hidden: u32, vocab: u32, scale: f32, eps: f32 }   // eps: embedding_vec4_norm's only

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<storage, read> table4: array<T4>;
@group(0) @binding(4) var<storage, read_write> out4: array<T4>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<storage, read> nweight4: array<T4>;    // [hidden / 4] the norm's weight
@group(0) @binding(7) var<storage, read_write> xn4: array<T4>;   // [tokens, hidden / 4] the normed rows

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

// Row `row` of out4 from the table (a zero row for an id past the vocabulary), by `threads` invocations from `tid`.
fn gather_row_vec4(row: u32, tid: u32, threads: u32) {
  let id = ids[row];
  let dst = row * p.hidden;
  if (id < p.vocab) {
    let src = id * p.hidden;
    for (var c = tid; c < p.hidden; c += threads) { out4[dst + c] = T4(vec4f(table4[src + c]) * p.scale); }
  } else {
    for (var c = tid; c < p.hidden; c += threads) { out4[dst + c] = T4(0.0); }
  }
}

@compute @workgroup_size(WG)
fn embedding_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  for (var row = wid.x; row < p.tokens; row += nwg.x) { gather_row_vec4(row, tid, WG); }
}

// row_sum, ROW_WG: shaders/row_sum.wgsl (ProgramDef.includes).

@compute @workgroup_size(ROW_WG)
fn embedding_vec4_norm(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  for (var row = wid.x; row < p.tokens; row += nwg.x) {   // the same rows for every invocation: the barriers are uniform
    gather_row_vec4(row, tid, ROW_WG);
    let dst = row * p.hidden;
    // The squares of the stored row (this invocation's own stores), read back as rmsnorm_vec4 reads them.
    var ss = 0.0;
    for (var c = tid; c < p.hidden; c += ROW_WG) { let v = vec4f(out4[dst + c]); ss += dot(v, v); }
    let inv = inverseSqrt(row_sum(tid, ss) / f32(4u * p.hidden) + p.eps);
    for (var c = tid; c < p.hidden; c += ROW_WG) { xn4[dst + c] = T4(vec4f(out4[dst + c]) * inv * vec4f(nweight4[c])); }
  }
}
