// The matrix operations of gemm_sgm_tile.wgsl (gemm_sgm_ops.wgsl) in scalar code, for adapters without
// subgroup matrices (lavapipe in CI): the same offsets, strides, layouts and f32 accumulation of exact
// f16 products, so the tests check the kernel's indexing on a CPU. Not for speed. Every lane of a
// "subgroup" (SG_SIZE consecutive invocations; no subgroup builtins) holds whole operand matrices and
// the result elements e ≡ sg_lane (mod EMU_SG) — EMU_SG must equal SG_SIZE (the host sets both).

const EMU_SG = 32u;
alias SmL = array<f16, 256>;              // [row][k]
alias SmR = array<f16, 256>;              // [col][k]
alias SmC = array<f32, 256 / EMU_SG>;     // elements sg_lane + EMU_SG·t of the row-major 16×16

fn load_a(o: u32) -> SmL {
  var r: SmL;
  for (var i = 0u; i < 256u; i++) { r[i] = As[o + (i / 16u) * LDS + i % 16u]; }
  return r;
}

fn load_b(o: u32) -> SmR {
  var r: SmR;
  for (var i = 0u; i < 256u; i++) { r[i] = Bs[o + (i / 16u) * LDS + i % 16u]; }
  return r;
}

fn mma(a: SmL, b: SmR, c: SmC) -> SmC {
  var r = c;
  for (var t = 0u; t < 256u / EMU_SG; t++) {
    let e = sg_lane + EMU_SG * t;
    let row = e / 16u; let col = e % 16u;
    var s = r[t];
    for (var k = 0u; k < 16u; k++) { s = fma(f32(a[row * 16u + k]), f32(b[col * 16u + k]), s); }
    r[t] = s;
  }
  return r;
}

fn store_c(o: u32, c: SmC) {
  for (var t = 0u; t < 256u / EMU_SG; t++) {
    let e = sg_lane + EMU_SG * t;
    Cs[o + e] = c[t];
  }
}
