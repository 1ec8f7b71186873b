// Deterministic random weights as an in-memory safetensors file, with no Node APIs (the browser demo).
// Byte-identical to writeRandomWeights (random-weights.ts) for the same config, seed and dtype: the same
// counter-based hash, level tables, tensor order and metadata. test/demo.e2e.test.ts compares the bytes.
import { paramCount, validateConfig, type ModelConfig } from './config.js';
import { encodeSafetensorsHeader, f32ToBf16Bits, f32ToF16Fast, type StDType } from './safetensors.js';
import { expectedWeights } from './weight-names.js';

export type MemWeightDType = 'f32' | 'f16' | 'bf16';
const FILE_DTYPE: Record<MemWeightDType, StDType> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/** Refuse to build files above this in memory (a page would stall or run out of memory). */
export const MAX_MEM_WEIGHT_BYTES = 512 * 1024 * 1024;

const LEVELS = 1021;
const LEVEL_STD = Math.sqrt((4 * (256 * 256 - 1)) / 12);

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

function initFor(name: string, shape: readonly number[]): { mean: number; std: number } {
  if (shape.length === 1) return { mean: 1, std: 0.03 };
  if (name === 'embed') return { mean: 0, std: 1 };
  return { mean: 0, std: 1 / Math.sqrt(shape[1]!) };
}

function levelTable(dtype: MemWeightDType, mean: number, std: number): Float32Array | Uint16Array {
  const t = dtype === 'f32' ? new Float32Array(LEVELS) : new Uint16Array(LEVELS);
  for (let k = 0; k < LEVELS; k++) {
    const v = mean + ((k - 510) * std) / LEVEL_STD;
    t[k] = dtype === 'f32' ? v : dtype === 'f16' ? f32ToF16Fast(v) : f32ToBf16Bits(v);
  }
  return t;
}

/** Elements [0, out.length) of the stream keyed by (k1, k2); in-memory tensors stay below 2^32 elements. */
function fillLevels(out: Float32Array | Uint16Array, table: Float32Array | Uint16Array, k1: number, k2: number): void {
  const kh = k2 | 0; // element index < 2^32: the high word is 0
  for (let j = 0; j < out.length; j++) {
    let x = (j ^ k1) | 0;
    x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
    x ^= kh;
    x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
    out[j] = table[(x & 0xff) + ((x >>> 8) & 0xff) + ((x >>> 16) & 0xff) + (x >>> 24)]!;
  }
}

export interface MemWeightOptions {
  seed: number;
  dtype: MemWeightDType;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** The whole safetensors file for cfg's random weights, as bytes. */
export function randomSafetensorsBytes(cfg: ModelConfig, opts: MemWeightOptions): Uint8Array {
  validateConfig(cfg);
  const { seed, dtype } = opts;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!(dtype in FILE_DTYPE)) throw new RangeError(`dtype must be f32, f16 or bf16, got ${String(dtype)}`);
  const bytesPer = dtype === 'f32' ? 4 : 2;
  if (paramCount(cfg) * bytesPer > MAX_MEM_WEIGHT_BYTES) {
    throw new RangeError(`model '${cfg.name}' has ${paramCount(cfg)} parameters (${(paramCount(cfg) * bytesPer / 2 ** 20).toFixed(0)} MiB as ${dtype}): too large to generate in memory (limit ${MAX_MEM_WEIGHT_BYTES / 2 ** 20} MiB)`);
  }
  const seedKey = mix((seed >>> 0) ^ mix(Math.floor(seed / 4294967296) >>> 0));
  const specs = expectedWeights(cfg);
  const metadata = {
    format: 'pt',
    fapool_generator: 'random-weights v1',
    fapool_seed: String(seed),
    fapool_config: JSON.stringify(cfg),
  };
  const header = encodeSafetensorsHeader(specs.map((s) => ({ ...s, dtype: FILE_DTYPE[dtype] })), metadata);
  const file = new Uint8Array(header.fileSize);
  file.set(header.bytes, 0);
  for (const { name, shape } of specs) {
    const { mean, std } = initFor(name, shape);
    const table = levelTable(dtype, mean, std);
    const k1 = mix(fnv1a(name) ^ seedKey), k2 = mix(k1 ^ 0x9e3779b9);
    const n = shape.reduce((a, d) => a * d, 1);
    const vals = dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n);
    fillLevels(vals, table, k1, k2);
    const t = header.tensors.get(name)!;
    file.set(new Uint8Array(vals.buffer), t.begin); // a fresh typed array: any file offset alignment works
    opts.onProgress?.(t.end, header.fileSize);
  }
  return file;
}
