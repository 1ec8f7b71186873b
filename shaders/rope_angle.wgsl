// The rotation of one RoPE pair, shared by the RoPE launch (rope.wgsl) and the QKV product's RoPE epilogue
// (rope_epilogue.wgsl), so both round alike. Prepended by the runtime (ProgramDef.includes).
//
// Angles: a frequency's words g hold inv_freq / 2π (turns per position) as a 64-bit fixed-point fraction
// (hi, lo), computed in float64 on the host (kernels/rope.ts ropeFrequencyWords). pos · g mod 1 is then exact
// integer arithmetic, and only the final turn fraction in [-1/2, 1/2) is converted to f32: the angle is within
// ~4e-7 rad of the exact one at any position < 2^32, and sin/cos only ever see arguments in [-π, π).

// High 32 bits of the 64-bit product a * b.
fn mulhi(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu; let ah = a >> 16u;
  let bl = b & 0xffffu; let bh = b >> 16u;
  let lh = al * bh; let hl = ah * bl;
  let mid = ((al * bl) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return ah * bh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

// Rotation angle of the frequency with words g at position pos, reduced to [-π, π).
fn turn_angle(pos: u32, g: vec2<u32>) -> f32 {
  let turns = pos * g.x + mulhi(pos, g.y); // top word of frac(pos * g) (wrapping arithmetic is mod 1)
  return f32(bitcast<i32>(turns)) * (6.283185307179586 / 4294967296.0);
}

// (x0, x1) rotated by angle a. The fused multiply-adds are written out: a compiler may contract x0·c − x1·s either
// way, and the RoPE launch and the QKV epilogue must round alike.
fn rotate_pair(x0: f32, x1: f32, a: f32) -> vec2f {
  let c = cos(a);
  let s = sin(a);
  return vec2f(fma(x0, c, -(x1 * s)), fma(x1, c, x0 * s));
}
