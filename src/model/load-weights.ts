// Load safetensors weights onto one or several GPUs, in Node or a browser: the bytes come from a ByteSource (a
// file, a Blob, memory). Each file tensor is streamed once, in chunks of whole rows, converted to the GPU dtype
// once, and every piece of it goes to the device that holds it (q/k/v into their row blocks of the fused wqkv;
// a tensor-parallel rank's rows or columns). Gemma-style (w − 1) norm weights become w on the way. No host
// array exceeds STAGING_BYTES (dawn.node breaks after JS-filled arrays >= 64 MiB).
import { LimitError, NonFiniteError, ShapeError } from '../gpu/errors.js';
import { STAGING_BYTES, type Gpu } from '../gpu/gpu.js';
import { numel, type DType, type HostArray } from '../gpu/tensor.js';
import { findNonFinite, type NonFiniteHit } from '../kernels/finite.js';
import { MAX_HEAD_DIM } from '../kernels/attention.js';
import { ConfigError, type ModelConfig } from './config.js';
import {
  MAX_HEADER_BYTES, SafetensorsError, ST_DTYPE_BYTES, convertElements, isLoadable, parseHeaderJson, readHeaderLength,
  type SafetensorsHeader, type TensorInfo,
} from './safetensors.js';
import { expectedWeights, resolveWeights } from './weight-names.js';
import {
  allocWeights, complete, qkvRows, releaseWeights, tpShardConfig, weightPieces, wholeModel,
  type PartialWeights, type WeightPiece, type WeightShare, type Weights,
} from './weights.js';

/** Random access to a file's bytes: [begin, end) comes back as a Uint8Array that the caller may keep. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(begin: number, end: number): Promise<Uint8Array>;
  /** The safetensors header of these bytes where it is not at their start (a sharded checkpoint's merged one). */
  readonly header?: SafetensorsHeader;
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
  if (src.header) return src.header;
  try {
    const n = readHeaderLength(await src.read(0, Math.min(8, src.size)), src.size);
    if (n > MAX_HEADER_BYTES) throw new SafetensorsError(`header of ${n} bytes is too large`);
    return parseHeaderJson(await src.read(8, 8 + n), src.size);
  } catch (e) {
    if (e instanceof SafetensorsError) e.message = `${src.name}: ${e.message}`;
    throw e;
  }
}

/** The two limits every tensor must fit (a Gpu's caps, or an adapter's limits before any device exists). */
export interface BindingLimits { maxStorageBinding: number; maxBufferSize: number }

/** The most bytes one tensor may have under these limits. */
export function tensorLimit(l: BindingLimits): number { return Math.min(l.maxStorageBinding, l.maxBufferSize); }

/**
 * What the kernels serve, beyond a valid config (validateConfig): gated FFNs, and heads whose dim is a multiple of 4
 * up to MAX_HEAD_DIM (the attention kernels read heads as vec4 rows). Checked before anything is allocated.
 */
export function checkModelSupported(cfg: ModelConfig): void {
  if (!cfg.gatedFfn) throw new ConfigError(`model '${cfg.name}': only gated FFNs (gate, up, down) are supported`);
  if (cfg.headDim % 4 !== 0 || cfg.headDim > MAX_HEAD_DIM) {
    throw new ConfigError(`model '${cfg.name}': head dim ${cfg.headDim} is not supported: the attention kernels take a multiple of 4 up to ${MAX_HEAD_DIM}`);
  }
}

/**
 * Check that the model fits the device before allocating anything: every weight tensor must fit one
 * storage binding (maxStorageBufferBindingSize) and one buffer (maxBufferSize).
 */
export function checkModelFits(target: Gpu | BindingLimits, cfg: ModelConfig, dtype: DType): void {
  checkModelSupported(cfg);
  const caps: BindingLimits = 'caps' in target ? target.caps : target;
  const el = dtype === 'f16' ? 2 : 4;
  const shapes: [string, number[]][] = [
    ...expectedWeights(cfg).map((s) => [s.name, s.shape] as [string, number[]]),
    ['wqkv (fused)', [qkvRows(cfg), cfg.hidden]],
  ];
  const limit = tensorLimit(caps);
  for (const [name, shape] of shapes) {
    const bytes = numel(shape) * el;
    if (bytes > limit) {
      throw new LimitError(`model '${cfg.name}' is too big for this GPU: tensor '${name}' ${dtype}[${shape.join(', ')}] needs ` +
        `${bytes} bytes, but this device allows ${caps.maxStorageBinding} per storage binding ` +
        `(maxStorageBufferBindingSize) and ${caps.maxBufferSize} per buffer (maxBufferSize)`);
    }
  }
}

export interface LoadProgress { (doneBytes: number, totalBytes: number, name: string): void }

/** A piece on a given device. */
interface Placed extends WeightPiece { gpu: Gpu }

/** One device's share and the weights allocated for it. */
export interface DeviceShare { gpu: Gpu; share: WeightShare }

/** Load the whole model onto one device. */
export async function loadWeights(gpu: Gpu, src: ByteSource, cfg: ModelConfig, dtype: DType, onProgress?: LoadProgress,
  header?: SafetensorsHeader): Promise<{ weights: Weights; extras: string[] }> {
  const h = header ?? await readHeader(src);
  resolveWeights(cfg, h); // the file's shapes first: a mismatch is the clearer error
  checkModelFits(gpu, cfg, dtype);
  const { weights, extras } = await loadShares(src, cfg, dtype, [{ gpu, share: wholeModel(cfg) }], onProgress, h);
  return { weights: complete(weights[0]!), extras };
}

/**
 * Load each device's share of the model (static TP × PP ranks, or one device with all of it). A file tensor
 * is read once for all the devices that need a piece of it. All or nothing: a failure releases what was made.
 */
export async function loadShares(src: ByteSource, cfg: ModelConfig, dtype: DType, devices: readonly DeviceShare[],
  onProgress?: LoadProgress, header?: SafetensorsHeader): Promise<{ weights: PartialWeights[]; extras: string[] }> {
  checkModelSupported(cfg);
  const h = header ?? await readHeader(src);
  const resolved = resolveWeights(cfg, h);
  const weights: PartialWeights[] = [];
  try {
    for (const d of devices) weights.push(allocWeights(d.gpu, cfg, dtype, d.share));
    // Canonical name → its pieces over every device.
    const plan = new Map<string, Placed[]>();
    devices.forEach((d, i) => {
      for (const [name, p] of weightPieces(cfg, d.share, weights[i]!)) {
        let l = plan.get(name);
        if (!l) plan.set(name, (l = []));
        l.push({ ...p, gpu: d.gpu });
      }
    });
    const info = (name: string) => h.tensors.get(resolved.names.get(name)!)!;
    const total = [...plan.keys()].reduce((a, n) => a + info(n).end - info(n).begin, 0);
    let done = 0;
    for (const [name, pieces] of plan) {
      const fileName = resolved.names.get(name)!;
      await uploadPieces(src, fileName, info(name), pieces, { plusOne: resolved.normPlusOne && name.endsWith('norm') });
      done += info(name).end - info(name).begin;
      onProgress?.(done, total, name);
    }
    await checkFinite(src, plan, resolved.names, (name) => info(name));
    await Promise.all([...new Set(devices.map((d) => d.gpu))].map((g) => g.sync()));
  } catch (e) {
    weights.forEach((w, i) => releaseWeights(devices[i]!.gpu, w));
    throw e;
  }
  return { weights, extras: resolved.extras };
}

/**
 * NaN or ±Inf in the weights (as they are on the GPU: an f32 value beyond f16's range became Inf on the way)
 * would give wrong tokens with no error: one GPU scan per piece, one read-back per device, an error naming the
 * tensor, the element and, for an overflow, the file's value.
 */
async function checkFinite(src: ByteSource, plan: Map<string, Placed[]>, names: Map<string, string>, info: (name: string) => TensorInfo): Promise<void> {
  const byGpu = new Map<Gpu, { name: string; piece: Placed; range: { tensor: Placed['dst']; start: number; count: number; what: string } }[]>();
  for (const [name, pieces] of plan) {
    for (const piece of pieces) {
      let l = byGpu.get(piece.gpu);
      if (!l) byGpu.set(piece.gpu, (l = []));
      l.push({ name, piece, range: { tensor: piece.dst, start: piece.dstRow * piece.cols, count: piece.rows * piece.cols, what: name } });
    }
  }
  const hits: { name: string; piece: Placed; hit: NonFiniteHit }[] = [];
  for (const [gpu, items] of byGpu) {
    const found = await findNonFinite(gpu, items.map((i) => i.range));
    for (const hit of found) {
      const item = items.find((i) => i.range === hit.range)!;
      hits.push({ name: item.name, piece: item.piece, hit });
    }
  }
  if (hits.length === 0) return;
  const { name, piece, hit } = hits[0]!;
  const fileName = names.get(name)!, t = info(name);
  const C = t.shape[t.shape.length - 1] ?? 1;
  const row = piece.row0 + Math.floor(hit.first / piece.cols), col = piece.col0 + (hit.first % piece.cols);
  const at = row * C + col;
  const where = t.shape.length >= 2 ? `element ${at} (row ${row}, column ${col})` : `element ${at}`;
  let why = '';
  if (isLoadable(t.dtype)) {
    const es = ST_DTYPE_BYTES[t.dtype];
    const v = new Float32Array(1);
    convertElements(await src.read(t.begin + at * es, t.begin + (at + 1) * es), t.dtype, v);
    if (Number.isFinite(v[0]!)) why = `: the file holds ${v[0]}, beyond f16's range (±65504); load it with --dtype f32`;
  }
  const others = [...new Set(hits.slice(1).map((h) => names.get(h.name)!).filter((n) => n !== fileName))];
  const count = hits.filter((h) => h.name === name).reduce((a, h) => a + h.hit.count, 0);
  throw new NonFiniteError(`${src.name}: tensor '${fileName}' has ${count} non-finite value${count === 1 ? '' : 's'} (NaN or ±Inf), the first at ${where}${why}` +
    `${others.length ? `; ${others.length} other tensor${others.length === 1 ? '' : 's'} too: ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}` : ''}`);
}

/**
 * Stream a [R, C] (or [C]) file tensor in chunks of whole rows (a multiple of 4 rows, so chunk byte sizes stay
 * multiples of 8 and f16 writes start 4-byte aligned), convert each chunk to the GPU dtype once, and write each
 * piece's rows / column block to its device. Column blocks are gathered into one contiguous host array per
 * chunk: one write per chunk, not one per row. `plusOne` adds 1 to every value (Gemma's (w − 1) norms).
 */
export async function uploadPieces(src: ByteSource, fileName: string, t: TensorInfo, pieces: readonly Placed[],
  o: { plusOne?: boolean; chunkBytes?: number } = {}): Promise<void> {
  if (!isLoadable(t.dtype)) throw new SafetensorsError(`${src.name}: tensor '${fileName}' has dtype ${t.dtype}; loadable: F32, F16, BF16`);
  const dtype = pieces[0]!.dst.dtype;
  for (const p of pieces) {
    if (p.dst.dtype !== 'f32' && p.dst.dtype !== 'f16') throw new ShapeError(`upload '${fileName}': destination must be f32 or f16, got ${p.dst.dtype}`);
    if (p.dst.dtype !== dtype) throw new ShapeError(`upload '${fileName}': pieces differ in dtype`);
  }
  let C = t.shape[t.shape.length - 1] ?? 1;
  let R = t.shape.length <= 1 ? 1 : numel(t.shape) / C;
  if (pieces.every((p) => p.cols === C)) {
    // Whole rows only: stream it as a flat run of elements (chunks need not hold whole rows).
    pieces = pieces.map((p) => ({ ...p, row0: p.row0 * C, rows: p.rows * C, dstRow: p.dstRow * C, cols: 1 }));
    R *= C;
    C = 1;
  }
  const srcBytes = ST_DTYPE_BYTES[t.dtype];
  const budget = Math.min(o.chunkBytes ?? STAGING_BYTES, STAGING_BYTES);
  const rowsPer = Math.min(Math.floor(budget / (C * Math.max(srcBytes, 4)) / 4) * 4, Math.ceil(R / 4) * 4);
  if (rowsPer < 4) throw new LimitError(`${fileName}: rows of ${C} elements are too long to stream in ${budget}-byte chunks`);
  const n = Math.min(rowsPer, R) * C;
  const f32 = new Float32Array(n);
  const host: HostArray = dtype === 'f32' ? f32 : new Uint16Array(n);
  const maxCols = Math.max(0, ...pieces.filter((p) => p.cols !== C).map((p) => p.cols));
  const gather: HostArray | null = maxCols ? (dtype === 'f32' ? new Float32Array(rowsPer * maxCols) : new Uint16Array(rowsPer * maxCols)) : null;
  for (let r0 = 0; r0 < R; r0 += rowsPer) {
    const nr = Math.min(rowsPer, R - r0);
    const raw = await src.read(t.begin + r0 * C * srcBytes, t.begin + (r0 + nr) * C * srcBytes);
    const vals = host.subarray(0, nr * C) as Float32Array | Uint16Array;
    if (o.plusOne) {
      const v = f32.subarray(0, nr * C);
      convertElements(raw, t.dtype, v);
      for (let i = 0; i < v.length; i++) v[i]! += 1;
      if (vals !== v) convertElements(new Uint8Array(v.buffer, 0, v.byteLength), 'F32', vals);
    } else {
      convertElements(raw, t.dtype, vals);
    }
    for (const p of pieces) {
      const a = Math.max(r0, p.row0), b = Math.min(r0 + nr, p.row0 + p.rows);
      if (a >= b) continue;
      const dstElem = (p.dstRow + a - p.row0) * p.cols;
      if (p.cols === C) {
        p.gpu.write(p.dst, vals.subarray((a - r0) * C, (b - r0) * C), dstElem);
        continue;
      }
      const g = gather!.subarray(0, (b - a) * p.cols) as Float32Array | Uint16Array;
      for (let r = a; r < b; r++) {
        const s = (r - r0) * C + p.col0;
        g.set(vals.subarray(s, s + p.cols), (r - a) * p.cols);
      }
      p.gpu.write(p.dst, g, dstElem);
    }
  }
}

/** The weights of one tensor-parallel rank, for tests and tools: its config and share. */
export function shareConfig(cfg: ModelConfig, share: WeightShare): ModelConfig {
  return { ...tpShardConfig(cfg, share.tpSize), nLayers: share.layers.length };
}
