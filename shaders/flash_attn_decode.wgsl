// Split-KV flash decoding: one query token per batch row b (reading cache slot b), the KV range of
// each row cut into chunks of `chunk` keys; workgroup (split, head group, b) writes the normalised
// partial output O_s and its natural-log LSE_s. GH query heads sharing one kv head are done together,
// so each K/V row is read once for all of them (decode is bound by reading the cache).
// decode_split: per block of BK keys,
//   A: TD lanes per key compute dot products for all GH heads (coalesced vec4 loads of K), summed
//      across lanes through workgroup memory (B), block max per head through an order-preserving
//      u32 atomicMax; every thread tracks the running max m itself (same values, same order);
//   D: P = exp2(S - m) in place; E: thread (kg, d4) accumulates P·V for its keys in registers.
// merge / merge_lse: the exact reduce of P partials (also for partials from different devices):
//   m = max lse_i, O = Σ e^(lse_i - m) O_i / Σ e^(lse_i - m), lse = m + log Σ e^(lse_i - m);
//   partials with lse = -inf (no keys) are skipped, so an empty row gives out = 0 and lse = -inf.
// Specialised by: alias T/T4, overrides D4 (head dim / 4), WG threads, TD lanes per key, BK = WG/TD keys
// per block, GH heads per workgroup, NKG = floor(WG/D4) key groups in the P·V phase.

struct Params {
  nHeads: u32, group: u32, nKv: u32, capacity: u32,
  chunk: u32, pStride: u32, scale: f32, _pad: u32,
}

struct MergeParams { nHeads: u32, nSplits: u32, pStride: u32, d4: u32 }

override D4: u32 = 32u;
override WG: u32 = 256u;
override TD: u32 = 4u;
override BK: u32 = 64u;
override GH: u32 = 4u;
override NKG: u32 = 8u;

const MAX_GH = 8u;
const NEG = -1e30;
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<storage, read> q: array<T4>;
@group(0) @binding(1) var<storage, read> kCache: array<T4>;
@group(0) @binding(2) var<storage, read> vCache: array<T4>;
@group(0) @binding(3) var<storage, read> lengths: array<u32>;
@group(0) @binding(4) var<storage, read_write> partO: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> partLse: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@group(0) @binding(7) var<storage, read> inO: array<vec4f>;
@group(0) @binding(8) var<storage, read> inLse: array<f32>;
@group(0) @binding(9) var<storage, read_write> out: array<T4>;
@group(0) @binding(10) var<uniform> mp: MergeParams;
@group(0) @binding(11) var<storage, read_write> lse: array<f32>;

var<workgroup> qs: array<vec4f, GH * D4>;
var<workgroup> red: array<f32, GH * WG>;
var<workgroup> sc: array<f32, GH * BK>;
var<workgroup> wred: array<vec4f, WG>;
var<workgroup> lred: array<f32, WG>;
var<workgroup> bmax: array<atomic<u32>, MAX_GH>;

fn neg_inf() -> f32 {
  let bits = 0xff800000u; // a let, not a const: -inf may not appear in constant evaluation
  return bitcast<f32>(bits);
}

// Order-preserving f32 <-> u32 map, so atomicMax on u32 is a float max.
fn fkey(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}
fn fval(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

@compute @workgroup_size(WG)
fn decode_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let split = wid.x;
  let h0 = wid.y * GH;
  let b = wid.z;
  let kvh = h0 / p.group;
  let len = min(lengths[b], p.capacity);
  let start = split * p.chunk;
  let end = min(len, start + p.chunk);
  let kvRow0 = (b * p.nKv + kvh) * p.capacity;
  let scale2 = p.scale * LOG2E;

  for (var i = tid; i < GH * D4; i += WG) {
    qs[i] = vec4f(q[(b * p.nHeads + h0) * D4 + i]) * scale2;
  }
  if (tid < GH) { atomicStore(&bmax[tid], fkey(NEG)); }

  let jj = tid / TD;       // phase A: key of this thread within the block
  let lane = tid % TD;
  let kg = tid / D4;       // phase E: key group and vec4 column
  let d4 = tid % D4;
  let pvThread = kg < NKG;
  var m: array<f32, MAX_GH>;
  var alpha: array<f32, MAX_GH>;
  var acc: array<vec4f, MAX_GH>;
  var l: array<f32, MAX_GH>;
  for (var g = 0u; g < GH; g++) { m[g] = NEG; }
  workgroupBarrier();

  for (var j0 = start; j0 < end; j0 += BK) {
    // A: partial dot products over this lane's columns.
    var part = array<f32, MAX_GH>(); // explicit: a loop-body var is not reliably re-zeroed per iteration
    if (j0 + jj < end) {
      let row = (kvRow0 + j0 + jj) * D4;
      for (var d = lane; d < D4; d += TD) {
        let kv = vec4f(kCache[row + d]);
        for (var g = 0u; g < GH; g++) { part[g] += dot(qs[g * D4 + d], kv); }
      }
    }
    for (var g = 0u; g < GH; g++) { red[(g * BK + jj) * TD + lane] = part[g]; }
    workgroupBarrier();

    // B: sum the lanes; block max per head.
    for (var i = tid; i < GH * BK; i += WG) {
      var s = 0.0;
      for (var c = 0u; c < TD; c++) { s += red[i * TD + c]; }
      let vis = j0 + i % BK < end;
      sc[i] = select(NEG, s, vis);
      if (vis) { atomicMax(&bmax[i / BK], fkey(s)); }
    }
    workgroupBarrier();

    // D: new running max (every thread, identically), then P = exp2(S - m).
    for (var g = 0u; g < GH; g++) {
      let mNew = max(m[g], fval(atomicLoad(&bmax[g])));
      alpha[g] = exp2(m[g] - mNew);
      m[g] = mNew;
    }
    for (var i = tid; i < GH * BK; i += WG) {
      let s = sc[i];
      sc[i] = select(0.0, exp2(s - m[i / BK]), s > 0.5 * NEG);
    }
    workgroupBarrier();
    if (tid < GH) { atomicStore(&bmax[tid], fkey(NEG)); } // read by all before the barrier above

    // E: O += P·V over this thread's keys kg, kg + NKG, ...
    if (pvThread) {
      for (var g = 0u; g < GH; g++) { acc[g] *= alpha[g]; l[g] *= alpha[g]; }
      for (var c = kg; c < BK && j0 + c < end; c += NKG) {
        let v = vec4f(vCache[(kvRow0 + j0 + c) * D4 + d4]);
        for (var g = 0u; g < GH; g++) {
          let e = sc[g * BK + c];
          acc[g] += e * v;
          l[g] += e;
        }
      }
    }
    // The next block's barrier after A orders these reads of sc before B overwrites it.
  }

  // Reduce the key groups, one head at a time.
  for (var g = 0u; g < GH; g++) {
    if (pvThread) {
      wred[tid] = acc[g];
      if (d4 == 0u) { lred[kg] = l[g]; }
    }
    workgroupBarrier();
    let row = (b * p.nHeads + h0 + g) * p.pStride + split;
    if (tid < D4) {
      var o = vec4f();
      var sum = 0.0;
      for (var k = 0u; k < NKG; k++) { o += wred[k * D4 + tid]; sum += lred[k]; }
      partO[row * D4 + tid] = o * select(0.0, 1.0 / sum, sum > 0.0);
      if (tid == 0u) { partLse[row] = select(neg_inf(), (m[g] + log2(sum)) * LN2, sum > 0.0); }
    }
    workgroupBarrier();
  }
}

// Partials a merge reads per trip: their loads issue together, so a row waits one memory latency per MB
// partials, not one per partial (a decode step merges 8–64 partials per row; one at a time cost ≈ 9 µs).
const MB = 8u;

// The LSE of partial i0 + k (k < MB) of the row at `base`, or NEG past the last partial or where it has no keys.
fn lse_batch(base: u32, i0: u32) -> array<f32, MB> {
  var xs: array<f32, MB>;
  for (var k = 0u; k < MB; k++) { xs[k] = inLse[base + min(i0 + k, mp.nSplits - 1u)]; }
  for (var k = 0u; k < MB; k++) { xs[k] = select(NEG, xs[k], i0 + k < mp.nSplits && xs[k] > 0.5 * NEG); }
  return xs;
}

// Writes out for row (b, h) and returns (m, Σ e^(lse_i - m)); the sum is 0 when no partial has keys.
fn merge_row(h: u32, b: u32, tid: u32) -> vec2f {
  let base = (b * mp.nHeads + h) * mp.pStride;
  var m = NEG;
  for (var i0 = 0u; i0 < mp.nSplits; i0 += MB) {
    let xs = lse_batch(base, i0);
    for (var k = 0u; k < MB; k++) { m = max(m, xs[k]); }
  }
  var den = 0.0;
  for (var i0 = 0u; i0 < mp.nSplits; i0 += MB) {
    let xs = lse_batch(base, i0);
    for (var k = 0u; k < MB; k++) { if (xs[k] > 0.5 * NEG) { den += exp(xs[k] - m); } }
  }
  let inv = select(0.0, 1.0 / den, den > 0.0);
  for (var d = tid; d < mp.d4; d += WG) {
    var o = vec4f();
    for (var i0 = 0u; i0 < mp.nSplits; i0 += MB) {
      let xs = lse_batch(base, i0);
      var os: array<vec4f, MB>;
      for (var k = 0u; k < MB; k++) { os[k] = inO[(base + min(i0 + k, mp.nSplits - 1u)) * mp.d4 + d]; }
      for (var k = 0u; k < MB; k++) { if (xs[k] > 0.5 * NEG) { o += exp(xs[k] - m) * os[k]; } }
    }
    out[(b * mp.nHeads + h) * mp.d4 + d] = T4(o * inv);
  }
  return vec2f(m, den);
}

@compute @workgroup_size(WG)
fn merge(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  _ = merge_row(wid.x, wid.y, tid);
}

@compute @workgroup_size(WG)
fn merge_lse(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = merge_row(wid.x, wid.y, tid);
  if (tid == 0u) {
    lse[wid.y * mp.nHeads + wid.x] = select(neg_inf(), r.x + log(r.y), r.y > 0.0);
  }
}
