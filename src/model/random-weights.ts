// Deterministic random weights for a config, written as a safetensors file chunk by chunk (Node).
// The generator itself is Node-free: random-weights-core.ts (also used in memory by the browser demo).
import { paramCount, type ModelConfig } from './config.js';
import { randomWeightSpec, type WeightDType } from './random-weights-core.js';
import { writeSafetensors, type RawArray } from './safetensors-node.js';

export { initFor, type WeightDType } from './random-weights-core.js';

export interface RandomWeightOptions {
  seed: number;
  dtype: WeightDType;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Generation chunk (default 16 MiB); the bytes do not depend on it. */
  chunkBytes?: number;
}

export interface RandomWeightsResult {
  bytes: number;
  params: number;
  seconds: number;
}

export async function writeRandomWeights(path: string, cfg: ModelConfig, opts: RandomWeightOptions): Promise<RandomWeightsResult> {
  const { tensors, metadata } = randomWeightSpec(cfg, opts.seed, opts.dtype);
  const entries = tensors.map((t) => ({ ...t, fill: (chunk: RawArray, start: number) => t.fill(chunk as Float32Array | Uint16Array, start) }));
  const t0 = performance.now();
  const { bytes } = await writeSafetensors(path, entries, metadata, { chunkBytes: opts.chunkBytes, onProgress: opts.onProgress });
  return { bytes, params: paramCount(cfg), seconds: (performance.now() - t0) / 1000 };
}
