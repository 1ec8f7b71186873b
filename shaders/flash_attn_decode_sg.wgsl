// Split-KV flash decoding with subgroup reductions (f16 caches, head dim a multiple of 8): one query token
// per batch row b (cache slot b), the row's KV range cut into chunks of `chunk` keys; workgroup
// (split, head group, b) writes the normalised partial O_s and its natural-log LSE_s for GH query heads
// that share one kv head (each K/V row is read once for all of them). Same partial format as
// flash_attn_decode.wgsl, merged by flash_attn_merge_sg.wgsl (or flash_attn_decode.wgsl's `merge`).
// Layout: LPK lanes of a subgroup share one key ("key group"); lane li of the group reads 8-half chunks
// li, li + LPK, ... (CPL of them) of the key's K and V rows as 16-byte loads, so a key group reads whole
// rows contiguously and neighbouring key groups neighbouring rows. Per step a key group takes U
// consecutive keys (U rows of K and V in flight per lane before any arithmetic). The dot product is
// summed over the group's lanes with subgroupShuffleXor (no workgroup memory, no barrier in the key
// loop); every lane of the group then holds the scores and runs the same online softmax (running max
// m, sum l) and accumulates P·V for its own chunks. At the end, the key groups of a subgroup combine
// through shuffles, the NSG subgroups through workgroup memory (one head at a time).
// Specialised by: enable f16 + subgroups, alias T4 = vec4<f16>, the per-lane register arrays' aliases (KvRows
// [U][CPL] 8-half chunks of K or V rows, HeadVecs [GH][2·CPL] and LaneVecs [2·CPL] vec4f, HeadVals [GH] and KeyVals
// [U] f32: sized to the launch, or to the kernel's maxima as before session 58), overrides SGS (the device's subgroup
// size: must equal the runtime size), LPK (lanes per key, a power of 2 ≤ SGS), CPL (chunks per lane:
// LPK·CPL = D/8), GH, NSG (subgroups per workgroup), U, PF (prefetch: the next step's K/V rows are loaded
// before this step's arithmetic, two steps in flight per lane at twice the load registers), SRC_LAST (each row's
// last key and value come from `src`, the step's fused q/k/v rows, not from the cache: the decode step appends
// them to the cache after its attention; row b of src is slot b's, its kv head h's K at element
// (b·srcStride + srcK + h·D/8) of 8 halves, V at srcV likewise). Without SRC_LAST `src` is bound but not read.
// Entries: decode_sg (workgroup row z is row z + p.rowBase of q, src and the partials, reading cache slot z: rowBase
// > 0 runs a second cache group's rows into the same partials, for one merge over both groups), decode_sg_pair (two cache groups in one launch: rows below p.b2 read
// kCache/vCache/lengths as decode_sg does, rows from p.b2 on read kCache2/vCache2/lengths2 at slot b − b2 with their
// own capacity and chunk — a KV cache cut into groups, e.g. past the 2 GiB a storage binding holds, without a second
// launch; each row's splits are those of a launch over its group alone). The caches reach the shared body as pointer
// parameters (unrestricted_pointer_parameters), so decode_sg's layout has no second group's bindings.

struct Params {
  nHeads: u32, group: u32, nKv: u32, capacity: u32,
  chunk: u32, pStride: u32, scale: f32, b2: u32,           // b2: decode_sg_pair's first row of the second group
  srcStride: u32, srcK: u32, srcV: u32, capacity2: u32,    // capacity2, chunk2: the second group's (decode_sg_pair)
  chunk2: u32, rowBase: u32, _pad1: u32, _pad2: u32,     // rowBase: decode_sg's first row of q, src and the partials
}

override SGS: u32 = 32u;
override LPK: u32 = 16u;
override CPL: u32 = 1u;
override GH: u32 = 1u;
override NSG: u32 = 8u;
override U: u32 = 2u;
override PF: bool = false;
override SRC_LAST: bool = false;
override WG: u32 = SGS * NSG;

const MAX_NSG = 16u;
const NEG = -1e30;
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;

alias KvCache = array<vec4<u32>>;                          // [slots, nKv, capacity, D/8] 8 halves per element
alias KvPtr = ptr<storage, KvCache, read>;

@group(0) @binding(0) var<storage, read> q: array<T4>;
@group(0) @binding(1) var<storage, read> kCache: KvCache;
@group(0) @binding(2) var<storage, read> vCache: KvCache;
@group(0) @binding(3) var<storage, read> lengths: array<u32>;
@group(0) @binding(4) var<storage, read_write> partO: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> partLse: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<storage, read> src: array<vec4<u32>>;      // 8 halves per element (SRC_LAST)
@group(0) @binding(8) var<storage, read> kCache2: KvCache;           // decode_sg_pair's second group
@group(0) @binding(9) var<storage, read> vCache2: KvCache;
@group(0) @binding(10) var<storage, read> lengths2: array<u32>;

var<workgroup> smax: array<f32, MAX_NSG>;
var<workgroup> ssum: array<f32, MAX_NSG>;
var<workgroup> sacc: array<vec4f, 1024>;   // [NSG][2·LPK·CPL] (NSG · D/4 ≤ 1024)

fn neg_inf() -> f32 {
  let bits = 0xff800000u; // a let, not a const: -inf may not appear in constant evaluation
  return bitcast<f32>(bits);
}

// One step's loads for a key group: U rows of K and V from key j0 + kg·U on (rows past `end` keep old values;
// the step masks their scores). With SRC_LAST, key `last` comes from src at element srcRow (+ p.srcK / p.srcV).
fn load_step(kc: KvPtr, vc: KvPtr, j0: u32, end: u32, kg: u32, li: u32, kvRow0: u32, last: u32, srcRow: u32, kr: ptr<function, KvRows>, vr: ptr<function, KvRows>) {
  let CH = LPK * CPL;
  for (var u = 0u; u < U; u++) {
    let key = j0 + kg * U + u;
    if (key < end) {
      if (SRC_LAST && key == last) {
        for (var c = 0u; c < CPL; c++) {
          (*kr)[u][c] = src[srcRow + p.srcK + li + c * LPK];
          (*vr)[u][c] = src[srcRow + p.srcV + li + c * LPK];
        }
      } else {
        let row = (kvRow0 + key) * CH + li;
        for (var c = 0u; c < CPL; c++) {
          (*kr)[u][c] = (*kc)[row + c * LPK];
          (*vr)[u][c] = (*vc)[row + c * LPK];
        }
      }
    }
  }
}

fn lo4(c: vec4<u32>) -> vec4f { return vec4f(unpack2x16float(c.x), unpack2x16float(c.y)); }
fn hi4(c: vec4<u32>) -> vec4f { return vec4f(unpack2x16float(c.z), unpack2x16float(c.w)); }

// Sum over the LPK lanes of a key group (lanes kg·LPK .. kg·LPK + LPK − 1 of the subgroup).
fn group_sum(x: f32) -> f32 {
  var s = x;
  for (var o = LPK / 2u; o > 0u; o /= 2u) { s += subgroupShuffleXor(s, o); }
  return s;
}

@compute @workgroup_size(WG)
fn decode_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  decode_row(&kCache, &vCache, wid.x, wid.y * GH, wid.z + p.rowBase, wid.z, lengths[wid.z], p.capacity, p.chunk, tid);
}

@compute @workgroup_size(WG)
fn decode_sg_pair(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let b = wid.z;
  if (b < p.b2) {
    decode_row(&kCache, &vCache, wid.x, wid.y * GH, b, b, lengths[b], p.capacity, p.chunk, tid);
  } else {
    let s = b - p.b2;
    decode_row(&kCache2, &vCache2, wid.x, wid.y * GH, b, s, lengths2[s], p.capacity2, p.chunk2, tid);
  }
}

// Split `split` of heads h0 .. h0 + GH − 1 of row b (q, src and the partials' row) whose cache is slot `slot` of
// kc / vc (capacity positions a slot, `chunk` keys a split); lenRaw: the row's length.
fn decode_row(kc: KvPtr, vc: KvPtr, split: u32, h0: u32, b: u32, slot: u32, lenRaw: u32, capacity: u32, chunk: u32, tid: u32) {
  let kvh = h0 / p.group;
  let len = min(lenRaw, capacity);
  let start = split * chunk;
  let end = min(len, start + chunk);
  let CH = LPK * CPL;                  // chunks per row (D / 8)
  let kvRow0 = (slot * p.nKv + kvh) * capacity;
  let last = lenRaw - 1u;               // (uncapped: a row past the capacity reads the cache as without SRC_LAST; an empty row wraps and loads nothing)
  let srcRow = b * p.srcStride + kvh * CH; // this kv head's 8-half chunks in row b of src
  let scale2 = p.scale * LOG2E;
  let sg = tid / SGS;
  let ln = tid % SGS;
  let li = ln % LPK;                   // lane within the key group
  let kg = tid / LPK;                  // key group within the workgroup
  let KG = WG / LPK;

  // This lane's query chunks, pre-scaled (softmax in base 2).
  var qv: HeadVecs;
  for (var g = 0u; g < GH; g++) {
    for (var c = 0u; c < CPL; c++) {
      let e = ((b * p.nHeads + h0 + g) * CH + li + c * LPK) * 2u;  // vec4<f16> index
      qv[g][2u * c] = vec4f(q[e]) * scale2;
      qv[g][2u * c + 1u] = vec4f(q[e + 1u]) * scale2;
    }
  }
  var m: HeadVals;
  var l: HeadVals;
  var acc: HeadVecs;
  for (var g = 0u; g < GH; g++) { m[g] = NEG; }

  var kcur: KvRows;   // this step's rows
  var vcur: KvRows;
  var kn: KvRows;   // the next step's (PF)
  var vn: KvRows;
  if (PF) { load_step(kc, vc, start, end, kg, li, kvRow0, last, srcRow, &kn, &vn); }
  for (var j0 = start; j0 < end; j0 += KG * U) {
    // Issue every load of the step first: U rows of K and V per lane (with PF, the next step's).
    if (PF) {
      kcur = kn;
      vcur = vn;
      load_step(kc, vc, j0 + KG * U, end, kg, li, kvRow0, last, srcRow, &kn, &vn);
    } else {
      load_step(kc, vc, j0, end, kg, li, kvRow0, last, srcRow, &kcur, &vcur);
    }
    for (var g = 0u; g < GH; g++) {
      var s: KeyVals;
      var mx = m[g];
      for (var u = 0u; u < U; u++) {
        var d = 0.0;
        for (var c = 0u; c < CPL; c++) {
          d += dot(qv[g][2u * c], lo4(kcur[u][c])) + dot(qv[g][2u * c + 1u], hi4(kcur[u][c]));
        }
        d = group_sum(d);
        s[u] = select(NEG, d, j0 + kg * U + u < end);
        mx = max(mx, s[u]);
      }
      let alpha = exp2(m[g] - mx);
      m[g] = mx;
      l[g] *= alpha;
      for (var c = 0u; c < 2u * CPL; c++) { acc[g][c] *= alpha; }
      for (var u = 0u; u < U; u++) {
        let e = select(0.0, exp2(s[u] - mx), s[u] > 0.5 * NEG);
        l[g] += e;
        for (var c = 0u; c < CPL; c++) {
          acc[g][2u * c] += e * lo4(vcur[u][c]);
          acc[g][2u * c + 1u] += e * hi4(vcur[u][c]);
        }
      }
    }
  }

  // Combine the key groups: within the subgroup by shuffles, then the subgroups through workgroup memory.
  for (var g = 0u; g < GH; g++) {
    var mg = m[g];
    for (var o = LPK; o < SGS; o *= 2u) { mg = max(mg, subgroupShuffleXor(mg, o)); }
    if (ln == 0u) { smax[sg] = mg; }
    workgroupBarrier();
    var M = NEG;
    for (var i = 0u; i < NSG; i++) { M = max(M, smax[i]); }
    let f = exp2(m[g] - M);
    var lsum = l[g] * f;
    var a: LaneVecs;
    for (var c = 0u; c < 2u * CPL; c++) { a[c] = acc[g][c] * f; }
    for (var o = LPK; o < SGS; o *= 2u) {
      lsum += subgroupShuffleXor(lsum, o);
      for (var c = 0u; c < 2u * CPL; c++) { a[c] += subgroupShuffleXor(a[c], o); }
    }
    if (ln < LPK) {
      for (var c = 0u; c < CPL; c++) {
        let d4 = (li + c * LPK) * 2u;
        sacc[sg * CH * 2u + d4] = a[2u * c];
        sacc[sg * CH * 2u + d4 + 1u] = a[2u * c + 1u];
      }
      if (ln == 0u) { ssum[sg] = lsum; }
    }
    workgroupBarrier();
    var tot = 0.0;
    for (var i = 0u; i < NSG; i++) { tot += ssum[i]; }
    let row = (b * p.nHeads + h0 + g) * p.pStride + split;
    let inv = select(0.0, 1.0 / tot, tot > 0.0);
    for (var d4 = tid; d4 < CH * 2u; d4 += WG) {
      var o4 = vec4f();
      for (var i = 0u; i < NSG; i++) { o4 += sacc[i * CH * 2u + d4]; }
      partO[row * CH * 2u + d4] = o4 * inv;
    }
    if (tid == 0u) { partLse[row] = select(neg_inf(), (M + log2(tot)) * LN2, tot > 0.0); }
    workgroupBarrier();
  }
}
