// Hostile use, twelfth round (session 38): round 11's left list (a finished response to a client that never reads, a
// request without Host or with an unknown Expect, a known path asked with another method) and FAPOOL_* variables a
// careless user mistypes. Each case failed on the code before its fix: a connection held for good, Node's bare 400 and
// 417 (no body), 404 for a path that exists, a busy-poll or keep-alive turned off without a word, a stack trace.
//
// The server cases run on a stand-in engine (no GPU): what is tested is the HTTP layer.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer, type ServedEngine } from '../src/cli/serve.js';
import { FapoolError, LimitError } from '../src/gpu/errors.js';
import { presetConfig } from '../src/model/config.js';
import { readPacingEnabled } from '../src/model/read-pacer.js';
import type { CompletionEvent, CompletionRequest } from '../src/orchestrator/engine.js';
import { connectRank, serveRank } from '../src/orchestrator/transport/zmq-link.js';

const tmp = mkdtempSync(join(tmpdir(), 'fapool-round12-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * 64 KiB of text a token, up to `tokens` of them; a done event whose text is `doneText`. Stops when its request is
 * cancelled. A prompt of `slowPromptLength` tokens waits `slowMs` first (a request queued behind others).
 */
function standIn(o: { tokens: number; doneText: string; slowPromptLength?: number; slowMs?: number }): ServedEngine & { requests: CompletionRequest[] } {
  const requests: CompletionRequest[] = [];
  const piece = 'x'.repeat(64 << 10);
  return {
    requests, config: presetConfig('tiny'), dtype: 'f32', device: 'stand-in', maxQueue: 4,
    load: () => ({ running: 0, queued: 0, maxQueue: 4, completed: 0 }),
    encode: (p) => (typeof p === 'string' ? [...Buffer.from(p)] : [...p]),
    submit(req) {
      requests.push(req);
      return (async function* () {
        let n = 0;
        if ((req.prompt as number[]).length === o.slowPromptLength) await new Promise((r) => setTimeout(r, o.slowMs));
        for (; n < o.tokens && !req.signal?.aborted; n++) {
          await new Promise((r) => setImmediate(r));
          yield { type: 'token', token: 120, text: piece, index: n } as CompletionEvent;
        }
        yield {
          type: 'done', reason: req.signal?.aborted ? 'cancelled' : 'length', tokens: Array<number>(n).fill(120), text: o.doneText,
          promptTokens: 2, ttftMs: 1, queueMs: 0, tpotMs: 1, baseSteps: n, poolSteps: 0,
        } as CompletionEvent;
      })();
    },
    dispose: async () => {},
  };
}

const connections = (s: RunningServer) => new Promise<number>((r) => s.app.server.getConnections((_e, n) => r(n)));

/** What the server answers to `text` on a fresh connection until it closes it; ' [still open]' appended if it had not after `ms`. */
function exchange(s: RunningServer, text: string, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(s.port, '127.0.0.1', () => c.write(text));
    let out = '';
    c.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', () => { clearTimeout(timer); resolve(out); });
    c.on('error', () => undefined);
    const timer = setTimeout(() => { out += ' [still open]'; c.destroy(); }, ms);
  });
}

const parse = (raw: string) => {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
};

describe('serve: a response that has ended, to a client that reads none of it', () => {
  let server: RunningServer;
  let engine: ReturnType<typeof standIn>;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // A stream of up to 32 MiB (cut at 4 MiB buffered), and a 64 MiB whole answer: both more than the kernel's buffers hold.
    engine = standIn({ tokens: 500, doneText: 'y'.repeat(64 << 20) });
    server = await startServer({ engine, port: 0, sendTimeoutMs: 300, log: () => undefined });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await server?.close(0);
  });

  /** Sends `body` on a connection that never reads (paused), and resolves once the server has something to send. */
  async function neverRead(body: object): Promise<void> {
    const b = JSON.stringify(body);
    const c = connect(server.port, '127.0.0.1');
    c.pause();
    c.on('error', () => undefined);
    sockets.push(c);
    c.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
    await until(() => engine.requests.length === sockets.length, 10_000, 'the request reached the engine');
  }

  it('a stream (cut at 4 MiB) loses its connection once nothing moves (it held it, and up to 4 MiB, for good)', async () => {
    await until(async () => (await connections(server)) === 0, 10_000, 'no connection before');
    await neverRead({ prompt: 'hi', max_tokens: 500, stream: true });
    expect(await connections(server)).toBe(1);
    await until(async () => (await connections(server)) === 0, 20_000, 'the connection closed by the server');
  });

  it('a whole answer larger than the socket buffers: the same', async () => {
    await neverRead({ prompt: 'hi', max_tokens: 1 });
    await until(async () => (await connections(server)) === 0, 20_000, 'the connection closed by the server');
  });
});

describe('serve: the send timeout does not cut what it should not', () => {
  it('a pipelined request that waits longer than the timeout for its tokens, behind an answer that was read', async () => {
    const engine = standIn({ tokens: 2, doneText: 'ok', slowPromptLength: 4, slowMs: 1500 });
    const server = await startServer({ engine, port: 0, sendTimeoutMs: 300, log: () => undefined });
    try {
      const req = (prompt: string, last: boolean) => {
        const b = JSON.stringify({ prompt, max_tokens: 2 });
        return `POST /v1/completions HTTP/1.1\r\nHost: x\r\n${last ? 'Connection: close\r\n' : ''}Content-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
      };
      // The first is answered at once and read; the second (4 tokens: slow) comes 1.5 s later on the same connection.
      const out = await exchange(server, req('hi', false) + req('slow', true), 20_000);
      expect(out).not.toContain('[still open]');
      expect(out.match(/HTTP\/1\.1 200 OK/g), out.slice(0, 500)).toHaveLength(2);
      expect(out.match(/"finish_reason":"length"/g)).toHaveLength(2);
      // A stream that waits as long: its headers are out, then nothing for 1.5 s.
      const b = JSON.stringify({ prompt: 'slow', max_tokens: 2, stream: true });
      const stream = await exchange(server, req('hi', false) + `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`, 20_000);
      expect(stream).toContain('data: [DONE]');
      expect(stream).not.toContain('[still open]');
    } finally {
      await server.close(0);
    }
  });
});

describe('serve: a stream to a client that sent "Connection: close"', () => {
  it('is closed after [DONE], and says so (it answered "connection: keep-alive" and held the connection for the keep-alive timeout, 72 s)', async () => {
    const server = await startServer({ engine: standIn({ tokens: 2, doneText: 'ok' }), port: 0, log: () => undefined });
    try {
      const b = JSON.stringify({ prompt: 'hi', max_tokens: 2, stream: true });
      const out = await exchange(server, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`, 10_000);
      expect(out).toContain('data: [DONE]');
      expect(out).not.toContain('[still open]');
      expect(parse(out).headers.connection).toBe('close');
      // A client that did not ask to close keeps its connection (keep-alive, as before).
      const kept = await exchange(server, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`, 1000);
      expect(kept).toContain('data: [DONE]');
      expect(kept).toContain('[still open]');
      expect(parse(kept).headers.connection).toBe('keep-alive');
    } finally {
      await server.close(0);
    }
  });
});

describe('serve: HTTP that Node answered itself, and methods', () => {
  let server: RunningServer;
  let engine: ReturnType<typeof standIn>;
  beforeAll(async () => {
    engine = standIn({ tokens: 1, doneText: 'x' });
    server = await startServer({ engine, port: 0, log: () => undefined });
  });
  afterAll(async () => { await server?.close(0); });

  const openAiError = (body: string, code: string) => {
    const e = JSON.parse(body) as { error: Record<string, unknown> };
    expect(Object.keys(e)).toEqual(['error']);
    expect(e.error).toEqual({ message: expect.any(String), type: 'invalid_request_error', param: null, code });
    return e.error.message as string;
  };

  it('HTTP/1.1 without Host: 400 in OpenAI\'s shape, connection closed (Node\'s bare 400 had no body); HTTP/1.0 without it is served', async () => {
    const r = parse(await exchange(server, 'GET /health HTTP/1.1\r\n\r\n'));
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(openAiError(r.body, 'missing_host')).toMatch(/Host/);
    const b = JSON.stringify({ prompt: 'hi', max_tokens: 1 });
    const post = parse(await exchange(server, `POST /v1/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`));
    expect(post.status).toBe(400);
    openAiError(post.body, 'missing_host');
    expect(engine.requests).toHaveLength(0);
    const old = parse(await exchange(server, 'GET /health HTTP/1.0\r\n\r\n'));
    expect(old.status).toBe(200);
    expect(JSON.parse(old.body)).toMatchObject({ status: 'ok' });
  });

  it('an Expect other than 100-continue: 417 in OpenAI\'s shape (Node\'s had no body); the request is not run', async () => {
    const b = JSON.stringify({ prompt: 'hi', max_tokens: 1 });
    const r = parse(await exchange(server, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`));
    expect(r.status).toBe(417);
    expect(openAiError(r.body, 'expectation_failed')).toMatch(/200-ok/);
    expect(engine.requests).toHaveLength(0);
    // 100-continue still works.
    const ok = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', expect: '100-continue' }, body: b }).catch(() => null);
    if (ok) expect(ok.status).toBe(200); // undici refuses to send an Expect header itself: then only the raw form below
    const raw = parse(await exchange(server, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`));
    expect(raw.status).toBe(100);
    expect(raw.body).toContain('HTTP/1.1 200 OK');
  });

  it('a path that exists asked with another method: 405 with Allow (it was 404, "no route"); unknown paths stay 404', async () => {
    const ran = engine.requests.length;
    const cases: [string, string, string][] = [
      ['GET', '/v1/completions', 'POST'],
      ['GET', '/v1/chat/completions', 'POST'],
      ['OPTIONS', '/v1/completions', 'POST'],
      ['DELETE', '/v1/models', 'GET, HEAD'],
      ['POST', '/health', 'GET, HEAD'],
      ['POST', '/v1/models/meta/llama-x', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${server.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(openAiError(await res.text(), 'method_not_allowed')).toContain(path);
    }
    const head = await fetch(`${server.url}/v1/completions`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    for (const path of ['/v2/everything', '/v1/completions/', '/v1//completions', '/v1/models/']) {
      const res = await fetch(`${server.url}${path}`, { method: 'DELETE' });
      expect(res.status, path).toBe(404);
      openAiError(await res.text(), 'not_found');
    }
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
    expect(engine.requests).toHaveLength(ran);
  });
});

describe('FAPOOL_* variables a careless user mistypes', () => {
  const saved = { spin: process.env.FAPOOL_SPIN_MS, keepAlive: process.env.FAPOOL_KEEPALIVE_MS };
  const restore = () => {
    for (const [k, v] of [['FAPOOL_SPIN_MS', saved.spin], ['FAPOOL_KEEPALIVE_MS', saved.keepAlive]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  };
  afterAll(restore);

  it('FAPOOL_SPIN_MS=abc / 3ms / -1: a worker refuses to start, naming it (it was read as 0: busy-polling off without a word)', async () => {
    for (const bad of ['abc', '3ms', '-1', '1e3']) {
      process.env.FAPOOL_SPIN_MS = bad;
      const path = join(tmp, `w-${bad}.sock`);
      const r = await serveRank(`ipc://${path}`, async () => ({ header: { kind: 'pong' } })).then(async (s) => { await s.close(); return null; }, (e: unknown) => e);
      expect(r, bad).toBeInstanceOf(LimitError);
      expect((r as Error).message).toContain(`FAPOOL_SPIN_MS=${bad}`);
      expect(existsSync(path), 'nothing bound').toBe(false);
    }
    for (const good of ['0', '2.5', ' 3 ', '']) {
      process.env.FAPOOL_SPIN_MS = good;
      const s = await serveRank(`ipc://${join(tmp, 'w-good.sock')}`, async () => ({ header: { kind: 'pong' } }));
      await s.close();
    }
    restore();
  });

  it('FAPOOL_KEEPALIVE_MS=-5: connectRank refuses at once, before any socket (it was taken as off)', async () => {
    process.env.FAPOOL_KEEPALIVE_MS = '-5';
    const e = await connectRank(`ipc://${join(tmp, 'nobody.sock')}`, { connectTimeoutMs: 300 }).then(() => null, (err: unknown) => err);
    restore();
    expect(e).toBeInstanceOf(LimitError);
    expect((e as Error).message).toMatch(/FAPOOL_KEEPALIVE_MS=-5: expected a number of ms/);
  });

  it('FAPOOL_READ_PACING=maybe: a FapoolError (one error line from the CLI), not a plain Error with its stack', () => {
    expect(() => readPacingEnabled('maybe')).toThrow(FapoolError);
    expect(() => readPacingEnabled('maybe')).toThrow(/FAPOOL_READ_PACING='maybe': expected 'on' or 'off'/);
    expect(readPacingEnabled('off')).toBe(false);
  });
});

// Kernel and model switches read where their kernel is chosen were refused only when (and if) that kernel was first
// built: FAPOOL_GEMV_HALF=7 on a run whose GEMVs all took f32 products, or FAPOOL_DECODE_SG=wgs=abc on a device
// without the subgroup decode kernel, ran as if unset. createEngine now reads them all before it opens the GPU.
describe('every FAPOOL_* kernel switch is read before anything loads (checkKernelSwitches)', () => {
  const bad: [string, string, RegExp][] = [
    ['FAPOOL_GEMV_HALF', '7', /FAPOOL_GEMV_HALF='7'/], ['FAPOOL_GEMV_CPT', '3x', /FAPOOL_GEMV_CPT='3x'/],
    ['FAPOOL_DECODE_SG', 'wgs=abc', /FAPOOL_DECODE_SG=wgs=abc/], ['FAPOOL_DECODE_SPLITS', 'all', /FAPOOL_DECODE_SPLITS=all/],
    ['FAPOOL_DECODE_MERGE', 'fast', /FAPOOL_DECODE_MERGE=fast/], ['FAPOOL_DECODE_PAIR', 'yes', /FAPOOL_DECODE_PAIR=yes/],
    ['FAPOOL_DECODE_APPEND', 'later', /FAPOOL_DECODE_APPEND=later/], ['FAPOOL_DECODE_TILES', 'split:u16', /FAPOOL_DECODE_TILES='split:u16'/],
    ['FAPOOL_TILE_FIXK', 'yes', /FAPOOL_TILE_FIXK=yes/], ['FAPOOL_NORM_EPILOGUE', '1', /FAPOOL_NORM_EPILOGUE=1/],
    ['FAPOOL_TILE_STS', 'zigzag', /FAPOOL_TILE_STS=zigzag/], ['FAPOOL_TILE_DEBUG', 'xfix,nofix', /FAPOOL_TILE_DEBUG=xfix,nofix/],
    ['FAPOOL_TILE_CS', 'half', /FAPOOL_TILE_CS=half/],
    ['FAPOOL_ROPE_EPILOGUE', 'yes', /FAPOOL_ROPE_EPILOGUE=yes/], ['FAPOOL_GEMV_HALF_O', 'yes', /FAPOOL_GEMV_HALF_O=yes/],
    ['FAPOOL_GEMM_SKINNY', 'fast', /FAPOOL_GEMM_SKINNY/], ['FAPOOL_GEMM_PREFILL', 'tile-gen:nope', /FAPOOL_GEMM_PREFILL|nope/],
    ['FAPOOL_FA_PREFILL', '999_1_1', /FAPOOL_FA_PREFILL=999_1_1: not a generated entry/],
    ['FAPOOL_WG_PAD', '6', /FAPOOL_WG_PAD='6'/],
  ];
  for (const [name, value, msg] of bad) {
    it(`${name}=${value}: one error line naming it, before the GPU is opened or a model loaded`, () => {
      const r = spawnSync(process.execPath, ['run-inference.js', '--preset', 'tiny', '--max-new-tokens', '2'],
        { encoding: 'utf8', timeout: 60_000, env: { ...process.env, [name]: value } });
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(r.status, r.stderr).toBe(1);
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(msg);
      expect(r.stderr, 'nothing opened or loaded first').not.toMatch(/^(gpu|model|load):/m);
      expect(r.stdout).toBe('');
    }, 70_000);
  }
});

describe('a worker told to listen on a host that is not there', () => {
  it('tcp://nohost.invalid:5555: one usage line (exit 2) before the GPU opens, where ZeroMQ said "No such device" after', () => {
    const r = spawnSync(process.execPath, ['run-inference.js', 'worker', '--listen', 'tcp://nohost.invalid:5555'],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env } });
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(r.status, r.stderr).toBe(2);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/--listen tcp:\/\/nohost\.invalid:5555: nohost\.invalid is neither an address, an interface of this host nor a name that resolves/);
    expect(r.stderr, 'the GPU was not opened').not.toMatch(/adapter:/);
    expect(r.stdout).not.toMatch(/READY/);
  }, 70_000);
});
