// Matrix operations of gemm_sgm_tile.wgsl on subgroup matrices (chromium_experimental_subgroup_matrix):
// 16×16×16 f16 → f32. The including file declares the workgroup arrays As, Bs (f16, row stride LDS)
// and Cs (f32). gemm_sgm_tile_emu.wgsl defines the same functions in scalar code for CPU adapters.

alias SmL = subgroup_matrix_left<f16, 16, 16>;
alias SmR = subgroup_matrix_right<f16, 16, 16>;
alias SmC = subgroup_matrix_result<f32, 16, 16>;

// x rows of the A tile at offset o: row-major 16×16.
fn load_a(o: u32) -> subgroup_matrix_left<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&As, o, LDS);
}

// w rows of the B tile at offset o, read as the col-major 16×16 right matrix (columns of wᵀ).
fn load_b(o: u32) -> subgroup_matrix_right<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&Bs, o, LDS);
}

fn mma(a: subgroup_matrix_left<f16, 16, 16>, b: subgroup_matrix_right<f16, 16, 16>,
       c: subgroup_matrix_result<f32, 16, 16>) -> subgroup_matrix_result<f32, 16, 16> {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

// Row-major 16×16 f32 at Cs[o..o+256).
fn store_c(o: u32, c: subgroup_matrix_result<f32, 16, 16>) {
  subgroupMatrixStore<row_major>(&Cs, o, c, 16u);
}
