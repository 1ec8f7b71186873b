// RMSNorm (shaders/rmsnorm.wgsl). The residual adds of the decoder live in the GEMM epilogues; a decode step of
// up to NORM_PROLOGUE_MAX_M rows runs its norms inside its GEMVs (LinearArgs.norm), so this launch is the
// prefill's and the larger decode batches'.
import { defineProgram, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

interface RmsNormCfg { dtype: DType; wg: number; vec4: boolean }

const program = defineProgram<RmsNormCfg>({
  name: 'rmsnorm', file: 'rmsnorm.wgsl', includes: ['row_sum.wgsl'], entry: 'rmsnorm',
  specialize: (c) => ({ ...typeSpec(c.dtype), entry: c.vec4 ? 'rmsnorm_vec4' : 'rmsnorm', constants: { ROW_WG: c.wg } }),
});

export interface RmsNormArgs {
  x: Tensor;       // [rows, cols]
  weight: Tensor;  // [cols]
  out: Tensor;     // [rows, cols]
  eps: number;
}

/** Invocations a row of an RMSNorm: the split-K reduce that writes a norm uses the same (the same sums, the same bits). */
export function normWorkgroupSize(gpu: Gpu): number { return rowWorkgroupSize(gpu); }

export function rmsnorm(gpu: Gpu, a: RmsNormArgs): Dispatch {
  const k = 'rmsnorm';
  expectRank(a.x, 2, 'x', k);
  const [rows, cols] = a.x.shape as [number, number];
  const dtype = a.x.dtype;
  expectShape(a.weight, [cols], 'weight', k);
  expectShape(a.out, [rows, cols], 'out', k);
  for (const [n, t] of [['weight', a.weight], ['out', a.out]] as const) expectDtype(t, dtype, n, k);
  expectDistinct(k, ['out', a.out], ['x', a.x]);
  const vec4 = cols % 4 === 0;
  const prog = gpu.program(program, { dtype, wg: normWorkgroupSize(gpu), vec4 });
  const bind: Record<string, Tensor> = vec4 ? { x4: a.x, weight4: a.weight, y4: a.out } : { x: a.x, weight: a.weight, y: a.out };
  return gpu.dispatch(prog, { bind, uniforms: { rows, cols, eps: a.eps }, workgroups: [rows] });
}
