// safetensors format, pure (no Node APIs: works in a browser on a fetched ArrayBuffer).
// Layout: u64 little-endian N, N bytes of UTF-8 JSON header, then the byte buffer that the header's
// data_offsets index (relative to the buffer start). We validate every rule of the reference reader.
import { FapoolError } from '../gpu/errors.js';
import { f16Table, f32BitsToF16 } from '../gpu/f16.js';

/** A safetensors file that breaks the format, or a tensor that cannot be loaded. */
export class SafetensorsError extends FapoolError {}

export const ST_DTYPE_BYTES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
} as const;
export type StDType = keyof typeof ST_DTYPE_BYTES;
/** The dtypes we can load into f32/f16 GPU tensors; the others are listed but not loadable. */
export type FloatStDType = 'F32' | 'F16' | 'BF16';
export const LOADABLE_DTYPES: readonly StDType[] = ['F32', 'F16', 'BF16'];

export function isLoadable(d: StDType): d is FloatStDType {
  return d === 'F32' || d === 'F16' || d === 'BF16';
}

/** The reference reader refuses headers above 100 MB; so do we (a corrupt length must not allocate GBs). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  dtype: StDType;
  shape: number[];
  /** Absolute byte offsets in the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** 8 + N: absolute offset of the byte buffer. */
  headerSize: number;
  /** Tensors in header order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

function fail(msg: string): never {
  throw new SafetensorsError(`safetensors: ${msg}`);
}

/** Read and check N from the first 8 bytes. fileSize is the whole file's size. */
export function readHeaderLength(first8: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || first8.byteLength < 8) fail(`file of ${fileSize} bytes is too short for the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  if (n > BigInt(fileSize - 8)) fail(`header length ${n} exceeds the file size ${fileSize} (truncated or not a safetensors file)`);
  if (n < 2n) fail(`header length ${n} is too small for a JSON object`);
  return Number(n);
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parse and validate the JSON header (the N bytes after the length). fileSize (the whole file) bounds the
 * data offsets: every tensor must lie inside it and the byte buffer must be indexed without holes.
 */
export function parseHeaderJson(json: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerSize = 8 + json.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must start with '{', got ${JSON.stringify(text.slice(0, 20))}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('header must be a JSON object');

  const dataSize = fileSize - headerSize;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(entry);
      continue;
    }
    const t = `tensor '${name}'`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`${t}: entry must be an object`);
    const e = entry as Record<string, unknown>;
    for (const k of ['dtype', 'shape', 'data_offsets']) if (!(k in e)) fail(`${t}: missing '${k}'`);
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(ST_DTYPE_BYTES, dtype)) {
      fail(`${t}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(ST_DTYPE_BYTES).join(', ')})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      fail(`${t}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) {
      fail(`${t}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [b, en] = offs as [number, number];
    if (b > en) fail(`${t}: data_offsets begin ${b} > end ${en}`);
    let bytes = ST_DTYPE_BYTES[dtype as StDType];
    for (const d of shape as number[]) {
      bytes *= d;
      if (!Number.isSafeInteger(bytes)) fail(`${t}: shape [${shape}] is too large`);
    }
    if (en - b !== bytes) {
      fail(`${t}: ${dtype}[${shape}] needs ${bytes} bytes but data_offsets [${b}, ${en}] span ${en - b}`);
    }
    if (en > dataSize) {
      fail(`${t}: data_offsets end ${en} lies beyond the ${Math.max(dataSize, 0)}-byte data buffer (file truncated?)`);
    }
    tensors.set(name, { dtype: dtype as StDType, shape: [...(shape as number[])], begin: headerSize + b, end: headerSize + en });
  }

  // The byte buffer must be indexed exactly: no overlaps, no holes, nothing after the last tensor.
  const sorted = [...tensors].sort((x, y) => x[1].begin - y[1].begin || x[1].end - y[1].end);
  let pos = headerSize;
  let prev = '(header)';
  for (const [name, t] of sorted) {
    if (t.begin < pos) fail(`tensor '${name}' [${t.begin - headerSize}, ${t.end - headerSize}) overlaps tensor '${prev}'`);
    if (t.begin > pos) fail(`hole of ${t.begin - pos} bytes before tensor '${name}' (the data buffer must be fully indexed)`);
    pos = t.end;
    prev = name;
  }
  if (pos !== fileSize) {
    fail(`${fileSize - pos} trailing bytes after the last tensor '${prev}' (the data buffer must be fully indexed)`);
  }
  return { headerSize, tensors, metadata };
}

function checkMetadata(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`__metadata__ must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
    if (typeof s !== 'string') fail(`__metadata__['${k}'] must be a string, got ${JSON.stringify(s)}`);
    out[k] = s;
  }
  return out;
}

/**
 * Parse a safetensors header from a buffer that holds at least the first 8 + N bytes of the file.
 * fileSize defaults to the buffer's length (a whole file in memory).
 */
export function parseSafetensors(buf: Uint8Array | ArrayBuffer, fileSize?: number): SafetensorsHeader {
  const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  const size = fileSize ?? u8.byteLength;
  const n = readHeaderLength(u8, size);
  if (u8.byteLength < 8 + n) fail(`buffer of ${u8.byteLength} bytes does not hold the ${8 + n}-byte header`);
  return parseHeaderJson(u8.subarray(8, 8 + n), size);
}

// ---- writing -----------------------------------------------------------------------------------------

export interface HeaderEntry {
  name: string;
  dtype: StDType;
  shape: readonly number[];
}

export interface EncodedHeader {
  /** The first bytes of the file: u64 N + JSON padded with spaces to a multiple of 8. */
  bytes: Uint8Array;
  /** Absolute offsets of each tensor, in entry order. */
  tensors: Map<string, TensorInfo>;
  fileSize: number;
}

/** Header for tensors laid out back to back in entry order (so a writer can stream them). */
export function encodeSafetensorsHeader(entries: readonly HeaderEntry[], metadata: Record<string, string> = {}): EncodedHeader {
  // Null prototype: tensor names like 'valueOf' or '__proto__' are ordinary keys, not Object.prototype members.
  const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Object.keys(metadata).length) obj.__metadata__ = checkMetadata(metadata);
  let off = 0;
  const rel: [string, StDType, number[], number, number][] = [];
  for (const e of entries) {
    if (e.name === '__metadata__' || Object.prototype.hasOwnProperty.call(obj, e.name)) fail(`duplicate or reserved tensor name '${e.name}'`);
    if (!Object.prototype.hasOwnProperty.call(ST_DTYPE_BYTES, e.dtype)) fail(`tensor '${e.name}': unknown dtype ${e.dtype}`);
    if (!e.shape.every(isNonNegInt)) fail(`tensor '${e.name}': invalid shape [${e.shape}]`);
    const bytes = e.shape.reduce((a, d) => a * d, ST_DTYPE_BYTES[e.dtype]);
    obj[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [off, off + bytes] };
    rel.push([e.name, e.dtype, [...e.shape], off, off + bytes]);
    off += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const n = Math.ceil(json.byteLength / 8) * 8; // 8-aligned data start, as the reference writer pads
  if (n > MAX_HEADER_BYTES) fail(`header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const bytes = new Uint8Array(8 + n).fill(0x20);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  bytes.set(json, 8);
  const tensors = new Map<string, TensorInfo>();
  for (const [name, dtype, shape, b, e] of rel) tensors.set(name, { dtype, shape, begin: 8 + n + b, end: 8 + n + e });
  return { bytes, tensors, fileSize: 8 + n + off };
}

// ---- element conversion (file dtype → GPU dtype), chunk by chunk -------------------------------------

let bf16ToF16Table: Uint16Array | null = null;
const cvt = new Float32Array(1);
const cvtU = new Uint32Array(cvt.buffer);

/** f32 value → f16 bits, round to nearest even. */
export function f32ToF16Fast(v: number): number {
  cvt[0] = v;
  return f32BitsToF16(cvtU[0]!);
}

/** f32 value → bf16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(v: number): number {
  cvt[0] = v;
  const x = cvtU[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function u16View(src: Uint8Array): Uint16Array {
  if (src.byteOffset % 2 || src.byteLength % 2) fail(`chunk of ${src.byteLength} bytes at offset ${src.byteOffset} is not 2-byte aligned`);
  return new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
}
function u32View(src: Uint8Array): Uint32Array {
  if (src.byteOffset % 4 || src.byteLength % 4) fail(`chunk of ${src.byteLength} bytes at offset ${src.byteOffset} is not 4-byte aligned`);
  return new Uint32Array(src.buffer, src.byteOffset, src.byteLength / 4);
}

/**
 * Convert raw little-endian file elements (F32/F16/BF16) into `dst`: a Float32Array (f32) or a
 * Uint16Array of f16 bits. dst.length must equal the element count of src. Assumes a little-endian host.
 */
export function convertElements(src: Uint8Array, srcDtype: FloatStDType, dst: Float32Array | Uint16Array): void {
  const n = src.byteLength / ST_DTYPE_BYTES[srcDtype];
  if (n !== dst.length) fail(`convert: ${n} source elements into ${dst.length}`);
  if (dst instanceof Float32Array) {
    if (srcDtype === 'F32') { dst.set(new Float32Array(u32View(src).buffer, src.byteOffset, n)); return; }
    const s = u16View(src);
    if (srcDtype === 'BF16') {
      const d = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) d[i] = s[i]! << 16;
      return;
    }
    const tab = f16Table();
    for (let i = 0; i < n; i++) dst[i] = tab[s[i]!]!;
    return;
  }
  if (srcDtype === 'F16') { dst.set(u16View(src)); return; }
  if (srcDtype === 'F32') {
    const s = u32View(src);
    for (let i = 0; i < n; i++) dst[i] = f32BitsToF16(s[i]!);
    return;
  }
  const s = u16View(src);
  const tab = (bf16ToF16Table ??= buildBf16ToF16Table());
  for (let i = 0; i < n; i++) dst[i] = tab[s[i]!]!;
}

function buildBf16ToF16Table(): Uint16Array {
  const t = new Uint16Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f32BitsToF16((h << 16) >>> 0);
  return t;
}
