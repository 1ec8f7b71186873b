// The matrix operations of gemm_sgm_tile.wgsl (gemm_sgm_tile_ops.wgsl) in scalar code, for adapters without
// subgroup matrices (lavapipe in CI): the same offsets, strides, layouts and f32 accumulation of exact
// f16 products, so the tests check the kernel's indexing on a CPU. Not for speed. A "subgroup" is
// SG_SIZE = EMU_SG consecutive invocations (no subgroup builtins; the host sets SG_SIZE); lane l owns the
// 2×4 block of the 16×16 result at rows 2·(l / 4) + {0, 1}, columns 4·(l % 4) + {0..3}.
// An operand "matrix" is its offset in the tile, read when multiplied: the kernel multiplies a slice's
// operands before any barrier lets the tile change, so this reads what a load would have (and compiles
// in seconds on LLVM, where per-lane operand arrays took minutes).

const EMU_SG = 32u;

// n, as a value the shader compiler cannot see (K / K = 1): LLVM then keeps the emulation's loops as
// loops instead of unrolling every emulated product (minutes of compile time per pipeline on lavapipe).
fn emu_n(n: u32) -> u32 { return n * (p.K / max(p.K, 1u)); }
alias SmL = u32;              // offset of a row-major 16×16 in As (row stride LDS)
alias SmR = u32;              // offset of a col-major 16×16 in Bs (column stride LDS)
alias SmC = array<f32, 8>;    // [2 rows][4 columns] of the lane's block

fn load_a(o: u32) -> SmL { return o; }
fn load_b(o: u32) -> SmR { return o; }

fn mma(a: SmL, b: SmR, c: SmC) -> SmC {
  var r = c;
  let ra = a + 2u * (sg_lane / 4u) * LDS;
  let cb = b + 4u * (sg_lane % 4u) * LDS;
  for (var t = 0u; t < emu_n(8u); t++) {
    var s = r[t];
    let ar = ra + (t / 4u) * LDS; let bc = cb + (t % 4u) * LDS;
    for (var k = 0u; k < emu_n(16u); k++) { s = fma(f32(As[ar + k]), f32(Bs[bc + k]), s); }
    r[t] = s;
  }
  return r;
}

fn store_c(o: u32, c: SmC) {
  for (var t = 0u; t < emu_n(8u); t++) { Cs[o + (2u * (sg_lane / 4u) + t / 4u) * 16u + 4u * (sg_lane % 4u) + t % 4u] = c[t]; }
}
