// GPU sampling: logits [rows, vocab] (f32 or f16: T) -> ids [rows] u32. One workgroup per row (`sample`), no sort.
//
// 1. One pass: argmax (ties -> lowest index), largest and smallest logit. Greedy rows stop here. From
//    SAMPLER_PARTS_VOCAB tokens (kernels/sampling.ts) a launch before, `scan_part`, makes this pass over p.parts
//    workgroups a row and `sample` reduces their states: a row is then no longer read by one SM alone here. A
//    greedy step below SAMPLER_GREEDY_PARTS_VOCAB keeps it here (the host empties scan_part's grid, p.parts = 0).
// 2. Weights w_i = exp((l_i - max) / temperature) (softmax numerators; never normalised explicitly).
// 3. Thresholds are searched on order-preserving u32 keys of the logits (key(a) < key(b) <=> a < b), so
//    every kept set is {i : key_i >= t} for one t, found exactly (not approximately) by a 16-way search:
//    each pass buckets the keys of [lo, hi] into 2^LOG_NB ranges (+1 for "above hi") and keeps the range
//    that holds the answer; <= 8 passes for 32-bit keys (f32 logits), <= 5 for f16 logits (19-bit keys).
//    - top-k: largest t with count(key >= t) >= k, i.e. the k-th largest logit. Logits equal to it are
//      all kept (ties at the threshold may make the set larger than k).
//    - top-p: largest t with mass(key >= t) >= topP * mass(top-k set): the smallest nucleus by
//      probability (all logits tied with its smallest member included).
// 4. Draw u in [0, 1) from a counter-based hash of (seed, step, row) and pick the first index (in index
//    order) whose running sum of kept weights exceeds u * sum: each thread sums a contiguous chunk, thread 0
//    finds the chunk, its owner walks it. A row whose draw_at is not 0 draws from (seed, draw_at) instead: the
//    position of the token it samples, so a request's draws do not depend on its batch slot or step (continuous
//    batching: a seeded request gives the same tokens alone or among others). Temperature alone with the first pass
//    in parts: the parts' masses locate the part, and the same chunk walk runs over that part only.
// A row with a NaN or ±Inf logit gets the id NONFINITE (0xffffffff, never a token): the host turns it into an
// error naming the step (tested on the exponent bits, which fast-math cannot fold away).
// Counts are summed in f32: exact up to 2^24 elements (the binding rejects larger vocabularies).
// Specialised by: alias T (the logits' type, f32 or f16), override WG (threads, a power of two), LOG_NB (log2 of the
// search fan-out), KEY_SHIFT (13 for f16 logits: 4–5 search passes a phase, not 8).

struct Params {
  rows: u32, vocab: u32, greedy: u32, topK: u32,
  topP: f32, invTemp: f32, seed: u32, step: u32,
  parts: u32,   // pass 1 in `parts` workgroups a row (scan_part) when > 0, at most WG; 0: in `sample` (a uniform, not an
                // override: one `sample` pipeline whatever the vocabulary, whose compile is the slow one on lavapipe)
}

override WG: u32 = 256u;
override LOG_NB: u32 = 4u;
override NB: u32 = 1u << LOG_NB;
override KEY_SHIFT: u32 = 0u; // low key bits every logit of the type leaves alike (f16: 13; see key_of)

@group(0) @binding(0) var<storage, read> logits: array<T>; // the LM head's output type: f16 logits need no cast launch
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> draw_at: array<u32>; // [rows]: 0 = draw by (step, row)
@group(0) @binding(4) var<storage, read_write> parts: array<vec4u>; // [rows × p.parts × 2] pass-1 states, part masses (p.parts > 0)

// Reductions are two-level (SEG segments of PER = WG / SEG entries, then one thread over SEG partials):
// two barriers each instead of a log2(WG) tree, which keeps lavapipe's compile time in seconds.
const SEG: u32 = 16u;
override PER: u32 = WG / SEG;

var<workgroup> red_a: array<u32, WG>;
var<workgroup> red_b: array<u32, WG>;
var<workgroup> red_c: array<u32, WG>;
var<workgroup> red_f: array<f32, WG>;
// Search buckets, column-major per thread: bins[b * WG + tid] is thread tid's partial of bucket b.
var<workgroup> bins: array<f32, (NB + 1u) * WG>;
var<workgroup> part: array<f32, (NB + 1u) * SEG>;
var<workgroup> sh_u: vec4<u32>; // broadcasts: one workgroupUniformLoad (barrier pair) for several values
var<workgroup> sh_f: array<f32, 2>;
var<workgroup> sh_bad: atomic<u32>; // any non-finite logit in the row (workgroup memory starts zeroed)

const NONE: u32 = 0xffffffffu;
const NONFINITE: u32 = 0xffffffffu;

// Order-preserving key: flips the sign bit of positives and all bits of negatives; -0 maps like +0. Shifted right by
// KEY_SHIFT: 13 for f16 logits, whose f32 values leave the low 13 bits of every key alike (all 0 for positives, all 1 for
// negatives: subnormal f16 values too), so the shifted key is still exact and order-preserving, and a 16-way search
// over a 19-bit key ends in half the passes of a 32-bit one (H100, session 36: 8 passes a search phase).
fn key_of(v: f32) -> u32 {
  let b = select(bitcast<u32>(v), 0u, v == 0.0);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u) >> KEY_SHIFT;
}

// Pass 1's running state of one thread: best key and its index (the first on ties: indices come in increasing
// order), smallest key, any non-finite logit.
struct Scan { kbest: u32, ibest: u32, kmin: u32, bad: bool }

fn scan(st: ptr<function, Scan>, v: f32, c: u32) {
  (*st).bad = (*st).bad || (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
  let k = key_of(v);
  if ((*st).ibest == NONE || k > (*st).kbest) { (*st).kbest = k; (*st).ibest = c; }
  (*st).kmin = min((*st).kmin, k);
}

fn weight(v: f32, m: f32) -> f32 { return exp((v - m) * p.invTemp); }

// PCG hash (O'Neill's RXS-M-XS output); mirrored in src/kernels/sampling.ts (samplingUniform).
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn uniform01(seed: u32, step: u32, row: u32) -> f32 {
  return f32(pcg(pcg(pcg(seed) ^ step) ^ row) >> 8u) * (1.0 / 16777216.0);
}

// Row of the hash for a keyed draw: no batch row has it (rows < 2^24).
const KEYED_ROW: u32 = 0xffffffffu;

fn row_uniform01(row: u32) -> f32 {
  let at = draw_at[row];
  if (at != 0u) { return uniform01(p.seed, at, KEYED_ROW); }
  return uniform01(p.seed, p.step, row);
}

// Logit i in f32 (an f16 logit converts exactly: the same keys and weights as from a cast copy).
fn lg(i: u32) -> f32 { return f32(logits[i]); }

// Eight logits WG apart from index i, all loaded before any is used (a pass's trip: one memory latency for eight).
// The callers index the result with constants only, so it stays in registers.
fn load8(i: u32) -> array<f32, 8> {
  return array<f32, 8>(lg(i), lg(i + WG), lg(i + 2u * WG), lg(i + 3u * WG),
    lg(i + 4u * WG), lg(i + 5u * WG), lg(i + 6u * WG), lg(i + 7u * WG));
}

// Adds logit v to this thread's search bucket: counts (mass false) or softmax weights, keys in [lo, hi] by 2^s,
// keys above hi in bucket NB.
fn bin(tid: u32, v: f32, lo: u32, hi: u32, s: u32, mass: bool, m: f32) {
  let k = key_of(v);
  if (k >= lo) {
    let b = select((k - lo) >> s, NB, k > hi);
    bins[b * WG + tid] += select(1.0, weight(v, m), mass);
  }
}

// Largest key t in [lo0, hi0] with F(t) >= target, F(t) = sum of w_i over key_i >= t, where w_i = 1
// (mass false, target = goal) or the softmax weight (mass true, target = goal * F(lo0)).
// Requires F(lo0) >= target. Called in uniform control flow; returns a uniform value.
fn search(tid: u32, base: u32, lo0: u32, hi0: u32, mass: bool, goal: f32, m: f32) -> u32 {
  var lo = lo0;
  var hi = hi0;
  var first = true;
  loop {
    if (lo >= hi) { break; }
    let range = hi - lo;
    var s = 0u; // bucket width 2^s: (range >> s) < NB
    if (range >= NB) { s = firstLeadingBit(range) + 1u - LOG_NB; }
    for (var b = 0u; b <= NB; b++) { bins[b * WG + tid] = 0.0; }
    // Eight loads issued before their bins are touched (as pass 1): one memory latency per 8·WG logits, not per WG
    // (H100, top-p at 32000 tokens 134 → 107 µs, at 128256 746 → 435).
    var c = tid;
    for (; c + 7u * WG < p.vocab; c += 8u * WG) {
      let v = load8(base + c);
      bin(tid, v[0], lo, hi, s, mass, m);
      bin(tid, v[1], lo, hi, s, mass, m);
      bin(tid, v[2], lo, hi, s, mass, m);
      bin(tid, v[3], lo, hi, s, mass, m);
      bin(tid, v[4], lo, hi, s, mass, m);
      bin(tid, v[5], lo, hi, s, mass, m);
      bin(tid, v[6], lo, hi, s, mass, m);
      bin(tid, v[7], lo, hi, s, mass, m);
    }
    for (; c < p.vocab; c += WG) { bin(tid, lg(base + c), lo, hi, s, mass, m); }
    workgroupBarrier();
    for (var j = tid; j < (NB + 1u) * SEG; j += WG) {
      let b = j / SEG;
      let seg0 = b * WG + (j % SEG) * PER;
      var acc = 0.0;
      for (var i = 0u; i < PER; i++) { acc += bins[seg0 + i]; }
      part[j] = acc;
    }
    workgroupBarrier();
    if (tid <= NB) {
      var acc = 0.0;
      for (var g = 0u; g < SEG; g++) { acc += part[tid * SEG + g]; }
      red_f[tid] = acc;
    }
    workgroupBarrier();
    if (tid == 0u) {
      // Suffix sums: part[b * SEG] = F(lo + (b << s)) = buckets >= b plus the mass above hi (bucket NB).
      var f = 0.0;
      for (var b = NB + 1u; b > 0u; b--) {
        f += red_f[b - 1u];
        part[(b - 1u) * SEG] = f;
      }
      var goal_w = sh_f[0];
      if (first) { goal_w = select(goal, goal * part[0], mass); }
      var best = 0u;
      for (var b = 1u; b < NB; b++) {
        if ((b << s) <= range && part[b * SEG] >= goal_w) { best = b; }
      }
      let c = lo + (best << s);
      sh_u = vec4u(c, c + min((1u << s) - 1u, hi - c), 0u, 0u);
      sh_f[0] = goal_w;
    }
    first = false;
    let lohi = workgroupUniformLoad(&sh_u);
    lo = lohi.x;
    hi = lohi.y;
  }
  return lo;
}

// Pass 1 over logits [c0, c1) of the row at base: eight strided loads a trip, issued before any is used (a thread waits
// one memory latency per 8·WG logits; H100, 32000 tokens, greedy: one load a trip ≈ 30 µs, four 15, eight 12; 32 a trip
// as quads did not help — the pass is bound by the one SM's issue). Each thread's indices stay increasing.
fn scan_range(st: ptr<function, Scan>, base: u32, c0: u32, c1: u32, tid: u32) {
  var c = c0 + tid;
  for (; c + 7u * WG < c1; c += 8u * WG) {
    let v = load8(base + c);
    scan(st, v[0], c);
    scan(st, v[1], c + WG);
    scan(st, v[2], c + 2u * WG);
    scan(st, v[3], c + 3u * WG);
    scan(st, v[4], c + 4u * WG);
    scan(st, v[5], c + 5u * WG);
    scan(st, v[6], c + 6u * WG);
    scan(st, v[7], c + 7u * WG);
  }
  for (; c < c1; c += WG) { scan(st, lg(base + c), c); }
}

// The workgroup's pass-1 states reduced and broadcast (uniform control flow): x the best key, y its index (the lowest
// on ties, NONE if no thread saw one), z the smallest key, w 1 if any logit was not finite.
fn reduce_scan(tid: u32, st: Scan) -> vec4u {
  if (st.bad) { atomicOr(&sh_bad, 1u); }
  red_a[tid] = st.kbest;
  red_b[tid] = st.ibest;
  red_c[tid] = st.kmin;
  workgroupBarrier();
  if (tid < SEG) {
    let first = tid * PER;
    for (var i = first + 1u; i < first + PER; i++) {
      let k2 = red_a[i];
      let i2 = red_b[i];
      if (i2 != NONE && (red_b[first] == NONE || k2 > red_a[first] || (k2 == red_a[first] && i2 < red_b[first]))) {
        red_a[first] = k2;
        red_b[first] = i2;
      }
      red_c[first] = min(red_c[first], red_c[i]);
    }
  }
  workgroupBarrier();
  if (tid == 0u) {
    for (var g = 1u; g < SEG; g++) {
      let k2 = red_a[g * PER];
      let i2 = red_b[g * PER];
      if (i2 != NONE && (red_b[0] == NONE || k2 > red_a[0] || (k2 == red_a[0] && i2 < red_b[0]))) {
        red_a[0] = k2;
        red_b[0] = i2;
      }
      red_c[0] = min(red_c[0], red_c[g * PER]);
    }
    sh_u = vec4u(red_a[0], red_b[0], red_c[0], atomicLoad(&sh_bad));
  }
  return workgroupUniformLoad(&sh_u);
}

// Pass 1 spread over the GPU (p.parts > 0): workgroup (part, row) scans the part-th of p.parts equal slices of the row
// and writes its reduced state (and, for temperature alone, the slice's mass); `sample` then reduces a row's states
// instead of reading the row with one workgroup.
@compute @workgroup_size(WG)
fn scan_part(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = wid.y;
  if (row >= p.rows) { return; }
  let chunk = (p.vocab + p.parts - 1u) / p.parts;
  let c0 = min(wid.x * chunk, p.vocab);
  let c1 = min(c0 + chunk, p.vocab);
  let base = row * p.vocab;
  var st = Scan(0u, NONE, NONE, false);
  scan_range(&st, base, c0, c1, tid);
  let s = reduce_scan(tid, st);
  // Temperature alone: the part's softmax mass on its own maximum, so `sample` finds the draw's part without reading
  // the row (a second read of this slice, from cache). Each thread sums a contiguous chunk, in index order.
  var mass = 0.0;
  if (p.greedy == 0u && temp_only() && s.y != NONE && s.w == 0u) {
    let m = lg(base + s.y);
    let sub = (c1 - c0 + WG - 1u) / WG;
    let a = min(c0 + tid * sub, c1);
    for (var c = a; c < min(a + sub, c1); c++) { mass += weight(lg(base + c), m); }
    red_f[tid] = mass;
    workgroupBarrier();
    if (tid < SEG) {
      var acc = 0.0;
      for (var i = tid * PER; i < (tid + 1u) * PER; i++) { acc += red_f[i]; }
      red_f[tid * PER] = acc;
    }
    workgroupBarrier();
    if (tid == 0u) {
      mass = 0.0;
      for (var g = 0u; g < SEG; g++) { mass += red_f[g * PER]; }
    }
  }
  if (tid == 0u) {
    let at = 2u * (row * p.parts + wid.x);
    parts[at] = s;
    parts[at + 1u] = vec4u(bitcast<u32>(mass), 0u, 0u, 0u);
  }
}

@compute @workgroup_size(WG)
fn sample(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = wid.x;
  if (row >= p.rows) { return; }
  let V = p.vocab;
  let base = row * V;

  // Pass 1: argmax key (lowest index on ties), smallest key, any non-finite logit: read here, or reduced from the
  // states scan_part wrote (parts ≤ WG: a thread a part; the same keys and index, so the same ids either way).
  var st = Scan(0u, NONE, NONE, false);
  if (p.parts == 0u) {
    scan_range(&st, base, 0u, V, tid);
  } else if (tid < p.parts) {
    let q = parts[2u * (row * p.parts + tid)];
    st = Scan(q.x, q.y, q.z, q.w != 0u);
  }
  let stats = reduce_scan(tid, st);
  if (stats.w != 0u) {
    if (tid == 0u) { ids[row] = NONFINITE; }
    return;
  }
  let kmax = stats.x;
  let imax = stats.y;
  let klow = stats.z;
  if (p.greedy != 0u) {
    if (tid == 0u) { ids[row] = imax; }
    return;
  }
  let m = lg(base + imax);

  // Kept set = {key >= t}.
  // Phase 0 = top-k, phase 1 = top-p, each only when on. The bounds are runtime values so the loop is
  // not unrolled: one copy of the search keeps lavapipe's compile time down.
  var t = klow;
  let first_phase = select(1u, 0u, p.topK > 0u && p.topK < V);
  let end_phase = select(1u, 2u, p.topP < 1.0);
  for (var phase = first_phase; phase < end_phase; phase++) {
    t = search(tid, base, t, kmax, phase == 1u, select(f32(p.topK), p.topP, phase == 1u), m);
  }

  // Temperature alone with the first pass in parts: the parts' sums (scan_part, each on its own maximum) put on the row's
  // maximum locate the draw's part; only that part is read again. Otherwise the whole row is summed here.
  if (p.parts > 0u && temp_only()) {
    var sp = 0.0;
    if (tid < p.parts) {
      let i = parts[2u * (row * p.parts + tid)].y;
      if (i != NONE) { sp = bitcast<f32>(parts[2u * (row * p.parts + tid) + 1u].x) * weight(lg(base + i), m); }
    }
    red_f[tid] = sp;
    workgroupBarrier();
    if (tid == 0u) {
      var total = 0.0;
      for (var i = 0u; i < p.parts; i++) { total += red_f[i]; }
      let goal_w = row_uniform01(row) * total;
      let o = first_past(p.parts, goal_w);
      sh_u = vec4u(o.owner, 0u, 0u, 0u);
      sh_f[0] = o.prefix;
      sh_f[1] = goal_w;
    }
    let j = workgroupUniformLoad(&sh_u).x;
    let pc = (V + p.parts - 1u) / p.parts;
    let c0 = min(j * pc, V);
    draw(tid, row, base, c0, min(c0 + pc, V), t, m, true, sh_f[0], sh_f[1]);
  } else {
    draw(tid, row, base, 0u, V, t, m, false, 0.0, 0.0);
  }
}

// Whether only the temperature shapes the draw (no top-k, no top-p: every logit is kept).
fn temp_only() -> bool {
  return !(p.topK > 0u && p.topK < p.vocab) && !(p.topP < 1.0);
}

struct Owner { owner: u32, prefix: f32 }

// Over red_f[0 .. n) in order: the first non-empty entry whose running sum passes goal_w and the sum before it; the
// last non-empty one if rounding left none (thread 0).
fn first_past(n: u32, goal_w: f32) -> Owner {
  var acc = 0.0;
  var o = Owner(0u, 0.0);
  var found = false;
  for (var i = 0u; i < n; i++) {
    let si = red_f[i];
    if (si > 0.0 && !found) {
      o = Owner(i, acc);
      found = acc + si > goal_w;
    }
    acc += si;
  }
  return o;
}

// Draw over logits [c0, c1) (not empty) of the row at base, kept where key >= t: per-thread chunk sums in index order,
// then the owner of the goal walks its chunk. `known`: the goal and the mass before c0 are given (a part of the row);
// else they are this range's total × the row's uniform, and 0. Called in uniform control flow; writes ids[row].
fn draw(tid: u32, row: u32, base: u32, c0: u32, c1: u32, t: u32, m: f32, known: bool, acc0: f32, goal0: f32) {
  let chunk = (c1 - c0 + WG - 1u) / WG;
  let start = min(c0 + tid * chunk, c1);
  let end = min(start + chunk, c1);
  // Four loads a trip before they are summed (in index order, as one at a time would).
  var sum = 0.0;
  var cs = start;
  for (; cs + 3u < end; cs += 4u) {
    let v = vec4f(lg(base + cs), lg(base + cs + 1u), lg(base + cs + 2u), lg(base + cs + 3u));
    if (key_of(v.x) >= t) { sum += weight(v.x, m); }
    if (key_of(v.y) >= t) { sum += weight(v.y, m); }
    if (key_of(v.z) >= t) { sum += weight(v.z, m); }
    if (key_of(v.w) >= t) { sum += weight(v.w, m); }
  }
  for (; cs < end; cs++) {
    let v = lg(base + cs);
    if (key_of(v) >= t) { sum += weight(v, m); }
  }
  red_f[tid] = sum;
  workgroupBarrier();
  if (tid == 0u) {
    let chunks = (c1 - c0 + chunk - 1u) / max(chunk, 1u); // threads with a non-empty chunk (a runtime bound: not unrolled)
    var goal_w = goal0;
    if (!known) {
      var total = 0.0;
      for (var i = 0u; i < chunks; i++) { total += red_f[i]; }
      goal_w = row_uniform01(row) * total;
    }
    let o = first_past(chunks, goal_w - select(0.0, acc0, known));
    sh_u.x = o.owner;
    sh_f[0] = o.prefix + select(0.0, acc0, known);
    sh_f[1] = goal_w;
  }
  workgroupBarrier();
  if (tid == sh_u.x) {
    let goal_w = sh_f[1];
    var acc = sh_f[0];
    var pick = NONE;
    var last = start;
    // Four loads a trip (clamped into the chunk, which is not empty), then walked in index order to the first pick.
    let e1 = end - 1u;
    for (var c = start; c < end && pick == NONE; c += 4u) {
      let v = vec4f(lg(base + c), lg(base + min(c + 1u, e1)), lg(base + min(c + 2u, e1)), lg(base + min(c + 3u, e1)));
      for (var j = 0u; j < 4u; j++) {
        let cj = c + j;
        if (cj < end && pick == NONE && key_of(v[j]) >= t) {
          acc += weight(v[j], m);
          last = cj;
          if (acc > goal_w) { pick = cj; }
        }
      }
    }
    ids[row] = select(pick, last, pick == NONE);
  }
}
