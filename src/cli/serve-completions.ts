// POST /v1/completions: OpenAI's legacy completions over Engine.submit, one engine request per prompt (a
// choice). Streams are server-sent events in OpenAI's chunk format ending with `data: [DONE]`. A client
// that goes away, or a server that stops waiting, aborts the requests (the engine frees their sequences).
// Requests may finish in any order (continuous batching): choices are written as their events come.
// serveJobs is what POST /v1/chat/completions (serve-chat.ts) shares: it differs only in its ResponseShape.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GREEDY, QueueFullError, type CompletionEvent, type Engine, type FinishReason } from '../orchestrator/engine.js';
import { ApiError, fitContext, parseCompletionRequest, type GenerationParams } from './serve-schema.js';
import type { ServerMetrics } from './serve-metrics.js';

/** What the server needs of an engine (an Engine, or a stand-in in tests). */
export type ServedEngine = Pick<Engine, 'submit' | 'load' | 'encode' | 'config' | 'dtype' | 'device' | 'maxQueue' | 'dispose'>
  & Partial<Pick<Engine, 'report' | 'precompileServing' | 'minTokens' | 'tokenizer'>>;

export interface CompletionContext {
  engine: ServedEngine;
  modelName: string;
  metrics: ServerMetrics;
  /** Cancels of the requests in flight, called when the server stops waiting for them (shutdown grace over). */
  inFlight: Set<() => void>;
  /** True once the server has stopped waiting: new work is cancelled at once. */
  stopped: () => boolean;
  /** Longest prompt + completion a request may have (the model's context, or less as the engine was set up). */
  maxContext: number;
  /** Server-sent event streams open now. */
  streams: { open: number };
  /** Replies this module took over (hijacked) and counted in `metrics.requests` itself: the server's hook skips them. */
  counted: WeakSet<ServerResponse>;
  log: (line: string) => void;
  /** How long a response that has ended may wait for a client reading none of it (ms): see boundSend. */
  sendTimeoutMs: number;
}

type Done = Extract<CompletionEvent, { type: 'done' }>;

/** Per connection, the requests on it that its close must cancel: one listener a socket, however many are pipelined. */
const socketWatchers = new WeakMap<Socket, Set<() => void>>();

/**
 * Runs `cb` when the connection closes; returns the undo. A pipelined request (sent before the one ahead of it on the
 * connection was answered) gets no response 'close' when the client leaves (its response is not on the socket yet):
 * it decoded to its end for nobody.
 */
function onConnectionClose(socket: Socket, cb: () => void): () => void {
  let set = socketWatchers.get(socket);
  if (!set) {
    const mine = new Set<() => void>();
    socketWatchers.set(socket, set = mine);
    socket.once('close', () => { socketWatchers.delete(socket); for (const f of mine) f(); });
  }
  const watchers = set;
  watchers.add(cb);
  return () => { watchers.delete(cb); };
}

/**
 * Bounds what is left of a response once it has ended (the whole of it written, up to 4 MiB buffered): a client
 * that reads none of it for `ms` loses its connection. Nothing else times out a response's writes, so a client that
 * never read held its connection and that buffer for good. The socket's idle timeout, so a client still reading
 * (slowly) is not cut.
 */
export function boundSend(res: ServerResponse, ms: number): void {
  if (ms <= 0 || res.destroyed) return;
  const socket = res.req.socket;
  res.setTimeout(ms, () => res.destroy());
  // Flushed: Node has set the keep-alive timeout by now; a pipelined response next on the socket (which may wait longer
  // for its tokens) must not inherit ours: with no listener of its own, Node would destroy the connection.
  res.once('finish', () => { if (socket.timeout === ms) socket.setTimeout(0); });
}

/** A stream whose client reads slower than tokens come is cut once this much is buffered. */
const MAX_BUFFERED_BYTES = 4 << 20;

/** Per-choice numbers beside OpenAI's fields (clients ignore unknown fields; benchmarks read them). */
function choiceMetrics(d: Done) {
  return {
    finish: d.reason, prompt_tokens: d.promptTokens, completion_tokens: d.tokens.length,
    ttft_ms: round(d.ttftMs), tpot_ms: round(d.tpotMs), queue_ms: round(d.queueMs), base_steps: d.baseSteps, pool_steps: d.poolSteps,
  };
}
const round = (v: number) => Math.round(v * 1000) / 1000;
const finishReason = (r: FinishReason): 'stop' | 'length' | null => (r === 'length' ? 'length' : r === 'cancelled' ? null : 'stop');

function record(m: ServerMetrics, d: Done): void {
  m.finished.inc({ reason: d.reason });
  m.promptTokens.inc({}, d.promptTokens);
  m.generationTokens.inc({}, d.tokens.length);
  m.decodeSteps.inc({}, Math.max(0, d.tokens.length - 1));
  if (d.tokens.length > 0) m.ttft.observe(d.ttftMs / 1000);
  if (d.tokens.length > 1) m.tpot.observe(d.tpotMs / 1000);
  m.queueTime.observe(d.queueMs / 1000);
}

/** Errors of a request that has already started streaming, as the body of an SSE error event. */
function errorOf(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return Object.assign(new ApiError(500, `generation failed: ${(e as Error)?.message ?? String(e)}`, 'server_error', null, 'generation_failed'), { cause: e });
}

/** What a route words differently: /v1/completions' text choices, or chat's messages and deltas. */
export interface ResponseShape {
  /** The route, as `fapool_http_requests_total` labels it. */
  route: string;
  idPrefix: string;
  /** `object` of a whole response, and of a stream's chunks. */
  object: string;
  chunkObject: string;
  /** A whole response's choice holding `text`. */
  choice(text: string): Record<string, unknown>;
  /** A stream chunk's choice holding the next piece of text. */
  piece(text: string): Record<string, unknown>;
  /** What a choice's last chunk (its finish reason) holds of text. */
  end: Record<string, unknown>;
  /** What each choice's first chunk holds (chat: the assistant's role), before any text; none where absent. */
  start?: Record<string, unknown>;
  /** return_token_ids gives the prompt's ids too, beside the choices (vLLM's chat: in the response, or a stream's first chunk). */
  promptTokenIds?: boolean;
}

const TEXT_COMPLETION: ResponseShape = {
  route: '/v1/completions', idPrefix: 'cmpl', object: 'text_completion', chunkObject: 'text_completion',
  choice: (text) => ({ text }), piece: (text) => ({ text }), end: { text: '' },
};

/** One engine request of a route's: the prompt's ids and how many tokens it may add. */
export interface Job { ids: number[]; maxTokens: number }

/** A request naming another model than the one served: 404, as OpenAI answers. */
export function checkModel(ctx: CompletionContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.modelName) {
    throw new ApiError(404, `the model '${model}' does not exist; this server serves '${ctx.modelName}'`, 'invalid_request_error', 'model', 'model_not_found');
  }
}

/** A prompt (text through `encode`, or ids), named `param` in errors, and the request's max_tokens fitted to the context. */
export function promptJob(ctx: CompletionContext, prompt: string | number[], param: string, p: GenerationParams,
  encode: (text: string) => number[] = (t) => ctx.engine.encode(t)): Job {
  // Too long for the context whatever its tokens are: refused before encoding (31 MB of text took 4.4 s of the
  // event loop to encode, every stream of the server stalled meanwhile).
  const least = typeof prompt === 'string' ? ctx.engine.minTokens?.(prompt) ?? 0 : 0;
  if (least >= ctx.maxContext) {
    throw new ApiError(400, `this model's maximum context length is ${ctx.maxContext} tokens; ${param} has at least ${least} tokens, leaving no room for a completion`,
      'invalid_request_error', param, 'context_length_exceeded');
  }
  const ids = typeof prompt === 'string' ? encode(prompt) : prompt;
  if (ids.length === 0) throw new ApiError(400, `'${param}' has no tokens`, 'invalid_request_error', param, 'invalid_value');
  return { ids, maxTokens: fitContext(ids.length, p.maxTokens, ctx.maxContext, param, p.maxTokensParam, p.defaultMaxTokens) };
}

export async function handleCompletion(ctx: CompletionContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const t0 = performance.now();
  const p = parseCompletionRequest(req.body, ctx.engine.config.vocab);
  checkModel(ctx, p.model);
  const jobs = p.prompts.map((prompt, i) => promptJob(ctx, prompt, p.prompts.length > 1 ? `prompt[${i}]` : 'prompt', p));
  await serveJobs(ctx, req, reply, p, jobs, TEXT_COMPLETION, t0);
}

/**
 * Runs a route's jobs on the engine, one choice each, and answers in the route's shape: a response, or a stream. A
 * client that leaves, or a server that stops waiting, cancels them. `t0`: when the request came (end-to-end time).
 */
export async function serveJobs(ctx: CompletionContext, req: FastifyRequest, reply: FastifyReply, p: GenerationParams, jobs: Job[],
  shape: ResponseShape, t0: number): Promise<void> {
  const { engine } = ctx;
  // The engine decodes requests together only when their sampling parameters are equal: greedy requests all
  // get the same (top-k/top-p mean nothing there; top_p 0, OpenAI's smallest nucleus, is the argmax); sampled ones without a seed batch together too, and the engine
  // draws a new random seed for each batch they start (the same prompt again gives new text).
  const sampling = p.temperature === 0 || p.topP === 0 ? { ...GREEDY } : { temperature: p.temperature, topP: p.topP, topK: p.topK, seed: p.seed };

  const res = reply.raw;
  const ac = new AbortController();
  let why: 'client' | 'shutdown' | 'slow' | 'failed' | null = null;
  const abort = (w: NonNullable<typeof why>) => { if (!ac.signal.aborted) { why = w; ac.abort(new Error(w)); } };
  const onClose = () => { if (!res.writableFinished) abort('client'); };
  const onShutdown = () => abort('shutdown');
  res.on('close', onClose);
  const unwatch = onConnectionClose(req.raw.socket, onClose);
  ctx.inFlight.add(onShutdown);
  if (ctx.stopped()) abort('shutdown');
  if (req.raw.destroyed || req.raw.socket.destroyed) abort('client');
  try {
    // More choices than the queue holds would get 429 with retry-after for ever, on an idle server too.
    if (jobs.length > engine.maxQueue) {
      throw new ApiError(400, `this request has ${jobs.length} prompts, more than the server's queue holds (${engine.maxQueue}): send at most ${engine.maxQueue} a request`,
        'invalid_request_error', 'prompt', 'too_many_prompts');
    }
    // All choices or none: a full queue refuses the request, and the choices already queued are withdrawn.
    const streams: AsyncIterable<CompletionEvent>[] = [];
    try {
      for (const j of jobs) {
        streams.push(engine.submit({
          prompt: j.ids, maxTokens: j.maxTokens, stop: p.stop, signal: ac.signal, sampling,
        }));
      }
    } catch (e) {
      ac.abort(e); // the engine ends the withdrawn ones with 'cancelled'; nobody needs to read them
      if (e instanceof QueueFullError) {
        reply.header('retry-after', '1');
        throw new ApiError(429, `the server is busy: ${e.message}; retry later`, 'rate_limit_error', null, 'queue_full');
      }
      throw e;
    }
    const id = `${shape.idPrefix}-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const promptIds = p.returnTokenIds && shape.promptTokenIds ? { prompt_token_ids: jobs[0]!.ids } : {};
    const o: Ids = { id, created, shape, promptIds, returnTokenIds: p.returnTokenIds, abort, why: () => why };
    if (p.stream) await streamChoices(ctx, reply, streams, { ...o, includeUsage: p.includeUsage });
    else await answerChoices(ctx, reply, streams, o);
    if (why === null) ctx.metrics.e2e.observe((performance.now() - t0) / 1000);
  } finally {
    res.off('close', onClose);
    unwatch();
    ctx.inFlight.delete(onShutdown);
  }
}

interface Ids {
  id: string; created: number; shape: ResponseShape; returnTokenIds: boolean;
  /** Fields beside the choices: the prompt's ids where the shape gives them. */
  promptIds: Record<string, unknown>;
  abort: (w: 'failed' | 'slow') => void; why: () => string | null;
}

async function answerChoices(ctx: CompletionContext, reply: FastifyReply, streams: AsyncIterable<CompletionEvent>[], o: Ids): Promise<void> {
  const dones: Done[] = [];
  await Promise.all(streams.map(async (s, i) => {
    try {
      for await (const e of s) if (e.type === 'done') { dones[i] = e; record(ctx.metrics, e); }
    } catch (e) {
      ctx.metrics.finished.inc({ reason: 'error' });
      o.abort('failed');
      throw errorOf(e); // as a stream reports it: 500 generation_failed (a NaN logit, a lost device, a bug alike); the log gets e's stack
    }
  }));
  if (o.why() === 'client') {
    // Nobody to answer: the socket is gone.
    reply.hijack();
    ctx.counted.add(reply.raw);
    ctx.metrics.requests.inc({ route: o.shape.route, status: '499' });
    return;
  }
  if (o.why() === 'shutdown') throw new ApiError(503, 'the server is shutting down; the request was cancelled', 'server_error', null, 'shutting_down');
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const choices = dones.map((d, index) => {
    usage.prompt_tokens += d.promptTokens;
    usage.completion_tokens += d.tokens.length;
    return {
      ...o.shape.choice(d.text), index, logprobs: null, finish_reason: finishReason(d.reason), metrics: choiceMetrics(d),
      ...(o.returnTokenIds ? { token_ids: d.tokens } : {}),
    };
  });
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  await reply.send({ id: o.id, object: o.shape.object, created: o.created, model: ctx.modelName, choices, usage, ...o.promptIds });
}

async function streamChoices(ctx: CompletionContext, reply: FastifyReply, streams: AsyncIterable<CompletionEvent>[],
  o: Ids & { includeUsage: boolean }): Promise<void> {
  reply.hijack();
  const res: ServerResponse = reply.raw;
  ctx.counted.add(res); // counted below, with 499 where the client left
  // No Connection header of ours: Node's keeps a connection alive unless the client asked to close it ("keep-alive" here
  // overrode a client's "Connection: close", and the connection stayed open for the keep-alive timeout after [DONE]).
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  ctx.streams.open++;
  const send = (data: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    if (res.writableLength > MAX_BUFFERED_BYTES) o.abort('slow');
  };
  const { shape } = o;
  const chunk = (choices: unknown[], extra: object = {}) => send({ id: o.id, object: shape.chunkObject, created: o.created, model: ctx.modelName, choices, ...extra });
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  let failure: ApiError | null = null;
  // Each choice's opening chunk (chat: the role) before any text; the prompt's ids ride on the first.
  if (shape.start) streams.forEach((_, index) => chunk([{ index, ...shape.start, logprobs: null, finish_reason: null }], index === 0 ? o.promptIds : {}));
  try {
    await Promise.all(streams.map(async (s, index) => {
      try {
        for await (const e of s) {
          if (e.type === 'token') { chunk([{ ...shape.piece(e.text), index, logprobs: null, finish_reason: null }]); continue; }
          record(ctx.metrics, e);
          usage.prompt_tokens += e.promptTokens;
          usage.completion_tokens += e.tokens.length;
          if (e.reason === 'cancelled') continue;
          chunk([{ ...shape.end, index, logprobs: null, finish_reason: finishReason(e.reason), metrics: choiceMetrics(e), ...(o.returnTokenIds ? { token_ids: e.tokens } : {}) }]);
        }
      } catch (e) {
        ctx.metrics.finished.inc({ reason: 'error' });
        failure ??= errorOf(e);
        ctx.log(`completion ${o.id} failed: ${(e as Error)?.stack ?? String(e)}`);
        o.abort('failed');
      }
    }));
    const why = o.why();
    if (why === 'shutdown') failure ??= new ApiError(503, 'the server is shutting down; the request was cancelled', 'server_error', null, 'shutting_down');
    if (why === 'slow') failure ??= new ApiError(500, 'the client read the stream too slowly; the request was cancelled', 'server_error', null, 'client_too_slow');
    if (failure) send(failure.body());
    else if (o.includeUsage) {
      usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
      chunk([], { usage });
    }
    send('[DONE]');
  } finally {
    ctx.streams.open--;
    ctx.metrics.requests.inc({ route: shape.route, status: o.why() === 'client' ? '499' : '200' });
    if (!res.writableEnded) { boundSend(res, ctx.sendTimeoutMs); res.end(); }
  }
}
