// Occupancy probe: how many workgroups of a given workgroup-memory size the driver keeps resident on one SM.
// Each invocation walks a dependent chain of `iters` loads through the workgroup array (every load waits for the
// one before: latency-bound, ≈ 30 clocks a step), so a workgroup's time does not depend on its size, and a grid's
// time counts the waves: resident workgroups a SM = (workgroups × one workgroup's time) / (SMs × the grid's time).
// kernels-bench/smem-probe.ts sweeps the size; where the count halves is the driver's shared-memory carveout.
// Specialised by: alias Words = array<u32, WORDS> (the size under test) and the override WORDS.
// `probe_none`: the same launch with no workgroup memory at all (a dependent integer chain in registers), for
// kernels-bench/seam-probe.ts, which times chains of launches that differ only in their workgroup-memory size.

struct Params { iters: u32, _a: u32, _b: u32, _c: u32 }

override WORDS: u32 = 1024u;
// Added to every output: two pipelines that differ only in TWIN are the same launch on two pipeline objects (the
// seam probe's control for the cost of switching pipelines without changing workgroup memory).
override TWIN: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@group(0) @binding(1) var<uniform> p: Params;

var<workgroup> buf: Words;

@compute @workgroup_size(128)
fn probe(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  // Every word written (the array cannot shrink), each pointing 129 words on (a chain over the whole array).
  for (var i = li; i < WORDS; i += 128u) { buf[i] = (i + 129u) % WORDS; }
  workgroupBarrier();
  var j = li % WORDS;
  for (var it = 0u; it < p.iters; it++) { j = buf[j]; }
  o[wid.x * 128u + li] = j + TWIN;
}

@compute @workgroup_size(128)
fn probe_none(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  var j = li;
  for (var it = 0u; it < p.iters; it++) { j = (j * 1664525u + 1013904223u) >> 3u; }   // each step waits for the last
  o[wid.x * 128u + li] = j + TWIN;
}
