// Elementwise helpers (shaders/elementwise.wgsl): dtype cast (the f16 LM head's logits to f32).
import { ceilDiv, defineProgram, numel, shapeStr, ShapeError, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, rowWorkgroupSize } from './common.js';

type FloatType = 'f32' | 'f16';
interface ElementwiseCfg { from: FloatType; to: FloatType; vec4: boolean; wg: number }

const program = defineProgram<ElementwiseCfg>({
  name: 'cast', file: 'elementwise.wgsl', entry: 'cast_scalar',
  specialize: (c) => ({
    entry: `cast_${c.vec4 ? 'vec4' : 'scalar'}`,
    enables: c.from === 'f16' || c.to === 'f16' ? ['f16'] : [],
    aliases: { TI: c.from, TO: c.to },
    constants: { WG: c.wg },
  }),
});

function expectFloat(t: Tensor, name: string, kernel: string): FloatType {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new ShapeError(`${kernel}: ${name} must be f32 or f16, got ${shapeStr(t)}`);
  return t.dtype;
}

function expectSameShape(t: Tensor, ref: Tensor, name: string, refName: string, kernel: string): void {
  if (t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i])) {
    throw new ShapeError(`${kernel}: ${name} ${shapeStr(t)} must have the shape of ${refName} ${shapeStr(ref)}`);
  }
}

function launch(gpu: Gpu, cfg: Omit<ElementwiseCfg, 'vec4' | 'wg'>, n: number, bind: (v4: boolean) => Record<string, Tensor>): Dispatch {
  // vec4 views need n % 4 == 0 and 16-byte (f32) / 8-byte (f16) aligned offsets: bindings are 256-aligned.
  const vec4 = n % 4 === 0 && n > 0;
  const wg = rowWorkgroupSize(gpu);
  const count = vec4 ? n / 4 : n;
  const prog = gpu.program(program, { ...cfg, vec4, wg });
  const grid = Math.min(ceilDiv(count, wg), gpu.caps.maxWorkgroupsPerDim);
  return gpu.dispatch(prog, { bind: bind(vec4), uniforms: { n: count }, workgroups: [grid] });
}

/** out = x converted to out's dtype (f32 <-> f16 rounds to nearest; same dtype copies). */
export function cast(gpu: Gpu, a: { x: Tensor; out: Tensor }): Dispatch {
  const k = 'cast';
  const from: DType = expectFloat(a.x, 'x', k);
  const to = expectFloat(a.out, 'out', k);
  expectSameShape(a.out, a.x, 'out', 'x', k);
  expectDistinct(k, ['out', a.out], ['x', a.x]);
  return launch(gpu, { from, to }, numel(a.x.shape),
    (v4): Record<string, Tensor> => (v4 ? { cx4: a.x, cout4: a.out } : { cx: a.x, cout: a.out }));
}
