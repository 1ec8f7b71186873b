// The transport both kinds of pool rank sit behind: a request/reply link matched by request id, typed by
// the request's kind. Requests and replies are validated against the message schemas on both sides.
import { FapoolError } from '../../gpu/errors.js';
import { checkTensorsFit, validateHeader, validateMessage } from './codec.js';
import {
  ERROR_MESSAGE_MAX, FrameError, KEEPALIVE_ID, PROTOCOL_VERSION, REQUESTS, isRequest,
  type Body, type FrameDesc, type Message, type MessageOf, type ReplyBody, type RequestKind, type RequestMsg, type TensorFrame,
} from './messages.js';

/**
 * A link's failure. The message names the link and the request (kind and id, for logs and the pool's events);
 * `reason` is why alone, so a caller that names the rank its own way (a static rank) can say it without the ids.
 */
export class RankLinkError extends FapoolError {
  readonly reason: string;
  constructor(message: string, reason?: string) {
    super(message);
    this.reason = reason ?? message;
  }

  /** The same kind of error, as `${prefix}: ${reason}` (the original is its cause). */
  restated(prefix: string): RankLinkError {
    const e = new (this.constructor as new (message: string, reason: string) => RankLinkError)(`${prefix}: ${this.reason}`, this.reason);
    e.cause = this;
    return e;
  }
}
/** A reply did not arrive in time; the link stays usable (a late reply is dropped). */
export class RankTimeoutError extends RankLinkError {}
/** The rank's link is closed or its peer is gone. */
export class RankDeadError extends RankLinkError {}
/** The rank answered `error`: the request failed there. */
export class RankRemoteError extends RankLinkError {}

export interface Reply<M = Message> { header: M; tensors: TensorFrame[] }
/** What a request of kind K resolves with. */
export type ReplyOf<K extends RequestKind> = Reply<MessageOf<(typeof REQUESTS)[K]>>;

export interface RankLink {
  readonly name: string;
  /**
   * Sends a request (its kind and fields; `v` and `id` are filled in) and resolves with the matching reply.
   * Rejects with RankRemoteError on an `error` reply, RankTimeoutError after timeoutMs, RankDeadError when
   * the link is closed or the peer is gone, FrameError for a malformed request or reply.
   * Tensor data must stay unmodified until the promise settles (it is sent without copying).
   */
  request<K extends RequestKind>(body: Body<K>, tensors?: TensorFrame[], timeoutMs?: number): Promise<ReplyOf<K>>;
  /**
   * request() in two halves, so that a request's header is checked (and on a wire encoded) while its tensors'
   * contents are still on their way — the pool's base prepares a layer's requests while the pooled rows are read
   * back. prepare() takes the tensors' shapes (a FrameError for a bad request, as request() gives); send() checks the
   * tensors against them and sends, once. request(body, tensors) is send(prepare(body, shapes of tensors), tensors).
   * As with request(), the tensors' data must stay unmodified until send()'s promise settles (sent without copying).
   * `reply`: the frames of the success reply expected, when that reply kind has no header fields (attend_ok): a wire
   * link then recognises it by its bytes without decoding it (codec.ts bareHeader); any other reply is decoded in full.
   */
  prepare<K extends RequestKind>(body: Body<K>, frames: readonly FrameDesc[], reply?: readonly FrameDesc[]): PreparedRequest<K>;
  send<K extends RequestKind>(prepared: PreparedRequest<K>, tensors: TensorFrame[], timeoutMs?: number): Promise<ReplyOf<K>>;
  close(): Promise<void>;
}

/** A request of kind K checked for frames of these shapes (RankLink.prepare); only its link may send it, once. */
export interface PreparedRequest<K extends RequestKind> {
  readonly req: RequestMsg & { kind: K };
  readonly frames: readonly FrameDesc[];
}

/** The frames' shapes of these tensors (what prepare() takes when the tensors are at hand). */
export function framesOf(tensors: readonly TensorFrame[]): FrameDesc[] {
  return tensors.map((t) => ({ dtype: t.dtype, shape: t.shape }));
}

/**
 * A link's prepare(), and the check its send() starts with: `extra` is what the link keeps with each prepared request
 * (a wire link its packed header). `take` checks the tensors against the prepared shapes (a request refused there
 * can still be sent with the right ones), then spends the request — one send each, on its own link (ids are per
 * link) — and returns its extra; FrameError otherwise.
 */
export function preparer<X>(linkName: string, nextId: () => number, extra: (req: RequestMsg, reply?: readonly FrameDesc[]) => X): {
  prepare<K extends RequestKind>(body: Body<K>, frames: readonly FrameDesc[], reply?: readonly FrameDesc[]): PreparedRequest<K>;
  take(p: PreparedRequest<RequestKind>, tensors: readonly TensorFrame[]): X;
} {
  const open = new WeakMap<object, X>();
  return {
    prepare<K extends RequestKind>(body: Body<K>, frames: readonly FrameDesc[], reply?: readonly FrameDesc[]): PreparedRequest<K> {
      // Frozen: what send() delivers is what was checked here (a wire link has packed it already).
      const req = Object.freeze(requestMessage(linkName, body, nextId(), frames)) as RequestMsg & { kind: K };
      const p: PreparedRequest<K> = Object.freeze({ req, frames: req.frames ?? [] });
      open.set(p, extra(req, reply));
      return p;
    },
    take(p, tensors) {
      checkTensorsFit(tensors, p.frames);
      const x = open.get(p);
      if (x === undefined || !open.delete(p)) throw new FrameError(`${linkName}: this request was not prepared by this link, or was sent already`);
      return x;
    },
  };
}

/** A link's request() as send(prepare()): a bad request rejects, as a failed send does. */
export function requestVia<K extends RequestKind>(link: Pick<RankLink, 'prepare' | 'send'>, body: Body<K>, tensors: TensorFrame[] = [], timeoutMs?: number): Promise<ReplyOf<K>> {
  try {
    return link.send(link.prepare(body, framesOf(tensors)), tensors, timeoutMs);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** What a rank answers: a reply body (`v`, `id`, `frames` are filled in) and its tensors. */
export interface HandlerReply { header: ReplyBody; tensors?: TensorFrame[] }

/**
 * Serves one request from `client` (the transport's name for the peer that sent it: a rank keeps the state of
 * different clients apart). A throw becomes an `error` reply.
 */
export type RankHandler = (req: RequestMsg, tensors: TensorFrame[], client: string) => Promise<HandlerReply>;

export const DEFAULT_TIMEOUT_MS = 60_000;

/** A request as it goes on the wire, for frames of these shapes: validated (a reply kind or bad field fails here, before sending). */
export function requestMessage(linkName: string, body: { kind: string }, id: number, frames: readonly FrameDesc[]): RequestMsg {
  if (!isRequest(body)) throw new FrameError(`${linkName}: "${body.kind}" is not a request kind`);
  return validateHeader({ ...body, v: PROTOCOL_VERSION, id }, frames) as RequestMsg;
}

/** Checks a reply against its request: the expected kind, or `error` → RankRemoteError. */
export function checkReply<K extends RequestKind>(linkName: string, req: { kind: K; id: number }, reply: Reply): ReplyOf<K> {
  const h = reply.header;
  if (h.kind === 'error') throw new RankRemoteError(`${linkName}: ${req.kind} #${req.id} failed on the rank: ${h.message}`, `the rank answered: ${h.message}`);
  if (h.kind !== REQUESTS[req.kind]) {
    throw new FrameError(`${linkName}: ${req.kind} #${req.id} got reply kind "${h.kind}", expected "${REQUESTS[req.kind]}"`);
  }
  return reply as ReplyOf<K>;
}

/** Runs a handler: its answer, or an `error` body when it throws. */
export async function serveOne(handler: RankHandler, req: RequestMsg, tensors: TensorFrame[], client: string): Promise<HandlerReply> {
  try {
    return await handler(req, tensors, client);
  } catch (e) {
    return { header: { kind: 'error', message: errorMessage(e) } };
  }
}

/** The error of a request (`what`: link, kind, id) that got no reply within ms. */
export function noReplyError(what: string, ms: number): RankTimeoutError {
  return new RankTimeoutError(`${what}: no reply within ${ms} ms`, `no reply within ${ms} ms`);
}

/** Rejects after ms with RankTimeoutError unless the promise settles first; the timer never outlives it. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(noReplyError(what(), ms)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Request ids: u32, wrapping. */
export function idCounter(): () => number {
  let next = 0;
  return () => {
    const id = next;
    next = (next + 1) >>> 0;
    if (next === KEEPALIVE_ID) next = 0;
    return id;
  };
}

/** An error as one line for an `error` reply, cut to what the protocol carries. */
export function errorMessage(e: unknown): string {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.length > ERROR_MESSAGE_MAX ? `${s.slice(0, ERROR_MESSAGE_MAX - 1)}…` : s;
}

let inProcessClients = 0;

/**
 * A rank in this process: the handler is called directly, nothing is encoded (tensors are passed by reference),
 * but request and reply are validated as on the wire, so in-process tests catch protocol mistakes. Each link is
 * its own client of the rank.
 */
export function inProcessLink(name: string, handler: RankHandler, opts: { defaultTimeoutMs?: number } = {}): RankLink {
  const nextId = idCounter();
  const client = `in-process-${++inProcessClients}`;
  const pending = new Set<(e: Error) => void>();
  const { prepare, take } = preparer(name, nextId, () => true);
  let closed = false;
  const link: RankLink = {
    name,
    request: (body, tensors, timeoutMs) => requestVia(link, body, tensors, timeoutMs),
    prepare,
    async send<K extends RequestKind>(p: PreparedRequest<K>, tensors: TensorFrame[], timeoutMs = opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS): Promise<ReplyOf<K>> {
      if (closed) throw new RankDeadError(`${name}: link is closed`, 'link is closed');
      take(p, tensors);
      const req = p.req;
      const served = serveOne(handler, req, tensors, client).then((out): Reply => {
        const ts = out.tensors ?? [];
        return { header: validateMessage({ ...out.header, v: PROTOCOL_VERSION, id: req.id }, ts), tensors: ts };
      });
      // close() rejects what is still waiting, as a dead peer would.
      let onClose!: (e: Error) => void;
      const dead = new Promise<never>((_, reject) => { onClose = reject; });
      pending.add(onClose);
      try {
        const reply = await withTimeout(Promise.race([served, dead]), timeoutMs, () => `${name}: ${req.kind} #${req.id}`);
        return checkReply<K>(name, req, reply);
      } finally {
        pending.delete(onClose);
      }
    },
    async close() {
      closed = true;
      for (const reject of pending) reject(new RankDeadError(`${name}: link closed while a request was in flight`, 'link closed while a request was in flight'));
      pending.clear();
    },
  };
  return link;
}

/**
 * A link to a rank that has not answered yet (a pool worker absent when the pool started): a request first connects
 * (`connect`, e.g. connectRank's ping), again at each request until one connect succeeds; from then on everything
 * goes to that link. The pool probes such a member until it comes up, so a worker started after the server joins it.
 */
export function deferredLink(name: string, connect: () => Promise<RankLink>): RankLink {
  let inner: RankLink | null = null, connecting: Promise<RankLink> | null = null, closed = false;
  const connected = (): RankLink => {
    if (!inner) throw new RankDeadError(`${name}: not connected yet`, 'not connected yet');
    return inner;
  };
  const get = (): Promise<RankLink> => {
    if (inner) return Promise.resolve(inner);
    if (closed) return Promise.reject(new RankDeadError(`${name}: link is closed`, 'link is closed'));
    connecting ??= connect().then(async (l) => {
      if (closed) { await l.close(); throw new RankDeadError(`${name}: link is closed`, 'link is closed'); }
      return (inner = l);
    }).finally(() => { connecting = null; });
    return connecting;
  };
  return {
    name,
    async request<K extends RequestKind>(body: Body<K>, tensors?: TensorFrame[], timeoutMs?: number): Promise<ReplyOf<K>> {
      return (await get()).request(body, tensors, timeoutMs);
    },
    prepare: (body, frames, reply) => connected().prepare(body, frames, reply),
    async send<K extends RequestKind>(p: PreparedRequest<K>, tensors: TensorFrame[], timeoutMs?: number): Promise<ReplyOf<K>> {
      return connected().send(p, tensors, timeoutMs);
    },
    async close() {
      closed = true; // a connect still under way closes its link when it lands
      await inner?.close();
    },
  };
}
