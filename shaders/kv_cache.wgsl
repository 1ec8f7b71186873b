// KV-cache append from rows of headDim elements (an attention-pool rank taking in what the base sent). The
// rows of token t start at row srcRow + t·stride: its qRows query heads, then kvHeads key rows, then kvHeads
// value rows (the layout of a qkv row after RoPE, restricted to this rank's heads).
//   q rows of tokens [0, qTokens)   -> q[t·qRows + r, :]
//   k, v rows of tokens [0, kvTokens) -> kCache / vCache[0, h, pos0 + t, :]
// pos0 is the local position of token 0 (negative when the rows start before this cache's block); tokens whose
// local position falls outside [0, capacity) are skipped. One element per invocation, grid-strided.
// Specialised by: alias T (storage type), override WG.

struct Params {
  srcRow: u32, stride: u32, qRows: u32, qTokens: u32,
  kvHeads: u32, kvTokens: u32, capacity: u32, headDim: u32,
  pos0: i32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<T>;
@group(0) @binding(1) var<storage, read_write> q: array<T>;
@group(0) @binding(2) var<storage, read_write> kCache: array<T>;
@group(0) @binding(3) var<storage, read_write> vCache: array<T>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn append_kv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let D = p.headDim;
  let qElems = p.qTokens * p.qRows * D;
  let kvElems = p.kvTokens * p.kvHeads * D;
  let total = qElems + 2u * kvElems;
  for (var i = gid.x; i < total; i += nwg.x * WG) {
    let e = i % D;
    if (i < qElems) {
      let r = i / D; // t·qRows + row
      let t = r / p.qRows;
      q[i] = src[(p.srcRow + t * p.stride + r % p.qRows) * D + e];
      continue;
    }
    var j = i - qElems;
    let isV = j >= kvElems;
    if (isV) { j -= kvElems; }
    let r = j / D;
    let t = r / p.kvHeads;
    let h = r % p.kvHeads;
    let pos = p.pos0 + i32(t);
    if (pos < 0 || pos >= i32(p.capacity)) { continue; }
    let row = p.srcRow + t * p.stride + p.qRows + select(0u, p.kvHeads, isV) + h;
    let dst = (h * p.capacity + u32(pos)) * D + e;
    if (isV) { vCache[dst] = src[row * D + e]; } else { kCache[dst] = src[row * D + e]; }
  }
}
