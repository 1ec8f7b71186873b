// RankLink over ZeroMQ: the lead holds a DEALER per rank, each rank process serves a ROUTER. Requests carry
// ids, so several can be in flight and replies may come back in any order. A dead peer shows up as a
// ZeroMQ `disconnect` event (TCP/IPC close, or missed ZMTP heartbeats) and fails what is waiting on it.
import type { Dealer, Router } from 'zeromq';
import { LimitError } from '../../gpu/errors.js';

/** zeromq is loaded on first use: a run without worker processes (and the browser bundle) never needs it. */
let zmq: Promise<typeof import('zeromq')> | null = null;
function loadZmq(): Promise<typeof import('zeromq')> {
  return (zmq ??= import('zeromq'));
}
import {
  bareHeader, decodeExpected, decodeHeaderObject, decodeKnown, decodeMessage, encodeMessage, isBare, learnTemplate, packBare, packHeader, slottedHeader,
  tensorParts, type BareHeader, type DecodeLimits, type HeaderTemplate,
} from './codec.js';
import {
  FrameError, KEEPALIVE_ID, PROTOCOL_VERSION, REQUESTS, isRequest, type FrameDesc, type MessageKind, type ReplyBody, type RequestKind, type RequestMsg, type TensorFrame,
} from './messages.js';
import {
  checkReply, DEFAULT_TIMEOUT_MS, errorMessage, idCounter, noReplyError, preparer, RankDeadError, RankTimeoutError, requestVia, serveOne,
  type PreparedRequest, type RankHandler, type RankLink, type Reply, type ReplyOf,
} from './link.js';

export interface ConnectOptions {
  name?: string;
  /** How long the first ping may take before the rank counts as absent (default 10 s). */
  connectTimeoutMs?: number;
  /** Default per-request timeout (default 60 s). */
  defaultTimeoutMs?: number;
  /** ZMTP heartbeat period; a peer silent for 5 periods counts as dead (default 1 s; 0 = off). */
  heartbeatMs?: number;
  limits?: DecodeLimits;
  /** Largest message (all frames) this side accepts; bigger ones are dropped by ZeroMQ before any allocation. */
  maxMessageBytes?: number;
  /** Busy-poll for this many ms after each request and reply (see busyPoll; default: defaultSpinMs). */
  spinMs?: number;
  /** While a reply is awaited (its first KEEPALIVE_WINDOW_MS), send a keep-alive this often (ms; 0: never; default FAPOOL_KEEPALIVE_MS or 0). */
  keepAliveMs?: number;
}

/** Default largest message: 1 GiB (a 2048-row prefill chunk of a 4096-wide model in f32 is ~100 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 30;

const heartbeat = (ms: number) => (ms > 0 ? { heartbeatInterval: ms, heartbeatTimeout: 5 * ms, heartbeatTimeToLive: 5 * ms } : {});

/**
 * Keeps this process's event loop turning (setImmediate: libuv polls its sockets without sleeping) for `ms` after
 * each touch(). A core that sleeps in epoll between messages can wake late (deep idle states), and a decode step
 * sends a message per layer: spinning trades a core for a shorter hop. `ms` ≤ 0: never spins.
 */
export function busyPoll(ms: number): { touch(): void; stop(): void } {
  let deadline = 0, running = false;
  const turn = () => {
    if (performance.now() < deadline) setImmediate(turn);
    else running = false;
  };
  return {
    touch() {
      if (!(ms > 0)) return;
      deadline = performance.now() + ms;
      if (!running) { running = true; setImmediate(turn); }
    },
    stop() { deadline = 0; },
  };
}

/** The busy-poll window a process on a hardware GPU uses (H200: a worker's hop 2.4 → 1.6 ms per layer). */
export const BUSY_POLL_MS = 3;
let processSpinMs = 0;

/**
 * This process's busy-poll window for links and servers made after it: BUSY_POLL_MS on a hardware GPU, 0 on a
 * CPU adapter (its cores run the GPU work: spinning would take them away). FAPOOL_SPIN_MS overrides either.
 */
export function setBusyPollFor(softwareAdapter: boolean): void {
  processSpinMs = softwareAdapter ? 0 : BUSY_POLL_MS;
}

/** A period (ms) from environment variable `name`, else `fallback`; anything not a positive number is 0 (off). */
function envMs(name: string, fallback: number): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]?.trim();
  if (env === undefined || env === '') return fallback;
  // A typo ('3ms', 'abc', '-1') read as 0 turned the busy-poll or keep-alive off without a word.
  const v = Number(env);
  if (!/^\d+(\.\d+)?$/.test(env) || !Number.isFinite(v)) throw new LimitError(`${name}=${env}: expected a number of ms >= 0 (0: off)`);
  return v;
}

/** Busy-poll window (ms) when none is given: FAPOOL_SPIN_MS, else this process's (setBusyPollFor; 0 until set). */
const defaultSpinMs = () => envMs('FAPOOL_SPIN_MS', processSpinMs);

/** How long after a request keep-alives go on while its reply is awaited (a decode layer's answer comes well within it). */
export const KEEPALIVE_WINDOW_MS = 5;

/** Keep-alive period (ms) when none is given: FAPOOL_KEEPALIVE_MS, else off. */
const defaultKeepAliveMs = () => envMs('FAPOOL_KEEPALIVE_MS', 0);

/**
 * Keeps both ends' ZeroMQ I/O threads from going idle while a reply is awaited: a one-way `keepalive` message
 * every `ms`, for KEEPALIVE_WINDOW_MS after each request. An I/O thread idle for ~0.3 ms or more sleeps, and on a
 * virtual machine its CPU halts and wakes late: each leg of a hop wakes two of them (busyPoll keeps only the
 * JavaScript thread awake). `ms` ≤ 0: never.
 */
function keepAlive(ms: number, send: (parts: Buffer[]) => Promise<void>, waiting: () => boolean): { touch(): void } {
  if (!(ms > 0)) return { touch() {} };
  const parts = encodeMessage({ kind: 'keepalive', v: PROTOCOL_VERSION, id: KEEPALIVE_ID });
  let until = 0, next = 0, running = false;
  const turn = () => {
    const now = performance.now();
    if (now >= until || !waiting()) { running = false; return; }
    if (now >= next) { next = now + ms; send(parts).catch(() => {}); }
    setImmediate(turn);
  };
  return {
    touch() {
      const now = performance.now();
      until = now + KEEPALIVE_WINDOW_MS;
      next = now + ms;
      if (!running) { running = true; setImmediate(turn); }
    },
  };
}

/**
 * A one-at-a-time send queue: zeromq.js rejects a send while another is still blocked on the same socket. With
 * none unsettled the message goes out now, not a microtask later (a decode layer's request is on the critical path).
 */
function sender(sock: Dealer | Router): (parts: Buffer[]) => Promise<void> {
  let unsettled = 0;
  let tail: Promise<void> = Promise.resolve();
  const now = (parts: Buffer[]): Promise<void> => {
    try { return sock.send(parts); } catch (e) { return Promise.reject(e); } // a throw fails this send, as queued ones do
  };
  return (parts) => {
    const sent = unsettled === 0 ? now(parts) : tail.then(() => sock.send(parts));
    unsettled++;
    tail = sent.then(() => { unsettled--; }, () => { unsettled--; });
    return sent;
  };
}

/**
 * Every request's deadline on one timer per link (a timer and a promise per request cost a decode layer's hop
 * tens of µs): `watch` after adding a request; the timer, re-armed for the nearest deadline, fails what is late.
 * It keeps the process alive while a request waits (as a timer per request did) and not after: `idle` when none
 * is left (ref/unref toggle the same timer, nothing is re-created per request).
 */
function deadlines(name: string, pending: Map<number, Pending>): { watch(deadline: number): void; idle(): void; stop(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null, armedFor = Infinity;
  const arm = (at: number) => {
    if (timer) clearTimeout(timer);
    armedFor = at;
    timer = setTimeout(sweep, Math.min(Math.max(0, at - performance.now()), 2 ** 31 - 1)); // a longer wait re-arms
  };
  const sweep = () => {
    timer = null; armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const p of [...pending.values()]) {
      if (p.deadline > now) { next = Math.min(next, p.deadline); continue; }
      pending.delete(p.req.id);
      p.reject(noReplyError(`${name}: ${p.req.kind} #${p.req.id}`, p.timeoutMs));
    }
    if (next < Infinity) arm(next);
  };
  return {
    watch(deadline) { if (deadline < armedFor) arm(deadline); else timer?.ref?.(); },
    idle() { timer?.unref?.(); },
    stop() { if (timer) clearTimeout(timer); timer = null; armedFor = Infinity; },
  };
}

interface Pending {
  req: RequestMsg; resolve: (r: Reply) => void; reject: (e: Error) => void; deadline: number; timeoutMs: number;
  /** The bare reply this request expects (RankLink.prepare's `reply`), matched by its bytes. */
  expect?: BareHeader;
}

/** Replies this process's links recognised by their bytes (matched) or decoded in full (decoded): for tests and benchmarks. */
export const replyCounts = { matched: 0, decoded: 0 };
/**
 * Where a hop's time goes (hop-bench xlink): when set, this process's links and servers call it at each step of a
 * request and reply with the step's name; off (null) it costs a check a step.
 */
let trace: ((step: string) => void) | null = null;
export function setLinkTrace(f: ((step: string) => void) | null): void { trace = f; }

/** Requests this process's servers took by a header template (matched) or decoded in full (decoded). */
export const requestCounts = { matched: 0, decoded: 0 };
/** Header templates a server keeps (the most recent first): a decode step's attend has one or two shapes. */
const KNOWN_TEMPLATES = 8;

/** The bare reply a request expects; none when those frames cannot be one (the reply is then decoded in full). */
function expectedReply(kind: MessageKind, id: number, frames: readonly FrameDesc[]): BareHeader | undefined {
  try {
    return bareHeader(kind, id, frames);
  } catch {
    return undefined; // a wrong hint costs a full decode, not the request
  }
}

/** Most requests in flight on a link for which a reply is first compared with the expected ones (a decode layer has one). */
const MAX_EXPECTED_SCAN = 8;

/**
 * The pending request a reply answers when it is byte for byte the bare reply that request expects, with the reply;
 * null when none matches (the reply is then decoded in full). A match whose frames are wrong fails its request.
 */
function matchExpected(parts: Buffer[], pending: Map<number, Pending>): { p: Pending; reply: Reply | Error } | null {
  if (pending.size > MAX_EXPECTED_SCAN) return null;
  for (const p of pending.values()) {
    if (!p.expect) continue;
    try {
      const reply = decodeExpected(parts, p.expect);
      if (reply) return { p, reply };
    } catch (e) {
      return { p, reply: e as Error };
    }
  }
  return null;
}

/** Connects to a rank served by serveRank and checks it answers a ping within connectTimeoutMs. */
export async function connectRank(endpoint: string, opts: ConnectOptions = {}): Promise<RankLink> {
  const name = opts.name ?? endpoint;
  const spinMs = opts.spinMs ?? defaultSpinMs(), keepAliveMs = opts.keepAliveMs ?? defaultKeepAliveMs(); // before a socket exists
  const { Dealer } = await loadZmq();
  const sock = new Dealer({ linger: 0, reconnectInterval: 100, maxMessageSize: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, ...heartbeat(opts.heartbeatMs ?? 1000) });
  const send = sender(sock);
  const spin = busyPoll(spinMs);
  const nextId = idCounter();
  const pending = new Map<number, Pending>();
  const late = deadlines(name, pending);
  const awake = keepAlive(keepAliveMs, send, () => pending.size > 0);
  let closed = false;
  let everConnected = false;
  let connected = false;

  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new RankDeadError(`${name}: ${p.req.kind} #${p.req.id}: ${why}`, why));
    pending.clear();
  };
  sock.events.on('connect', () => { connected = everConnected = true; });
  sock.events.on('disconnect', () => { connected = false; failAll(`peer at ${endpoint} disconnected`); });

  const receiving = (async () => {
    try {
      for await (const parts of sock) {
        trace?.('c.recv');
        const known = matchExpected(parts, pending);
        if (known) {
          trace?.('c.matched');
          replyCounts.matched++;
          spin.touch();
          pending.delete(known.p.req.id);
          if (known.reply instanceof Error) known.p.reject(known.reply); else known.p.resolve(known.reply);
          continue;
        }
        let reply: Reply;
        replyCounts.decoded++;
        try {
          reply = decodeMessage(parts, opts.limits);
        } catch (e) {
          // A malformed reply fails its request when the id can be read; otherwise it is dropped.
          let id: unknown;
          try { id = decodeHeaderObject(parts[0] ?? Buffer.alloc(0), opts.limits).id; } catch { /* unreadable */ }
          const p = typeof id === 'number' ? pending.get(id) : undefined;
          if (p) { pending.delete(p.req.id); p.reject(e as Error); }
          continue;
        }
        spin.touch();
        const p = pending.get(reply.header.id);
        if (!p) continue; // late reply to a timed-out request
        pending.delete(p.req.id);
        p.resolve(reply);
      }
    } catch (e) {
      if (!closed) failAll(`receive failed: ${errorMessage(e)}`);
    }
  })();

  sock.connect(endpoint);

  // Kept with each prepared request: its packed header, and the bare reply it expects when the caller said which.
  const { prepare, take } = preparer(name, nextId, (req, reply?: readonly FrameDesc[]) =>
    ({ wire: slottedHeader(req) ?? packHeader(req), expect: reply ? expectedReply(REQUESTS[req.kind], req.id, reply) : undefined }));
  const link: RankLink = {
    name,
    request: (body, tensors, timeoutMs) => requestVia(link, body, tensors, timeoutMs),
    prepare,
    async send<K extends RequestKind>(p: PreparedRequest<K>, tensors: TensorFrame[], timeoutMs = opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS): Promise<ReplyOf<K>> {
      if (closed) throw new RankDeadError(`${name}: link is closed`, 'link is closed');
      if (everConnected && !connected) throw new RankDeadError(`${name}: peer at ${endpoint} is disconnected`, `peer at ${endpoint} is disconnected`);
      trace?.('c.send');
      const { wire, expect } = take(p, tensors);
      const { req } = p, id = req.id;
      const parts = [wire, ...tensorParts(tensors)];
      const deadline = performance.now() + timeoutMs;
      const answered = new Promise<Reply>((resolve, reject) => pending.set(id, { req, resolve, reject, deadline, timeoutMs, expect }));
      late.watch(deadline);
      spin.touch();
      awake.touch();
      send(parts).catch((e) => {
        const q = pending.get(id);
        if (q) { pending.delete(id); q.reject(new RankDeadError(`${name}: send failed: ${errorMessage(e)}`, `send failed: ${errorMessage(e)}`)); }
      });
      trace?.('c.sent');
      try {
        const r = await answered;
        trace?.('c.resumed');
        return checkReply<K>(name, req, r);
      } finally {
        pending.delete(id); // a timed-out id's late reply finds nothing and is dropped
        if (pending.size === 0) late.idle();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      spin.stop();
      late.stop();
      failAll('link closed');
      sock.close();
      await receiving;
    },
  };

  try {
    await link.request({ kind: 'ping' }, [], opts.connectTimeoutMs ?? 10_000);
  } catch (e) {
    await link.close();
    if (e instanceof RankTimeoutError || e instanceof RankDeadError) {
      throw new RankDeadError(`${name}: no rank answering at ${endpoint} (${e.message})`, `no rank answering at ${endpoint} (${e.reason})`);
    }
    throw e;
  }
  return link;
}

export interface ServeOptions {
  /** Called for a request that could not be answered (malformed beyond recovering its id, send failure). */
  onError?: (e: Error) => void;
  heartbeatMs?: number;
  limits?: DecodeLimits;
  /** Largest request accepted (all frames); bigger ones are dropped by ZeroMQ before any allocation. */
  maxMessageBytes?: number;
  /**
   * A client's connection closed (its process died, or it missed the heartbeats): the rank can free what it
   * holds for that client. `client` is the id handlers were given.
   */
  onClientGone?: (client: string) => void;
  /** Busy-poll for this many ms after each request and reply (see busyPoll; default: defaultSpinMs). */
  spinMs?: number;
}

/** ZMQ_ROUTER_NOTIFY (libzmq 4.3): an empty message from a peer's routing id when it connects and when it disconnects. */
const ZMQ_ROUTER_NOTIFY = 97, NOTIFY_CONNECT_AND_DISCONNECT = 3;
/** Routing ids remembered as gone (oldest forgotten first). */
const MAX_GONE = 1 << 16;

/**
 * Serves `handler` on a ROUTER socket. Handlers start in arrival order and may overlap (a rank that must run
 * requests one at a time serializes inside its handler). A malformed request gets an `error` reply when its id
 * can be read, else it is dropped and reported to onError; the server keeps serving either way.
 */
export async function serveRank(endpoint: string, handler: RankHandler, opts: ServeOptions = {}): Promise<{ endpoint: string; close(): Promise<void> }> {
  const spinMs = opts.spinMs ?? defaultSpinMs(); // before a socket binds
  const { Router } = await loadZmq();
  const sock = new Router({ linger: 0, maxMessageSize: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, ...heartbeat(opts.heartbeatMs ?? 1000) });
  (sock as unknown as { setInt32Option(option: number, value: number): void }).setInt32Option(ZMQ_ROUTER_NOTIFY, NOTIFY_CONNECT_AND_DISCONNECT);
  // Routing ids (hex) connected now (each connection gets a new one), and those reported gone. A peer can send an
  // empty message itself, indistinguishable from a notification: it then counts as gone (its state freed) and what it
  // sends after is refused, so it cannot make state that no later notification would free. Bounded.
  const peers = new Set<string>(), gone = new Set<string>();
  const markGone = (client: string) => {
    gone.add(client);
    if (gone.size > MAX_GONE) gone.delete(gone.values().next().value as string);
  };
  await sock.bind(endpoint);
  const actual = sock.lastEndpoint ?? endpoint;
  const send = sender(sock);
  const spin = busyPoll(spinMs);
  const report = (e: unknown) => opts.onError?.(e instanceof Error ? e : new Error(String(e)));
  let closed = false;

  const reply = (rid: Buffer, id: number, header: ReplyBody, tensors: TensorFrame[] = []) => {
    let parts: Buffer[];
    try {
      // A reply with no header fields (attend_ok) goes out with its bare header: nothing packed or checked again.
      parts = isBare(header) ? packBare(header.kind as MessageKind, id, tensors) : encodeMessage({ ...header, v: PROTOCOL_VERSION, id }, tensors);
    } catch (e) {
      report(e);
      parts = encodeMessage({ kind: 'error', v: PROTOCOL_VERSION, id, message: `rank produced an invalid reply: ${errorMessage(e)}` });
    }
    trace?.('r.packed');
    send([rid, ...parts]).catch((e) => { if (!closed) report(e); });
    trace?.('r.sent');
  };

  /** An error reply when the request's id can be read, else nothing (reported). */
  const refuse = (rid: Buffer, parts: Buffer[], why: string) => {
    let id: unknown;
    try { id = decodeHeaderObject(parts[0] ?? Buffer.alloc(0), opts.limits).id; } catch { /* unreadable */ }
    if (id === KEEPALIVE_ID) return; // one way, whatever it carries
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffffffff) reply(rid, id, { kind: 'error', message: why });
    else report(new FrameError(why));
  };

  const known: HeaderTemplate[] = [];
  /** A request by a header template seen before, else decoded in full (and its template learnt, if it has one). */
  const decode = (parts: Buffer[]) => {
    const m = decodeKnown(parts, known);
    if (m) { requestCounts.matched++; return m; }
    requestCounts.decoded++;
    const full = decodeMessage(parts, opts.limits);
    const t = learnTemplate(full.header, parts[0]!);
    if (t && !known.includes(t)) { known.unshift(t); known.length = Math.min(known.length, KNOWN_TEMPLATES); }
    return full;
  };

  const serve = async (rid: Buffer, client: string, parts: Buffer[]) => {
    let req: RequestMsg, tensors: TensorFrame[];
    try {
      const m = decode(parts);
      trace?.('r.decoded');
      if (m.header.kind === 'keepalive') return; // one way: nothing to answer
      if (!isRequest(m.header)) throw new FrameError(`"${m.header.kind}" is not a request kind`);
      req = m.header;
      tensors = m.tensors;
    } catch (e) {
      refuse(rid, parts, `malformed request: ${errorMessage(e)}`);
      return;
    }
    spin.touch();
    const out = await serveOne(handler, req, tensors, client);
    trace?.('r.answered');
    reply(rid, req.id, out.header, out.tensors);
    spin.touch(); // the next request of a decode step comes within a layer's time
  };

  const serving = (async () => {
    try {
      for await (const [rid, ...parts] of sock) {
        trace?.('r.recv');
        if (!rid) continue;
        const client = rid.toString('hex');
        if (parts.length === 1 && parts[0]!.byteLength === 0) {
          // A connect or disconnect notification (never a request: a request has a header frame).
          if (gone.has(client)) continue;
          if (!peers.delete(client)) { peers.add(client); continue; }
          markGone(client);
          try { opts.onClientGone?.(client); } catch (e) { report(e); }
          continue;
        }
        if (gone.has(client)) { refuse(rid, parts, 'this connection was reported closed (an empty message); reconnect'); continue; }
        void serve(rid, client, parts);
      }
    } catch (e) {
      if (!closed) report(e);
    }
  })();

  return {
    endpoint: actual,
    async close() {
      if (closed) return;
      closed = true;
      spin.stop();
      sock.close();
      await serving;
    },
  };
}
