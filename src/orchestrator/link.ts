// The transport both kinds of pool rank sit behind: a request/reply link matched by request id.
import { FapoolError } from '../gpu/errors.js';
import {
  ERROR_MESSAGE_MAX, FrameError, PROTOCOL_VERSION, REPLY_KIND, validateMessage, type Message, type RequestMsg, type TensorFrame,
} from './messages.js';

/** A reply did not arrive in time; the link stays usable (a late reply is dropped). */
export class RankTimeoutError extends FapoolError {}
/** The rank's link is closed or its peer is gone. */
export class RankDeadError extends FapoolError {}
/** The rank answered `error`: the request failed there. */
export class RankRemoteError extends FapoolError {}

export interface Reply { header: Message; tensors: TensorFrame[] }

export interface RankLink {
  readonly name: string;
  /**
   * Sends a request (`kind` plus its fields; `v` and `id` are filled in) and resolves with the matching reply.
   * Rejects with RankRemoteError on an `error` reply, RankTimeoutError after timeoutMs, RankDeadError when
   * the link is closed or the peer is gone, FrameError for a malformed request or reply.
   * Tensor data must stay unmodified until the promise settles (it is sent without copying).
   */
  request(header: object, tensors?: TensorFrame[], timeoutMs?: number): Promise<Reply>;
  close(): Promise<void>;
}

/** Serves one request; a throw becomes an `error` reply. `v`, `id` and `frames` of the reply are filled in. */
export type RankHandler = (header: Message, tensors: TensorFrame[]) => Promise<{ header: object; tensors?: TensorFrame[] }>;

export const DEFAULT_TIMEOUT_MS = 60_000;

/** Checks a reply against its request: the expected kind, or `error` → RankRemoteError. */
export function checkReply(linkName: string, req: RequestMsg, reply: Reply): Reply {
  const h = reply.header;
  if (h.kind === 'error') throw new RankRemoteError(`${linkName}: ${req.kind} #${req.id} failed on the rank: ${h.message}`);
  if (h.kind !== REPLY_KIND[req.kind]) {
    throw new FrameError(`${linkName}: ${req.kind} #${req.id} got reply kind "${h.kind}", expected "${REPLY_KIND[req.kind]}"`);
  }
  return reply;
}

/** Rejects after ms with RankTimeoutError unless the promise settles first; the timer never outlives it. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RankTimeoutError(`${what()}: no reply within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Request ids: u32, wrapping. */
export function idCounter(): () => number {
  let next = 0;
  return () => { const id = next; next = (next + 1) >>> 0; return id; };
}

/** An error as one line for an `error` reply, cut to what the protocol carries. */
export function errorMessage(e: unknown): string {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.length > ERROR_MESSAGE_MAX ? `${s.slice(0, ERROR_MESSAGE_MAX - 1)}…` : s;
}

/**
 * A rank in this process: the handler is called directly, nothing is encoded (tensors are passed by reference),
 * but request and reply are validated as on the wire, so in-process tests catch protocol mistakes.
 */
export function inProcessLink(name: string, handler: RankHandler, opts: { defaultTimeoutMs?: number } = {}): RankLink {
  const nextId = idCounter();
  const pending = new Set<(e: Error) => void>();
  let closed = false;
  return {
    name,
    async request(header, tensors = [], timeoutMs = opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS) {
      if (closed) throw new RankDeadError(`${name}: link is closed`);
      const req = validateMessage({ ...header, v: PROTOCOL_VERSION, id: nextId() }, tensors) as RequestMsg;
      if (!(req.kind in REPLY_KIND)) throw new FrameError(`${name}: "${req.kind}" is a reply kind, not a request`);
      const served = (async (): Promise<Reply> => {
        let out: { header: object; tensors?: TensorFrame[] };
        try {
          out = await handler(req, tensors);
        } catch (e) {
          return { header: { v: PROTOCOL_VERSION, id: req.id, kind: 'error', message: errorMessage(e) }, tensors: [] };
        }
        const ts = out.tensors ?? [];
        return { header: validateMessage({ ...out.header, v: PROTOCOL_VERSION, id: req.id }, ts), tensors: ts };
      })();
      // close() rejects what is still waiting, as a dead peer would.
      let onClose!: (e: Error) => void;
      const dead = new Promise<never>((_, reject) => { onClose = reject; });
      pending.add(onClose);
      try {
        const reply = await withTimeout(Promise.race([served, dead]), timeoutMs, () => `${name}: ${req.kind} #${req.id}`);
        return checkReply(name, req, reply);
      } finally {
        pending.delete(onClose);
      }
    },
    async close() {
      closed = true;
      for (const reject of pending) reject(new RankDeadError(`${name}: link closed while a request was in flight`));
      pending.clear();
    },
  };
}
