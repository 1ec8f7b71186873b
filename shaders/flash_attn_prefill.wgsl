// Flash attention for prefill: out[t, h] = softmax(scale · q[t, h] · Kᵀ) · V over the visible keys of
// one cache slot, with the online softmax (running max m and sum l per row) in f32.
// One workgroup per (block of BR query rows, head). Per KV tile of BC keys: K and V are staged in
// workgroup memory, S = Q·Kᵀ is a register micro-tile per thread (RM rows × CN keys), P = exp(S - m) goes
// through workgroup memory, and O += P·V stays in registers (RM rows × DN vec4 columns per thread).
// Causal: key j is visible to row t iff kvBase + j <= qPos0 + t; KV tiles past the block's last
// visible key are never loaded. A row with no visible key writes out = 0 and lse = -inf.
// Specialised by: alias T/T4 (storage type), overrides D4 (head dim / 4), BR, BC, TR × TC threads,
// RM = BR/TR, CN = BC/TC, DN = ceil(D4/TC), QS = D4 + 1 (padded row stride of the Q/K tiles).

struct Params {
  T: u32, nHeads: u32, group: u32, nKv: u32,
  capacity: u32, slot: u32, qPos0: u32, kvBase: u32,
  kvLen: u32, causal: u32, scale: f32, _pad: u32,
}

override D4: u32 = 32u;
override BR: u32 = 64u;
override BC: u32 = 32u;
override TR: u32 = 16u;
override TC: u32 = 16u;
override WG: u32 = 256u; // TR * TC
override RM: u32 = 4u;
override CN: u32 = 2u;
override DN: u32 = 2u;
override QS: u32 = 33u;

// Register tiles need const sizes; the override loop bounds stay within them (checked by the binding).
const MAX_RM = 4u;
const MAX_CN = 4u;
const MAX_DN = 8u;
const NEG = -1e30;   // finite "no key yet" max: exp2(NEG - NEG) = 1 cannot make NaN
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<storage, read> q: array<T4>;
@group(0) @binding(1) var<storage, read> kCache: array<T4>;
@group(0) @binding(2) var<storage, read> vCache: array<T4>;
@group(0) @binding(3) var<storage, read_write> out: array<T4>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

var<workgroup> qs: array<T4, BR * QS>;
var<workgroup> ks: array<T4, BC * QS>;
var<workgroup> vs: array<T4, BC * D4>;
var<workgroup> ps: array<f32, BR * BC>;
var<workgroup> red: array<f32, BR * TC>;
var<workgroup> rowM: array<f32, BR>;
var<workgroup> rowA: array<f32, BR>; // per-tile rescale factor, finally the row sum l

fn neg_inf() -> f32 {
  let bits = 0xff800000u; // a let, not a const: -inf may not appear in constant evaluation
  return bitcast<f32>(bits);
}

// The workgroup's query block, counting from the last so the longest (most keys) blocks start first.
fn block_row0(wid: vec3u, nwg: vec3u) -> u32 {
  return (nwg.x - 1u - wid.x) * BR;
}

fn attend(wid: vec3u, nwg: vec3u, tid: u32) {
  let h = wid.y;
  let t0 = block_row0(wid, nwg);
  let tr = tid / TC;
  let tc = tid % TC;
  let kvh = h / p.group;
  let kvRow0 = (p.slot * p.nKv + kvh) * p.capacity; // cache row of key 0
  let scale2 = p.scale * LOG2E;                        // softmax in base 2
  let kvLen = min(p.kvLen, p.capacity);

  // Keys visible to the block's last row bound the KV loop.
  var kvEnd = kvLen;
  let lastRow = min(t0 + BR, p.T) - 1u;
  if (p.causal != 0u) {
    let lim = i32(p.qPos0) + i32(lastRow) - i32(p.kvBase) + 1;
    kvEnd = min(kvLen, u32(max(lim, 0)));
  }

  for (var i = tid; i < BR * D4; i += WG) {
    let r = i / D4;
    let d = i % D4;
    var v = T4();
    if (t0 + r < p.T) { v = q[((t0 + r) * p.nHeads + h) * D4 + d]; }
    qs[r * QS + d] = v;
  }
  if (tid < BR) { rowM[tid] = NEG; }

  var acc: array<array<vec4f, MAX_DN>, MAX_RM>;
  var l: array<f32, MAX_RM>;
  // Largest visible key index per owned row (i32: may be negative = none).
  var rowLim: array<i32, MAX_RM>;
  for (var i = 0u; i < RM; i++) {
    let t = t0 + tr + i * TR;
    rowLim[i] = select(i32(kvLen) - 1, i32(p.qPos0 + t) - i32(p.kvBase), p.causal != 0u);
    rowLim[i] = min(rowLim[i], i32(kvLen) - 1);
  }

  for (var j0 = 0u; j0 < kvEnd; j0 += BC) {
    for (var i = tid; i < BC * D4; i += WG) {
      let c = i / D4;
      let d = i % D4;
      var kv = T4();
      var vv = T4();
      if (j0 + c < kvEnd) {
        let g = (kvRow0 + j0 + c) * D4 + d;
        kv = kCache[g];
        vv = vCache[g];
      }
      ks[c * QS + d] = kv;
      vs[c * D4 + d] = vv;
    }
    workgroupBarrier();

    // S micro-tile: rows tr + i·TR, keys tc + j·TC.
    var s = array<array<f32, MAX_CN>, MAX_RM>(); // explicit zeros for each tile
    for (var d = 0u; d < D4; d++) {
      var kr: array<vec4f, MAX_CN>;
      for (var j = 0u; j < CN; j++) { kr[j] = vec4f(ks[(tc + j * TC) * QS + d]); }
      for (var i = 0u; i < RM; i++) {
        let qr = vec4f(qs[(tr + i * TR) * QS + d]);
        for (var j = 0u; j < CN; j++) { s[i][j] += dot(qr, kr[j]); }
      }
    }
    for (var i = 0u; i < RM; i++) {
      var mx = NEG;
      for (var j = 0u; j < CN; j++) {
        let vis = i32(j0 + tc + j * TC) <= rowLim[i];
        s[i][j] = select(NEG, s[i][j] * scale2, vis);
        mx = max(mx, s[i][j]);
      }
      red[(tr + i * TR) * TC + tc] = mx;
    }
    workgroupBarrier();

    if (tid < BR) {
      let mOld = rowM[tid];
      var mx = mOld;
      for (var c = 0u; c < TC; c++) { mx = max(mx, red[tid * TC + c]); }
      rowM[tid] = mx;
      rowA[tid] = exp2(mOld - mx);
    }
    workgroupBarrier();

    for (var i = 0u; i < RM; i++) {
      let r = tr + i * TR;
      let m = rowM[r];
      let a = rowA[r];
      var sum = 0.0;
      for (var j = 0u; j < CN; j++) {
        let e = select(0.0, exp2(s[i][j] - m), s[i][j] > 0.5 * NEG);
        ps[r * BC + tc + j * TC] = e;
        sum += e;
      }
      l[i] = l[i] * a + sum;
      for (var n = 0u; n < DN; n++) { acc[i][n] *= a; }
    }
    workgroupBarrier();

    for (var c = 0u; c < BC; c++) {
      var vr: array<vec4f, MAX_DN>;
      for (var n = 0u; n < DN; n++) { vr[n] = vec4f(vs[c * D4 + min(tc + n * TC, D4 - 1u)]); }
      for (var i = 0u; i < RM; i++) {
        let e = ps[(tr + i * TR) * BC + c];
        for (var n = 0u; n < DN; n++) { acc[i][n] += e * vr[n]; }
      }
    }
    workgroupBarrier();
  }

  // Row sums: each thread holds the part over its own key columns.
  for (var i = 0u; i < RM; i++) { red[(tr + i * TR) * TC + tc] = l[i]; }
  workgroupBarrier();
  if (tid < BR) {
    var sum = 0.0;
    for (var c = 0u; c < TC; c++) { sum += red[tid * TC + c]; }
    rowA[tid] = sum;
  }
  workgroupBarrier();

  for (var i = 0u; i < RM; i++) {
    let r = tr + i * TR;
    let t = t0 + r;
    if (t < p.T) {
      let sum = rowA[r];
      let inv = select(0.0, 1.0 / sum, sum > 0.0);
      for (var n = 0u; n < DN; n++) {
        let d = tc + n * TC;
        if (d < D4) { out[(t * p.nHeads + h) * D4 + d] = T4(acc[i][n] * inv); }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn prefill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) tid: u32) {
  attend(wid, nwg, tid);
}

@compute @workgroup_size(WG)
fn prefill_lse(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) tid: u32) {
  attend(wid, nwg, tid);
  let t = block_row0(wid, nwg) + tid;
  if (tid < BR && t < p.T) {
    let sum = rowA[tid];
    // Natural-log LSE of the scaled scores: m is in base-2 units.
    lse[t * p.nHeads + wid.y] = select(neg_inf(), (rowM[tid] + log2(sum)) * LN2, sum > 0.0);
  }
}
