// Deterministic random weights as an in-memory safetensors file, with no Node APIs (the browser demo).
// Byte-identical to writeRandomWeights (random-weights.ts) for the same config, seed and dtype: the same
// counter-based hash, level tables, tensor order and metadata. test/demo.e2e.test.ts compares the bytes.
import { paramCount, type ModelConfig } from './config.js';
import { randomWeightSpec, type WeightDType } from './random-weights-core.js';
import { encodeSafetensorsHeader } from './safetensors.js';

export type MemWeightDType = WeightDType;

/** Refuse to build files above this in memory (a page would stall or run out of memory). */
export const MAX_MEM_WEIGHT_BYTES = 512 * 1024 * 1024;

export interface MemWeightOptions {
  seed: number;
  dtype: MemWeightDType;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** The whole safetensors file for cfg's random weights, as bytes. */
export function randomSafetensorsBytes(cfg: ModelConfig, opts: MemWeightOptions): Uint8Array {
  const { tensors, metadata } = randomWeightSpec(cfg, opts.seed, opts.dtype);
  const bytesPer = opts.dtype === 'f32' ? 4 : 2;
  if (paramCount(cfg) * bytesPer > MAX_MEM_WEIGHT_BYTES) {
    throw new RangeError(`model '${cfg.name}' has ${paramCount(cfg)} parameters (${(paramCount(cfg) * bytesPer / 2 ** 20).toFixed(0)} MiB as ${opts.dtype}): too large to generate in memory (limit ${MAX_MEM_WEIGHT_BYTES / 2 ** 20} MiB)`);
  }
  const header = encodeSafetensorsHeader(tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })), metadata);
  const file = new Uint8Array(header.fileSize);
  file.set(header.bytes, 0);
  for (const t of tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    const vals = opts.dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n);
    t.fill(vals, 0);
    const at = header.tensors.get(t.name)!;
    file.set(new Uint8Array(vals.buffer), at.begin); // a fresh typed array: any file offset alignment works
    opts.onProgress?.(at.end, header.fileSize);
  }
  return file;
}
