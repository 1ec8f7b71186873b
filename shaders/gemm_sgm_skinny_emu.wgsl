// The matrix operations of gemm_sgm_skinny.wgsl (gemm_sgm_skinny_ops.wgsl) in scalar code, for adapters
// without subgroup matrices: same offsets, strides and layouts, f32 accumulation of exact f16 products.
// Conventions as gemm_sgm_tile_emu.wgsl (EMU_SG lanes; lane l owns rows 2·(l / 4) + {0, 1}, columns
// 4·(l % 4) + {0..3} of the 16×16 result; an operand is its offset, read when multiplied — the
// operands here are read-only storage, so that is exactly what a load would return). The right
// operand also records which weight binding it came from (0 w, 1 wg, 2 wu).

const EMU_SG = 32u;

// n, as a value the shader compiler cannot see (K / K = 1): LLVM then keeps the emulation's loops as
// loops instead of unrolling every emulated product (minutes of compile time per pipeline on lavapipe).
fn emu_n(n: u32) -> u32 { return n * (p.K / max(p.K, 1u)); }
alias SmL = u32;              // offset of a row-major 16×16 in x (row stride K)
alias SmR = vec2u;            // (offset of a col-major 16×16, binding) in w / wg / wu (column stride K)
alias SmC = array<f32, 8>;    // [2 rows][4 columns] of the lane's block

fn load_x(o: u32) -> SmL { return o; }
fn load_w(o: u32) -> SmR { return vec2u(o, 0u); }
fn load_wg(o: u32) -> SmR { return vec2u(o, 1u); }
fn load_wu(o: u32) -> SmR { return vec2u(o, 2u); }

// One 16-long dot product of x row ar and weight row bc of binding `which`.
fn emu_dot(ar: u32, which: u32, bc: u32) -> f32 {
  var s = 0.0;
  if (which == 1u) {
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(x[ar + k]), f32(wg[bc + k]), s); }
  } else if (which == 2u) {
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(x[ar + k]), f32(wu[bc + k]), s); }
  } else {
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(x[ar + k]), f32(w[bc + k]), s); }
  }
  return s;
}

fn mma(a: SmL, b: SmR, c: SmC) -> SmC {
  var r = c;
  let ra = a + 2u * (sg_lane / 4u) * p.K;
  let cb = b.x + 4u * (sg_lane % 4u) * p.K;
  for (var t = 0u; t < emu_n(8u); t++) { r[t] += emu_dot(ra + (t / 4u) * p.K, b.y, cb + (t % 4u) * p.K); }
  return r;
}

fn store_c(o: u32, c: SmC) {
  for (var t = 0u; t < emu_n(8u); t++) { Cs[o + (2u * (sg_lane / 4u) + t / 4u) * 16u + 4u * (sg_lane % 4u) + t % 4u] = c[t]; }
}
