// safetensors on Node: open a file reading only its header, stream tensors in chunks, upload them to
// the GPU with on-the-fly dtype conversion, and write files in streaming fashion.
// Host buffers stay <= STAGING_BYTES (32 MiB): dawn.node breaks after JS-filled arrays >= 64 MiB.
import { constants, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ShapeError } from '../gpu/errors.js';
import { STAGING_BYTES, type Gpu } from '../gpu/gpu.js';
import { numel, shapeStr, type Tensor } from '../gpu/tensor.js';
import { notAFile } from './file-why.js';
import { uploadPieces, type ByteSource } from './load-weights.js';
import { unreadableWhy } from './local-file.js';
import {
  SafetensorsError, ST_DTYPE_BYTES, convertElements, encodeSafetensorsHeader, isLoadable, parseHeaderJson,
  readHeaderLength, type SafetensorsHeader, type StDType, type TensorInfo,
} from './safetensors.js';

export type ChunkCallback = (chunk: Uint8Array, byteOffset: number) => void | Promise<void>;

export class SafetensorsFile {
  private staging: Uint8Array | null = null;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly header: SafetensorsHeader,
  ) {}

  /** Read and validate the header only (never the whole file); the data offsets are checked against the real size. */
  static async open(path: string): Promise<SafetensorsFile> {
    // Without blocking: a FIFO's open waits for a writer, for good (not even SIGTERM ended the process: its exit waits
    // for the blocked open). Then only a regular file is read.
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
      .catch((e: unknown) => { throw new SafetensorsError(`${path} cannot be opened: ${unreadableWhy(path, e)}`); });
    try {
      const st = await fh.stat();
      const kind = notAFile(st);
      if (kind) throw new SafetensorsError(`${path} is ${kind}, not a safetensors file`);
      const { size } = st;
      const first = new Uint8Array(Math.min(8, size));
      await readExactly(fh, first, 0, path);
      const n = readHeaderLength(first, size);
      const json = new Uint8Array(n);
      await readExactly(fh, json, 8, path);
      return new SafetensorsFile(path, fh, size, parseHeaderJson(json, size));
    } catch (e) {
      await fh.close();
      if (e instanceof SafetensorsError && !e.message.startsWith(path)) e.message = `${path}: ${e.message}`;
      throw e;
    }
  }

  get tensors(): Map<string, TensorInfo> { return this.header.tensors; }
  get metadata(): Record<string, string> { return this.header.metadata; }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new SafetensorsError(`${this.path}: no tensor '${name}'`);
    return t;
  }

  /**
   * Stream a tensor's raw bytes in chunks of at most chunkBytes (<= 32 MiB, rounded down to a multiple of 8).
   * The chunk view is reused: it is valid only until the callback returns (or its promise settles).
   */
  async readTensorChunks(name: string, chunkBytes: number, cb: ChunkCallback): Promise<void> {
    const t = this.info(name);
    const step = Math.max(8, Math.floor(Math.min(chunkBytes, STAGING_BYTES) / 8) * 8);
    const total = t.end - t.begin;
    const buf = this.stagingBuffer(Math.min(step, total));
    for (let off = 0; off < total; off += step) {
      const n = Math.min(step, total - off);
      const view = buf.subarray(0, n);
      await readExactly(this.fh, view, t.begin + off, this.path);
      await cb(view, off);
    }
  }

  /** A small tensor as float32 values (for norms and tests); refuses tensors above 32 MiB as f32. */
  async readTensorF32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    if (!isLoadable(t.dtype)) throw new SafetensorsError(`${this.path}: tensor '${name}' has dtype ${t.dtype}; loadable: F32, F16, BF16`);
    const n = numel(t.shape);
    if (n * 4 > STAGING_BYTES) throw new SafetensorsError(`${this.path}: tensor '${name}' is too large to read whole (${n} elements); stream it`);
    const out = new Float32Array(n);
    const es = ST_DTYPE_BYTES[t.dtype];
    const dtype = t.dtype;
    await this.readTensorChunks(name, STAGING_BYTES, (chunk, off) => {
      convertElements(chunk, dtype, out.subarray(off / es, off / es + chunk.byteLength / es));
    });
    return out;
  }

  /**
   * Upload a tensor into dst (f32 or f16, same shape), converting chunk by chunk through gpu.write.
   * chunkBytes (<= 32 MiB) bounds the host staging; smaller values are for tests.
   */
  async uploadTensor(gpu: Gpu, name: string, dst: Tensor, chunkBytes = STAGING_BYTES): Promise<void> {
    const t = this.info(name);
    if (dst.shape.length !== t.shape.length || dst.shape.some((d, i) => d !== t.shape[i])) {
      throw new ShapeError(`upload '${name}': file has ${t.dtype}[${t.shape.join(', ')}], destination is ${shapeStr(dst)}`);
    }
    const cols = t.shape[t.shape.length - 1] ?? 1;
    const rows = numel(t.shape) / Math.max(cols, 1);
    await uploadPieces(this.source(), name, t, [{ gpu, dst, row0: 0, rows, col0: 0, cols, dstRow: 0 }], { chunkBytes });
  }

  /** The file's bytes for the weight loader (reads are copies the caller may keep). */
  source(): ByteSource {
    return {
      name: this.path, size: this.fileSize,
      read: async (begin, end) => {
        const out = new Uint8Array(end - begin);
        await readExactly(this.fh, out, begin, this.path);
        return out;
      },
    };
  }

  async close(): Promise<void> {
    this.staging = null;
    await this.fh.close();
  }

  private stagingBuffer(bytes: number): Uint8Array {
    if (!this.staging || this.staging.byteLength < bytes) this.staging = new Uint8Array(Math.max(bytes, 8));
    return this.staging;
  }
}

export function openSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}

async function readExactly(fh: FileHandle, dst: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < dst.byteLength) {
    const { bytesRead } = await fh.read(dst, done, dst.byteLength - done, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(`${path}: unexpected end of file at byte ${position + done} (file truncated or changed while reading)`);
    }
    done += bytesRead;
  }
}

// ---- streaming writer ---------------------------------------------------------------------------------

/** The host array that holds raw elements of a file dtype (f16/bf16 as bits). */
export type RawArray = Float32Array | Float64Array | Uint16Array | Int16Array | Uint32Array | Int32Array |
  Uint8Array | Int8Array | BigInt64Array | BigUint64Array;

export function rawArrayFor(dtype: StDType, buf: ArrayBuffer, n: number): RawArray {
  switch (dtype) {
    case 'F64': return new Float64Array(buf, 0, n);
    case 'F32': return new Float32Array(buf, 0, n);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(buf, 0, n);
    case 'I16': return new Int16Array(buf, 0, n);
    case 'U32': return new Uint32Array(buf, 0, n);
    case 'I32': return new Int32Array(buf, 0, n);
    case 'I64': return new BigInt64Array(buf, 0, n);
    case 'U64': return new BigUint64Array(buf, 0, n);
    case 'I8': return new Int8Array(buf, 0, n);
    default: return new Uint8Array(buf, 0, n);
  }
}

export interface WriteEntry {
  name: string;
  dtype: StDType;
  shape: readonly number[];
  /** Fill raw elements [startElem, startElem + chunk.length) (f16/bf16 as bits). */
  fill(chunk: RawArray, startElem: number): void;
}

export interface WriteOptions {
  /** Bytes generated per chunk, <= 32 MiB (default 16 MiB). */
  chunkBytes?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/**
 * Write a safetensors file chunk by chunk: two reused buffers, so generating one chunk overlaps
 * writing the other. Writes to a temporary name and renames on success (no half-written file at `path`).
 */
export async function writeSafetensors(
  path: string, entries: readonly WriteEntry[], metadata: Record<string, string> = {}, opts: WriteOptions = {},
): Promise<{ bytes: number }> {
  const header = encodeSafetensorsHeader(entries, metadata);
  const chunk = Math.max(8, Math.floor(Math.min(opts.chunkBytes ?? 16 * 1024 * 1024, STAGING_BYTES) / 8) * 8);
  // Per write, not per process: two writes of one file at once (two createEngine() calls) shared a temp and one rename failed.
  const tmp = `${path}.tmp-${process.pid}-${++tempWrites}`;
  sweepStaleTemps(dirname(path));
  const fh = await open(tmp, 'w');
  const untrack = trackTemp(tmp);
  const bufs = [new ArrayBuffer(chunk), new ArrayBuffer(chunk)];
  let pending: Promise<unknown> = Promise.resolve();
  let pos = 0;
  let which = 0;
  const total = header.fileSize;
  try {
    await writeAll(fh, header.bytes, 0);
    pos = header.bytes.byteLength;
    opts.onProgress?.(pos, total);
    for (const e of entries) {
      const es = ST_DTYPE_BYTES[e.dtype];
      const n = e.shape.reduce((a, d) => a * d, 1);
      const per = Math.floor(chunk / es);
      for (let start = 0; start < n; start += per) {
        const m = Math.min(per, n - start);
        const buf = bufs[which]!;
        which ^= 1;
        e.fill(rawArrayFor(e.dtype, buf, m), start); // overlaps the write still in flight on the other buffer
        await pending;
        const at = pos;
        pos += m * es;
        const done = pos;
        pending = writeAll(fh, new Uint8Array(buf, 0, m * es), at).then(() => opts.onProgress?.(done, total));
      }
    }
    await pending;
    if (pos !== total) throw new SafetensorsError(`writer: wrote ${pos} bytes, header promised ${total}`);
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await pending.catch(() => undefined);
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  } finally {
    untrack();
  }
  return { bytes: total };
}

// ---- temporary files: removed on exit and on SIGINT/SIGTERM; those of dead processes swept ---------------

const temps = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let exitHook = false;

function removeTemps(): void {
  for (const t of temps) { try { rmSync(t, { force: true }); } catch { /* gone already */ } }
  temps.clear();
}

/** On a signal: remove the temporary files; when nothing else handles the signal, die of it as before. */
function onSignal(signal: NodeJS.Signals): void {
  removeTemps();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Keeps `tmp` for removal until the returned function is called (a multi-GB half-written file must not stay). */
function trackTemp(tmp: string): () => void {
  if (!exitHook) { exitHook = true; process.on('exit', removeTemps); }
  if (temps.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  temps.add(tmp);
  return () => {
    temps.delete(tmp);
    if (temps.size === 0) for (const s of SIGNALS) process.removeListener(s, onSignal);
  };
}

const TEMP_NAME = /\.safetensors\.tmp-(\d+)(?:-\d+)?$/;
/** Writes this process has started: the temp name's second number. */
let tempWrites = 0;

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Removes `*.safetensors.tmp-PID[-N]` files in `dir` whose writer is gone: no process with that pid, and not
 * modified for minAgeMs (a writer on another host sharing the folder keeps its file fresh). Returns what it removed.
 */
export function sweepStaleTemps(dir: string, minAgeMs = 30_000): string[] {
  const removed: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return removed; }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const file = join(dir, name);
    if (pid === process.pid ? temps.has(file) : alive(pid)) continue;
    try {
      const st = statSync(file);
      if (!st.isFile() || Date.now() - st.mtimeMs < minAgeMs) continue;
      rmSync(file, { force: true });
      removed.push(basename(file));
    } catch { /* raced with its owner or another sweeper */ }
  }
  return removed;
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}
