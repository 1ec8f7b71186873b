// Load safetensors weights without Node: from bytes in memory or a File/Blob the user chose. Same result
// as load-weights.ts (fused q/k/v rows, Gemma (w − 1) norms), through the pure parser in safetensors.ts;
// tensors stream to the GPU in chunks of at most STAGING_BYTES, so a large File is never read whole.
import { LimitError, ShapeError } from '../gpu/errors.js';
import { STAGING_BYTES, type Gpu } from '../gpu/gpu.js';
import { numel, shapeStr, type DType, type Tensor } from '../gpu/tensor.js';
import { toF16Array } from '../gpu/f16.js';
import type { ModelConfig } from './config.js';
import {
  MAX_HEADER_BYTES, SafetensorsError, ST_DTYPE_BYTES, convertElements, isLoadable, parseHeaderJson, readHeaderLength,
  type SafetensorsHeader, type TensorInfo,
} from './safetensors.js';
import { expectedWeights, resolveWeights } from './weight-names.js';
import { allocWeights, releaseWeights, weightTargets, type Weights } from './weights.js';

/** Random access to a file's bytes: [begin, end) comes back as a Uint8Array that the caller may keep. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(begin: number, end: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array, name = 'memory'): ByteSource {
  // slice (a copy) so every chunk starts 8-byte aligned whatever its offset in the file
  return { name, size: bytes.byteLength, read: async (b, e) => bytes.slice(b, e) };
}

/** A File or Blob (drag and drop, <input type=file>): read lazily, chunk by chunk. */
export function blobSource(blob: Blob, name = (blob as File).name ?? 'blob'): ByteSource {
  return { name, size: blob.size, read: async (b, e) => new Uint8Array(await blob.slice(b, e).arrayBuffer()) };
}

export async function readHeader(src: ByteSource): Promise<SafetensorsHeader> {
  try {
    const n = readHeaderLength(await src.read(0, Math.min(8, src.size)), src.size);
    if (n > MAX_HEADER_BYTES) throw new SafetensorsError(`header of ${n} bytes is too large`);
    return parseHeaderJson(await src.read(8, 8 + n), src.size);
  } catch (e) {
    if (e instanceof SafetensorsError) e.message = `${src.name}: ${e.message}`;
    throw e;
  }
}

/**
 * Check that the model fits the device before allocating anything: every weight tensor must fit one
 * storage binding (maxStorageBufferBindingSize) and one buffer (maxBufferSize).
 */
export function checkModelFits(gpu: Gpu, cfg: ModelConfig, dtype: DType): void {
  const el = dtype === 'f16' ? 2 : 4;
  const qkv = (cfg.nHeads + 2 * cfg.nKvHeads) * cfg.headDim;
  const shapes: [string, number[]][] = [
    ...expectedWeights(cfg).map((s) => [s.name, s.shape] as [string, number[]]),
    ['wqkv (fused)', [qkv, cfg.hidden]],
  ];
  const limit = Math.min(gpu.caps.maxStorageBinding, gpu.caps.maxBufferSize);
  for (const [name, shape] of shapes) {
    const bytes = numel(shape) * el;
    if (bytes > limit) {
      throw new LimitError(`model '${cfg.name}' is too big for this GPU: tensor '${name}' ${dtype}[${shape.join(', ')}] needs ` +
        `${bytes} bytes, but this device allows ${gpu.caps.maxStorageBinding} per storage binding ` +
        `(maxStorageBufferBindingSize) and ${gpu.caps.maxBufferSize} per buffer (maxBufferSize)`);
    }
  }
}

export interface BrowserLoadProgress { (doneBytes: number, totalBytes: number, name: string): void }

/** Upload one file tensor into dst (f32/f16, same shape), converting chunk by chunk. */
async function uploadTensor(gpu: Gpu, src: ByteSource, name: string, t: TensorInfo, dst: Tensor, plusOne: boolean): Promise<void> {
  if (!isLoadable(t.dtype)) throw new SafetensorsError(`${src.name}: tensor '${name}' has dtype ${t.dtype}; loadable: F32, F16, BF16`);
  if (dst.dtype !== 'f32' && dst.dtype !== 'f16') throw new ShapeError(`upload '${name}': destination ${shapeStr(dst)} must be f32 or f16`);
  if (dst.shape.length !== t.shape.length || dst.shape.some((d, i) => d !== t.shape[i])) {
    throw new ShapeError(`upload '${name}': file has ${t.dtype}[${t.shape.join(', ')}], destination is ${shapeStr(dst)}`);
  }
  const srcBytes = ST_DTYPE_BYTES[t.dtype];
  const total = numel(t.shape);
  // Multiples of 4 elements keep every f16 write 4-byte aligned (writeBuffer's rule).
  const per = Math.max(4, Math.floor(STAGING_BYTES / Math.max(srcBytes, 4) / 4) * 4);
  const f32 = new Float32Array(Math.min(per, total));
  const f16 = dst.dtype === 'f16' && !plusOne ? new Uint16Array(Math.min(per, total)) : null;
  for (let start = 0; start < total; start += per) {
    const n = Math.min(per, total - start);
    const raw = await src.read(t.begin + start * srcBytes, t.begin + (start + n) * srcBytes);
    if (f16) {
      convertElements(raw, t.dtype, f16.subarray(0, n));
      gpu.write(dst, f16.subarray(0, n), start);
      continue;
    }
    const v = f32.subarray(0, n);
    convertElements(raw, t.dtype, v);
    if (plusOne) for (let i = 0; i < n; i++) v[i]! += 1;
    gpu.write(dst, dst.dtype === 'f16' ? toF16Array(v) : v, start);
  }
}

/** Load a model's weights from a ByteSource onto the GPU as `dtype`. */
export async function loadWeightsFromSource(gpu: Gpu, src: ByteSource, cfg: ModelConfig, dtype: DType, onProgress?: BrowserLoadProgress,
  header?: SafetensorsHeader): Promise<{ weights: Weights; extras: string[] }> {
  const h = header ?? await readHeader(src);
  const resolved = resolveWeights(cfg, h);
  checkModelFits(gpu, cfg, dtype);
  const w = allocWeights(gpu, cfg, dtype);
  const targets = weightTargets(cfg, w);
  const info = (n: string) => h.tensors.get(resolved.names.get(n)!)!;
  const total = targets.reduce((a, [n]) => a + info(n).end - info(n).begin, 0);
  let done = 0;
  try {
    for (const [name, dst] of targets) {
      const t = info(name);
      await uploadTensor(gpu, src, resolved.names.get(name)!, t, dst, resolved.normPlusOne && name.endsWith('norm'));
      done += t.end - t.begin;
      onProgress?.(done, total, name);
    }
    await gpu.sync();
  } catch (e) {
    releaseWeights(gpu, w);
    throw e;
  }
  return { weights: w, extras: resolved.extras };
}
