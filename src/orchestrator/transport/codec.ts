// The FA Pool wire codec: one msgpack header frame + raw tensor frames (never inside msgpack), as vLLM does.
// decodeMessage treats every byte as hostile: it bounds the msgpack before parsing, checks every field through
// the message schemas, and sizes nothing by what the header claims until the frame's real byte length agrees.
import { pack, unpack } from 'msgpackr';
import {
  FRAME_DTYPE_BYTES, FrameError, PROTOCOL_VERSION, checkHeader, type FrameDType, type FrameDesc, type Message, type MessageKind, type TensorFrame,
} from './messages.js';
import { describe, isRecord, own } from './schema.js';

export interface DecodeLimits {
  /** Largest header frame in bytes (default 1 MiB). */
  maxHeaderBytes?: number;
  /** Largest element count of one tensor frame (default 1<<28). */
  maxNumel?: number;
  /** Most tensor frames in one message (default 1<<16). */
  maxFrames?: number;
}
const DEFAULT_LIMITS: Required<DecodeLimits> = { maxHeaderBytes: 1 << 20, maxNumel: 1 << 28, maxFrames: 1 << 16 };
const MAX_RANK = 4;
const MAX_DEPTH = 8;
const MAX_STRING = 1 << 16; // error messages are cut to ERROR_MESSAGE_MAX before sending

type Obj = Record<string, unknown>;
const fmt = (d: FrameDesc) => `${d.dtype}[${d.shape.join(', ')}]`;

// ---------------------------------------------------------------- msgpack pre-scan

/** Bytes that follow a fixed-size msgpack type byte (floats and ints); 0 where the type is not one of them. */
const FIXED_SIZE = new Uint8Array(256);
for (const [t, n] of [[0xca, 4], [0xcb, 8], [0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8], [0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8]] as const) FIXED_SIZE[t] = n;
/** "__proto__" in latin1: a map key that must never reach an object. */
const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

/**
 * Walks a msgpack buffer without building anything, so a hostile header cannot make msgpackr allocate, recurse
 * deeply or decode extensions: only nil/bool/int/float/str/array/map with string keys, nesting ≤ MAX_DEPTH,
 * every length within the bytes left, nothing after the value. Returns silently or throws FrameError.
 * It runs on every message (twice per pool hop and layer): no allocation, no closures, table lookups.
 */
function prescan(b: Uint8Array): void {
  const end = prescanValue(b, 0, 0, false);
  if (end !== b.length) throw new FrameError(`header has ${b.length - end} bytes after the msgpack value`);
}

function truncated(p: number): never { throw new FrameError(`header msgpack truncated at byte ${p}`); }

/** A big-endian length of `bytes` bytes at p (bounds already checked). */
function readLen(b: Uint8Array, p: number, bytes: 1 | 2 | 4): number {
  return bytes === 1 ? b[p]! : bytes === 2 ? (b[p]! << 8) | b[p + 1]! : ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Checks the value at p; returns the offset after it. */
function prescanValue(b: Uint8Array, p: number, depth: number, isKey: boolean): number {
  if (depth > MAX_DEPTH) throw new FrameError(`header msgpack nested deeper than ${MAX_DEPTH}`);
  if (p >= b.length) truncated(p);
  const t = b[p++]!;
  let strLen = -1;
  if (t >= 0xa0 && t <= 0xbf) strLen = t & 0x1f;
  else if (t >= 0xd9 && t <= 0xdb) {
    const w = t === 0xd9 ? 1 : t === 0xda ? 2 : 4;
    if (w > b.length - p) truncated(p);
    strLen = readLen(b, p, w);
    p += w;
  }
  if (strLen >= 0) {
    if (strLen > MAX_STRING) throw new FrameError(`header string of ${strLen} bytes exceeds ${MAX_STRING}`);
    if (strLen > b.length - p) truncated(p);
    if (isKey && strLen === 9 && PROTO_KEY.every((c, i) => b[p + i] === c)) throw new FrameError('header key __proto__ is not allowed');
    return p + strLen;
  }
  if (isKey) throw new FrameError(`header map key of msgpack type 0x${t.toString(16)} (only string keys)`);
  if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return p; // fixint, nil, bool
  const fixed = FIXED_SIZE[t]!;
  if (fixed > 0) {
    if (fixed > b.length - p) truncated(p);
    return p + fixed;
  }
  let n = -1, perItem = 1;
  if (t >= 0x90 && t <= 0x9f) n = t & 0x0f;
  else if (t >= 0x80 && t <= 0x8f) { n = t & 0x0f; perItem = 2; }
  else if (t === 0xdc || t === 0xdd || t === 0xde || t === 0xdf) {
    const w = t === 0xdc || t === 0xde ? 2 : 4;
    if (w > b.length - p) truncated(p);
    n = readLen(b, p, w);
    p += w;
    if (t >= 0xde) perItem = 2;
  }
  if (n < 0) throw new FrameError(`header msgpack type 0x${t.toString(16)} not allowed (bin/ext/reserved)`);
  if (n * perItem > b.length - p) truncated(p); // every item takes at least one byte: a lying length fails here, before any work
  for (let i = 0; i < n; i++) {
    if (perItem === 2) p = prescanValue(b, p, depth + 1, true);
    p = prescanValue(b, p, depth + 1, false);
  }
  return p;
}

function frameDesc(d: unknown, i: number, limits: Required<DecodeLimits>): FrameDesc {
  if (!isRecord(d)) throw new FrameError(`frame ${i}: descriptor must be {dtype, shape}`);
  const dtype = own(d, 'dtype');
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'u32') throw new FrameError(`frame ${i}: unknown dtype ${describe(dtype)}`);
  const shape = own(d, 'shape');
  if (!Array.isArray(shape) || shape.length > MAX_RANK) throw new FrameError(`frame ${i}: shape must be an array of at most ${MAX_RANK} dims, got ${describe(shape)}`);
  let n = 1;
  for (const s of shape) {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw new FrameError(`frame ${i}: bad dimension ${describe(s)} in shape ${describe(shape)}`);
    n *= s;
  }
  if (n > limits.maxNumel) throw new FrameError(`frame ${i}: shape ${describe(shape)} has ${n} elements, over the limit ${limits.maxNumel}`);
  return { dtype, shape: shape as number[] };
}

// ---------------------------------------------------------------- encode / decode

const ARRAY_OF: Record<FrameDType, typeof Float32Array | typeof Uint16Array | typeof Uint32Array> = {
  f32: Float32Array, f16: Uint16Array, u32: Uint32Array,
};

function checkTensor(t: TensorFrame, i: number): FrameDesc {
  const d = frameDesc({ dtype: t.dtype, shape: t.shape }, i, DEFAULT_LIMITS);
  if (!(t.data instanceof ARRAY_OF[d.dtype])) throw new FrameError(`tensor ${i}: ${d.dtype} data must be a ${ARRAY_OF[d.dtype].name}`);
  const n = d.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new FrameError(`tensor ${i}: ${fmt(d)} needs ${n} elements, data has ${t.data.length}`);
  return d;
}

/**
 * Validates a message without encoding it (the in-process link's check): header fields, and tensors against
 * their dtype/shape. Returns the header typed, with `frames` filled in.
 */
export function validateMessage(header: object, tensors: readonly TensorFrame[] = []): Message {
  const frames = tensors.map(checkTensor);
  return checkHeader({ ...(header as Obj), frames }, frames);
}

/**
 * Validates a header for tensors of these shapes before their contents exist (a request prepared ahead of its
 * data: RankLink.prepare). Returns the header typed, with `frames` filled in; checkTensorsFit checks the tensors later.
 */
export function validateHeader(header: object, frames: readonly FrameDesc[]): Message {
  // Copies (the caller's shape arrays may change after prepare(); the header packed then must stay what was checked).
  const descs = frames.map((d, i) => { const f = frameDesc(d, i, DEFAULT_LIMITS); return { dtype: f.dtype, shape: [...f.shape] }; });
  return checkHeader({ ...(header as Obj), frames: descs }, descs);
}

/** Checks tensors against the frames a header was validated for (validateHeader): count, dtype, shape, data. */
export function checkTensorsFit(tensors: readonly TensorFrame[], frames: readonly FrameDesc[]): void {
  if (tensors.length !== frames.length) throw new FrameError(`${tensors.length} tensors for a header describing ${frames.length} frames`);
  tensors.forEach((t, i) => {
    const d = checkTensor(t, i), f = frames[i]!;
    if (d.dtype !== f.dtype || d.shape.length !== f.shape.length || d.shape.some((n, k) => n !== f.shape[k])) {
      throw new FrameError(`tensor ${i}: ${fmt(d)} does not match the frame ${fmt(f)} its header was prepared for`);
    }
  });
}

/** [msgpack header, ...tensor frames]; tensor frames are views of the tensors' memory (no copy). */
export function encodeMessage(header: object, tensors: readonly TensorFrame[] = []): Buffer[] {
  return packMessage(validateMessage(header, tensors), tensors);
}

/** encodeMessage for a header validateMessage returned for these tensors (a request is checked once, not twice). */
export function packMessage(h: Message, tensors: readonly TensorFrame[]): Buffer[] {
  return [packHeader(h), ...tensorParts(tensors)];
}

/** A validated header's msgpack frame (a view of msgpackr's buffer that later packs do not overwrite). */
export function packHeader(h: Message): Buffer {
  return pack(h);
}

/** The tensors' frames: views of their memory, no copy (their contents are read when ZeroMQ sends them). */
export function tensorParts(tensors: readonly TensorFrame[]): Buffer[] {
  return tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** Decodes the msgpack header alone, bounded; for recovering a request id from an otherwise bad message. */
export function decodeHeaderObject(part: Uint8Array, limits: DecodeLimits = {}): Obj {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  if (part.byteLength > lim.maxHeaderBytes) throw new FrameError(`header of ${part.byteLength} bytes exceeds ${lim.maxHeaderBytes}`);
  prescan(part);
  let h: unknown;
  try {
    h = unpack(part);
  } catch (e) {
    throw new FrameError(`header is not valid msgpack: ${(e as Error).message}`);
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new FrameError('header must be a msgpack map');
  return h as Obj;
}

/** A frame's bytes as a typed array: a view when aligned, else one copy of the real (already checked) bytes. */
function view(part: Uint8Array, dtype: FrameDType): TensorFrame['data'] {
  const A = ARRAY_OF[dtype];
  const n = part.byteLength / A.BYTES_PER_ELEMENT;
  if (part.byteOffset % A.BYTES_PER_ELEMENT === 0) return new A(part.buffer as ArrayBuffer, part.byteOffset, n);
  const copy = new Uint8Array(part.byteLength); // not part.slice(): on a Buffer that is a view
  copy.set(part);
  return new A(copy.buffer, 0, n);
}

/** Decodes and validates [header, ...frames]. Every protocol violation is a FrameError. */
export function decodeMessage(parts: readonly Uint8Array[], limits: DecodeLimits = {}): { header: Message; tensors: TensorFrame[] } {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  if (parts.length === 0) throw new FrameError('empty message: no header frame');
  if (parts.length - 1 > lim.maxFrames) throw new FrameError(`${parts.length - 1} tensor frames exceed the limit ${lim.maxFrames}`);
  for (const [i, p] of parts.entries()) {
    if (!(p instanceof Uint8Array)) throw new FrameError(`part ${i} is not a byte buffer`);
  }
  const h = decodeHeaderObject(parts[0]!, lim);
  const descs = own(h, 'frames') ?? [];
  if (!Array.isArray(descs)) throw new FrameError(`"frames" must be an array of {dtype, shape}, got ${describe(descs)}`);
  if (descs.length !== parts.length - 1) {
    throw new FrameError(`header describes ${descs.length} tensor frames, message has ${parts.length - 1}`);
  }
  const frames = descs.map((d, i) => {
    const fd = frameDesc(d, i, lim);
    const want = fd.shape.reduce((a, b) => a * b, 1) * FRAME_DTYPE_BYTES[fd.dtype];
    if (parts[i + 1]!.byteLength !== want) {
      throw new FrameError(`frame ${i}: ${fmt(fd)} needs ${want} bytes, got ${parts[i + 1]!.byteLength}`);
    }
    return fd;
  });
  const header = checkHeader(h, frames);
  const tensors = frames.map((fd, i) => ({ dtype: fd.dtype, shape: fd.shape, data: view(parts[i + 1]!, fd.dtype) }));
  return { header, tensors };
}

// ---------------------------------------------------------------- bare headers, recognised by their bytes

/**
 * A message with no fields but its kind (replies such as attend_ok, ok, pong) has one header per kind, frame shapes
 * and id. It is packed and checked once per kind and shapes, with the id in a 4-byte slot written per message, so
 * both ends make the same bytes: a rank sends such a reply without packing or checking a header again, and the base,
 * which knows the reply a request expects, recognises it by comparing bytes (decodeExpected) instead of scanning,
 * parsing and checking it (a worker's hop spends ≈ 0.2 ms in the codec, kernels-bench/NOTES.md session 22).
 */
export interface BareHeader { bytes: Buffer; header: Message }
interface BareTemplate { bytes: Buffer; idAt: number; kind: MessageKind; frames: FrameDesc[] }
const ID_SLOT = 0xfffffffe; // packs as 0xce + 4 bytes (msgpack uint32), whatever the real id
const bareTemplates = new Map<string, BareTemplate>();
const MAX_BARE_TEMPLATES = 256;

function bareTemplate(kind: MessageKind, frames: readonly FrameDesc[]): BareTemplate {
  const key = kind + frames.map(fmt).join('');
  let t = bareTemplates.get(key);
  if (t) return t;
  const h = validateHeader({ kind, v: PROTOCOL_VERSION, id: ID_SLOT }, frames); // the kind's frame checks, once
  const bytes = Buffer.from(pack(h));
  const slot = Buffer.from([0xce, 0xff, 0xff, 0xff, 0xfe]);
  const idAt = bytes.indexOf(slot) + 1;
  if (idAt === 0 || bytes.indexOf(slot, idAt) >= 0) throw new FrameError(`bare header of ${kind}: no single id slot in its msgpack`);
  if (bareTemplates.size >= MAX_BARE_TEMPLATES) bareTemplates.clear();
  const descs = (h as { frames: FrameDesc[] }).frames; // shared by every message made from it: frozen
  for (const d of descs) { Object.freeze(d.shape); Object.freeze(d); }
  bareTemplates.set(key, (t = { bytes, idAt, kind, frames: Object.freeze(descs) as FrameDesc[] }));
  return t;
}

/** The bare header of `kind` with `id` for frames of these shapes: its bytes and the header they decode to. */
export function bareHeader(kind: MessageKind, id: number, frames: readonly FrameDesc[]): BareHeader {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new FrameError(`${kind}.id must be a u32, got ${id}`);
  const t = bareTemplate(kind, frames);
  const bytes = Buffer.from(t.bytes);
  bytes.writeUInt32BE(id, t.idAt);
  return { bytes, header: { kind: t.kind, v: PROTOCOL_VERSION, id, frames: t.frames } as Message };
}

/** Whether a header body has no field but its kind (sent with a bare header). */
export function isBare(body: object): boolean {
  let n = 0;
  for (const k in body) if (Object.prototype.hasOwnProperty.call(body, k) && (++n > 1 || k !== 'kind')) return false;
  return n === 1;
}

/** A bare message (no header fields) packed: its header made from the template, the tensors checked against it. */
export function packBare(kind: MessageKind, id: number, tensors: readonly TensorFrame[]): Buffer[] {
  return [bareHeader(kind, id, tensors.map(checkTensor)).bytes, ...tensorParts(tensors)];
}

/**
 * The message of `parts` when its header is exactly `expected`'s bytes: the frames' byte lengths checked and the
 * tensors viewed, nothing parsed. null when the header differs (decode it in full: decodeMessage); FrameError when
 * it matches but the frames do not.
 */
export function decodeExpected(parts: readonly Uint8Array[], expected: BareHeader): { header: Message; tensors: TensorFrame[] } | null {
  const head = parts[0];
  if (!(head instanceof Uint8Array) || !expected.bytes.equals(head)) return null;
  const frames = expected.header.frames ?? [];
  if (parts.length !== frames.length + 1) throw new FrameError(`header describes ${frames.length} tensor frames, message has ${parts.length - 1}`);
  const tensors = frames.map((fd, i) => {
    const part = parts[i + 1]!, want = fd.shape.reduce((a, b) => a * b, 1) * FRAME_DTYPE_BYTES[fd.dtype];
    if (!(part instanceof Uint8Array) || part.byteLength !== want) throw new FrameError(`frame ${i}: ${fmt(fd)} needs ${want} bytes, got ${part?.byteLength}`);
    return { dtype: fd.dtype, shape: [...fd.shape], data: view(part, fd.dtype) }; // the header's descriptors are shared and frozen
  });
  return { header: expected.header, tensors };
}
