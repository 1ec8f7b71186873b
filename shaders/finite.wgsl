// Non-finite scan: how many elements of a range of a float tensor are NaN or ±Inf, and the first of them.
// The tensor is read as u32 words and each element tested on its exponent bits (all ones): integer tests,
// which a compiler cannot fold away the way it may fold `x != x` under fast-math assumptions.
//   scan: elements [start, start + count) of the tensor bound as `words` (f32: one per word; f16: two per word,
//   element e in the low half of word e/2 when e is even). Result slot `slot`: result[2·slot] += non-finite count,
//   result[2·slot + 1] = min(its own value, index of a non-finite element relative to start). The host zeroes the
//   counts and sets the minima to 0xffffffff first.
// Grid-stride loop: the grid is capped at the device's per-dimension limit. Atomics only on a hit.
// Specialised by: override WG (threads per workgroup).

struct Params { start: u32, count: u32, slot: u32, half: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> result: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn scan(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.count; i += nwg.x * WG) {
    let e = p.start + i;
    var bad: bool;
    if (p.half != 0u) {
      let bits = (words[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu;
      bad = (bits & 0x7c00u) == 0x7c00u;
    } else {
      bad = (words[e] & 0x7f800000u) == 0x7f800000u;
    }
    if (bad) {
      atomicAdd(&result[2u * p.slot], 1u);
      atomicMin(&result[2u * p.slot + 1u], i);
    }
  }
}
