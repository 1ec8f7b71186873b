// The FA Pool wire protocol: one msgpack header frame + raw tensor frames (never inside msgpack), as vLLM does.
// decodeMessage treats every byte as hostile: it bounds the msgpack before parsing, checks every field, and
// sizes nothing by what the header claims until the frame's real byte length agrees.
import { pack, unpack } from 'msgpackr';
import { FapoolError } from '../gpu/errors.js';

/** A message that breaks the protocol (bad msgpack, unknown kind, missing field, frame not matching its header). */
export class FrameError extends FapoolError {}

export const PROTOCOL_VERSION = 1;

export type FrameDType = 'f32' | 'f16' | 'u32';
export const FRAME_DTYPE_BYTES: Record<FrameDType, number> = { f32: 4, f16: 2, u32: 4 };

/** A tensor payload. f16 travels as raw bits in a Uint16Array. */
export interface TensorFrame { dtype: FrameDType; shape: number[]; data: Float32Array | Uint16Array | Uint32Array }
export interface FrameDesc { dtype: FrameDType; shape: number[] }

export type Range = [number, number];

interface Base { v: 1; id: number; frames?: FrameDesc[] }
export interface HelloMsg extends Base { kind: 'hello' }
export interface HelloOkMsg extends Base { kind: 'hello_ok'; rank: number; device: string; pid: number }
export interface AllocMsg extends Base {
  kind: 'alloc'; seq: number; nLayers: number; kvHeads: Range; headDim: number; capacity: number;
  dtype: 'f32' | 'f16'; nHeadsPerKv: number;
}
/** Frames [K, V], each [kvHeadsCount, count, headDim] of the cache dtype. */
export interface LoadKvMsg extends Base { kind: 'load_kv'; seq: number; layer: number; kvHeads: Range; pos0: number; count: number }
export interface AttendItem {
  seq: number; kvHeads: Range;
  /** [begin, end) cache positions to attend over, end ≤ len. */
  posRange: Range;
  /** Total valid length of the sequence. */
  len: number;
  /** Position of the new token, or -1 when it is not in this block. */
  newPos: number;
}
/** Frames per item: q [kvHeadsCount·nHeadsPerKv, headDim], then when newPos ≥ 0 new k and v [kvHeadsCount, headDim]. */
export interface AttendMsg extends Base { kind: 'attend'; step: number; layer: number; items: AttendItem[] }
/** Frames per item: O [heads, headDim] f32, LSE [heads] f32. */
export interface AttendOkMsg extends Base { kind: 'attend_ok' }
export interface FreeMsg extends Base { kind: 'free'; seq: number }
export interface PingMsg extends Base { kind: 'ping' }
export interface PongMsg extends Base { kind: 'pong' }
export interface OkMsg extends Base { kind: 'ok' }
export interface ErrorMsg extends Base { kind: 'error'; message: string }

export type RequestMsg = HelloMsg | AllocMsg | LoadKvMsg | AttendMsg | FreeMsg | PingMsg;
export type ReplyMsg = HelloOkMsg | AttendOkMsg | OkMsg | PongMsg | ErrorMsg;
export type Message = RequestMsg | ReplyMsg;
export type MessageKind = Message['kind'];

/** The reply kind a successful request gets (any request may instead get `error`). */
export const REPLY_KIND: Record<RequestMsg['kind'], ReplyMsg['kind']> = {
  hello: 'hello_ok', alloc: 'ok', load_kv: 'ok', attend: 'attend_ok', free: 'ok', ping: 'pong',
};

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
/** Longest `error` message a rank sends (longer ones are cut). */
export const ERROR_MESSAGE_MAX = 8192;

// ---------------------------------------------------------------- msgpack pre-scan

/**
 * Walks a msgpack buffer without building anything, so a hostile header cannot make msgpackr allocate, recurse
 * deeply or decode extensions: only nil/bool/int/float/str/array/map with string keys, nesting ≤ MAX_DEPTH,
 * every length within the bytes left, nothing after the value. Returns silently or throws FrameError.
 */
function prescan(b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  const need = (n: number) => { if (n > b.length - p) throw new FrameError(`header msgpack truncated at byte ${p}`); };
  const len = (bytes: 1 | 2 | 4) => {
    need(bytes);
    const n = bytes === 1 ? b[p]! : bytes === 2 ? dv.getUint16(p) : dv.getUint32(p);
    p += bytes;
    return n;
  };
  const str = (n: number) => {
    need(n);
    p += n;
  };
  const value = (depth: number, isKey: boolean): void => {
    if (depth > MAX_DEPTH) throw new FrameError(`header msgpack nested deeper than ${MAX_DEPTH}`);
    need(1);
    const t = b[p++]!;
    let strLen = -1;
    if (t >= 0xa0 && t <= 0xbf) strLen = t & 0x1f;
    else if (t === 0xd9) strLen = len(1);
    else if (t === 0xda) strLen = len(2);
    else if (t === 0xdb) strLen = len(4);
    if (strLen >= 0) {
      if (strLen > MAX_STRING) throw new FrameError(`header string of ${strLen} bytes exceeds ${MAX_STRING}`);
      const s = p;
      str(strLen);
      if (isKey && strLen === 9 && Buffer.from(b.buffer, b.byteOffset + s, 9).toString('latin1') === '__proto__') {
        throw new FrameError('header key __proto__ is not allowed');
      }
      return;
    }
    if (isKey) throw new FrameError(`header map key of msgpack type 0x${t.toString(16)} (only string keys)`);
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return; // fixint, nil, bool
    const fixed: Record<number, number> = { 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 };
    if (fixed[t] !== undefined) { need(fixed[t]); p += fixed[t]; return; }
    let n = -1, perItem = 1;
    if (t >= 0x90 && t <= 0x9f) n = t & 0x0f;
    else if (t === 0xdc) n = len(2);
    else if (t === 0xdd) n = len(4);
    else if (t >= 0x80 && t <= 0x8f) { n = t & 0x0f; perItem = 2; }
    else if (t === 0xde) { n = len(2); perItem = 2; }
    else if (t === 0xdf) { n = len(4); perItem = 2; }
    if (n < 0) throw new FrameError(`header msgpack type 0x${t.toString(16)} not allowed (bin/ext/reserved)`);
    need(n * perItem); // every item takes at least one byte: a lying length fails here, before any work
    for (let i = 0; i < n; i++) {
      if (perItem === 2) value(depth + 1, true);
      value(depth + 1, false);
    }
  };
  value(0, false);
  if (p !== b.length) throw new FrameError(`header has ${b.length - p} bytes after the msgpack value`);
}

// ---------------------------------------------------------------- field checks

type Obj = Record<string, unknown>;
const fail = (kind: string, msg: string): never => { throw new FrameError(`${kind}: ${msg}`); };

function field(h: Obj, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(h, k) ? h[k] : undefined;
}
function int(h: Obj, k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = field(h, k);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    fail(String(h.kind), `field "${k}" must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v as number;
}
function str(h: Obj, k: string): string {
  const v = field(h, k);
  if (typeof v !== 'string') fail(String(h.kind), `field "${k}" must be a string, got ${describe(v)}`);
  return v as string;
}
function range(h: Obj, k: string): Range {
  const v = field(h, k);
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
    && v[0] <= v[1];
  if (!ok) fail(String(h.kind), `field "${k}" must be an ordered range [begin, end] of non-negative integers, got ${describe(v)}`);
  return v as Range;
}
function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
  } catch { return typeof v; }
}

function frameDesc(d: unknown, i: number, limits: Required<DecodeLimits>): FrameDesc {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new FrameError(`frame ${i}: descriptor must be {dtype, shape}`);
  const o = d as Obj;
  const dtype = field(o, 'dtype');
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'u32') throw new FrameError(`frame ${i}: unknown dtype ${describe(dtype)}`);
  const shape = field(o, 'shape');
  if (!Array.isArray(shape) || shape.length > MAX_RANK) throw new FrameError(`frame ${i}: shape must be an array of at most ${MAX_RANK} dims, got ${describe(shape)}`);
  let n = 1;
  for (const s of shape) {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw new FrameError(`frame ${i}: bad dimension ${describe(s)} in shape ${describe(shape)}`);
    n *= s;
  }
  if (n > limits.maxNumel) throw new FrameError(`frame ${i}: shape ${describe(shape)} has ${n} elements, over the limit ${limits.maxNumel}`);
  return { dtype, shape: shape as number[] };
}

const kvCount = (r: Range) => r[1] - r[0];
const shapeIs = (d: FrameDesc, shape: number[]) => d.shape.length === shape.length && d.shape.every((s, i) => s === shape[i]);
const fmt = (d: FrameDesc) => `${d.dtype}[${d.shape.join(', ')}]`;

/** Checks one header object (already decoded, or about to be encoded) against the frames it travels with. */
function checkHeader(h: Obj, frames: FrameDesc[]): Message {
  const v = field(h, 'v');
  if (v !== PROTOCOL_VERSION) throw new FrameError(`protocol version ${describe(v)}, this side speaks ${PROTOCOL_VERSION}`);
  const kind = field(h, 'kind');
  // Own keys only: `in` would accept 'toString', 'constructor', … from Object.prototype.
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(KIND_CHECKS, kind)) throw new FrameError(`unknown message kind ${describe(kind)}`);
  int(h, 'id', 0, 0xffffffff);
  const k = kind as MessageKind;
  const nFrames = (want: number) => {
    if (frames.length !== want) fail(k, `expects ${want} tensor frames, got ${frames.length}`);
  };
  KIND_CHECKS[k](h, frames, nFrames);
  return h as unknown as Message;
}

type Check = (h: Obj, frames: FrameDesc[], nFrames: (n: number) => void) => void;
const KIND_CHECKS: Record<MessageKind, Check> = {
  hello: (_h, _f, n) => n(0),
  ping: (_h, _f, n) => n(0),
  pong: (_h, _f, n) => n(0),
  ok: (_h, _f, n) => n(0),
  error: (h, _f, n) => { str(h, 'message'); n(0); },
  hello_ok: (h, _f, n) => { int(h, 'rank'); str(h, 'device'); int(h, 'pid'); n(0); },
  free: (h, _f, n) => { int(h, 'seq'); n(0); },
  alloc: (h, _f, n) => {
    int(h, 'seq'); int(h, 'nLayers', 1); int(h, 'headDim', 1); int(h, 'capacity'); int(h, 'nHeadsPerKv', 1);
    if (kvCount(range(h, 'kvHeads')) < 1) fail('alloc', 'kvHeads range is empty');
    const dtype = field(h, 'dtype');
    if (dtype !== 'f32' && dtype !== 'f16') fail('alloc', `dtype must be "f32" or "f16", got ${describe(dtype)}`);
    n(0);
  },
  load_kv: (h, f, n) => {
    int(h, 'seq'); int(h, 'layer');
    const heads = kvCount(range(h, 'kvHeads'));
    int(h, 'pos0');
    const count = int(h, 'count');
    n(2);
    const [k, v] = f as [FrameDesc, FrameDesc];
    if (k.dtype === 'u32') fail('load_kv', `K must be f32 or f16, got ${fmt(k)}`);
    if (k.shape.length !== 3 || k.shape[0] !== heads || k.shape[1] !== count || k.shape[2]! < 1) {
      fail('load_kv', `K must be [kvHeads ${heads}, count ${count}, headDim], got ${fmt(k)}`);
    }
    if (v.dtype !== k.dtype || !shapeIs(v, k.shape)) fail('load_kv', `V ${fmt(v)} must match K ${fmt(k)}`);
  },
  attend: (h, f, n) => {
    int(h, 'step'); int(h, 'layer');
    const items = field(h, 'items');
    if (!Array.isArray(items)) fail('attend', `field "items" must be an array, got ${describe(items)}`);
    let fi = 0;
    (items as unknown[]).forEach((it, i) => {
      if (typeof it !== 'object' || it === null || Array.isArray(it)) fail('attend', `items[${i}] must be an object`);
      const o = { ...(it as Obj), kind: `attend.items[${i}]` };
      int(o, 'seq');
      const heads = kvCount(range(o, 'kvHeads'));
      if (heads < 1) fail(o.kind as string, 'kvHeads range is empty');
      const pr = range(o, 'posRange');
      const len = int(o, 'len');
      if (pr[1] > len) fail(o.kind as string, `posRange end ${pr[1]} is past len ${len}`);
      const newPos = int(o, 'newPos', -1);
      if (newPos >= 0 && (newPos < pr[0] || newPos >= pr[1])) {
        fail(o.kind as string, `newPos ${newPos} outside posRange [${pr[0]}, ${pr[1]})`);
      }
      const q = f[fi++];
      if (!q) return; // count checked below
      if (q.dtype === 'u32' || q.shape.length !== 2 || q.shape[0] === 0 || q.shape[0]! % heads !== 0 || q.shape[1]! < 1) {
        fail(o.kind as string, `q must be f32/f16 [a multiple of ${heads} heads, headDim], got ${fmt(q)}`);
      }
      if (newPos < 0) return;
      for (const name of ['k', 'v']) {
        const t = f[fi++];
        if (t && (t.dtype === 'u32' || !shapeIs(t, [heads, q.shape[1]!]))) {
          fail(o.kind as string, `new ${name} must be [${heads}, ${q.shape[1]}], got ${fmt(t)}`);
        }
      }
    });
    n((items as AttendItem[]).reduce((s, it) => s + (it.newPos >= 0 ? 3 : 1), 0));
  },
  attend_ok: (_h, f) => {
    if (f.length % 2 !== 0) fail('attend_ok', `expects (O, LSE) frame pairs, got ${f.length} frames`);
    for (let i = 0; i < f.length; i += 2) {
      const o = f[i]!, lse = f[i + 1]!;
      if (o.dtype !== 'f32' || o.shape.length !== 2) fail('attend_ok', `O ${i / 2} must be f32 [heads, headDim], got ${fmt(o)}`);
      if (!shapeIs(lse, [o.shape[0]!]) || lse.dtype !== 'f32') fail('attend_ok', `LSE ${i / 2} must be f32 [${o.shape[0]}], got ${fmt(lse)}`);
    }
  },
};

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

/** [msgpack header, ...tensor frames]; tensor frames are views of the tensors' memory (no copy). */
export function encodeMessage(header: object, tensors: readonly TensorFrame[] = []): Buffer[] {
  const h = validateMessage(header, tensors);
  return [pack(h), ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
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
  const descs = field(h, 'frames') ?? [];
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
