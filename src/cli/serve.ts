// `node run-inference.js serve`: an OpenAI-compatible HTTP server (Fastify) over one engine. The engine
// batches and routes (FA Pool) requests; the server validates them, streams their tokens, refuses work when
// the engine's queue is full (429), cancels the requests of clients that leave, and exports metrics.
// startServer() is the library/test entry; serveMain() the command (signals, stdout's "listening on" line).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { FapoolError, InputError } from '../gpu/errors.js';
import { chatPrompter, ChatTemplateError } from '../model/chat-template.js';
import { TokenizerError } from '../model/tokenizer.js';
import { createEngine, type EngineOptions } from '../orchestrator/create-engine.js';
import { QueueFullError } from '../orchestrator/engine.js';
import { runAndExit } from './exit.js';
import { parseServeArgs, serveHelpText } from './serve-args.js';
import { handleChatCompletion, type ChatContext } from './serve-chat.js';
import { boundSend, handleCompletion, type ServedEngine } from './serve-completions.js';
import { poolHealth, serverMetrics, type ServerMetrics } from './serve-metrics.js';
import { ApiError } from './serve-schema.js';
import { keptWhenQuiet } from './quiet-log.js';

export { parseServeArgs, serveHelpSummary, serveHelpText, type ServeArgs } from './serve-args.js';
export type { ServedEngine } from './serve-completions.js';

/** A server that could not start (address in use, bad host). */
export class ServeError extends FapoolError {}

/** A request's headers and body must arrive within this (ms): a 32 MiB body at 1 MB/s still does. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** A response that has ended may wait this long (ms) for a client that reads none of it; then its connection is closed. */
export const SEND_TIMEOUT_MS = 60_000;

export interface ServerOptions {
  /** Serve this engine (the caller disposes it)... */
  engine?: ServedEngine;
  /** ...or build one from these options (the server disposes it on close). */
  engineOptions?: EngineOptions;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 = any free port. */
  port?: number;
  /** Requests that may wait for the engine (sets engine.maxQueue; default: the engine's). */
  maxQueue?: number;
  /** The model id clients send (default: the config's name). */
  modelName?: string;
  /** Longest prompt + completion (default: the engine options' schedule.maxContext, else the model's context). */
  maxContext?: number;
  /** close()'s default wait for in-flight requests before it cancels them (ms, default 10 s). */
  shutdownGraceMs?: number;
  /**
   * How long a client may take to send a whole request, headers and body (ms, default REQUEST_TIMEOUT_MS): past it
   * the connection gets 408 and is closed. A response (a stream) is not limited by it.
   */
  requestTimeoutMs?: number;
  /**
   * How long a response that has ended (a whole answer, or a stream's last event) may wait for a client that reads
   * none of it (ms, default SEND_TIMEOUT_MS): then its connection is closed. A client still reading is not cut.
   */
  sendTimeoutMs?: number;
  /** Warnings and errors (failed generations, 5xx answers, a chat template that cannot be used); default stderr. */
  log?: (line: string) => void;
  /** The start-up log (pipelines compiled, notes); default: `log`. */
  info?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  modelName: string;
  engine: ServedEngine;
  app: FastifyInstance;
  metrics: ServerMetrics;
  /**
   * Stop accepting, let in-flight requests finish for `graceMs` (then cancel them: a stream ends with an
   * error event, a waiting client gets 503), dispose an engine the server built. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** Bodies hold token ids: a long context as JSON is a few hundred KB; leave room for lists of prompts. */
const BODY_LIMIT = 32 << 20;

/** The charset parameter of a Content-Type (a quoted value may hold ';' and '='), or null. */
function charsetOf(contentType: string): string | null {
  const params = /;(.*)$/s.exec(contentType)?.[1] ?? '';
  for (const m of params.matchAll(/\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)/g)) {
    if (m[1]!.toLowerCase() === 'charset') return m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!.trim();
  }
  return null;
}

/** Request bodies: bytes that are not UTF-8 are refused, not replaced. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof QueueFullError) return new ApiError(429, e.message, 'rate_limit_error', null, 'queue_full');
  if (e instanceof InputError || e instanceof TokenizerError) return new ApiError(400, e.message, 'invalid_request_error', null, 'invalid_value');
  const fe = e as Partial<FastifyError>;
  const status = fe.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals: body not JSON, too large, wrong content type, ...
    const code = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e instanceof SyntaxError ? 'invalid_json'
      : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large'
        : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type'
          : fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'empty_body' : 'bad_request';
    const message = code === 'invalid_json' ? `the request body is not valid JSON: ${fe.message}`
      : code === 'unsupported_media_type' ? `${fe.message}; send Content-Type: application/json` : fe.message ?? 'bad request';
    return new ApiError(status, message, 'invalid_request_error', null, code);
  }
  const what = e instanceof FapoolError ? e.message : `internal error (${(e as Error)?.name ?? typeof e})`;
  return new ApiError(500, what, 'server_error', null, 'internal_error');
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startServer(o: ServerOptions = {}): Promise<RunningServer> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const info = o.info ?? log;
  const owned = !o.engine;
  const engine: ServedEngine = o.engine ?? await createEngine({ log, ...o.engineOptions });
  try {
    if (o.maxQueue !== undefined) engine.maxQueue = o.maxQueue;
    // The chat template is checked now, before the pipelines compile (it is quick), not on a request. One that cannot
    // be used loses /v1/chat/completions only, said at start: /v1/completions serves on.
    let chat: ChatContext['chat'];
    try {
      chat = chatPrompter(engine.tokenizer);
    } catch (e) {
      if (!(e instanceof ChatTemplateError)) throw e;
      log(`warning: the chat template (tokenizer_config.json chat_template, or chat_template.jinja) cannot be used: ${e.message}; /v1/chat/completions answers 400`);
      chat = { why: `this model's chat template cannot be used: ${e.message}; use /v1/completions`, code: 'chat_template_unusable' };
    }
    // Pipelines at startup, not on the first request.
    if (engine.precompileServing) {
      const c = await engine.precompileServing();
      info(`compiled ${c.pipelines} pipelines in ${c.ms.toFixed(0)} ms`);
    }
    const modelName = o.modelName ?? engine.config.name;
    const streams = { open: 0 }, counted = new WeakSet<ServerResponse>();
    const metrics = serverMetrics(engine, () => streams.open);
    let closing = false, stopped = false;
    const maxContext = Math.min(engine.config.maxSeq, o.maxContext ?? o.engineOptions?.schedule?.maxContext ?? Infinity);
    const asked = o.maxContext ?? o.engineOptions?.schedule?.maxContext;
    if (asked !== undefined && asked > engine.config.maxSeq) info(`note: max context ${asked} is over the model's ${engine.config.maxSeq} tokens: serving ${engine.config.maxSeq}`);
    const sendTimeoutMs = o.sendTimeoutMs ?? SEND_TIMEOUT_MS;
    const ctx: ChatContext = { engine, modelName, metrics, maxContext, inFlight: new Set(), stopped: () => stopped, streams, counted, log, chat, sendTimeoutMs };
    // The grace is over: cancel what is still running; connections still open a moment later are cut.
    const stopWaiting = () => {
      if (stopped) return;
      stopped = true;
      for (const cancel of ctx.inFlight) cancel();
      setTimeout(() => app.server.closeAllConnections(), 1000).unref();
    };

    // A client that stops sending mid-body would otherwise hold its connection (and a file descriptor) for ever.
    const requestTimeout = o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const app = Fastify({
      logger: false, bodyLimit: BODY_LIMIT, return503OnClosing: false, forceCloseConnections: 'idle',
      // Node's own server options too: set on the server after it is made (Fastify's way), a body that stalls is not timed out.
      // A request without Host is refused below, in OpenAI's error shape (Node's own answer is a bare 400).
      requestTimeout, http: { requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(requestTimeout / 4))), requireHostHeader: false },
      // Errors before a route runs (a malformed URL; a request line or headers Node cannot parse, a timeout) in
      // OpenAI's error shape too, not Fastify's own.
      frameworkErrors: (err, _req, reply) => {
        const r = reply as unknown as { code(c: number): { send(b: unknown): unknown } };
        void r.code(400).send(new ApiError(400, `bad request: ${err.message}`, 'invalid_request_error', null, 'bad_request').body());
      },
      clientErrorHandler: (err, socket) => {
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
        // A response already under way on this socket: nothing more can be said on it (Node's own handler's rule).
        if ((socket as unknown as { _httpMessage?: { _headerSent?: boolean } })._httpMessage?._headerSent) { socket.destroy(); return; }
        const code = (err as NodeJS.ErrnoException).code;
        const [status, text, message, apiCode] = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request did not arrive in time', 'request_timeout']
          : code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'the request headers are too large', 'headers_too_large']
          : [400, 'Bad Request', 'the request could not be parsed as HTTP', 'bad_request'];
        const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error', null, apiCode).body());
        if (socket.writable) socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
        socket.destroy();
      },
    });
    app.removeContentTypeParser('text/plain'); // bodies are JSON: anything else is 415, not a string prompt body
    // Bodies are UTF-8 JSON. Another charset, or bytes that are not UTF-8, reached the model as another prompt (the
    // default parser made them U+FFFD); a compressed body was called "not valid JSON".
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
      const refuse = (status: number, message: string, code: string) => done(new ApiError(status, message, 'invalid_request_error', null, code), undefined);
      const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        return refuse(415, `Content-Encoding '${encoding}' is not supported: send the body uncompressed`, 'unsupported_media_type');
      }
      const charset = charsetOf(req.headers['content-type'] ?? '');
      if (charset !== null && !/^(utf-?8|us-ascii|ascii)$/i.test(charset)) return refuse(415, `charset ${charset} is not supported: send the JSON body as UTF-8`, 'unsupported_media_type');
      let text: string;
      try {
        text = UTF8.decode(body as Buffer);
      } catch {
        return refuse(400, 'the request body is not valid UTF-8', 'invalid_json');
      }
      parseJson(req, text, done);
    });
    app.addHook('onRequest', async (req, reply) => {
      if (closing) {
        reply.header('connection', 'close');
        throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down');
      }
      // RFC 9112: an HTTP/1.1 request without Host must be refused with 400.
      if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
        reply.header('connection', 'close');
        throw new ApiError(400, 'an HTTP/1.1 request needs a Host header', 'invalid_request_error', null, 'missing_host');
      }
    });
    // An Expect other than 100-continue: 417 in OpenAI's shape (Node's own answer has no body). The request is not run.
    app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      const body = JSON.stringify(new ApiError(417, `Expect: ${String(req.headers.expect)} is not supported (only 100-continue)`, 'invalid_request_error', null, 'expectation_failed').body());
      res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
    });
    // Whatever a reply holds is bounded once sent, as a stream's end is (boundSend).
    app.addHook('onSend', async (_req, reply) => { boundSend(reply.raw, sendTimeoutMs); });
    app.addHook('onResponse', async (req, reply) => {
      if (counted.has(reply.raw)) return; // a stream or a hijacked reply counted itself (once, with its own status)
      metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    });
    app.setErrorHandler((err, req, reply) => {
      const api = toApiError(err);
      const why = (err as { cause?: unknown }).cause ?? err; // a generation's failure: the error it wraps
      if (api.status >= 500 && api.code !== 'shutting_down') log(`error: ${req.method} ${req.url}: ${(why as Error)?.stack ?? String(why)}`);
      void reply.code(api.status).send(api.body());
    });
    // The methods each route path takes (a wildcard path by its prefix): a path that exists asked with another method is
    // 405 with Allow, not 404 (which says the path is wrong).
    const methods = new Map<string, Set<string>>();
    app.addHook('onRoute', (r) => {
      const set = methods.get(r.url) ?? new Set<string>();
      for (const m of [r.method].flat()) set.add(m);
      methods.set(r.url, set);
    });
    const allowedFor = (path: string): string[] => {
      const exact = methods.get(path);
      if (exact) return [...exact];
      for (const [url, set] of methods) if (url.endsWith('/*') && path.startsWith(url.slice(0, -1)) && path.length > url.length - 1) return [...set];
      return [];
    };
    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0]!, allow = allowedFor(path);
      if (allow.length > 0) {
        void reply.code(405).header('allow', allow.join(', '))
          .send(new ApiError(405, `${req.method} is not allowed on ${path}; use ${allow.join(' or ')}`, 'invalid_request_error', null, 'method_not_allowed').body());
        return;
      }
      void reply.code(404).send(new ApiError(404, `no route for ${req.method} ${path}`, 'invalid_request_error', null, 'not_found').body());
    });

    app.post('/v1/completions', (req, reply) => handleCompletion(ctx, req, reply));
    app.post('/v1/chat/completions', (req, reply) => handleChatCompletion(ctx, req, reply));
    const model = () => ({ id: modelName, object: 'model', created: 0, owned_by: 'fapool', max_model_len: maxContext });
    app.get('/v1/models', async () => ({ object: 'list', data: [model()] }));
    // The rest of the path is the id: Hugging Face ids hold a slash, which OpenAI's clients put in the path unencoded.
    app.get<{ Params: { '*': string } }>('/v1/models/*', async (req) => {
      const id = req.params['*'];
      if (id !== modelName) throw new ApiError(404, `the model '${id}' does not exist; this server serves '${modelName}'`, 'invalid_request_error', 'model', 'model_not_found');
      return model();
    });
    // Serving (200, status ok) even with pool members down: their sequences run on the base; `pool` says how many.
    // 503 "degraded" while a static rank is dead: every request would fail (a load balancer must stop sending them).
    app.get('/health', async (_req, reply) => {
      const pool = poolHealth(engine);
      const ranks = engine.report?.().rankHealth, down = ranks?.filter((r) => !r.alive).map((r) => r.name) ?? [];
      if (down.length) void reply.code(503);
      return {
        status: down.length ? 'degraded' : 'ok', model: modelName, device: engine.device, dtype: engine.dtype, ...engine.load(),
        ...(pool ? { pool } : {}), ...(ranks ? { static: { ranks: ranks.length, down } } : {}),
      };
    });
    app.get('/metrics', async (_req, reply) => {
      void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return metrics.registry.render();
    });

    const host = o.host ?? '127.0.0.1';
    try {
      await app.listen({ host, port: o.port ?? 8000 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ServeError(`cannot listen on ${urlOf(host, o.port ?? 8000)}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? 'no such local address' : err.message}`);
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : o.port ?? 8000;

    let closed: Promise<void> | null = null;
    const close = (graceMs = o.shutdownGraceMs ?? 10_000): Promise<void> => {
      if (closed) { if (graceMs === 0) stopWaiting(); return closed; }
      return closed = closeNow(graceMs);
    };
    const closeNow = async (graceMs: number): Promise<void> => {
      closing = true;
      const timer = setTimeout(stopWaiting, graceMs);
      // Keep-alive connections whose last response ended after close() began would hold it open: close
      // them as they fall idle.
      const idle = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        clearInterval(idle);
        if (owned) await engine.dispose();
      }
    };
    return { url: urlOf(host, port), host, port, modelName, engine, app, metrics, close };
  } catch (e) {
    if (owned) await engine.dispose();
    throw e;
  }
}

/** Fails fast when host:port cannot be bound, before minutes of model loading (the real bind comes later). */
async function probeAddress(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => reject(new ServeError(`cannot listen on ${urlOf(host, port)}: ${
      e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? 'no such local address' : e.message}`)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * serve's stderr. `info`: the start-up and shutdown log, which --quiet drops. `log`: what the engine and the server
 * say; --quiet drops the engine's load log (lines that are neither a warning nor an error) until `serving()`, and
 * nothing after it: a failed request's "error: POST ...", a failed stream's "completion ... failed", a worker's words.
 */
export function serveLog(quiet: boolean, write: (line: string) => void): { info: (line: string) => void; log: (line: string) => void; serving: () => void } {
  let started = false;
  return {
    info: (line) => { if (!quiet) write(line); },
    log: (line) => { if (!quiet || started || keptWhenQuiet(line)) write(line); },
    serving: () => { started = true; },
  };
}

/** The command: start, print the address, serve until SIGINT/SIGTERM (a second one cancels what is left). */
export async function serveMain(argv: string[]): Promise<number> {
  const a = parseServeArgs(argv);
  if (a.help) { console.log(serveHelpText()); return 0; }
  const { info, log, serving } = serveLog(a.quiet, (line) => process.stderr.write(`${line}\n`));
  for (const w of a.warnings) log(`warning: ${w}`);
  await probeAddress(a.host, a.port);
  const server = await startServer({
    engineOptions: { ...a.engine, log }, host: a.host, port: a.port, maxQueue: a.maxQueue, modelName: a.modelName,
    shutdownGraceMs: a.shutdownGraceMs, log, info,
  });
  serving();
  info(`serving ${server.modelName} (${server.engine.dtype}) on ${server.engine.device}; queue ${server.engine.maxQueue}`);
  // Listeners stay on (not once): between a once-listener's removal and the next's, a second signal found none and
  // its default action killed the process (a supervisor's TERM to the group and the wrapper's, 1 run in 10). They
  // are on before "listening" is printed: a client that signals as soon as it reads the line found none, and the
  // default action killed the process (a CI run on a busy machine, session 34).
  let signals = 0;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      if (signals++ === 0) { resolve(s); return; }
      info('second signal: cancelling in-flight requests');
      void server.close(0);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  process.stdout.write(`listening on ${server.url}\n`);
  const signal = await stopped;
  const { running, queued } = server.engine.load();
  info(`stopping (${signal}): ${running} running, ${queued} queued; waiting up to ${a.shutdownGraceMs} ms (a second signal cancels them)`);
  await server.close(a.shutdownGraceMs);
  info('stopped');
  return 0;
}

export function runServeCli(argv: string[]): Promise<never> {
  return runAndExit(() => serveMain(argv));
}
