// RMSNorm and residual-add + RMSNorm (shaders/rmsnorm.wgsl).
import { defineProgram, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

interface RmsNormCfg { dtype: DType; residual: boolean; wg: number }

const program = defineProgram<RmsNormCfg>({
  name: 'rmsnorm', file: 'rmsnorm.wgsl', entry: 'rmsnorm',
  specialize: (c) => ({ entry: c.residual ? 'rmsnorm_residual' : 'rmsnorm', ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface RmsNormArgs {
  x: Tensor;       // [rows, cols]
  weight: Tensor;  // [cols]
  out: Tensor;     // [rows, cols]
  eps: number;
  /** When given: h = x + residual is written to `sum` and normalised. */
  residual?: Tensor; // [rows, cols]
  sum?: Tensor;      // [rows, cols]
}

export function rmsnorm(gpu: Gpu, a: RmsNormArgs): Dispatch {
  const k = 'rmsnorm';
  expectRank(a.x, 2, 'x', k);
  const [rows, cols] = a.x.shape as [number, number];
  const dtype = a.x.dtype;
  expectShape(a.weight, [cols], 'weight', k);
  expectShape(a.out, [rows, cols], 'out', k);
  for (const [n, t] of [['weight', a.weight], ['out', a.out]] as const) expectDtype(t, dtype, n, k);
  const residual = a.residual !== undefined;
  if (residual !== (a.sum !== undefined)) throw new Error('rmsnorm: residual and sum go together');
  const bind: Record<string, Tensor> = { x: a.x, weight: a.weight, y: a.out };
  if (a.residual && a.sum) {
    expectShape(a.residual, [rows, cols], 'residual', k);
    expectShape(a.sum, [rows, cols], 'sum', k);
    expectDtype(a.residual, dtype, 'residual', k);
    expectDtype(a.sum, dtype, 'sum', k);
    expectDistinct(k, ['out', a.out], ['sum', a.sum], ['x', a.x], ['residual', a.residual]);
    bind.residual = a.residual;
    bind.h = a.sum;
  } else {
    expectDistinct(k, ['out', a.out], ['x', a.x]);
  }
  const prog = gpu.program(program, { dtype, residual, wg: rowWorkgroupSize(gpu) });
  return gpu.dispatch(prog, { bind, uniforms: { rows, cols, eps: a.eps }, workgroups: [rows] });
}
