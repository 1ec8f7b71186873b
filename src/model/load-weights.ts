// Stream a safetensors file onto the GPU as our Weights: q/k/v fused into one projection by uploading
// each into its row block of wqkv; Gemma-style (w − 1) norm weights turned into w on the way.
import type { DType, Gpu } from '../gpu/index.js';
import type { ModelConfig } from './config.js';
import type { SafetensorsFile } from './safetensors-node.js';
import { resolveWeights } from './weight-names.js';
import { allocWeights, releaseWeights, weightTargets, type Weights } from './weights.js';

export interface LoadProgress { (doneBytes: number, totalBytes: number, name: string): void }

export async function loadWeights(gpu: Gpu, file: SafetensorsFile, cfg: ModelConfig, dtype: DType, onProgress?: LoadProgress): Promise<{ weights: Weights; extras: string[] }> {
  const resolved = resolveWeights(cfg, file.header);
  const w = allocWeights(gpu, cfg, dtype);
  const targets = weightTargets(cfg, w);
  const total = targets.reduce((a, [n]) => a + byteLen(file, resolved.names.get(n)!), 0);
  let done = 0;
  try {
    for (const [name, dst] of targets) {
      const fileName = resolved.names.get(name)!;
      if (resolved.normPlusOne && name.endsWith('norm')) {
        const vals = await file.readTensorF32(fileName);
        for (let i = 0; i < vals.length; i++) vals[i]! += 1;
        const { toF16Array } = await import('../gpu/f16.js');
        gpu.write(dst, dtype === 'f16' ? toF16Array(vals) : vals);
      } else {
        await file.uploadTensor(gpu, fileName, dst);
      }
      done += byteLen(file, fileName);
      onProgress?.(done, total, name);
    }
    await gpu.sync();
  } catch (e) {
    releaseWeights(gpu, w);
    throw e;
  }
  return { weights: w, extras: resolved.extras };
}

function byteLen(file: SafetensorsFile, name: string): number {
  const t = file.info(name);
  return t.end - t.begin;
}
