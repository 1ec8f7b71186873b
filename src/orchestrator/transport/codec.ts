// The FA Pool wire codec: one msgpack header frame + raw tensor frames (never inside msgpack), as vLLM does.
// decodeMessage treats every byte as hostile: it bounds the msgpack before parsing, checks every field through
// the message schemas, and sizes nothing by what the header claims until the frame's real byte length agrees.
import { pack, unpack } from 'msgpackr';
import {
  FRAME_DTYPE_BYTES, FrameError, PROTOCOL_VERSION, SLOTTED_FIELDS, checkHeader, type FrameDType, type FrameDesc, type Message, type MessageKind, type TensorFrame,
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
  const descs = checkedCopies(frames);
  return checkHeader({ ...(header as Obj), frames: descs }, descs);
}

/** Frame descriptors checked (frameDesc) and copied, shape arrays included. */
function checkedCopies(frames: readonly FrameDesc[]): FrameDesc[] {
  return frames.map((d, i) => { const f = frameDesc(d, i, DEFAULT_LIMITS); return { dtype: f.dtype, shape: [...f.shape] }; });
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

/** Throws unless the message has a part for each of the header's n frames. */
function checkFrameCount(parts: readonly Uint8Array[], n: number): void {
  if (parts.length !== n + 1) throw new FrameError(`header describes ${n} tensor frames, message has ${parts.length - 1}`);
}

/** Throws unless `part` holds exactly the bytes of frame i (fd: its checked descriptor). */
function checkFrameBytes(part: Uint8Array | undefined, fd: FrameDesc, i: number): void {
  const want = fd.shape.reduce((a, b) => a * b, 1) * FRAME_DTYPE_BYTES[fd.dtype];
  if (!(part instanceof Uint8Array) || part.byteLength !== want) throw new FrameError(`frame ${i}: ${fmt(fd)} needs ${want} bytes, got ${part?.byteLength}`);
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
  checkFrameCount(parts, descs.length);
  const frames = descs.map((d, i) => {
    const fd = frameDesc(d, i, lim);
    checkFrameBytes(parts[i + 1], fd, i);
    return fd;
  });
  const header = checkHeader(h, frames);
  const tensors = frames.map((fd, i) => ({ dtype: fd.dtype, shape: fd.shape, data: view(parts[i + 1]!, fd.dtype) }));
  return { header, tensors };
}

// ---------------------------------------------------------------- headers made from templates, recognised by their bytes

/**
 * A decode step sends an attend request and gets an attend_ok per layer and rank, and a worker's hop spent ≈ 0.2 ms
 * in the codec (kernels-bench/NOTES.md session 22). Both kinds' headers are made from templates instead: one packed
 * per kind and frame shapes, each header field a u32 in a fixed 4-byte slot (the kinds of SLOTTED_FIELDS; the id too),
 * written per message — so both ends make the same bytes. A message whose header equals a known template outside its
 * slots is taken without scanning or parsing it: its slot values are read and checked by the kind's schema, its frames'
 * byte lengths checked, its tensors viewed.
 * - A bare header (no fields but the kind: attend_ok, ok, pong) is one template per id; the base, which knows the reply
 *   a request expects, compares whole bytes (decodeExpected).
 * - A slotted request (attend) is recognised by the rank against the templates it learnt from earlier requests
 *   (decodeKnown, learnTemplate).
 */
export interface BareHeader { bytes: Buffer; header: Message }
export interface HeaderTemplate {
  readonly bytes: Buffer; readonly kind: MessageKind; readonly fields: readonly string[];
  /** Byte offset of each field's u32, then the id's. */
  readonly slots: readonly number[];
  /** The slots' offsets in order, for comparing what lies between them. */
  readonly sorted: readonly number[];
  readonly frames: readonly FrameDesc[];
}
const ID_SLOT = 0xfffffffe; // placeholders pack as 0xce + 4 bytes (msgpack uint32), whatever the real value
const FIELD_SLOT = 0xffffff00;
const templates = new Map<string, HeaderTemplate>();
const MAX_TEMPLATES = 256;

function template(kind: MessageKind, frames: readonly FrameDesc[]): HeaderTemplate {
  const key = kind + frames.map(fmt).join('');
  let t = templates.get(key);
  if (t) return t;
  const fields = SLOTTED_FIELDS[kind as keyof typeof SLOTTED_FIELDS] ?? [];
  const descs = checkedCopies(frames).map((d) => Object.freeze({ dtype: d.dtype, shape: Object.freeze(d.shape) as number[] }));
  const h: Record<string, unknown> = { kind };
  fields.forEach((f, i) => { h[f] = FIELD_SLOT + i; });
  h.v = PROTOCOL_VERSION; h.id = ID_SLOT; h.frames = descs;
  const bytes = Buffer.from(pack(h));
  const slotOf = (value: number, what: string) => {
    const mark = Buffer.from([0xce, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
    const at = bytes.indexOf(mark) + 1;
    if (at === 0 || bytes.indexOf(mark, at) >= 0) throw new FrameError(`header template of ${kind}: no single slot for ${what} in its msgpack`);
    return at;
  };
  const slots = [...fields.map((f, i) => slotOf(FIELD_SLOT + i, f)), slotOf(ID_SLOT, 'id')];
  if (templates.size >= MAX_TEMPLATES) templates.clear();
  templates.set(key, (t = { bytes, kind, fields, slots, sorted: [...slots].sort((a, b) => a - b), frames: Object.freeze(descs) }));
  return t;
}

const isU32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;

/** The header a template gives for these field values and id: checked by the kind's schema (FrameError if not). */
function headerOf(t: HeaderTemplate, values: readonly number[], id: number): Message {
  const h: Record<string, unknown> = { kind: t.kind };
  t.fields.forEach((f, i) => { h[f] = values[i]; });
  h.v = PROTOCOL_VERSION; h.id = id; h.frames = t.frames;
  return checkHeader(h, t.frames);
}

/** A template's bytes with these values and id written into its slots. */
function fill(t: HeaderTemplate, values: readonly number[], id: number): Buffer {
  const bytes = Buffer.from(t.bytes);
  values.forEach((x, i) => bytes.writeUInt32BE(x, t.slots[i]!));
  bytes.writeUInt32BE(id, t.slots[t.fields.length]!);
  return bytes;
}

/** A bare template (no fields) for these frames, checked by the kind's schema once (its id the only thing that varies). */
function bareTemplate(kind: MessageKind, frames: readonly FrameDesc[]): HeaderTemplate {
  const t = template(kind, frames);
  if (!checkedBare.has(t)) {
    if (t.fields.length) throw new FrameError(`${kind} has header fields: not a bare header`);
    headerOf(t, [], 0);
    checkedBare.add(t);
  }
  return t;
}
const checkedBare = new WeakSet<HeaderTemplate>();

/** The bare header of `kind` (no fields) with `id` for frames of these shapes: its bytes and the header they decode to. */
export function bareHeader(kind: MessageKind, id: number, frames: readonly FrameDesc[]): BareHeader {
  if (!isU32(id)) throw new FrameError(`${kind}.id must be a u32, got ${id}`);
  const t = bareTemplate(kind, frames);
  return { bytes: fill(t, [], id), header: { kind: t.kind, v: PROTOCOL_VERSION, id, frames: t.frames } as Message };
}

/** Whether a header body has no field but its kind (sent with a bare header). */
export function isBare(body: object): boolean {
  let n = 0;
  for (const k in body) if (Object.prototype.hasOwnProperty.call(body, k) && (++n > 1 || k !== 'kind')) return false;
  return n === 1;
}

/** A bare message (no header fields) packed: its header made from the template, the tensors checked against it. */
export function packBare(kind: MessageKind, id: number, tensors: readonly TensorFrame[]): Buffer[] {
  if (!isU32(id)) throw new FrameError(`${kind}.id must be a u32, got ${id}`);
  return [fill(bareTemplate(kind, tensors.map(checkTensor)), [], id), ...tensorParts(tensors)];
}

/**
 * A checked header's bytes from its kind's template when it has one (SLOTTED_FIELDS, every value a u32), else null
 * (pack it with packHeader).
 */
export function slottedHeader(h: Message): Buffer | null {
  const fields = SLOTTED_FIELDS[h.kind as keyof typeof SLOTTED_FIELDS];
  if (!fields) return null;
  const values = fields.map((f) => (h as unknown as Record<string, unknown>)[f]);
  if (!values.every(isU32) || !isU32(h.id)) return null;
  return fill(template(h.kind, h.frames ?? []), values as number[], h.id);
}

/** The frames of `parts` for a template's frames: byte lengths checked, tensors viewed (their own shape arrays). */
function framesFor(parts: readonly Uint8Array[], frames: readonly FrameDesc[]): TensorFrame[] {
  checkFrameCount(parts, frames.length);
  return frames.map((fd, i) => {
    checkFrameBytes(parts[i + 1], fd, i);
    return { dtype: fd.dtype, shape: [...fd.shape], data: view(parts[i + 1]!, fd.dtype) };
  });
}

/**
 * The message of `parts` when its header is exactly `expected`'s bytes: the frames' byte lengths checked and the
 * tensors viewed, nothing parsed. null when the header differs (decode it in full: decodeMessage); FrameError when
 * it matches but the frames do not.
 */
export function decodeExpected(parts: readonly Uint8Array[], expected: BareHeader): { header: Message; tensors: TensorFrame[] } | null {
  const head = parts[0];
  if (!(head instanceof Uint8Array) || !expected.bytes.equals(head)) return null;
  return { header: expected.header, tensors: framesFor(parts, expected.header.frames ?? []) };
}

/** Whether a header's bytes are a template's outside its slots. */
function fits(head: Uint8Array, t: HeaderTemplate): boolean {
  if (head.byteLength !== t.bytes.length) return false;
  let from = 0;
  for (const at of t.sorted) {
    if (t.bytes.compare(head, from, at, from, at) !== 0) return false;
    from = at + 4;
  }
  return t.bytes.compare(head, from, head.byteLength, from, head.byteLength) === 0;
}

/**
 * The message of `parts` when its header fits one of `known` (templates learnt by learnTemplate): the slot values read
 * and checked by the kind's schema, the frames' lengths checked, the tensors viewed. null when none fits (decode it in
 * full); FrameError when one fits but its values or frames are wrong.
 */
export function decodeKnown(parts: readonly Uint8Array[], known: readonly HeaderTemplate[]): { header: Message; tensors: TensorFrame[] } | null {
  const head = parts[0];
  if (!(head instanceof Uint8Array)) return null;
  const t = known.find((k) => fits(head, k));
  if (!t) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const values = t.fields.map((_, i) => b.readUInt32BE(t.slots[i]!));
  const header = headerOf(t, values, b.readUInt32BE(t.slots[t.fields.length]!));
  return { header, tensors: framesFor(parts, t.frames) };
}

/**
 * The template a fully decoded message's header came from, when it has one (SLOTTED_FIELDS) and its bytes are the
 * template's (the sender made it so); else null. The receiver keeps a few to take the next ones with decodeKnown.
 */
export function learnTemplate(h: Message, head: Uint8Array): HeaderTemplate | null {
  try {
    const bytes = slottedHeader(h);
    return bytes && bytes.equals(head) ? template(h.kind, h.frames ?? []) : null;
  } catch {
    return null;
  }
}
