// Non-finite scan (shaders/finite.wgsl): counts the NaN / ±Inf elements of ranges of f32 or f16 tensors and
// finds the first of each, with one launch per range and one read-back for all of them (weights at load time).
import { ceilDiv, defineProgram, DTYPE_BYTES, numel, ShapeError, type Dispatch, type Gpu, type Tensor } from '../gpu/index.js';
import { rowWorkgroupSize } from './common.js';

const program = defineProgram<{ wg: number }>({
  name: 'finite_scan', file: 'finite.wgsl', entry: 'scan',
  specialize: (c) => ({ constants: { WG: c.wg } }),
});

/** Elements [start, start + count) of `tensor` (f32 or f16), reported as `what`. */
export interface FiniteRange { tensor: Tensor; start: number; count: number; what: string }

/** A range with non-finite values: how many, and the first one's index relative to the range's start. */
export interface NonFiniteHit { range: FiniteRange; count: number; first: number }

/** The launch of one range into result slot `slot` (the tensor is read as u32 words from an aligned offset). */
function scanDispatch(gpu: Gpu, r: FiniteRange, result: Tensor, slot: number): Dispatch {
  const t = r.tensor;
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new ShapeError(`finite_scan: ${r.what} must be f32 or f16, got ${t.dtype}`);
  const n = numel(t.shape), el = DTYPE_BYTES[t.dtype];
  if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.count) || r.start < 0 || r.count < 0 || r.start + r.count > n) {
    throw new ShapeError(`finite_scan: range [${r.start}, ${r.start + r.count}) is outside ${r.what}'s ${n} elements`);
  }
  const align = gpu.caps.minStorageOffsetAlign;
  const base = Math.floor(t.offset / align) * align;
  const skip = (t.offset - base) / el; // elements between the aligned binding start and the tensor's
  const words: Tensor = { buffer: t.buffer, offset: base, dtype: 'u32', shape: [Math.ceil((t.offset - base + n * el) / 4)], label: t.label };
  const wg = rowWorkgroupSize(gpu);
  return gpu.dispatch(gpu.program(program, { wg }), {
    bind: { words, result },
    uniforms: { start: skip + r.start, count: r.count, slot, half: t.dtype === 'f16' ? 1 : 0 },
    workgroups: [Math.min(ceilDiv(r.count, wg), gpu.caps.maxWorkgroupsPerDim)],
  });
}

/** Scans every range on the GPU; resolves with the ranges that hold NaN or ±Inf (in the order given). */
export async function findNonFinite(gpu: Gpu, ranges: readonly FiniteRange[]): Promise<NonFiniteHit[]> {
  const live = ranges.filter((r) => r.count > 0);
  if (live.length === 0) return [];
  const result = gpu.tensor([2 * live.length], 'u32', 'finite_scan.result');
  const dispatches: Dispatch[] = [];
  try {
    const init = new Uint32Array(2 * live.length);
    for (let i = 0; i < live.length; i++) init[2 * i + 1] = 0xffffffff;
    gpu.write(result, init);
    live.forEach((r, i) => dispatches.push(scanDispatch(gpu, r, result, i)));
    gpu.submit(dispatches);
    const out = await gpu.read(result) as Uint32Array;
    return live.flatMap((range, i) => (out[2 * i]! > 0 ? [{ range, count: out[2 * i]!, first: out[2 * i + 1]! }] : []));
  } finally {
    for (const d of dispatches) d.release();
    gpu.release(result);
  }
}
