// Deterministic random weights, Node-free (shared by the file writer and the in-memory browser path).
// Every element is a pure function of (seed, tensor name, element index) — a counter-based RNG — so any
// chunk can be generated on its own and the bytes do not depend on the chunking.
import { validateConfig, type ModelConfig } from './config.js';
import { f32ToBf16Bits, f32ToF16Fast, type StDType } from './safetensors.js';
import { expectedWeights } from './weight-names.js';

export type WeightDType = 'f32' | 'f16' | 'bf16';
export const FILE_DTYPE: Record<WeightDType, StDType> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

// The sum of the 4 bytes of a 32-bit hash, minus 510: an Irwin–Hall-like integer in [-510, 510], mean 0,
// std sqrt(4·(256²−1)/12) ≈ 147.8. Close to normal, bounded at ±3.45σ (no outliers to overflow f16),
// and only 1021 values, so each tensor maps it through a small table straight to the stored bits.
const LEVELS = 1021;
const LEVEL_STD = Math.sqrt((4 * (256 * 256 - 1)) / 12);

/** lowbias32 (Chris Wellons): a fast 32-bit integer hash with good avalanche. */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Mean and std of a tensor: projections 1/sqrt(fan_in) (activations keep their scale), embeddings 1, norms 1 ± ~0.1. */
export function initFor(name: string, shape: readonly number[]): { mean: number; std: number } {
  if (shape.length === 1) return { mean: 1, std: 0.03 };
  if (name === 'embed') return { mean: 0, std: 1 };
  return { mean: 0, std: 1 / Math.sqrt(shape[1]!) };
}

export function levelTable(dtype: WeightDType, mean: number, std: number): Float32Array | Uint16Array {
  const t = dtype === 'f32' ? new Float32Array(LEVELS) : new Uint16Array(LEVELS);
  for (let k = 0; k < LEVELS; k++) {
    const v = mean + ((k - 510) * std) / LEVEL_STD;
    t[k] = dtype === 'f32' ? v : dtype === 'f16' ? f32ToF16Fast(v) : f32ToBf16Bits(v);
  }
  return t;
}

/** Fill chunk with elements [start, start + chunk.length) of the stream keyed by (k1, k2). */
export function fillLevels(chunk: Float32Array | Uint16Array, table: Float32Array | Uint16Array, start: number, k1: number, k2: number): void {
  // Element i hashes (i mod 2^32) with a key that folds in floor(i / 2^32): split at those boundaries
  // so the hot loop does integer work only (lowbias32 twice, inlined).
  for (let j0 = 0; j0 < chunk.length;) {
    const i0 = start + j0;
    const hi = Math.floor(i0 / 4294967296);
    const end = Math.min(chunk.length, (hi + 1) * 4294967296 - start);
    const kh = (k2 ^ Math.imul(hi, 0x9e3779b9)) | 0;
    const lo0 = i0 >>> 0;
    for (let j = j0; j < end; j++) {
      let x = ((lo0 + (j - j0)) ^ k1) | 0;
      x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
      x ^= kh;
      x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
      chunk[j] = table[(x & 0xff) + ((x >>> 8) & 0xff) + ((x >>> 16) & 0xff) + (x >>> 24)]!;
    }
    j0 = end;
  }
}

/** One tensor of the random file: its name, shape, file dtype, and a generator of any element range. */
export interface RandomTensor {
  name: string;
  shape: readonly number[];
  dtype: StDType;
  fill(chunk: Float32Array | Uint16Array, start: number): void;
}

/** The tensors (in file order) and metadata of cfg's random weights for a seed. */
export function randomWeightSpec(cfg: ModelConfig, seed: number, dtype: WeightDType): { tensors: RandomTensor[]; metadata: Record<string, string> } {
  validateConfig(cfg);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!(dtype in FILE_DTYPE)) throw new RangeError(`dtype must be f32, f16 or bf16, got ${String(dtype)}`);
  const seedKey = mix((seed >>> 0) ^ mix(Math.floor(seed / 4294967296) >>> 0));
  const tensors = expectedWeights(cfg).map(({ name, shape }) => {
    const { mean, std } = initFor(name, shape);
    const table = levelTable(dtype, mean, std);
    const k1 = mix(fnv1a(name) ^ seedKey), k2 = mix(k1 ^ 0x9e3779b9);
    return { name, shape, dtype: FILE_DTYPE[dtype], fill: (chunk: Float32Array | Uint16Array, start: number) => fillLevels(chunk, table, start, k1, k2) };
  });
  const metadata = { format: 'pt', fapool_generator: 'random-weights v1', fapool_seed: String(seed), fapool_config: JSON.stringify(cfg) };
  return { tensors, metadata };
}
