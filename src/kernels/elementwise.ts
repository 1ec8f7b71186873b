// Elementwise helpers (shaders/elementwise.wgsl): dtype cast (f32 <-> f16; the runtime itself has used none since the
// sampler reads f16 logits, session 36); the sum of a tensor-parallel stage's partial sums on one rank (the static
// baseline's all-reduce).
import { ceilDiv, defineProgram, numel, shapeStr, ShapeError, type Dispatch, type DType, type Gpu, type Tensor } from '../gpu/index.js';
import { expectDistinct, rowWorkgroupSize } from './common.js';

type FloatType = 'f32' | 'f16';
interface ElementwiseCfg { op: 'cast' | 'sum'; from: FloatType; to: FloatType; vec4: boolean; wg: number }

const program = defineProgram<ElementwiseCfg>({
  name: 'cast', file: 'elementwise.wgsl', entry: 'cast_scalar',
  specialize: (c) => ({
    entry: c.op === 'sum' ? 'sum_parts' : `cast_${c.vec4 ? 'vec4' : 'scalar'}`,
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

function launch(gpu: Gpu, cfg: Omit<ElementwiseCfg, 'op' | 'vec4' | 'wg'>, n: number, bind: (v4: boolean) => Record<string, Tensor>): Dispatch {
  // vec4 views need n % 4 == 0 and 16-byte (f32) / 8-byte (f16) aligned offsets: bindings are 256-aligned.
  const vec4 = n % 4 === 0 && n > 0;
  const wg = rowWorkgroupSize(gpu);
  const count = vec4 ? n / 4 : n;
  const prog = gpu.program(program, { op: 'cast', ...cfg, vec4, wg });
  const grid = Math.min(ceilDiv(count, wg), gpu.caps.maxWorkgroupsPerDim);
  // own and ranks are sum_parts' uniforms (one Params struct for the file).
  return gpu.dispatch(prog, { bind: bind(vec4), uniforms: { n: count, own: 0, ranks: 0 }, workgroups: [grid] });
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

/** One rank's all-reduce step: out[0, n) = Σ_r partial_r in rank order (f32), given its own and the others'. */
export interface SumParts {
  readonly dispatch: Dispatch;
  /** n elements of each partial (≤ the bound tensors' sizes), this rank's index among `ranks`. */
  set(n: number, own: number): void;
}

/**
 * `mine`: this rank's partial; `others`: the other ranks' partials for n elements, packed [ranks − 1, n] in rank
 * order (the row stride is the n of each call); `out`: the sum. Bound once over whole tensors, sized per call.
 */
export function sumParts(gpu: Gpu, a: { mine: Tensor; others: Tensor; out: Tensor; ranks: number }): SumParts {
  const k = 'sumParts';
  const dt = expectFloat(a.mine, 'mine', k);
  for (const [name, t] of [['others', a.others], ['out', a.out]] as const) {
    if (t.dtype !== dt) throw new ShapeError(`${k}: ${name} must be ${dt} like mine, got ${shapeStr(t)}`);
  }
  if (!Number.isSafeInteger(a.ranks) || a.ranks < 2) throw new ShapeError(`${k}: needs at least 2 ranks, got ${a.ranks}`);
  expectDistinct(k, ['out', a.out], ['mine', a.mine], ['others', a.others]);
  const cap = numel(a.mine.shape);
  if (numel(a.out.shape) < cap) throw new ShapeError(`${k}: out ${shapeStr(a.out)} is smaller than mine ${shapeStr(a.mine)}`);
  if (numel(a.others.shape) < (a.ranks - 1) * cap) throw new ShapeError(`${k}: others ${shapeStr(a.others)} cannot hold ${a.ranks - 1} partials of ${cap}`);
  const wg = rowWorkgroupSize(gpu);
  const prog = gpu.program(program, { op: 'sum', from: dt, to: dt, vec4: false, wg });
  const dispatch = gpu.dispatch(prog, { bind: { mine: a.mine, others: a.others, cout: a.out }, uniforms: { n: 0, own: 0, ranks: a.ranks }, workgroups: [1] });
  return {
    dispatch,
    set(n, own) {
      if (!Number.isSafeInteger(n) || n < 1 || n > cap) throw new ShapeError(`${k}: n = ${n} outside [1, ${cap}]`);
      if (!Number.isSafeInteger(own) || own < 0 || own >= a.ranks) throw new ShapeError(`${k}: own = ${own} outside [0, ${a.ranks})`);
      dispatch.set({ n, own });
      dispatch.setGrid(Math.min(ceilDiv(n, wg), gpu.caps.maxWorkgroupsPerDim));
    },
  };
}
