// A tensor is a typed view of (part of) a GPU buffer: shape, dtype, buffer, byte offset.
import { ShapeError } from './errors.js';

export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly buffer: GPUBuffer;
  /** Byte offset of element 0 inside `buffer`. */
  readonly offset: number;
  readonly label?: string;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape}]`);
    n *= d;
  }
  return n;
}

export function byteSize(shape: readonly number[], dtype: DType): number {
  const el = DTYPE_BYTES[dtype];
  // A dtype outside DType from plain JS (e.g. 'bf16') made a NaN size, which createBuffer refused in its own words.
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) throw new ShapeError(`unknown dtype ${JSON.stringify(dtype) ?? String(dtype)} for shape [${shape}] (expected ${Object.keys(DTYPE_BYTES).join(', ')})`);
  return numel(shape) * el;
}

export function tensorBytes(t: Tensor): number {
  return byteSize(t.shape, t.dtype);
}

export function shapeStr(t: Pick<Tensor, 'shape' | 'dtype'>): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

/** A view of rows [start, start+count) of the leading dimension; no copy. */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const [rows, ...rest] = t.shape;
  if (rows === undefined || start < 0 || count < 0 || start + count > rows) {
    throw new ShapeError(`row slice [${start}, ${start + count}) out of ${shapeStr(t)}`);
  }
  const rowBytes = byteSize(rest, t.dtype);
  return { ...t, shape: [count, ...rest], offset: t.offset + start * rowBytes };
}

export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  if (numel(shape) !== numel(t.shape)) throw new ShapeError(`cannot reshape ${shapeStr(t)} to [${shape}]`);
  return { ...t, shape };
}

/** Host array type that holds a dtype's raw elements. */
export type HostArray = Float32Array | Uint16Array | Uint32Array | Int32Array;

export function hostArrayFor(dtype: DType, n: number): HostArray {
  switch (dtype) {
    case 'f32': return new Float32Array(n);
    case 'f16': return new Uint16Array(n);
    case 'u32': return new Uint32Array(n);
    case 'i32': return new Int32Array(n);
  }
}
