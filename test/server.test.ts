// The OpenAI-compatible server (src/cli/serve*.ts) on lavapipe with the tiny model (f32, 127.0.0.1, port 0):
// concurrent streams each give the greedy tokens of a single-request run; a client that leaves cancels its
// request; a full queue answers 429; bad requests 400 with OpenAI's error shape; stop strings; /metrics is
// Prometheus text; the `openai` package streams from it. Once as a child process (`run-inference.js serve`)
// with a pool worker process that is SIGKILLed under load: every request still gets its single-device tokens;
// restarted on the same endpoint, the worker is probed back and later requests run on it again.
//
// The child processes run compiled JavaScript from a private transpile of src/ (as workers.test.ts does), so
// this file never depends on a stale dist/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from '../src/cli/serve-args.js';
import { parseCompletionRequest } from '../src/cli/serve-schema.js';
import { serveLog, startServer, type RunningServer, type ServedEngine } from '../src/cli/serve.js';
import { presetConfig } from '../src/model/config.js';
import { QueueFullError, type CompletionEvent, type CompletionRequest, type Engine } from '../src/orchestrator/engine.js';
import { codePointSlice, expectGreedyAgree, rng } from './helpers.js';
import { privateDist } from './private-dist.js';
import { refWeights } from './random-config.js';
import { RefModel, type RefWeights } from './ref/model.js';

const { BUILD, ENTRY, build: buildPrivateDist } = privateDist('server');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-server-'));
const r = rng();
const ids = (n: number) => Array.from({ length: n }, () => r.int(0, 256));

let server: RunningServer;
let ref64: RefWeights;
const serverLog: string[] = [];
beforeAll(async () => {
  // The tiny preset's random weights are written once per run, into this file's temporary folder.
  process.env.FAPOOL_CACHE = join(tmp, 'cache');
  server = await startServer({ engineOptions: { preset: 'tiny', dtype: 'f32' }, host: '127.0.0.1', port: 0, log: (l) => serverLog.push(l) });
  // The engine's own weights (the file it wrote into FAPOOL_CACHE) in float64, for the reference model.
  ref64 = await refWeights(join(tmp, 'cache', 'tiny-seed0-f32.safetensors'), presetConfig('tiny'));
});
afterAll(async () => {
  await server?.close(0);
  rmSync(tmp, { recursive: true, force: true });
});

/** A single-request run on the engine itself (no server): tokens and text. */
type Ref = { tokens: number[]; text: string };
async function reference(prompt: string | number[], maxTokens: number): Promise<Ref> {
  const done = await (server.engine as Engine).run({ prompts: [prompt], maxNewTokens: maxTokens });
  return { tokens: done.result.tokens[0]!, text: done.texts[0]! };
}

/**
 * A served request's tokens against its single-request run where the two are not the same bits (it shared its steps
 * with other requests, or attended on a pool worker or on a cache rebuilt after one died): the same tokens, or a
 * parting at a near-tie of the float64 reference. True where they are the same (then its text must be the run's too).
 */
function expectServed(prompt: string | number[], got: number[] | undefined, want: number[], what: string): boolean {
  expect(got, `${what}: token ids`).toBeDefined();
  return expectGreedyAgree(presetConfig('tiny'), ref64, [(server.engine as Engine).encode(prompt)], [got!], [want], what);
}

const post = (url: string, body: unknown, init: RequestInit = {}) => fetch(`${url}/v1/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init,
});

interface Chunk { id: string; object: string; model: string; choices: { text: string; index: number; finish_reason: string | null; metrics?: Record<string, number | string>; token_ids?: number[] }[]; usage?: Record<string, number>; error?: { message: string; type: string; code: string } }

/** Reads a server-sent event stream: its chunks in order, `[DONE]` seen or not; onChunk may stop reading early. */
async function readSse(res: Response, onChunk?: (c: Chunk, n: number) => boolean | void): Promise<{ chunks: Chunk[]; done: boolean; raw: string }> {
  const chunks: Chunk[] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '', raw = '', done = false;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    const text = dec.decode(value, { stream: true });
    buf += text; raw += text;
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, at);
      buf = buf.slice(at + 2);
      expect(event.startsWith('data: '), `SSE event: ${event}`).toBe(true);
      const data = event.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      expect(done, 'nothing after [DONE]').toBe(false);
      const c = JSON.parse(data) as Chunk;
      chunks.push(c);
      if (onChunk?.(c, chunks.length)) { await reader.cancel(); return { chunks, done, raw }; }
    }
  }
  return { chunks, done, raw };
}

/** One choice's stream put together: text, finish reason, metrics, token ids. */
function assemble(chunks: Chunk[], index = 0) {
  const mine = chunks.flatMap((c) => (c.choices ?? []).filter((ch) => ch.index === index));
  const last = mine.at(-1);
  return { text: mine.map((c) => c.text).join(''), finish: last?.finish_reason ?? null, metrics: last?.metrics, tokenIds: last?.token_ids };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** No stack trace in an answer: no "    at fn (file:line)" lines, no source paths. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
}

// ------------------------------------------------------------------ in-process server, real engine

describe('serve (in process, tiny model)', () => {
  it('the near-tie guard\'s float64 reference holds the weights the server loaded', async () => {
    const p = ids(9), want = new RefModel(presetConfig('tiny'), ref64).greedy(p, 12).tokens;
    expectServed(p, (await reference(p, 12)).tokens, want, `seed ${r.seed}: the engine against its float64 reference`);
  });

  it('answers on /health and /v1/models', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
    const h = await fetch(`${server.url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok', model: 'tiny', dtype: 'f32', running: 0, queued: 0 });
    const m = await (await fetch(`${server.url}/v1/models`)).json();
    expect(m).toEqual({ object: 'list', data: [{ id: 'tiny', object: 'model', created: 0, owned_by: 'fapool', max_model_len: 512 }] });
    expect((await fetch(`${server.url}/v1/models/tiny`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/models/gpt-4`)).status).toBe(404);
  });

  it('concurrent streaming clients: each gets the greedy tokens of a single-request run', async () => {
    const cases: { prompt: string | number[]; max: number }[] = [
      { prompt: 'The attention pool takes the long sequences', max: 24 }, { prompt: ids(40), max: 8 }, { prompt: 'x', max: 30 },
      { prompt: ids(100), max: 16 }, { prompt: 'Hello, world!', max: 12 }, { prompt: ids(7), max: 20 },
    ];
    const refs: Ref[] = [];
    for (const c of cases) refs.push(await reference(c.prompt, c.max));
    const results = await Promise.all(cases.map(async (c) => {
      const res = await post(server.url, { model: 'tiny', prompt: c.prompt, max_tokens: c.max, temperature: 0, stream: true, return_token_ids: true });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return readSse(res);
    }));
    const streamIds = new Set<string>();
    results.forEach(({ chunks, done }, i) => {
      expect(done, `stream ${i} ends with [DONE]`).toBe(true);
      expect(new Set(chunks.map((c) => c.id)).size, 'one id per stream').toBe(1);
      streamIds.add(chunks[0]!.id);
      for (const c of chunks) expect(c).toMatchObject({ object: 'text_completion', model: 'tiny' });
      const a = assemble(chunks);
      if (expectServed(cases[i]!.prompt, a.tokenIds, refs[i]!.tokens, `seed ${r.seed} stream ${i}`)) expect(a.text, `stream ${i}: text`).toBe(refs[i]!.text);
      expect(a.finish).toBe('length');
      expect(a.metrics).toMatchObject({ finish: 'length', completion_tokens: cases[i]!.max, prompt_tokens: typeof cases[i]!.prompt === 'string' ? Buffer.byteLength(cases[i]!.prompt as string) : (cases[i]!.prompt as number[]).length });
      expect(a.metrics!.ttft_ms as number).toBeGreaterThan(0);
      expect(a.metrics!.tpot_ms as number).toBeGreaterThan(0);
      // Only the last chunk finishes; every earlier chunk carries text.
      expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null && c.choices[0]!.text.length > 0)).toBe(true);
    });
    expect(streamIds.size).toBe(cases.length);
    expect(server.engine.load()).toMatchObject({ running: 0, queued: 0 });
  });

  it('non-streaming: one response with usage; a list of prompts gives one choice each', async () => {
    const prompts = [ids(12), 'Once upon a time'];
    const refs = [await reference(prompts[0]!, 10), await reference(prompts[1]!, 10)];
    const res = await post(server.url, { prompt: prompts, max_tokens: 10, temperature: 0, return_token_ids: true });
    expect(res.status).toBe(200);
    const body = await res.json() as { choices: Chunk['choices']; usage: Record<string, number>; object: string };
    expect(body.object).toBe('text_completion');
    expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
    body.choices.forEach((c, i) => {
      if (expectServed(prompts[i]!, c.token_ids, refs[i]!.tokens, `seed ${r.seed} choice ${i}`)) expect(c.text).toBe(refs[i]!.text);
    });
    expect(body.usage).toEqual({ prompt_tokens: 12 + 16, completion_tokens: 20, total_tokens: 48 });
    // A missing max_tokens is OpenAI's 16.
    const d = await (await post(server.url, { prompt: 'abc', temperature: 0 })).json() as { usage: Record<string, number> };
    expect(d.usage.completion_tokens).toBe(16);
  });

  it('stop strings: the text ends before the first stop string (stream and not), finish_reason stop', async () => {
    const prompt = ids(9);
    const ref = await reference(prompt, 48);
    // A stop string from the middle of the greedy text (its first occurrence decides).
    const stop = ref.text.slice(12, 14);
    const cut = ref.text.indexOf(stop);
    expect(cut, 'the stop string occurs').toBeGreaterThanOrEqual(0);
    const body = { prompt, max_tokens: 48, temperature: 0, stop: ['never-in-this-text', stop] };
    const whole = await (await post(server.url, body)).json() as { choices: Chunk['choices'] };
    expect(whole.choices[0]!.text).toBe(ref.text.slice(0, cut));
    expect(whole.choices[0]!.finish_reason).toBe('stop');
    expect(whole.choices[0]!.metrics!.finish).toBe('stop');
    const s = assemble((await readSse(await post(server.url, { ...body, stop, stream: true }))).chunks);
    expect(s.text).toBe(ref.text.slice(0, cut));
    expect(s.finish).toBe('stop');
    expect(s.metrics!.completion_tokens as number, 'generation stopped early').toBeLessThan(48);
  });

  it('a client that disconnects mid-stream cancels its request; the server keeps serving', async () => {
    const m = server.metrics;
    const cancelled0 = m.finished.get({ reason: 'cancelled' }), gen0 = m.generationTokens.get();
    const ac = new AbortController();
    const res = await post(server.url, { prompt: ids(20), max_tokens: 400, temperature: 0, stream: true }, { signal: ac.signal });
    let seen = 0;
    await readSse(res, (_c, n) => { seen = n; return n >= 3; }).catch(() => undefined);
    ac.abort();
    expect(seen).toBe(3);
    await until(() => m.finished.get({ reason: 'cancelled' }) === cancelled0 + 1, 20_000, 'the request is cancelled');
    await until(() => server.engine.load().running === 0 && server.engine.load().queued === 0, 20_000, 'the engine is idle');
    expect(m.generationTokens.get() - gen0, 'its sequence stopped early').toBeLessThan(400);
    expect(m.streams.samples()[0]![2]).toBe(0);

    // The same for a client waiting for a non-streamed answer.
    const ac2 = new AbortController();
    const waiting = post(server.url, { prompt: ids(20), max_tokens: 400, temperature: 0 }, { signal: ac2.signal });
    await until(() => server.engine.load().running === 1, 20_000, 'the request runs');
    ac2.abort();
    await expect(waiting).rejects.toThrow();
    await until(() => m.finished.get({ reason: 'cancelled' }) === cancelled0 + 2, 20_000, 'the waiting request is cancelled');
    expect(m.requests.get({ route: '/v1/completions', status: '499' })).toBe(2);

    const prompt = ids(11);
    const ref = await reference(prompt, 12);
    const after = await (await post(server.url, { prompt, max_tokens: 12, temperature: 0, return_token_ids: true })).json() as { choices: Chunk['choices'] };
    expect(after.choices[0]!.token_ids).toEqual(ref.tokens);
  });

  it('a full queue answers 429 (OpenAI error, Retry-After); the admitted requests are right', async () => {
    // More requests than a batch of the tiny model on lavapipe takes at once, with one place in the queue.
    const prompts = Array.from({ length: 32 }, (_, i) => ids(5 + i));
    const before = server.metrics.requests.get({ route: '/v1/completions', status: '429' });
    server.engine.maxQueue = 1;
    let answers: { status: number; retry: string | null; body: { choices?: Chunk['choices']; error?: Chunk['error'] } }[];
    try {
      answers = await Promise.all(prompts.map(async (prompt) => {
        const res = await post(server.url, { prompt, max_tokens: 40, temperature: 0, return_token_ids: true });
        return { status: res.status, retry: res.headers.get('retry-after'), body: await res.json() as { choices?: Chunk['choices']; error?: Chunk['error'] } };
      }));
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length, answers.map((a) => a.status).join(',')).toBeGreaterThan(0);
      for (const a of refused) {
        expect(a.body).toEqual({ error: { message: expect.stringMatching(/queue is full/), type: 'rate_limit_error', param: null, code: 'queue_full' } });
        expect(a.retry).toBe('1');
      }
      expect(server.metrics.requests.get({ route: '/v1/completions', status: '429' }) - before).toBe(refused.length);
    } finally {
      server.engine.maxQueue = 64;
    }
    for (const [i, a] of answers.entries()) {
      if (a.status === 429) continue;
      expect(a.status).toBe(200);
      expectServed(prompts[i]!, a.body.choices![0]!.token_ids, (await reference(prompts[i]!, 40)).tokens, `seed ${r.seed} request ${i}`);
    }
  });

  it('bad requests: 400 (404 for an unknown model) with {error: {message, type, param, code}}, never a stack trace', async () => {
    const cases: [string, unknown, number, string | null, string][] = [
      ['malformed JSON', '{"prompt": "Hello", "max_tokens": ', 400, null, 'invalid_json'],
      ['not an object', '[1, 2]', 400, null, 'invalid_body'],
      ['no prompt', { max_tokens: 3 }, 400, 'prompt', 'missing_required_parameter'],
      ['empty prompt', { prompt: '' }, 400, 'prompt', 'invalid_value'],
      ['prompt of wrong type', { prompt: 42 }, 400, 'prompt', 'invalid_type'],
      ['token id not an integer', { prompt: [1, 2.5] }, 400, 'prompt', 'invalid_type'],
      ['token id outside the vocabulary', { prompt: [1, 256] }, 400, 'prompt', 'invalid_value'],
      ['max_tokens a string', { prompt: 'a', max_tokens: '5' }, 400, 'max_tokens', 'invalid_type'],
      ['max_tokens 0', { prompt: 'a', max_tokens: 0 }, 400, 'max_tokens', 'invalid_value'],
      ['temperature out of range', { prompt: 'a', temperature: 3 }, 400, 'temperature', 'invalid_value'],
      ['top_p below 0', { prompt: 'a', top_p: -0.1 }, 400, 'top_p', 'invalid_value'],
      ['seed not an integer', { prompt: 'a', seed: 1.5 }, 400, 'seed', 'invalid_type'],
      ['stop of wrong type', { prompt: 'a', stop: [1] }, 400, 'stop', 'invalid_type'],
      ['five stop strings', { prompt: 'a', stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'stop', 'invalid_value'],
      ['stream not a boolean', { prompt: 'a', stream: 'yes' }, 400, 'stream', 'invalid_type'],
      ['n = 2', { prompt: 'a', n: 2 }, 400, 'n', 'unsupported_value'],
      ['logprobs 0 (the chosen tokens\' log-probabilities: it answered null)', { prompt: 'a', logprobs: 0 }, 400, 'logprobs', 'unsupported_value'],
      ['unknown argument', { prompt: 'a', max_tokenz: 4 }, 400, 'max_tokenz', 'unknown_parameter'],
      ['prompt longer than the context', { prompt: ids(513), max_tokens: 1 }, 400, 'prompt', 'context_length_exceeded'],
      ['prompt + max_tokens over the context', { prompt: ids(500), max_tokens: 13 }, 400, 'max_tokens', 'context_length_exceeded'],
      ['unknown model', { model: 'gpt-4', prompt: 'a' }, 404, 'model', 'model_not_found'],
    ];
    for (const [what, body, status, param, code] of cases) {
      const res = await post(server.url, body);
      const text = await res.text();
      expect(res.status, `${what}: ${text}`).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const e = JSON.parse(text) as { error: Record<string, unknown> };
      expect(Object.keys(e)).toEqual(['error']);
      expect(e.error, what).toEqual({ message: expect.any(String), type: 'invalid_request_error', param, code });
      expect((e.error.message as string).length).toBeGreaterThan(5);
      expectNoStack(text);
    }
    const plain = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(plain.status).toBe(415);
    expect((await plain.json() as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    const nowhere = await fetch(`${server.url}/v2/everything`);
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'not_found' } });
    expect(server.engine.load()).toMatchObject({ running: 0, queued: 0 });
  });

  it('POST /v1/chat/completions on a model without a chat template (the byte-level tiny preset): 400 that says so, no made-up format', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const call = client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
    await expect(call).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream: true }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: {
      message: 'this model has no chat template (tokenizer_config.json chat_template, or chat_template.jinja); use /v1/completions', type: 'invalid_request_error', param: 'messages', code: 'no_chat_template',
    } });
    expect(server.engine.load()).toMatchObject({ running: 0, queued: 0 });
  });

  it('the openai package (6.30.1) streams a completion from the server', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const prompt = 'The pool';
    const ref = await reference(prompt, 14);
    const stream = await client.completions.create({ model: 'tiny', prompt, max_tokens: 14, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '', finish: string | null = null, usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) { text += c.text; finish = c.finish_reason ?? finish; }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(ref.text);
    expect(finish).toBe('length');
    expect(usage).toEqual({ prompt_tokens: 8, completion_tokens: 14, total_tokens: 22 });
    const whole = await client.completions.create({ model: 'tiny', prompt, max_tokens: 14, temperature: 0 });
    expect(whole.choices[0]!.text).toBe(ref.text);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    await expect(client.completions.create({ model: 'tiny', prompt, max_tokens: 600 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('sampled requests without a seed: new text each time; with one: the same text each time', async () => {
    const ask = async (seed?: number) => ((await (await post(server.url, { prompt: 'Seeds', max_tokens: 24, temperature: 1.5, seed, return_token_ids: true })).json()) as { choices: Chunk['choices'] }).choices[0]!.token_ids!;
    const unseeded = [await ask(), await ask(), await ask()];
    // 24 draws at temperature 1.5 over the tiny model's 256 tokens: three equal runs by chance are far below 1e-9.
    expect(new Set(unseeded.map((t) => t.join())).size, 'three unseeded requests one after another').toBeGreaterThan(1);
    const seeded = [await ask(4321), await ask(4321)];
    expect(seeded[1], 'the same seed, alone each time').toEqual(seeded[0]);
  });

  it('sampling: a sampled request answers, with or without a seed', async () => {
    for (const body of [{ prompt: 'Seeds', max_tokens: 6, temperature: 1.2, top_p: 0.9, top_k: 40, seed: 1234 }, { prompt: 'Seeds', max_tokens: 6, temperature: 0.8 }]) {
      const res = await post(server.url, { ...body, return_token_ids: true });
      expect(res.status).toBe(200);
      expect((await res.json() as { choices: Chunk['choices'] }).choices[0]!.token_ids).toHaveLength(6);
    }
  });

  it('/metrics is Prometheus text that agrees with what was served', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(await res.text());
    const v = (name: string, labels: Record<string, string> = {}) => m.value(name, labels);
    expect(m.types.get('fapool_http_requests_total')).toBe('counter');
    expect(m.types.get('fapool_time_to_first_token_seconds')).toBe('histogram');
    expect(m.types.get('fapool_time_per_output_token_seconds')).toBe('histogram');
    expect(m.types.get('fapool_queue_length')).toBe('gauge');
    expect(v('fapool_http_requests_total', { route: '/v1/completions', status: '200' }), 'the tests above were answered 18 times').toBeGreaterThanOrEqual(18);
    expect(v('fapool_http_requests_total', { route: '/v1/completions', status: '400' })).toBeGreaterThanOrEqual(19);
    expect(v('fapool_http_requests_total', { route: '/v1/completions', status: '429' })).toBeGreaterThanOrEqual(1);
    expect(v('fapool_http_requests_total', { route: '/health', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(v('fapool_completions_total', { reason: 'cancelled' })).toBe(2);
    expect(v('fapool_completions_total', { reason: 'stop' })).toBe(2);
    expect(v('fapool_queue_length')).toBe(0);
    expect(v('fapool_requests_running')).toBe(0);
    expect(v('fapool_queue_capacity')).toBe(64);
    expect(v('fapool_generation_tokens_total')).toBe(server.metrics.generationTokens.get());
    expect(v('fapool_generation_tokens_total')).toBeGreaterThan(300);
    expect(v('fapool_prompt_tokens_total')).toBeGreaterThan(300);
    const finished = ['length', 'stop', 'eos', 'cancelled'].reduce((a, reason) => a + v('fapool_completions_total', { reason }), 0);
    expect(v('fapool_queue_time_seconds_count')).toBe(finished);
    expect(v('fapool_time_to_first_token_seconds_count')).toBeGreaterThanOrEqual(finished - 2);
    expect(v('fapool_time_to_first_token_seconds_sum')).toBeGreaterThan(0);
    expect(v('fapool_attention_steps_total', { placement: 'pool' })).toBe(0);
    expect(v('fapool_attention_steps_total', { placement: 'base' }), 'one device: every decode step on the base').toBe(v('fapool_decode_steps_total'));
    expect(v('fapool_decode_steps_total')).toBeGreaterThan(200);
    expect(m.types.get('fapool_pool_events_total')).toBe('counter');
    for (const kind of ['to-pool', 'prefill-to-pool', 'reshard', 'fault', 'fallback', 'rebuild', 'rejoin']) expect(v('fapool_pool_events_total', { kind })).toBe(0);
    expect(m.types.get('fapool_pool_members')).toBe('gauge');
    expect([v('fapool_pool_members', { state: 'alive' }), v('fapool_pool_members', { state: 'down' })], 'one device: no pool').toEqual([0, 0]);
    expect(await (await fetch(`${server.url}/health`)).json()).not.toHaveProperty('pool');
    // Each answered request counts once, streamed or not (a stream's hijacked reply was counted again by the hook).
    const ok = async () => parsePrometheus(await (await fetch(`${server.url}/metrics`)).text()).value('fapool_http_requests_total', { route: '/v1/completions', status: '200' });
    const before = await ok();
    await (await post(server.url, { prompt: 'Count', max_tokens: 2, temperature: 0 })).json();
    await readSse(await post(server.url, { prompt: 'Count', max_tokens: 2, temperature: 0, stream: true }));
    expect(await ok() - before, 'one plain and one streamed request').toBe(2);
  });
  // Last in this block: its cancelled and stopped requests would move the absolute counts the tests above check.
  // A property over random request streams through HTTP: text or token prompts of 1–60 tokens, streamed or not, with
  // or without a stop string from the text the request makes alone, some clients leaving mid-stream. Each answer
  // must be its single-request run (or its text up to the stop string), and the server idle once all are done.
  it('random concurrent requests (streamed or not, stop strings, clients leaving): each its single-request answer', async () => {
    const rr = rng();
    const plans = Array.from({ length: rr.int(4, 9) }, () => ({
      prompt: rr.next() < 0.5 ? Array.from({ length: rr.int(1, 61) }, () => rr.int(0, 256)) : 'abcdefghij klmnop qrst uvw xyz'.slice(0, rr.int(1, 30)),
      max: rr.int(1, 25), stream: rr.next() < 0.6, stop: rr.next() < 0.3, leaveAfter: rr.next() < 0.2 ? rr.int(1, 4) : 0, delay: rr.int(0, 30),
    }));
    const refs: Ref[] = [];
    for (const p of plans) refs.push(await reference(p.prompt, p.max));
    const stops = plans.map((p, i) => (p.stop && Array.from(refs[i]!.text).length >= 4 ? codePointSlice(refs[i]!.text, -3, -1) : undefined));
    const answers = await Promise.all(plans.map(async (p, i) => {
      await new Promise((res) => setTimeout(res, p.delay));
      const body = { prompt: p.prompt, max_tokens: p.max, temperature: 0, stream: p.stream, return_token_ids: true, ...(stops[i] ? { stop: stops[i] } : {}) };
      if (!p.stream) {
        const b = await (await post(server.url, body)).json() as { choices: Chunk['choices'] };
        return { text: b.choices[0]!.text, finish: b.choices[0]!.finish_reason, tokenIds: b.choices[0]!.token_ids, left: false };
      }
      const ac = new AbortController();
      const res = await post(server.url, body, { signal: ac.signal });
      const leave = p.leaveAfter > 0 && p.max > p.leaveAfter + 1;
      const { chunks } = await readSse(res, (_c, n) => leave && n >= p.leaveAfter).catch(() => ({ chunks: [] as Chunk[] }));
      if (leave) ac.abort();
      return { ...assemble(chunks), left: leave };
    }));
    answers.forEach((a, i) => {
      const p = plans[i]!, ref = refs[i]!, what = `seed ${rr.seed} request ${i} ${JSON.stringify({ ...p, prompt: typeof p.prompt === 'string' ? p.prompt : p.prompt.length, stop: stops[i] })}`;
      // A client that left has no token ids: its text (a few tokens) must start the single-request text.
      if (a.left) { expect(ref.text.startsWith(a.text), `${what}: its text is a prefix of its single-request text`).toBe(true); return; }
      // Its tokens (up to a stop string) are those of the request alone, or part from them at a near-tie: then the rest differs.
      if (!expectServed(p.prompt, a.tokenIds, ref.tokens.slice(0, a.tokenIds?.length), what)) return;
      expect(ref.text.startsWith(a.text), `${what}: its text is a prefix of its single-request text`).toBe(true);
      if (stops[i] !== undefined && ref.text.includes(stops[i]!)) {
        expect(a.text, what).toBe(ref.text.slice(0, ref.text.indexOf(stops[i]!)));
        expect(a.finish, what).toBe('stop');
      } else {
        expect(a.text, what).toBe(ref.text);
        expect(a.tokenIds, what).toEqual(ref.tokens);
        expect(a.finish, what).toBe('length');
      }
    });
    await until(() => server.engine.load().running === 0 && server.engine.load().queued === 0, 20_000, 'the engine is idle');
  });
});

/** A strict reader of the text format: every sample in a declared family, labels well formed, histograms whole. */
function parsePrometheus(text: string) {
  const types = new Map<string, string>(), help = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    let g;
    if ((g = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) { help.set(g[1]!, g[2]!); continue; }
    if ((g = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      expect(types.has(g[1]!), `one TYPE per family: ${g[1]}`).toBe(false);
      types.set(g[1]!, g[2]!);
      continue;
    }
    g = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$/.exec(line);
    expect(g, `sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const lm of (g![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    const value = g![3] === '+Inf' ? Infinity : g![3] === '-Inf' ? -Infinity : Number(g![3]);
    expect(Number.isNaN(value), line).toBe(false);
    const name = g![1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((f) => types.has(f));
    expect(family, `${name} has a TYPE line`).toBeDefined();
    expect(help.has(family!), `${family} has a HELP line`).toBe(true);
    if (types.get(family!) === 'counter') expect(value).toBeGreaterThanOrEqual(0);
    samples.push({ name, labels, value });
  }
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = samples.filter((s) => s.name === `${family}_bucket`);
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    expect(les.at(-1), `${family}: last bucket is +Inf`).toBe(Infinity);
    for (let i = 1; i < buckets.length; i++) {
      expect(les[i]!).toBeGreaterThan(les[i - 1]!);
      expect(buckets[i]!.value, `${family}: cumulative`).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    }
    expect(buckets.at(-1)!.value).toBe(samples.find((s) => s.name === `${family}_count`)!.value);
  }
  return {
    types,
    value(name: string, labels: Record<string, string> = {}): number {
      const s = samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
      expect(s.length, `${name}${JSON.stringify(labels)}`).toBe(1);
      return s[0]!.value;
    },
  };
}

// ------------------------------------------------------------------ a stand-in engine: refusals and failures

describe('serve (stand-in engine)', () => {
  const cfg = presetConfig('tiny');
  /** An engine whose submit refuses (queue full), whose request fails after one token, or that streams slowly. */
  function standIn(mode: 'full' | 'fail' | 'slow'): ServedEngine & { aborted: number; encoded: number; requests: CompletionRequest[] } {
    const e = {
      aborted: 0, encoded: 0, requests: [] as CompletionRequest[],
      config: cfg, dtype: 'f32' as const, device: 'stand-in', maxQueue: 4,
      load: () => ({ running: 0, queued: mode === 'full' ? 4 : 0, maxQueue: 4, completed: 0 }),
      encode: (p: string | readonly number[]) => { e.encoded++; return typeof p === 'string' ? [...Buffer.from(p)] : [...p]; },
      minTokens: (p: string | readonly number[]) => (typeof p === 'string' ? Buffer.byteLength(p) : p.length),
      submit(req: CompletionRequest): AsyncIterable<CompletionEvent> {
        if (mode === 'full') throw new QueueFullError('the queue is full (4 requests waiting)');
        e.requests.push(req);
        return (async function* () {
          const tokens: number[] = [];
          for (let i = 0; i < req.maxTokens; i++) {
            if (req.signal?.aborted) { e.aborted++; break; }
            tokens.push(65);
            yield { type: 'token', token: 65, text: 'A', index: i } as CompletionEvent;
            if (mode === 'fail') throw new Error('the device exploded');
            await new Promise((res) => setTimeout(res, 20));
          }
          yield {
            type: 'done', reason: req.signal?.aborted ? 'cancelled' : 'length', tokens, text: 'A'.repeat(tokens.length), promptTokens: 1,
            ttftMs: 1, queueMs: 0, tpotMs: 20, baseSteps: 0, poolSteps: 0,
          } as CompletionEvent;
        })();
      },
      dispose: async () => {},
    };
    return e;
  }

  it('a max context over the model\'s is said at startup, and the model\'s is served', async () => {
    const logs: string[] = [];
    const s = await startServer({ engine: standIn('slow'), port: 0, maxContext: 100_000, log: (l) => logs.push(l) });
    try {
      expect(logs).toContain(`note: max context 100000 is over the model's ${cfg.maxSeq} tokens: serving ${cfg.maxSeq}`);
      const r = await post(s.url, { prompt: 'a', max_tokens: cfg.maxSeq });
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded');
    } finally {
      await s.close(0);
    }
  });

  it('several bad fields: the prompt is named first, as before the chat route shared the checks', () => {
    expect(() => parseCompletionRequest({ temperature: 5 }, 256)).toThrow("'prompt' is required");
    expect(() => parseCompletionRequest({ prompt: 7, top_p: 9, stop: 1 }, 256)).toThrow("'prompt' must be a string, an array of token ids, or an array of either, got number");
    expect(() => parseCompletionRequest({ prompt: 'a', temperature: 5, stop: 1 }, 256)).toThrow("'temperature' must be in [0, 2], got 5");
    expect(() => parseCompletionRequest({ seed: 'x', temperature: 5 }, 256)).toThrow("'seed' must be an integer, got string"); // the shape checks still first
  });

  it('serve --quiet drops the start-up and shutdown log, never a warning or an error, nor what is logged once serving', () => {
    for (const quiet of [true, false]) {
      const out: string[] = [];
      const l = serveLog(quiet, (line) => out.push(line));
      l.info('compiled 12 pipelines in 300 ms');
      l.log('gpu: llvmpipe');
      l.log('[worker 0] adapter: llvmpipe');
      l.log('warning: --spawn auto found no second GPU');
      l.log('[worker 1] WARNING: no shader-f16');
      l.log('error: something at start');
      l.serving();
      l.info('stopping (SIGTERM): 0 running, 0 queued');
      l.log('error: POST /v1/completions: Error: the device exploded\n    at x (y.js:1:1)');
      l.log('completion cmpl-1 failed: Error: lost');
      l.log('[worker 0] request dropped: bad frame');
      const kept = ['warning: --spawn auto found no second GPU', '[worker 1] WARNING: no shader-f16', 'error: something at start',
        'error: POST /v1/completions: Error: the device exploded\n    at x (y.js:1:1)', 'completion cmpl-1 failed: Error: lost', '[worker 0] request dropped: bad frame'];
      expect(out, `quiet ${quiet}`).toEqual(quiet ? kept : [
        'compiled 12 pipelines in 300 ms', 'gpu: llvmpipe', '[worker 0] adapter: llvmpipe', ...kept.slice(0, 3), 'stopping (SIGTERM): 0 running, 0 queued', ...kept.slice(3)]);
    }
  });

  it('a non-finite number (JSON 1e999 parses to Infinity) is named in the error', () => {
    expect(() => parseCompletionRequest({ prompt: 'a', temperature: Infinity }, 256)).toThrow("'temperature' must be a finite number, got Infinity");
    expect(() => parseCompletionRequest({ prompt: 'a', top_p: '0.5' }, 256)).toThrow("'top_p' must be a finite number, got string");
  });

  it('a prompt with a lone surrogate (valid JSON: "\\ud800") is refused: it was encoded as U+FFFD, another prompt', () => {
    expect(() => parseCompletionRequest(JSON.parse('{"prompt": "a\\ud800b"}'), 256)).toThrow("'prompt' holds a lone UTF-16 surrogate");
    expect(() => parseCompletionRequest(JSON.parse('{"prompt": ["ok", "\\udc00"]}'), 256)).toThrow("'prompt[1]' holds a lone UTF-16 surrogate");
    // A pair is one character, taken.
    expect(parseCompletionRequest(JSON.parse('{"prompt": "\\ud83d\\ude00"}'), 256).prompts).toEqual(['\u{1F600}']);
  });

  it('a stop string with a lone surrogate (valid JSON: "\\ude00") is refused: it would cut a character in half', () => {
    expect(() => parseCompletionRequest(JSON.parse('{"prompt": "a", "stop": ["ok", "\\ude00"]}'), 256)).toThrow("'stop[1]' holds a lone UTF-16 surrogate");
    expect(parseCompletionRequest({ prompt: 'a', stop: '😀' }, 256).stop).toEqual(['😀']);
  });

  it('a text prompt whose least token count fills the context is refused before it is encoded (400 context_length_exceeded)', async () => {
    const engine = standIn('slow');
    const s = await startServer({ engine, port: 0, log: () => {} });
    try {
      const long = await post(s.url, { prompt: 'é'.repeat(cfg.maxSeq), max_tokens: 1 });
      expect(long.status).toBe(400);
      expect((await long.json() as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'context_length_exceeded', message: `this model's maximum context length is ${cfg.maxSeq} tokens; prompt has at least ${2 * cfg.maxSeq} tokens, leaving no room for a completion`,
      });
      expect(engine.encoded, 'never encoded').toBe(0);
      const fits = await post(s.url, { prompt: 'é'.repeat(10), max_tokens: 1 });
      expect(fits.status).toBe(200);
      expect(engine.encoded).toBe(1);
    } finally {
      await s.close(0);
    }
  });

  it('a client that stops sending mid-body gets 408 (OpenAI error shape, as a bad URL or request line) and its connection closed once the request timeout passes; a slow stream does not', async () => {
    const { connect } = await import('node:net');
    const s = await startServer({ engine: standIn('slow'), port: 0, requestTimeoutMs: 300, log: () => {} });
    try {
      // Raw bytes to the server; what it answers before closing (waiting at most `ms`), and whether it closed.
      const rawExchange = async (bytes: string, ms: number) => {
        const sock = connect(s.port, '127.0.0.1');
        let got = '';
        sock.on('data', (c: Buffer) => { got += c.toString(); });
        const ended = new Promise<void>((res) => sock.once('close', () => res()));
        sock.write(bytes);
        await Promise.race([ended, new Promise((res) => setTimeout(res, ms))]);
        const body = got.includes('\r\n\r\n') ? JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)) as unknown : null;
        return { head: got.split('\r\n')[0], body, closed: sock.destroyed || sock.readableEnded };
      };
      const stalled = await rawExchange('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro', 10_000);
      expect(stalled.closed, 'closed by the server').toBe(true);
      expect(stalled.head).toMatch(/^HTTP\/1\.1 408 /);
      expect(stalled.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_timeout' } });
      // What fails before a route runs answers in OpenAI's error shape as well: a malformed URL, a garbage request line.
      const badUrl = await fetch(`${s.url}/v1/models/%E0%A4%A`);
      expect([badUrl.status, ((await badUrl.json()) as { error: { code: string } }).error.code]).toEqual([400, 'bad_request']);
      const garbage = await rawExchange('GARBAGE\r\n\r\n', 5000);
      expect(garbage.head).toMatch(/^HTTP\/1\.1 400 /);
      expect(garbage.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'bad_request' } });
      // A response that outlasts the timeout is not cut: a stream of the slow stand-in (20 ms a token: 1.2 s).
      const r = await post(s.url, { prompt: 'a', max_tokens: 60, stream: true }).then(readSse);
      expect(r.done).toBe(true);
      expect(assemble(r.chunks)).toMatchObject({ text: 'A'.repeat(60), finish: 'length' });
    } finally {
      await s.close(0);
    }
  });

  it('close(): in-flight streams finish within the grace, or end with a shutting_down error event; new requests are refused', async () => {
    const s = await startServer({ engine: standIn('slow'), port: 0, log: () => {} });
    const finishing = post(s.url, { prompt: 'a', max_tokens: 10, stream: true }).then(readSse);
    await until(() => s.metrics.streams.samples()[0]![2] === 1, 5000, 'the stream is open');
    await s.close(5000);
    const a = await finishing;
    expect(a.done).toBe(true);
    expect(assemble(a.chunks)).toMatchObject({ text: 'A'.repeat(10), finish: 'length' });
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();

    const engine = standIn('slow');
    const s2 = await startServer({ engine, port: 0, log: () => {} });
    const cut = post(s2.url, { prompt: 'a', max_tokens: 500, stream: true }).then(readSse);
    await until(() => s2.metrics.streams.samples()[0]![2] === 1, 5000, 'the stream is open');
    await s2.close(100);
    const b = await cut;
    expect(b.done).toBe(true);
    expect(b.chunks.at(-1)!.error).toMatchObject({ type: 'server_error', code: 'shutting_down' });
    expect(engine.aborted, 'the request was cancelled').toBe(1);
    expect(assemble(b.chunks).text.length).toBeLessThan(500);
  });

  it('sampling parameters as the engine batches them: greedy all alike, sampled without a seed with none (the engine draws one)', async () => {
    const engine = standIn('slow');
    const s = await startServer({ engine, port: 0, log: () => {} });
    try {
      const bodies = [
        { prompt: 'a', max_tokens: 1, temperature: 0, top_p: 0.5, top_k: 3, seed: 9 },
        { prompt: 'a', max_tokens: 1, temperature: 0.7, top_p: 0.9, top_k: 40, seed: 1234 },
        { prompt: 'a', max_tokens: 1, temperature: 0.7 },
        { prompt: 'a', max_tokens: 1 },
        { prompt: 'a', max_tokens: 1, temperature: 0.7, top_p: 0 }, // OpenAI's smallest nucleus: the argmax (it was a 400)
        { prompt: 'a', max_tokens: 1, temperature: 0.7, seed: 2 ** 32 + 5 }, // OpenAI takes 64-bit seeds (a 400)
        { prompt: 'a', max_tokens: 1, temperature: 0.7, seed: -1 },
        { prompt: 'a', max_tokens: 1, temperature: 0.7, seed: 2 ** 60 + 2 ** 33 + 7 * 2 ** 8 }, // past 2⁵³ (it was a 400)
        { prompt: 'a', max_tokens: 1, temperature: 0.7, top_k: 2 ** 64, seed: 3 }, // an integer past 2⁵³: off (a 400 "must be an integer")
      ];
      for (const b of bodies) expect((await post(s.url, b)).status).toBe(200);
      expect(engine.requests.map((r) => r.sampling)).toEqual([
        { temperature: 0, topK: 0, topP: 1, seed: 0 },
        { temperature: 0.7, topK: 40, topP: 0.9, seed: 1234 },
        { temperature: 0.7, topK: 0, topP: 1, seed: undefined },
        { temperature: 1, topK: 0, topP: 1, seed: undefined }, // OpenAI's default temperature
        { temperature: 0, topK: 0, topP: 1, seed: 0 },
        { temperature: 0.7, topK: 0, topP: 1, seed: 5 }, // modulo 2³²
        { temperature: 0.7, topK: 0, topP: 1, seed: 2 ** 32 - 1 },
        { temperature: 0.7, topK: 0, topP: 1, seed: 7 * 2 ** 8 },
        { temperature: 0.7, topK: 2 ** 64, topP: 1, seed: 3 },
      ]);
      expect(engine.requests.map((r) => r.maxTokens)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
      expect((await (await post(s.url, { prompt: 'a', top_k: 1.5 })).json()).error).toMatchObject({ param: 'top_k', message: "'top_k' must be an integer, got 1.5" });
      const empty = await post(s.url, { prompt: 'a', stop: '' });
      expect((await empty.json()).error.message, 'a string is named as one').toBe("'stop' is an empty string");
    } finally {
      await s.close();
    }
  });

  it('queue full: 429 for streamed and plain requests; the openai client sees a RateLimitError', async () => {
    const s = await startServer({ engine: standIn('full'), port: 0, log: () => {} });
    try {
      for (const stream of [false, true]) {
        const res = await post(s.url, { prompt: 'a', max_tokens: 2, stream });
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toEqual({ error: { message: expect.stringMatching(/queue is full/), type: 'rate_limit_error', param: null, code: 'queue_full' } });
      }
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      await expect(client.completions.create({ model: 'tiny', prompt: 'a', max_tokens: 2 })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
      expect(s.metrics.requests.get({ route: '/v1/completions', status: '429' })).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('bodies are UTF-8 JSON: another charset or a compressed body is 415, bytes that are not UTF-8 400 (they became U+FFFD: another prompt ran)', async () => {
    const engine = standIn('slow');
    const s = await startServer({ engine, port: 0, log: () => {} });
    const send = (body: Uint8Array | string, headers: Record<string, string>) =>
      fetch(`${s.url}/v1/completions`, { method: 'POST', body: body as BodyInit, headers: { 'content-type': 'application/json', ...headers } });
    try {
      const latin1 = Buffer.from('{"prompt":"caf\xe9","max_tokens":1}', 'latin1');
      for (const [body, headers, status, code] of [
        [latin1, { 'content-type': 'application/json; charset=iso-8859-1' }, 415, 'unsupported_media_type'],
        [latin1, {}, 400, 'invalid_json'],
        ['{"prompt":"a","max_tokens":1}', { 'content-encoding': 'gzip' }, 415, 'unsupported_media_type'],
      ] as const) {
        const res = await send(body, headers);
        expect(res.status, JSON.stringify(headers)).toBe(status);
        expect((await res.json()).error.code).toBe(code);
      }
      expect(engine.requests).toEqual([]);
      const fine = ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json', 'application/json; charset=us-ascii',
        'application/json; foo="x;charset=latin1"', 'application/json; foo=bar ; CHARSET = utf8 '];
      for (const ct of fine) {
        const res = await send(Buffer.from('{"prompt":"café","max_tokens":1}'), { 'content-type': ct });
        expect(res.status, ct).toBe(200);
      }
      expect((await send('{"prompt":"a","max_tokens":1}', { 'content-encoding': 'identity' })).status).toBe(200);
      expect(engine.requests.map((r) => r.prompt).slice(0, fine.length)).toEqual(fine.map(() => [...Buffer.from('café')]));
      expect((await send('{"prompt":"a","max_tokens":1}', { 'content-type': 'application/json; foo="x"; charset=latin1' })).status).toBe(415);
      const proto = await send('{"prompt":"a","__proto__":{"x":1}}', {});
      expect(proto.status, 'prototype poisoning is still refused').toBe(400);
    } finally {
      await s.close();
    }
  });

  it('more prompts than the queue holds: 400, not 429 with retry-after for ever (on an idle server too)', async () => {
    const engine = standIn('slow');
    const s = await startServer({ engine, port: 0, log: () => {} });
    try {
      const res = await post(s.url, { prompt: ['a', 'b', 'c', 'd', 'e'], max_tokens: 1 });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'too_many_prompts', param: 'prompt', message: expect.stringMatching(/5 prompts, more than the server's queue holds \(4\)/) });
      expect(engine.requests).toEqual([]);
      expect((await post(s.url, { prompt: ['a', 'b', 'c', 'd'], max_tokens: 1 })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('/health is 503 "degraded" while a static rank is dead (every request would fail; it said ok)', async () => {
    const engine = standIn('slow');
    let health = [{ name: 'local', alive: true }, { name: 'w1', alive: true }];
    const s = await startServer({ engine: { ...engine, report: () => ({ strategy: 'static tp=2,pp=1', ranks: health.map((r) => r.name), rankHealth: health }) }, port: 0, log: () => {} });
    try {
      let res = await fetch(`${s.url}/health`);
      expect([res.status, await res.json()]).toEqual([200, expect.objectContaining({ status: 'ok', static: { ranks: 2, down: [] } })]);
      health = [{ name: 'local', alive: true }, { name: 'w1', alive: false }];
      res = await fetch(`${s.url}/health`);
      expect([res.status, await res.json()]).toEqual([503, expect.objectContaining({ status: 'degraded', static: { ranks: 2, down: ['w1'] } })]);
    } finally {
      await s.close();
    }
  });

  it('GET /v1/models/ID with a slash in the id (Hugging Face names; OpenAI\'s clients do not encode it) finds the model', async () => {
    const s = await startServer({ engine: standIn('slow'), port: 0, modelName: 'meta/llama-x', log: () => {} });
    try {
      for (const path of ['meta/llama-x', 'meta%2Fllama-x']) {
        const res = await fetch(`${s.url}/v1/models/${path}`);
        expect(res.status, path).toBe(200);
        expect((await res.json()).id).toBe('meta/llama-x');
      }
      expect((await fetch(`${s.url}/v1/models/meta`)).status).toBe(404);
      expect((await fetch(`${s.url}/v1/models/meta/llama-x/extra`)).status).toBe(404);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      expect((await client.models.retrieve('meta/llama-x')).id).toBe('meta/llama-x');
    } finally {
      await s.close();
    }
  });

  it('a failing generation: 500 JSON (plain) or an SSE error event then [DONE] (stream), no stack trace', async () => {
    const logs: string[] = [];
    const s = await startServer({ engine: standIn('fail'), port: 0, log: (l) => logs.push(l) });
    try {
      const res = await post(s.url, { prompt: 'a', max_tokens: 2 });
      const text = await res.text();
      expect(res.status).toBe(500);
      // The same error as the stream's (a plain request said internal_error, a stream generation_failed).
      expect(JSON.parse(text)).toEqual({ error: { message: 'generation failed: the device exploded', type: 'server_error', param: null, code: 'generation_failed' } });
      expectNoStack(text);
      const sse = await readSse(await post(s.url, { prompt: 'a', max_tokens: 2, stream: true }));
      expect(sse.done).toBe(true);
      expect(sse.chunks[0]!.choices[0]!.text).toBe('A');
      expect(sse.chunks.at(-1)!.error).toEqual({ message: 'generation failed: the device exploded', type: 'server_error', param: null, code: 'generation_failed' });
      expectNoStack(sse.raw);
      expect(logs.join('\n'), 'the stack goes to the log').toMatch(/the device exploded\n\s+at /);
      expect(s.metrics.finished.get({ reason: 'error' })).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('parses serve options into engine options; refuses bad ones', () => {
    const a = parseServeArgs(['--preset', 'tiny', '--dtype', 'f32', '--port', '0', '--max-queue', '3', '--spawn', 'none:1', '--threshold', '16', '--tiers', '16:0,inf:1',
      '--max-batch', '4', '--max-context', '256', '--prefill-chunk', '64']);
    expect(a).toMatchObject({
      host: '127.0.0.1', port: 0, maxQueue: 3,
      engine: { preset: 'tiny', dtype: 'f32', pool: { spawn: 'none:1' }, policy: { threshold: 16, tiers: '16:0,inf:1' }, schedule: { maxBatch: 4, maxContext: 256, prefillChunk: 64 } },
    });
    expect(parseServeArgs([]).engine.schedule).toEqual({ maxBatch: 8, maxContext: undefined, prefillChunk: 512 });
    expect(() => parseServeArgs(['--max-batch', '0'])).toThrow(/--max-batch must be an integer in \[1,/);
    expect(parseServeArgs([]).port).toBe(8000);
    expect(() => parseServeArgs(['--port', '70000'])).toThrow(/--port must be an integer in \[0, 65535\]/);
    expect(() => parseServeArgs(['--max-queue', '-1'])).toThrow(/--max-queue/);
    expect(() => parseServeArgs(['--max-queue', '0'])).toThrow(/--max-queue/); // nothing could ever be served
    expect(() => parseServeArgs(['--prompt', 'x'])).toThrow(/Unknown option '--prompt'/);
    expect(() => parseServeArgs(['--dtype', 'f64'])).toThrow(/--dtype must be f32 or f16/);
    // The handshake's timeout is its own, not --deadline's; a failed rank's probes back off from --rejoin-backoff.
    expect(parseServeArgs(['--deadline', '1', '--connect-timeout', '2500', '--rejoin-backoff', '200']).engine.pool).toMatchObject({ deadlineMs: 1, connectTimeoutMs: 2500, rejoinBackoffMs: 200 });
    expect(parseServeArgs(['--deadline', '1']).engine.pool).toMatchObject({ deadlineMs: 1, connectTimeoutMs: undefined, rejoinBackoffMs: undefined });
    expect(() => parseServeArgs(['--connect-timeout', '0'])).toThrow(/--connect-timeout must be an integer in \[1,/);
    expect(() => parseServeArgs(['--rejoin-backoff', 'x'])).toThrow(/--rejoin-backoff must be an integer in \[1,/);
  });
});

// ------------------------------------------------------------------ `run-inference.js serve` as a process, a pool worker killed under load



/** Resolves with the first stdout line matching re (rejects if the process exits first or ms pass). */
function lineFrom(p: ChildProcess, re: RegExp, ms: number, stderr: () => string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; stderr:\n${stderr()}`)), ms);
    const onExit = (code: number | null, sig: string | null) => { clearTimeout(timer); reject(new Error(`exited (${sig ?? code}) before ${re}; stderr:\n${stderr()}`)); };
    p.once('exit', onExit);
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) { clearTimeout(timer); p.off('exit', onExit); resolve(m); }
    });
  });
}

function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: string | null }> } {
  const proc = spawn(process.execPath, [ENTRY, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  return { proc, stderr: () => err, exited };
}

describe('run-inference.js serve (child process) with a pool worker killed under load', () => {
  const children: ChildProcess[] = [];
  beforeAll(buildPrivateDist);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(BUILD, { recursive: true, force: true });
  });

  it('the command line: serve in the main --help, serve --help, usage errors (exit 2), a port in use (exit 1) before loading', async () => {
    const run = (args: string[]) => spawnSync(process.execPath, [ENTRY, ...args], { encoding: 'utf8', timeout: 30_000 });
    const main = run(['--help']);
    expect(main.status).toBe(0);
    expect(main.stdout).toMatch(/node run-inference\.js serve --port 8000 .*OpenAI-compatible HTTP server \(serve --help\)/);
    const help = run(['serve', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: node run-inference\.js serve \[options\]/);
    expect(help.stdout).toMatch(/POST \/v1\/chat\/completions\n\s+messages \(roles system, user, assistant/);
    expect(help.stdout).toContain('chat_template');
    expect(help.stdout).toMatch(/ --quiet +no start-up or shutdown log on stderr \(warnings and errors still: a failed request's, a pool worker's/);
    for (const flag of ['--host', '--port', '--max-queue', '--pool', '--cluster', '--spawn', '--threshold', '--tiers', '--model', '--preset', '--dtype', '--gpu', '--deadline', '--connect-timeout', '--rejoin-backoff']) {
      expect(help.stdout).toContain(`  ${flag} `);
    }
    for (const [args, msg] of [[['--port', 'x'], /--port must be an integer/], [['--prompt', 'x'], /Unknown option '--prompt'/], [['--dtype', 'f8'], /--dtype must be f32 or f16/]] as const) {
      const r = run(['serve', ...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: serve: /);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    }
    const taken = createNetServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
    try {
      const port = (taken.address() as AddressInfo).port;
      const t0 = performance.now();
      const r = run(['serve', '--preset', 'tiny', '--dtype', 'f32', '--port', String(port)]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toBe(`error: cannot listen on http://127.0.0.1:${port}: the address is in use\n`);
      expect(performance.now() - t0, 'refused before the model loads').toBeLessThan(10_000);
    } finally {
      taken.close();
    }
  });

  it('serve --quiet still warns that --spawn auto found no second GPU (it dropped every line, warnings too)', async () => {
    const noSmi = join(tmp, 'no-nvidia-smi'); // PATH without nvidia-smi: no GPU list, on any host
    mkdirSync(noSmi, { recursive: true });
    const srv = startProcess(['serve', '--preset', 'tiny', '--dtype', 'f32', '--port', '0', '--quiet', '--spawn', 'auto'], { PATH: noSmi });
    children.push(srv.proc);
    await lineFrom(srv.proc, /^listening on http:\/\/127\.0\.0\.1:\d+$/m, 60_000, srv.stderr);
    srv.proc.kill('SIGTERM');
    expect((await srv.exited).code, srv.stderr()).toBe(0);
    expect(srv.stderr()).toMatch(/^warning: --spawn auto found no second GPU \(nvidia-smi lists none\): no workers started; the pool has no --spawn ranks$/m);
    expect(srv.stderr(), 'the load log stays quiet').not.toMatch(/^(serving|gpu|model|note|compiled|stopping|stopped)\b/m);
  });

  it('every request gets its single-device tokens; the pool ran some steps; the worker restarted rejoins; SIGTERM exits cleanly', async () => {
    const socket = `/tmp/fapool-srvtest-${process.pid}.sock`;
    const startWorker = async () => {
      const w = startProcess(['worker', '--gpu', 'none', '--listen', `ipc://${socket}`, '--label', 'victim', '--exit-with-parent']);
      children.push(w.proc);
      await lineFrom(w.proc, /^READY \S+/m, 60_000, w.stderr);
      return w;
    };
    const worker = await startWorker();
    const cluster = join(tmp, 'cluster.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint: `ipc://${socket}`, name: 'victim' }] }));

    const srv = startProcess(['serve', '--preset', 'tiny', '--dtype', 'f32', '--port', '0', '--cluster', cluster, '--threshold', '16', '--tiers', '16:0,inf:1', '--deadline', '5000',
      '--rejoin-backoff', '200']);
    children.push(srv.proc);
    const url = (await lineFrom(srv.proc, /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m, 60_000, srv.stderr))[1]!;
    expect(srv.stderr()).toMatch(/attention pool: victim; threshold 16 tokens/);

    // Prompts over the threshold: their attention goes to the pool until the worker dies.
    const cases = [24, 40, 31, 18, 52].map((n) => ({ prompt: ids(n), max: 24 }));
    const refs: Ref[] = [];
    for (const c of cases) refs.push(await reference(c.prompt, c.max));
    let killed = false;
    const workerGone = worker.exited;
    const results = await Promise.all(cases.map(async (c) => {
      const res = await post(url, { prompt: c.prompt, max_tokens: c.max, temperature: 0, stream: true, return_token_ids: true });
      expect(res.status).toBe(200);
      return readSse(res, (_chunk, n) => {
        // Several decode steps in, the worker dies (no goodbye: SIGKILL).
        if (n === 6 && !killed) { killed = true; worker.proc.kill('SIGKILL'); }
      });
    }));
    expect(killed).toBe(true);
    expect((await workerGone).signal).toBe('SIGKILL');
    results.forEach(({ chunks, done }, i) => {
      expect(done).toBe(true);
      expect(chunks.some((c) => c.error), JSON.stringify(chunks.at(-1))).toBe(false);
      const a = assemble(chunks);
      expectServed(cases[i]!.prompt, a.tokenIds, refs[i]!.tokens, `seed ${r.seed} request ${i}: tokens of one device`);
      expect(a.finish).toBe('length');
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const steps = (placement: string) => Number(new RegExp(`^fapool_attention_steps_total\\{placement="${placement}"\\} (\\S+)$`, 'm').exec(metrics)![1]);
    expect(steps('pool'), 'attention ran on the worker before it died').toBeGreaterThan(0);
    expect(steps('base'), 'and on the base after').toBeGreaterThan(0);
    const events = (kind: string, text = metrics) => Number(new RegExp(`^fapool_pool_events_total\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)![1]);
    const members = (text: string) => Object.fromEntries(['alive', 'down'].map((state) => [state, Number(new RegExp(`^fapool_pool_members\\{state="${state}"\\} (\\S+)$`, 'm').exec(text)![1])]));
    expect(events('to-pool') + events('prefill-to-pool')).toBeGreaterThan(0);
    expect(events('fault'), 'the kill was seen mid-generation').toBeGreaterThan(0);
    expect(events('fallback') + events('rebuild'), 'the sequences it held went on elsewhere').toBeGreaterThan(0);
    expect((await fetch(`${url}/health`)).status, 'still serving').toBe(200);
    const again = await (await post(url, { prompt: cases[0]!.prompt, max_tokens: 24, temperature: 0, return_token_ids: true })).json() as { choices: Chunk['choices'] };
    expect(again.choices[0]!.token_ids).toEqual(refs[0]!.tokens);
    expect(again.choices[0]!.metrics!.pool_steps, 'the worker is gone: on the base').toBe(0);
    expect((await (await fetch(`${url}/health`)).json() as { pool: unknown }).pool).toEqual({ members: 1, alive: 0, down: ['victim'] });
    expect(members(await (await fetch(`${url}/metrics`)).text())).toEqual({ alive: 0, down: 1 });

    // The worker restarted on the same endpoint (empty: none of the old shards) is probed back: a later request runs on it.
    await startWorker();
    let back: { choices: Chunk['choices'] } | null = null;
    for (let i = 0; i < 20 && !back; i++) {
      const c = cases[i % cases.length]!;
      const res = await (await post(url, { prompt: c.prompt, max_tokens: c.max, temperature: 0, return_token_ids: true })).json() as { choices: Chunk['choices'] };
      expectServed(c.prompt, res.choices[0]!.token_ids, refs[i % cases.length]!.tokens, `seed ${r.seed} request ${i} after the restart: tokens of one device`);
      if (Number(res.choices[0]!.metrics!.pool_steps) > 0) back = res;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(back, 'a request after the restart ran on the worker').not.toBeNull();
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(events('rejoin', after)).toBe(1);
    expect(members(after)).toEqual({ alive: 1, down: 0 });
    expect((await (await fetch(`${url}/health`)).json() as { pool: unknown }).pool).toEqual({ members: 1, alive: 1, down: [] });

    srv.proc.kill('SIGTERM');
    const exit = await Promise.race([srv.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no exit within 20 s')), 20_000).unref())]);
    expect(exit, srv.stderr()).toEqual({ code: 0, signal: null });
    expect(srv.stderr()).toMatch(/stopping \(SIGTERM\)/);
  });
});
