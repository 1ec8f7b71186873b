// Row softmax (shaders/softmax.wgsl).
import { defineProgram, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, expectDtype, expectRank, expectShape, rowWorkgroupSize, typeSpec } from './common.js';

interface SoftmaxCfg { dtype: DType; wg: number }

const program = defineProgram<SoftmaxCfg>({
  name: 'softmax', file: 'softmax.wgsl', entry: 'softmax',
  specialize: (c) => ({ ...typeSpec(c.dtype), constants: { WG: c.wg } }),
});

export interface SoftmaxArgs {
  x: Tensor;    // [rows, cols]
  out: Tensor;  // [rows, cols], same dtype
  /** Multiplies x before the softmax (e.g. 1/sqrt(d) or 1/temperature); default 1. */
  scale?: number;
}

/** Numerically stable softmax over each row, f32 math; a fully masked (-inf) row gives zeros. */
export function softmax(gpu: Gpu, a: SoftmaxArgs): Dispatch {
  const k = 'softmax';
  expectRank(a.x, 2, 'x', k);
  const [rows, cols] = a.x.shape as [number, number];
  const dtype = a.x.dtype;
  expectShape(a.out, [rows, cols], 'out', k);
  expectDtype(a.out, dtype, 'out', k);
  expectDistinct(k, ['out', a.out], ['x', a.x]);
  // Enough threads for ~4 columns each, at least one subgroup-ish group, at most 256.
  const wg = rowWorkgroupSize(gpu, Math.max(32, Math.ceil(cols / 4)));
  const prog = gpu.program(program, { dtype, wg });
  return gpu.dispatch(prog, {
    bind: { x: a.x, out: a.out }, uniforms: { rows, cols, scale: a.scale ?? 1 },
    workgroups: [Math.min(rows, gpu.caps.maxWorkgroupsPerDim)],
  });
}
