// RoPE fused with the QKV split and the KV-cache append.
//   qkv    [tokens, (nHeads + 2*nKvHeads) * D]  q heads, then k heads, then v heads
//   rows   [tokens] of (cache slot, absolute position)
//   q      [tokens, nHeads, D]                   rotated
//   kCache / vCache [slots, nKvHeads, capacity, D]: k rotated, v copied, at [slot − slotBase, kvh, pos, :]
// The caches hold slots [slotBase, slotBase + slots) (a group of the batch's slots); a token of another slot,
// or at a position >= capacity, writes nothing to them. q (and, with WRITE_BACK, the rotated values in qkv) is
// written when writeQ is 1: with one dispatch per cache group, only the last one does, so every dispatch reads
// qkv unrotated.
// With WRITE_BACK the rotated q and k also replace their unrotated values in qkv, so each row of qkv holds the
// token's q, k, v exactly as attention sees them (what the base sends to an attention-pool rank).
//
// Work item = (token, head, w) for w < D/2, two elements each: for w < ropeDim/2 the rotation pair
// (neox: dims w, w + ropeDim/2; gptj: dims 2w, 2w+1) at frequency index w; past ropeDim/2 a plain copy of
// dims ropeDim + 2(w - ropeDim/2) and the next one (partial rotary).
//
// Angles and the rotation: shaders/rope_angle.wgsl (prepended; shared with the QKV product's RoPE epilogue).
// Specialised by: alias T (storage type), override WG, override NEOX (true: rotate_half pairs, false: GPT-J),
// override WRITE_BACK, override ROTATE (false: copy k and v into the caches as they are — a decode step's append
// after its attention, from qkv rows that an earlier pass rotated and wrote back).

struct Params {
  tokens: u32, nHeads: u32, nKvHeads: u32, headDim: u32,
  ropeDim: u32, slots: u32, capacity: u32, slotBase: u32,
  writeQ: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override WG: u32 = 128u;
override NEOX: bool = true;
override WRITE_BACK: bool = false;
override ROTATE: bool = true;

@group(0) @binding(0) var<storage, read_write> qkv: array<T>;
@group(0) @binding(1) var<storage, read> rows: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> freqs: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> q: array<T>;
@group(0) @binding(4) var<storage, read_write> kCache: array<T>;
@group(0) @binding(5) var<storage, read_write> vCache: array<T>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn rope_qkv(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let D = p.headDim;
  let half = D / 2u;
  let heads = p.nHeads + 2u * p.nKvHeads;
  let item = gid.x;
  if (item >= heads * half) { return; } // no barriers in this kernel
  let head = item / half;
  let w = item % half;
  let rhalf = p.ropeDim / 2u;
  let rotate = ROTATE && w < rhalf && head < p.nHeads + p.nKvHeads;
  var d0: u32;
  var d1: u32;
  if (w >= rhalf) { d0 = p.ropeDim + 2u * (w - rhalf); d1 = d0 + 1u; }
  else if (NEOX) { d0 = w; d1 = w + rhalf; }
  else { d0 = 2u * w; d1 = d0 + 1u; }
  for (var t = wid.y; t < p.tokens; t += nwg.y) {
    let row = rows[t];
    let slot = row.x - p.slotBase; // wraps for slots below the group: then >= p.slots
    let pos = row.y;
    let src = t * heads * D + head * D;
    var x0 = f32(qkv[src + d0]);
    var x1 = f32(qkv[src + d1]);
    if (rotate) {
      let r = rotate_pair(x0, x1, turn_angle(pos, freqs[w]));
      x0 = r.x;
      x1 = r.y;
      if (WRITE_BACK && p.writeQ != 0u) { qkv[src + d0] = T(x0); qkv[src + d1] = T(x1); }
    }
    if (head < p.nHeads) {
      if (p.writeQ != 0u) {
        let dst = (t * p.nHeads + head) * D;
        q[dst + d0] = T(x0);
        q[dst + d1] = T(x1);
      }
    } else if (slot < p.slots && pos < p.capacity) {
      let isK = head < p.nHeads + p.nKvHeads;
      let kvh = select(head - p.nHeads - p.nKvHeads, head - p.nHeads, isK);
      let dst = ((slot * p.nKvHeads + kvh) * p.capacity + pos) * D;
      if (isK) { kCache[dst + d0] = T(x0); kCache[dst + d1] = T(x1); }
      else { vCache[dst + d0] = T(x0); vCache[dst + d1] = T(x1); }
    }
  }
}
