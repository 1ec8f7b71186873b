// Merge of the subgroup decode kernel's split partials (flash_attn_decode_sg.wgsl) with subgroup reductions,
// optionally fused with the step's K/V append. One workgroup = one subgroup per (head h, row b):
//   O[b, h] = Σ_s exp(LSE_s − M) · O_s / Σ_s exp(LSE_s − M),  LSE[b, h] = M + ln Σ_s exp(LSE_s − M)
// over the row's splits s (M = their max; empty splits, LSE = −inf, weigh 0; a row with none gives 0 / −inf).
// Why not flash_attn_decode.wgsl's `merge`: that one walks the partials' LSEs three times, one load a trip, and
// a 64-thread workgroup of which half idles at D = 128 (H200: 7–17 µs a launch). Here each lane loads its splits'
// LSEs once; the max and the sum are subgroup reductions; every lane owns D/4/SGS vec4s of O and issues MB
// splits' loads of them before their FMAs; each split's weight comes from its lane by a shuffle.
// Entries: merge_sg (O), merge_sg_lse (O and LSE: an FA Pool rank's reply), merge_sg_append (O, then the step's
// new K/V rows copied into the caches: FAPOOL_DECODE_APPEND=after without a copy launch of its own; the attention
// read them from the same rows). Append: workgroup (h, b) with h < nKv copies kv head h of row b of `src` (the
// step's fused q/k/v rows, 8 halves an element) to cache slot rows[rowBase + b].x − slotBase at position
// rows[rowBase + b].y, skipped where the slot is not among the caches' `slots` or the position ≥ capacity —
// the rope kernel's append (ROTATE off) where every row's slot is its own row (a decode step's row table: the rope
// kernel also wrote rows of other slots, of any group, from one launch over all rows).
// merge_sg_pair / merge_sg_append_pair: the same over the rows of two cache groups in one launch (the partials of
// decode_sg_pair): rows from p.b2 on take their group's split count nSplits2 and append into kCache2/vCache2 with
// slotBase2, slots2 and capacity2 (the caches reach the shared code as pointer parameters, so the single-group
// entries' layouts have no second group's bindings).
// Specialised by: enable f16 + subgroups, alias T4 = vec4<f16>, override SGS (the fixed subgroup size = the
// workgroup size).

struct Params {
  nHeads: u32, nSplits: u32, pStride: u32, d4: u32,
  nKv: u32, capacity: u32, slots: u32, slotBase: u32,
  rowBase: u32, srcStride: u32, srcK: u32, srcV: u32,
  b2: u32, nSplits2: u32, capacity2: u32, slots2: u32,      // the pair entries' second group (rows from b2 on)
  slotBase2: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override SGS: u32 = 32u;

const MB = 8u;        // splits' O loads issued before their FMAs
const NEG = -1e30;

alias KvCache = array<vec4<u32>>;   // [slots, nKv, capacity, D/8] 8 halves per element
alias KvPtr = ptr<storage, KvCache, read_write>;

@group(0) @binding(0) var<storage, read> partO: array<vec4f>;
@group(0) @binding(1) var<storage, read> partLse: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<T4>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read> rows: array<vec2<u32>>;
@group(0) @binding(7) var<storage, read_write> kCache: KvCache;
@group(0) @binding(8) var<storage, read_write> vCache: KvCache;
@group(0) @binding(9) var<storage, read_write> kCache2: KvCache;
@group(0) @binding(10) var<storage, read_write> vCache2: KvCache;

fn neg_inf() -> f32 {
  let bits = 0xff800000u; // a let, not a const: -inf may not appear in constant evaluation
  return bitcast<f32>(bits);
}

// Split s's weight exp(LSE_s − m), 0 for an empty split or one past nSplits.
fn weight(base: u32, s: u32, m: f32, nSplits: u32) -> f32 {
  if (s >= nSplits) { return 0.0; }
  let x = partLse[base + s];
  return select(0.0, exp(x - m), x > 0.5 * NEG);
}

// Writes O[b, h] from the row's nSplits partials; returns (M, Σ weights). Every subgroup call sits in uniform
// control flow (loop bounds are uniform; lanes past the data clamp their loads and skip their stores).
fn merge_head(h: u32, b: u32, lane: u32, nSplits: u32) -> vec2f {
  let base = (b * p.nHeads + h) * p.pStride;
  var m = NEG;
  for (var s0 = 0u; s0 < nSplits; s0 += SGS) {
    let s = s0 + lane;
    if (s < nSplits) { m = max(m, partLse[base + s]); }
  }
  m = subgroupMax(m);
  var den = 0.0;
  for (var s0 = 0u; s0 < nSplits; s0 += SGS) { den += weight(base, s0 + lane, m, nSplits); }
  den = subgroupAdd(den);
  let inv = select(0.0, 1.0 / den, den > 0.0);
  for (var d0 = 0u; d0 < p.d4; d0 += SGS) {
    let d = min(d0 + lane, p.d4 - 1u);
    var o = vec4f();
    for (var s0 = 0u; s0 < nSplits; s0 += SGS) {
      let w = weight(base, s0 + lane, m, nSplits);            // this lane's split's weight, shuffled to every lane below
      let n = min(SGS, nSplits - s0);
      for (var k0 = 0u; k0 < n; k0 += MB) {
        var os: array<vec4f, MB>;
        for (var k = 0u; k < MB; k++) { os[k] = partO[(base + min(s0 + k0 + k, nSplits - 1u)) * p.d4 + d]; }
        for (var k = 0u; k < MB; k++) {
          let wk = subgroupShuffle(w, min(k0 + k, SGS - 1u));
          if (k0 + k < n && wk > 0.0) { o += wk * os[k]; }   // an empty split adds nothing, as in `merge`
        }
      }
    }
    if (d0 + lane < p.d4) { out[(b * p.nHeads + h) * p.d4 + d] = T4(o * inv); }
  }
  return vec2f(m, den);
}

@compute @workgroup_size(SGS)
fn merge_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  _ = merge_head(wid.x, wid.y, lane, p.nSplits);
}

@compute @workgroup_size(SGS)
fn merge_sg_lse(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let r = merge_head(wid.x, wid.y, lane, p.nSplits);
  if (lane == 0u) { lse[wid.y * p.nHeads + wid.x] = select(neg_inf(), r.x + log(r.y), r.y > 0.0); }
}

@compute @workgroup_size(SGS)
fn merge_sg_append(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  _ = merge_head(wid.x, wid.y, lane, p.nSplits);
  append_row(&kCache, &vCache, wid.x, wid.y, lane, p.slotBase, p.slots, p.capacity);
}

@compute @workgroup_size(SGS)
fn merge_sg_pair(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  _ = merge_head(wid.x, wid.y, lane, select(p.nSplits, p.nSplits2, wid.y >= p.b2));
}

@compute @workgroup_size(SGS)
fn merge_sg_append_pair(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let h = wid.x;
  let b = wid.y;
  if (b < p.b2) {
    _ = merge_head(h, b, lane, p.nSplits);
    append_row(&kCache, &vCache, h, b, lane, p.slotBase, p.slots, p.capacity);
  } else {
    _ = merge_head(h, b, lane, p.nSplits2);
    append_row(&kCache2, &vCache2, h, b, lane, p.slotBase2, p.slots2, p.capacity2);
  }
}

// Kv head h of row b of `src` into slot rows[rowBase + b].x − slotBase of kc / vc at position rows[rowBase + b].y.
fn append_row(kc: KvPtr, vc: KvPtr, h: u32, b: u32, lane: u32, slotBase: u32, slots: u32, capacity: u32) {
  if (h >= p.nKv) { return; }
  let row = rows[p.rowBase + b];
  let slot = row.x - slotBase; // wraps for a slot below the caches': then >= slots
  if (slot >= slots || row.y >= capacity) { return; }
  let ch = p.d4 / 2u;             // 8-half chunks of a head
  let dst = ((slot * p.nKv + h) * capacity + row.y) * ch;
  let at = b * p.srcStride + h * ch;
  for (var c = lane; c < ch; c += SGS) {
    (*kc)[dst + c] = src[at + p.srcK + c];
    (*vc)[dst + c] = src[at + p.srcV + c];
  }
}
