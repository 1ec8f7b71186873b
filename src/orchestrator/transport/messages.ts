// The FA Pool wire protocol's messages: one schema per kind (its fields and the tensor frames it carries),
// from which both its TypeScript type and its validator derive. Which kinds are requests, and the reply
// kind each one gets, is said once, in REQUESTS.
import {
  FrameError, bool, int, list, num, object, oneOf, optional, own, range, str, describe, type Field, type FieldsOf, type Range,
} from './schema.js';

export { FrameError, type Range };

export const PROTOCOL_VERSION = 4;

export type FrameDType = 'f32' | 'f16' | 'u32';
export const FRAME_DTYPE_BYTES: Record<FrameDType, number> = { f32: 4, f16: 2, u32: 4 };

/** A tensor payload. f16 travels as raw bits in a Uint16Array. */
export interface TensorFrame { dtype: FrameDType; shape: number[]; data: Float32Array | Uint16Array | Uint32Array }
export interface FrameDesc { dtype: FrameDType; shape: number[] }

/** Bytes as elements of the model dtype (f16 bits or f32). */
export function modelElems(bytes: Uint8Array, dtype: string): Float32Array | Uint16Array {
  return dtype === 'f16' ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1) : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
}

/** A frame of model-dtype elements: f16 bits or f32. */
export function floatFrame(data: Float32Array | Uint16Array, shape: number[]): TensorFrame {
  return data instanceof Uint16Array ? { dtype: 'f16', shape, data } : { dtype: 'f32', shape, data };
}

/** The id every keep-alive carries (no request gets it: a stray answer to one is dropped). */
export const KEEPALIVE_ID = 0xffffffff;

/** Longest `error` message a rank sends (longer ones are cut). */
export const ERROR_MESSAGE_MAX = 8192;

const fmt = (d: FrameDesc) => `${d.dtype}[${d.shape.join(', ')}]`;
const isFloat = (d: FrameDesc) => d.dtype === 'f32' || d.dtype === 'f16';

interface KindSpec<S extends Record<string, Field<unknown>>> {
  fields: S;
  /** Checks the tensor frames against the (already checked) fields. */
  frames(h: FieldsOf<S>, f: readonly FrameDesc[], at: string): void;
}
const kind = <S extends Record<string, Field<unknown>>>(fields: S, frames: KindSpec<S>['frames'] = noFrames): KindSpec<S> => ({ fields, frames });

function noFrames(_h: unknown, f: readonly FrameDesc[], at: string): void { expectCount(f, 0, at); }
function expectCount(f: readonly FrameDesc[], n: number, at: string): void {
  if (f.length !== n) throw new FrameError(`${at}: expects ${n} tensor frames, got ${f.length}`);
}
function expectFrame(d: FrameDesc, shape: readonly number[], at: string, what: string, dtype?: FrameDType): void {
  const ok = (dtype ? d.dtype === dtype : isFloat(d)) && d.shape.length === shape.length && d.shape.every((s, i) => s === shape[i]);
  if (!ok) throw new FrameError(`${at}: ${what} must be ${dtype ?? 'f32/f16'}[${shape.join(', ')}], got ${fmt(d)}`);
}

/** One sequence's share of a decode step on a rank. */
export interface AttendItem {
  seq: number;
  /** Kv heads of this sequence on the rank (its q rows are kvHeads·group). */
  kvHeads: number;
  /** Valid length of the whole sequence after this step's token. */
  len: number;
  /** Absolute position of the new token when it falls in this rank's block (its k/v follow q), else -1. */
  newPos: number;
}

/**
 * attend's items travel as a u32 tensor frame [items, 4] — seq, kvHeads, len, newPos + 1 (0: not in this block) —
 * not as msgpack objects: a decode step sends one per layer and rank, and a batch of 64 sequences as msgpack maps
 * cost ≈ 0.2 ms a message to pack, scan, parse and check. Their values are checked where they are used (the rank).
 */
export const ATTEND_ITEM_WORDS = 4;

/** The items frame of an attend request, written into `data` (exactly items × ATTEND_ITEM_WORDS: persistent staging). */
export function attendItemsFrame(items: readonly AttendItem[], data: Uint32Array = new Uint32Array(items.length * ATTEND_ITEM_WORDS)): TensorFrame {
  if (data.length !== items.length * ATTEND_ITEM_WORDS) throw new RangeError(`attendItemsFrame: ${items.length} items need ${items.length * ATTEND_ITEM_WORDS} words, got ${data.length}`);
  items.forEach((it, i) => {
    if (![it.seq, it.kvHeads, it.len, it.newPos + 1].every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
      throw new FrameError(`attend item ${i} does not fit u32 words: ${describe(it)}`);
    }
    const o = i * ATTEND_ITEM_WORDS;
    data[o] = it.seq; data[o + 1] = it.kvHeads; data[o + 2] = it.len; data[o + 3] = it.newPos + 1;
  });
  return { dtype: 'u32', shape: [items.length, ATTEND_ITEM_WORDS], data };
}

/** The items of an attend request's first frame (already checked to be u32 [n, 4]). */
export function attendItems(f: TensorFrame): AttendItem[] {
  const d = f.data, out: AttendItem[] = [];
  for (let o = 0; o < d.length; o += ATTEND_ITEM_WORDS) out.push({ seq: d[o]!, kvHeads: d[o + 1]!, len: d[o + 2]!, newPos: d[o + 3]! - 1 });
  return out;
}

/**
 * A rank's own time on a request (ms): `write` uploading and launching, of which `submit` encoding and submitting
 * (0 where not split), `wait` the GPU work and read-back, and `at` when it started (wall clock, ms since the epoch:
 * the trip's legs are timed where both ends share a clock).
 */
export interface RankTiming { write: number; wait: number; at: number; submit: number }
/** Words of a timing frame: the four RankTiming values as little-endian f64, carried as u32 [8]. */
export const RANK_TIMING_WORDS = 8;

/** A timing frame: u32 [8] holding the four values as little-endian f64. */
export function rankTimingFrame(t: RankTiming): TensorFrame {
  const data = new Uint32Array(RANK_TIMING_WORDS), v = new DataView(data.buffer);
  [t.write, t.wait, t.at, t.submit].forEach((x, i) => v.setFloat64(8 * i, x, true));
  return { dtype: 'u32', shape: [RANK_TIMING_WORDS], data };
}

/** The timing a frame carries (already checked to be u32 [8]); non-finite values read as 0. */
export function rankTiming(f: TensorFrame): RankTiming {
  const v = new DataView(f.data.buffer, f.data.byteOffset, RANK_TIMING_WORDS * 4);
  const at = (i: number) => { const x = v.getFloat64(8 * i, true); return Number.isFinite(x) ? x : 0; };
  return { write: at(0), wait: at(1), at: at(2), submit: at(3) };
}

/** The rank's timing of an attend_ok reply (its third frame), if it carries one. */
export function attendTiming(tensors: readonly TensorFrame[]): RankTiming | undefined {
  return tensors[2] ? rankTiming(tensors[2]) : undefined;
}

const SPECS = {
  hello: kind({}),
  /** instance: a random id of the answering rank (not sent by older workers): two endpoints reaching one worker say the same. */
  hello_ok: kind({ rank: int(), device: str, pid: int(), instance: optional(str) }),
  ping: kind({}),
  pong: kind({}),
  /** One way, no answer: keeps the peers' ZeroMQ I/O threads awake while a reply is awaited (zmq-link.ts). */
  keepalive: kind({}),
  ok: kind({}),
  error: kind({ message: str }),
  /**
   * A shard of one sequence's KV cache: kv heads [kvHeads), positions [posBase, posBase + capacity), every layer.
   * Reusing a sequence id replaces its shard.
   */
  alloc: kind({
    seq: int(), nLayers: int(1, 1024), kvHeads: range(true), headDim: int(1, 1024), capacity: int(1), posBase: int(),
    dtype: oneOf('f32', 'f16'), nHeadsPerKv: int(1, 1024),
  }),
  free: kind({ seq: int() }),
  /** Frames [K, V], each [kvHeadsCount, count, headDim] of the cache dtype: positions [pos0, pos0 + count). */
  load_kv: kind({ seq: int(), layer: int(), kvHeads: range(true), pos0: int(), count: int(1) }, (h, f, at) => {
    expectCount(f, 2, at);
    const [k, v] = f as [FrameDesc, FrameDesc];
    expectFrame(k, [h.kvHeads[1] - h.kvHeads[0], h.count, k.shape[2] ?? 0], at, 'K');
    if (k.shape[2] === 0) throw new FrameError(`${at}: K has head dim 0`);
    expectFrame(v, k.shape, at, 'V', k.dtype);
  }),
  /**
   * Prompt rows [pos0, pos0 + count) of one sequence, in ONE frame [count·kvHeads·(group + 2), headDim], token by
   * token: its q heads (kvHeads·group rows), then its k and v rows (kvHeads each). The rank stores the rows that
   * fall in its block and attends causally over the block; the reply is O and LSE per token and head.
   */
  prefill: kind({ seq: int(), layer: int(), pos0: int(), count: int(1), group: int(1, 1024), kvHeads: int(1, 1 << 16) }, (h, f, at) => {
    expectCount(f, 1, at);
    const rows = h.count * h.kvHeads * (h.group + 2), d = f[0]!;
    if (!isFloat(d) || d.shape.length !== 2 || d.shape[0] !== rows || d.shape[1]! < 1) {
      throw new FrameError(`${at}: the frame must be f32/f16[${rows} rows (q, k, v of ${h.count} tokens), headDim], got ${fmt(d)}`);
    }
  }),
  /**
   * One decode step of one layer for several sequences: frames [items u32 [n, ATTEND_ITEM_WORDS] (attendItemsFrame),
   * rows [rows, headDim]]: per item its q heads (kvHeads·group rows), then, when its new token falls in this rank's
   * block, its new k and v (kvHeads rows each). The rank checks the rows against the items.
   */
  attend: kind({ step: int(), layer: int(), group: int(1, 1024) }, (_h, f, at) => {
    expectCount(f, 2, at);
    const [items, rows] = f as [FrameDesc, FrameDesc];
    if (items.dtype !== 'u32' || items.shape.length !== 2 || items.shape[1] !== ATTEND_ITEM_WORDS || items.shape[0]! < 1 || items.shape[0]! > 1 << 16) {
      throw new FrameError(`${at}: items must be u32[1…65536, ${ATTEND_ITEM_WORDS}], got ${fmt(items)}`);
    }
    if (!isFloat(rows) || rows.shape.length !== 2 || rows.shape[1]! < 1) throw new FrameError(`${at}: rows must be f32/f16[rows, headDim], got ${fmt(rows)}`);
  }),
  /**
   * O [rows, headDim] (f32 or f16) and LSE [rows] f32: rows = heads of each item (attend) or count·heads (prefill);
   * then, optionally, the rank's own time on the request as a timing frame (rankTimingFrame). It has no header
   * fields, so its header is a bare one (codec.ts bareHeader): the base recognises the reply it expects by its bytes.
   */
  attend_ok: kind({}, (_h, f, at) => {
    if (f.length !== 2 && f.length !== 3) throw new FrameError(`${at}: expects 2 or 3 tensor frames (O, LSE, timing), got ${f.length}`);
    const [o, lse] = f as [FrameDesc, FrameDesc];
    if (!isFloat(o) || o.shape.length !== 2) throw new FrameError(`${at}: O must be f32/f16 [rows, headDim], got ${fmt(o)}`);
    expectFrame(lse, [o.shape[0]!], at, 'LSE', 'f32');
    if (f[2]) expectFrame(f[2], [RANK_TIMING_WORDS], at, 'timing', 'u32');
  }),

  // The static TP × PP baseline's ranks in worker processes (static-rank.ts): one StaticRank per client.
  /**
   * Load this rank's share (rank `index` of the stage-major tp × pp placement) of the model at `path` (a
   * safetensors file this host can read), with `config` (the model's config as JSON).
   */
  /** fingerprint: weightsFingerprint of the lead's file; the worker refuses a file at `path` whose own differs. */
  static_load: kind({ path: str, config: str, dtype: oneOf('f32', 'f16'), tp: int(1, 1024), pp: int(1, 1024), index: int(), fingerprint: str }),
  static_loaded: kind({ gpuBytes: int() }),
  static_prepare: kind({
    B: int(1, 1 << 16), chunk: int(1), promptLengths: list(int()), capacities: list(int(1)),
    sampling: object({ temperature: num, topK: int(), topP: num, seed: int(0, 0xffffffff) }),
  }),
  /**
   * Start a forward pass: frames [rows u32 [T·2]] then, for a decode step, [lengths u32 [B]], then [ids u32 [T]]
   * when `ids`, then [x f32/f16 [T, hidden]] when `x`.
   */
  static_start: kind({
    pass: oneOf('prefill', 'decode'), slot: int(), p0: int(), n: int(1), last: bool, step: int(), ids: bool, x: bool,
    keyed: bool, // a decode step whose draws are keyed by the sampled tokens' positions (continuous batching)
  }, (h, f, at) => {
    const decode = h.pass === 'decode';
    expectCount(f, 1 + (decode ? 1 : 0) + (h.ids ? 1 : 0) + (h.x ? 1 : 0), at);
    const T = decode ? f[1]!.shape[0] ?? 0 : h.n;
    expectFrame(f[0]!, [T * 2], at, 'rows', 'u32');
    if (decode) expectFrame(f[1]!, [T], at, 'lengths', 'u32');
    let i = decode ? 2 : 1;
    if (h.ids) expectFrame(f[i++]!, [T], at, 'ids', 'u32');
    if (h.x && (f[i]!.shape.length !== 2 || f[i]!.shape[0] !== T || !isFloat(f[i]!))) throw new FrameError(`${at}: x must be f32/f16[${T}, hidden], got ${fmt(f[i]!)}`);
  }),
  /**
   * The other TP ranks' partial sums the pass waits for, in rank order without the receiver's own (frames
   * [T, hidden], one per other rank, all of one dtype and shape): the rank sums them with its own on its GPU.
   */
  static_continue: kind({}, (_h, f, at) => {
    if (f.length < 1) throw new FrameError(`${at}: needs the other ranks' partials (at least one frame)`);
    for (const x of f) {
      if (!isFloat(x) || x.shape.length !== 2 || x.dtype !== f[0]!.dtype || x.shape.some((d, i) => d !== f[0]!.shape[i])) {
        throw new FrameError(`${at}: partials must be f32/f16 [T, hidden] of one dtype and shape, got ${fmt(x)} (first ${fmt(f[0]!)})`);
      }
    }
  }),
  /**
   * Head rank: sample the first tokens (the slots in `keep` keep their next input); firstAt: per slot the position of
   * the token it samples (keyed draws), or empty (draws by step and slot).
   */
  static_first: kind({ keep: list(int()), firstAt: list(int()) }),
  /** Head rank: the last sampled step's logits. */
  static_logits: kind({}),
  static_free: kind({}),
  /** Where a pass stopped, or what was asked for, with its one frame (none for a stage that hands nothing on). */
  static_out: kind({
    out: oneOf('partial', 'x', 'tokens', 'logits', 'none'),
    /** The rank's time on this request (ms): uploading the input or sum, running to this stop. */
    rankMs: optional(object({ write: num, run: num })),
  }, (h, f, at) => expectCount(f, h.out === 'none' ? 0 : 1, at)),
} as const;

export type MessageKind = keyof typeof SPECS;

/**
 * Kinds whose header fields (in this order) are all u32 integers on the hot path: they travel in fixed 4-byte slots of
 * a header template (codec.ts), so a rank takes an attend request by comparing bytes instead of decoding it. A value
 * that does not fit a u32 sends that message packed as usual.
 */
export const SLOTTED_FIELDS = { attend: ['step', 'layer', 'group'] } as const satisfies Partial<Record<MessageKind, readonly string[]>>;
type Envelope = { v: typeof PROTOCOL_VERSION; id: number; frames?: FrameDesc[] };
/** The fields of one kind, as a caller writes them. */
export type Body<K extends MessageKind> = { kind: K } & FieldsOf<(typeof SPECS)[K]['fields']>;
export type MessageOf<K extends MessageKind> = Body<K> & Envelope;
export type Message = { [K in MessageKind]: MessageOf<K> }[MessageKind];

/** Every request kind and the reply kind it gets on success (any request may instead get `error`). */
export const REQUESTS = {
  hello: 'hello_ok', ping: 'pong', alloc: 'ok', free: 'ok', load_kv: 'ok', prefill: 'attend_ok', attend: 'attend_ok',
  static_load: 'static_loaded', static_prepare: 'ok', static_start: 'static_out', static_continue: 'static_out',
  static_first: 'static_out', static_logits: 'static_out', static_free: 'ok',
} as const satisfies Partial<Record<MessageKind, MessageKind>>;
export type RequestKind = keyof typeof REQUESTS;
export type RequestMsg = { [K in RequestKind]: MessageOf<K> }[RequestKind];
export type ReplyKind = (typeof REQUESTS)[RequestKind] | 'error';
export type ReplyMsg = { [K in ReplyKind]: MessageOf<K> }[ReplyKind];
export type RequestBody = { [K in RequestKind]: Body<K> }[RequestKind];
export type ReplyBody = { [K in ReplyKind]: Body<K> }[ReplyKind];
/** The reply a request of kind K gets on success. */
export type ReplyTo<K extends RequestKind> = MessageOf<(typeof REQUESTS)[K]>;

export function isRequest(m: { kind: string }): m is RequestMsg {
  return Object.prototype.hasOwnProperty.call(REQUESTS, m.kind);
}

const checkId = int(0, 0xffffffff);
/** Each kind's field checker, built once (checkHeader runs on every message). */
const FIELD_CHECKS = Object.fromEntries(Object.entries(SPECS).map(([k, spec]) => [k, object(spec.fields as Record<string, Field<unknown>>)])) as
  Record<MessageKind, Field<Record<string, unknown>>>;

/** Checks a header object (decoded, or about to be encoded) and the frames it travels with. */
export function checkHeader(h: Record<string, unknown>, frames: readonly FrameDesc[]): Message {
  const v = own(h, 'v');
  if (v !== PROTOCOL_VERSION) throw new FrameError(`protocol version ${describe(v)}, this side speaks ${PROTOCOL_VERSION}`);
  const k = own(h, 'kind');
  if (typeof k !== 'string' || !Object.prototype.hasOwnProperty.call(SPECS, k)) throw new FrameError(`unknown message kind ${describe(k)}`);
  checkId(own(h, 'id'), `${k}.id`);
  const spec = SPECS[k as MessageKind] as KindSpec<Record<string, Field<unknown>>>;
  const fields = FIELD_CHECKS[k as MessageKind](h, k);
  spec.frames(fields, frames, k);
  return h as unknown as Message;
}
