// KV-cache append from packed rows of headDim elements (an attention-pool rank taking in what the base sent):
//   q rows [qSrc, qSrc + qRows) of src            -> q[0 .. qRows)                       (a decode item's query heads)
//   row kSrc + t·kvHeads + h of src, t < count    -> kCache[0, h, pos0 + t, :]             (new keys, position-major in)
//   row vSrc + t·kvHeads + h of src               -> vCache[0, h, pos0 + t, :]             (new values)
// pos0 is the local position of row 0 (negative when the rows start before this cache's block); rows whose
// local position falls outside [0, capacity) are skipped. One element per invocation, grid-strided.
// Specialised by: alias T (storage type), override WG.

struct Params {
  qSrc: u32, qRows: u32, kSrc: u32, vSrc: u32,
  count: u32, kvHeads: u32, capacity: u32, headDim: u32,
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
  let qElems = p.qRows * D;
  let kvElems = p.count * p.kvHeads * D;
  let total = qElems + 2u * kvElems;
  for (var i = gid.x; i < total; i += nwg.x * WG) {
    if (i < qElems) {
      q[i] = src[p.qSrc * D + i];
      continue;
    }
    var j = i - qElems;
    let isV = j >= kvElems;
    if (isV) { j -= kvElems; }
    let r = j / D;
    let e = j % D;
    let t = r / p.kvHeads;
    let h = r % p.kvHeads;
    let pos = p.pos0 + i32(t);
    if (pos < 0 || pos >= i32(p.capacity)) { continue; }
    let dst = (h * p.capacity + u32(pos)) * D + e;
    if (isV) { vCache[dst] = src[p.vSrc * D + j]; } else { kCache[dst] = src[p.kSrc * D + j]; }
  }
}
