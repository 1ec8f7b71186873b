// Weights in square blocks, for benchmarks: 64 × 64, the layout the decode tiles read with WBLK
// (shaders/gemm_sgm_tile_gen.gen.mjs), and 16 × 16, the direct kernel's WB16 (shaders/gemm_sgm_direct.gen.mjs).
// A [N, K] row-major weight (PyTorch's [out, in]) becomes [N / B][K / B][B][B]: at 64 a 64-column tile's BK-deep slice
// is one contiguous run of memory, where row-major it is 64 runs of BK halves, one weight row (2K bytes) apart; at 16
// each 16 × 16 matrix is.
import { ShapeError } from '../gpu/errors.js';

/** Rows and columns of the decode tiles' blocks (WBLK). */
export const WEIGHT_BLOCK = 64;

/** Where element (n, k) of a [N, K] weight lies in its blocked form (blocks of B × B). */
export function weightBlockIndex(n: number, k: number, K: number, B = WEIGHT_BLOCK): number {
  return (Math.floor(n / B) * (K / B) + Math.floor(k / B)) * B * B + (n % B) * B + (k % B);
}

/** A [N, K] row-major weight's elements (any typed array, e.g. f16 bits) in blocked order (blocks of B × B). */
export function toWeightBlocks<A extends Uint16Array | Float32Array | Float64Array>(src: A, N: number, K: number, B = WEIGHT_BLOCK): A {
  if (N % B !== 0 || K % B !== 0) throw new ShapeError(`weight blocks: N and K must be multiples of ${B}, got ${N} × ${K}`);
  if (src.length !== N * K) throw new ShapeError(`weight blocks: ${src.length} elements for a ${N} × ${K} weight`);
  const out = new (src.constructor as new (n: number) => A)(N * K);
  for (let n = 0; n < N; n++) {
    for (let kb = 0; kb < K; kb += B) out.set(src.subarray(n * K + kb, n * K + kb + B), weightBlockIndex(n, kb, K, B));
  }
  return out;
}
