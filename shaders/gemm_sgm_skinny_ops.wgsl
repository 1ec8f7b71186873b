// Matrix operations of gemm_sgm_skinny.wgsl on subgroup matrices: 16×16×16 f16 → f32, operands read
// straight from the storage buffers x, w, wg, wu (row stride K), results stored to the f32 scratch Cs.
// gemm_sgm_skinny_emu.wgsl defines the same functions in scalar code for CPU adapters.

alias SmL = subgroup_matrix_left<f16, 16, 16>;
alias SmR = subgroup_matrix_right<f16, 16, 16>;
alias SmC = subgroup_matrix_result<f32, 16, 16>;

fn load_x(o: u32) -> subgroup_matrix_left<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&x, o, p.K);
}

fn load_w(o: u32) -> subgroup_matrix_right<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&w, o, p.K);
}

fn load_wg(o: u32) -> subgroup_matrix_right<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wg, o, p.K);
}

fn load_wu(o: u32) -> subgroup_matrix_right<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&wu, o, p.K);
}

fn mma(a: subgroup_matrix_left<f16, 16, 16>, b: subgroup_matrix_right<f16, 16, 16>,
       c: subgroup_matrix_result<f32, 16, 16>) -> subgroup_matrix_result<f32, 16, 16> {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

fn store_c(o: u32, c: subgroup_matrix_result<f32, 16, 16>) {
  subgroupMatrixStore<row_major>(&Cs, o, c, 16u);
}
