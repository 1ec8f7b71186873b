// RoPE and the K/V-cache append in the epilogue of the fused QKV product (kernels/rope.ts RopeEpilogue): what the
// RoPE launch (rope.wgsl with WRITE_BACK, writeQ) does after the product, done by the product's own threads, so a
// decode step has one launch a layer fewer. The including kernel computes output *slots*: slot c holds qkv column
// rope_col(c), which puts each rotation pair of a q or k head (neox: dims w, w + ropeDim/2) in two adjacent slots
// c, c + 1 — the kernel reads weight row rope_col(c) for slot c, and one thread that holds both sums calls
// rope_pair. Its results, bit for bit those of the product then the RoPE launch:
//   y (qkv)          [M, (NH + 2·NKV)·D]  q, k rotated, v as computed (each value rounded to T, then rotated)
//   rope_q           [M, NH, D]            the rotated q
//   rope_k / rope_v  [slots, NKV, capacity, D]: k rotated, v, at [slot − slotBase, kvh, pos, :] for rows of a
//                    slot in [slotBase, slotBase + slots) at a position < capacity (others write no cache)
// The product's epilogue here is y = x·wᵀ (+ bias) only (kernels/gemv.ts checks it).
// Needs: the including file's bindings `y`, `bias`, its uniform `p` with N, slots, capacity, slotBase, and the
// alias T; shaders/rope_angle.wgsl (turn_angle, rotate_pair) and gemm_epilogue.wgsl (HAS_BIAS) prepended before.

override ROPE_NH: u32 = 1u;       // q heads
override ROPE_NKV: u32 = 1u;      // k heads (and v heads)
override ROPE_D: u32 = 2u;        // head dim
override ROPE_HALF: u32 = 1u;     // rotated pairs a head: ropeDim / 2 (partial rotary: dims past ropeDim are copied)
override ROPE_NEOX: bool = true;  // pairs (w, w + ropeDim/2); false: GPT-J pairs (2w, 2w + 1), already adjacent
override ROPE_F16: bool = false;  // T is f16: the sums are rounded to it before the rotation, as the RoPE launch reads them

@group(0) @binding(20) var<storage, read> rope_rows: array<vec2<u32>>;   // [M] (cache slot, position)
@group(0) @binding(21) var<storage, read> rope_freqs: array<vec2<u32>>;  // [ROPE_HALF] turns a position, 64-bit
@group(0) @binding(22) var<storage, read_write> rope_q: array<T>;
@group(0) @binding(23) var<storage, read_write> rope_k: array<T>;
@group(0) @binding(24) var<storage, read_write> rope_v: array<T>;

// The qkv column of output slot c: slots 2w, 2w + 1 of a q or k head hold its neox pair w; v heads, dims past
// ropeDim and GPT-J heads keep their order.
fn rope_col(c: u32) -> u32 {
  let l = c % ROPE_D;
  if (!ROPE_NEOX || c >= (ROPE_NH + ROPE_NKV) * ROPE_D || l >= 2u * ROPE_HALF) { return c; }
  return c - l + l / 2u + (l & 1u) * ROPE_HALF;
}

// v rounded to the nearest f16 (ties to even), as an f32: round(v / q) · q with q the f16 quantum at v's binade
// (2^-24 below 2^-14, the subnormals). Written out because f32(f16(x)) is not kept by every compiler: lavapipe folds
// the pair away, and the rotation then starts from unrounded sums — one f16 ulp off the RoPE launch's outputs. It is
// the conversion of a device that rounds f16 stores to nearest, ties to even, with subnormals (lavapipe, NVIDIA:
// the same tokens both ways, session 39); one that truncates or flushes them would differ from it by an ulp.
fn round_f16(v: f32) -> f32 { // (no parameter named x: the reflection would take it for a binding of that name)
  let e = max((bitcast<u32>(v) >> 23u) & 0xffu, 113u) - 10u;   // q = 2^(e − 127); 1 / q exact: 2^(127 − e)
  let r = round(v * bitcast<f32>((254u - e) << 23u)) * bitcast<f32>(e << 23u);
  // Past f16's largest finite value (65504; 65520 and up round to 2^16): ±inf, as the conversion stores.
  if (abs(r) > 65504.0) { return bitcast<f32>((bitcast<u32>(v) & 0x80000000u) | 0x7f800000u); }
  return r;
}

// What rope_pair reads besides the sums, for kernels that load it before their K loop (its latency hidden there):
// row m's (slot, position), and the frequency words of slot c's pair (any pair's where c's is not rotated).
fn rope_row(m: u32) -> vec2<u32> { return rope_rows[m]; }
fn rope_freq(c: u32) -> vec2<u32> { return rope_freqs[min((c % ROPE_D) / 2u, ROPE_HALF - 1u)]; }

// The sums v0, v1 of slots c, c + 1 (c even, c + 1 < N) of row m: bias, rounding, rotation, stores.
fn rope_pair(m: u32, c: u32, v0: f32, v1: f32) { rope_pair_at(m, c, v0, v1, rope_row(m), rope_freq(c)); }

// rope_pair with row m's (slot, position) and the pair's frequency words given (rope_row, rope_freq).
fn rope_pair_at(m: u32, c: u32, v0: f32, v1: f32, row: vec2<u32>, g: vec2<u32>) {
  let n0 = rope_col(c);
  let n1 = rope_col(c + 1u);
  var x0 = v0;
  var x1 = v1;
  if (HAS_BIAS) { x0 += f32(bias[n0]); x1 += f32(bias[n1]); }
  if (ROPE_F16) { x0 = round_f16(x0); x1 = round_f16(x1); }
  let head = c / ROPE_D;
  let pos = row.y;
  if (head < ROPE_NH + ROPE_NKV && (c % ROPE_D) / 2u < ROPE_HALF) {
    let r = rotate_pair(x0, x1, turn_angle(pos, g));
    x0 = r.x;
    x1 = r.y;
  }
  y[m * p.N + n0] = T(x0);
  y[m * p.N + n1] = T(x1);
  let d0 = n0 % ROPE_D;
  let d1 = n1 % ROPE_D;
  if (head < ROPE_NH) {
    let dst = (m * ROPE_NH + head) * ROPE_D;
    rope_q[dst + d0] = T(x0);
    rope_q[dst + d1] = T(x1);
    return;
  }
  let slot = row.x - p.slotBase; // wraps for slots below the group: then >= p.slots
  if (slot >= p.slots || pos >= p.capacity) { return; }
  let isK = head < ROPE_NH + ROPE_NKV;
  let kvh = select(head - ROPE_NH - ROPE_NKV, head - ROPE_NH, isK);
  let dst = ((slot * ROPE_NKV + kvh) * p.capacity + pos) * ROPE_D;
  if (isK) { rope_k[dst + d0] = T(x0); rope_k[dst + d1] = T(x1); }
  else { rope_v[dst + d0] = T(x0); rope_v[dst + d1] = T(x1); }
}
