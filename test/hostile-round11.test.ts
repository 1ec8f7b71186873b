// Hostile use, eleventh round (session 37): the server under pipelining, requests cancelled mid-prefill, token streams
// closed before their first read, max_tokens past 2^53, and model files that are not what their names say (FIFOs,
// devices, symbolic links to nothing or in a loop). Each case failed on the code before its fix: a request decoded or
// prefilled for nobody, a stream's reader was never told, the process hung for good (not even SIGTERM ended it), or
// another tokenizer or config ran without a word.
//
// The command lines run from a private transpile of src/ (as cli.test.ts), so a stale dist/ never decides a result.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, fitContext, parseChatRequest, parseCompletionRequest } from '../src/cli/serve-schema.js';
import { startServer, type RunningServer } from '../src/cli/serve.js';
import { InputError } from '../src/gpu/errors.js';
import { createEngine, type Engine } from '../src/index.js';
import type { SamplingParams } from '../src/kernels/sampling.js';
import { ConfigError, configFromHf, presetConfig } from '../src/model/config.js';
import { checkCount, type DecodeStepInput, type ForwardExecutor, type PrefillChunk } from '../src/model/generation.js';
import { resolveModel } from '../src/model/model-files.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { SafetensorsError } from '../src/model/safetensors.js';
import { loadTokenizer, TokenizerError } from '../src/model/tokenizer.js';
import type { CompletionEvent } from '../src/orchestrator/engine.js';
import { Scheduler, type ScheduledRequest } from '../src/orchestrator/scheduler.js';
import { expectGreedyAgree } from './helpers.js';
import { privateDist } from './private-dist.js';
import { refWeights } from './random-config.js';
import type { RefWeights } from './ref/model.js';
import { spTokenizerJson } from './sp-tokenizer.js';

const { BUILD, ENTRY, build: buildPrivateDist } = privateDist('round11');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-round11-'));
const cache = join(tmp, 'cache');
beforeAll(async () => {
  process.env.FAPOOL_CACHE = cache;
  mkdirSync(cache, { recursive: true });
  await buildPrivateDist();
});
afterAll(() => {
  rmSync(BUILD, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

const turn = () => new Promise<void>((r) => setImmediate(r));
const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, seed: 0 };

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const executorOf = (e: Engine) => (e as unknown as { parts: { executor: ForwardExecutor } }).parts.executor;

/** The decode steps engine `e` runs while `f` runs. */
async function countingDecodes(e: Engine, f: () => Promise<unknown>): Promise<number> {
  const ex = executorOf(e), decode = ex.decode;
  let n = 0;
  ex.decode = (input, buf) => { n++; return decode.call(ex, input, buf); };
  try { await f(); } finally { ex.decode = decode; }
  return n;
}

// ------------------------------------------------------------------ a request cancelled while its prompt is prefilled

describe('a request cancelled while its prompt is prefilled', () => {
  it('(scheduler, stand-in executor) stops before its next chunk, its slot freed; the next request runs (it prefilled all 25 chunks)', async () => {
    const B = 2, prefills: number[] = [], freed: number[] = [];
    let cancelled = false;
    const ex: ForwardExecutor = {
      cfg: { vocab: 256, maxSeq: 512 } as ForwardExecutor['cfg'], gpuBytes: 0,
      prepare: () => undefined, sampleFirst: turn, sync: turn,
      async prefill(c: PrefillChunk) { prefills.push(c.b); if (prefills.length === 2) cancelled = true; await turn(); },
      async decode(_input: DecodeStepInput) { await turn(); },
      async readTokens() { await turn(); return new Uint32Array(B).fill(7); },
      readLogits: async () => new Float32Array(0),
      async freeSlot(b: number) { freed.push(b); },
    };
    let tail: Promise<unknown> = Promise.resolve();
    const lock = <T>(work: () => Promise<T>): Promise<T> => { const r = tail.then(work); tail = r.catch(() => undefined); return r; };
    const s = new Scheduler(ex, ex.cfg as never, lock, { maxBatch: B, prefillChunk: 4 });
    const request = (prompt: number[], isStopped: () => boolean) => {
      let end!: (why: string) => void;
      const ended = new Promise<string>((r) => { end = r; });
      let tokens = 0;
      const req: ScheduledRequest = {
        prompt, maxTokens: 5, sampling: GREEDY, isStopped,
        onStart: () => undefined, onToken: () => { tokens++; }, onDone: (why) => end(why), onError: (e) => end(`error ${String(e)}`),
      };
      s.submit(req);
      return { ended, tokens: () => tokens };
    };
    const long = request(Array<number>(100).fill(1), () => cancelled); // 25 chunks of 4
    expect(await long.ended).toBe('stopped');
    expect(prefills.length, 'chunks prefilled: the cancel came during the 2nd').toBeLessThanOrEqual(3);
    const next = request([1, 2, 3], () => false);
    expect(await next.ended).toBe('length');
    expect(next.tokens()).toBe(5);
    expect(freed[0], 'the cancelled request\'s slot, freed before the next one took it').toBe(0);
  });

  describe.each([
    ['one device', {}],
    ['FA Pool, 2 in-process ranks', { pool: { inProcess: 2 }, policy: { threshold: 20, tiers: '20:0,inf:2' } }],
  ] as const)('(engine, tiny, %s)', (_name, extra) => {
    let engine: Engine, alone: Engine, ref64: RefWeights;
    beforeAll(async () => {
      engine = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 2, prefillChunk: 16 }, ...extra });
      alone = 'pool' in extra ? await createEngine({ preset: 'tiny', dtype: 'f32' }) : engine;
      const file = join(tmp, 'tiny-ref.safetensors');
      await writeRandomWeights(file, presetConfig('tiny'), { seed: 0, dtype: 'f32' });
      ref64 = await refWeights(file, presetConfig('tiny'));
    });
    afterAll(async () => { await engine?.dispose(); if (alone !== engine) await alone?.dispose(); });

    it('stops at its next chunk; the same prompt then gets its tokens alone, with no fault', async () => {
      const prompt = Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256); // 13 chunks of 16
      const ex = executorOf(engine), prefill = ex.prefill;
      const ac = new AbortController();
      let calls = 0, afterAbort = 0;
      ex.prefill = async (c) => {
        calls++;
        if (ac.signal.aborted) afterAbort++;
        await prefill.call(ex, c);
        if (calls === 1) ac.abort();
      };
      const events0 = engine.report().events?.length ?? 0;
      let done: CompletionEvent | undefined;
      try {
        for await (const e of engine.submit({ prompt, maxTokens: 8, signal: ac.signal })) done = e;
      } finally {
        ex.prefill = prefill;
      }
      expect(done).toMatchObject({ type: 'done', reason: 'cancelled', tokens: [] });
      expect(afterAbort, 'chunks prefilled after the cancel (all 12 before the fix)').toBeLessThanOrEqual(1);
      await until(() => engine.load().running === 0 && engine.load().queued === 0, 5000, 'the engine idle');

      const want = (await alone.run({ prompts: [prompt], maxNewTokens: 8, stopAtEos: false })).result.tokens[0]!;
      let got: number[] = [];
      for await (const e of engine.submit({ prompt, maxTokens: 8 })) if (e.type === 'done') got = e.tokens;
      expectGreedyAgree(presetConfig('tiny'), ref64, [prompt], [got], [want], 'after a cancel mid-prefill');
      const events = (engine.report().events ?? []).slice(events0);
      expect(events.filter((e) => e.kind === 'fault' || e.kind === 'fallback')).toEqual([]);
      if ('pool' in extra) expect(events.some((e) => e.kind === 'to-pool'), JSON.stringify(events)).toBe(true);
    });
  });
});

// ------------------------------------------------------------------ token streams closed before their first read

describe('a token stream whose iterator is closed before its first next()', () => {
  let engine: Engine;
  beforeAll(async () => { engine = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 2, prefillChunk: 16 } }); });
  afterAll(async () => { await engine?.dispose(); });

  it('submit(): the request is cancelled (it decoded its 200 tokens for nobody)', async () => {
    const decodes = await countingDecodes(engine, async () => {
      const it = engine.submit({ prompt: 'Hello', maxTokens: 200 })[Symbol.asyncIterator]();
      await it.return!();
      await turn();
      await until(() => engine.load().running === 0 && engine.load().queued === 0, 10_000, 'the engine idle');
    });
    expect(decodes).toBe(0);
  });

  it('generate(): the generation is cancelled, so the next one does not wait for it (it ran its 200 tokens first)', async () => {
    await engine.run({ prompts: ['Hi'], maxNewTokens: 3 }); // compiled before counting
    const decodes = await countingDecodes(engine, async () => {
      const it = engine.generate({ prompts: ['Hello'], maxNewTokens: 200, stopAtEos: false })[Symbol.asyncIterator]();
      await it.return!();
      await engine.run({ prompts: ['Hi'], maxNewTokens: 3, stopAtEos: false });
    });
    expect(decodes, 'the second run\'s two decode steps only').toBe(2);
  });
});

// ------------------------------------------------------------------ the server

describe('serve (in process, tiny, one slot)', () => {
  let server: RunningServer;
  const log: string[] = [];
  beforeAll(async () => {
    server = await startServer({ engineOptions: { preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 1, prefillChunk: 16 } }, port: 0, log: (l) => log.push(l) });
  });
  afterAll(async () => { await server?.close(0); });

  it('pipelined requests (sent before the one ahead was answered) are cancelled when the client leaves (they decoded to their end)', async () => {
    const before = server.engine.load().completed;
    const body = (stream: boolean) => JSON.stringify({ prompt: 'Hello', max_tokens: 400, temperature: 0, stream });
    const req = (b: string) => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
    await new Promise<void>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1', () => s.write(req(body(true)) + req(body(false)) + req(body(true))));
      s.on('data', (d: Buffer) => { if (d.toString().includes('data: ')) { s.destroy(); resolve(); } });
      s.on('error', reject);
    });
    await until(() => server.engine.load().running === 0 && server.engine.load().queued === 0, 30_000, 'the engine idle');
    expect(server.engine.load().completed - before, 'requests that started: the first only (3 before the fix)').toBe(1);
    const ok = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hi', max_tokens: 2 }) });
    expect(ok.status).toBe(200);
    expect(log.filter((l) => /MaxListeners|error/i.test(l))).toEqual([]);
  });

  it('many pipelined requests on one connection: answered in order, one close listener (no MaxListenersExceededWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const b = JSON.stringify({ prompt: 'Hi', max_tokens: 2, temperature: 0 });
      const one = `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
      const text = await new Promise<string>((resolve, reject) => {
        let out = '';
        const s = connect(server.port, '127.0.0.1', () => s.write(one.repeat(20)));
        s.on('data', (d: Buffer) => {
          out += d.toString();
          if ((out.match(/"usage"/g) ?? []).length === 20) { s.destroy(); resolve(out); }
        });
        s.on('error', reject);
      });
      expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(20);
      await turn();
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('max_tokens past 2^53 (2^64, 1e300) is context_length_exceeded, not "must be an integer" (as top_k and seed take any integer)', async () => {
    for (const v of ['18446744073709551616', '1e300']) {
      const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"prompt": "Hi", "max_tokens": ${v}}` });
      expect(res.status, v).toBe(400);
      expect((await res.json() as { error: { code: string; param: string } }).error, v).toMatchObject({ code: 'context_length_exceeded', param: 'max_tokens' });
    }
    const p = parseChatRequest({ messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 2 ** 64 });
    expect(() => fitContext(5, p.maxTokens, 512, 'messages', p.maxTokensParam)).toThrow(ApiError);
    expect(() => fitContext(5, p.maxTokens, 512, 'messages', p.maxTokensParam)).toThrow(/max_completion_tokens/);
    expect(() => parseCompletionRequest({ prompt: 'x', max_tokens: 1.5 }, 256)).toThrow(/must be an integer, got 1.5/);
    expect(() => parseCompletionRequest({ prompt: 'x', max_tokens: -(2 ** 64) }, 256)).toThrow(/must be >= 1/);
  });
});

// ------------------------------------------------------------------ model files that are not what their names say

/** A checkpoint folder: Llama config.json (tiny's shape, vocabulary 300), random weights, a SentencePiece tokenizer. */
async function checkpoint(name: string): Promise<string> {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const hf = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4,
    num_key_value_heads: 4, num_hidden_layers: 2, vocab_size: 300, max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000,
    hidden_act: 'silu', tie_word_embeddings: false,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hf));
  await writeRandomWeights(join(dir, 'model.safetensors'), configFromHf(hf), { seed: 1, dtype: 'f32' });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(spTokenizerJson()));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: 'from the config' }));
  return dir;
}

const resolve = async (model: string) => {
  const m = await resolveModel({ model, preset: 'fortune-4l', seed: 0 }, 'f32');
  await m.file.close();
  return m;
};

describe('a count past 2^53 in the library API', () => {
  it('maxNewTokens 2^64 says "at most 2^53 − 1" (it said "must be a positive integer" of an integer)', () => {
    expect(() => checkCount('maxNewTokens', 2 ** 64)).toThrow(/maxNewTokens must be a positive integer of at most 2\^53 − 1, got 18446744073709552000/);
    expect(() => checkCount('maxNewTokens', 2.5)).toThrow(/maxNewTokens must be a positive integer, got 2.5/);
    expect(() => checkCount('maxNewTokens', 2 ** 53 - 1)).not.toThrow();
  });
});

describe('model files that cannot be read are errors naming them, not skipped as absent', () => {
  it('the checkpoint as made loads with its config and tokenizer', async () => {
    const dir = await checkpoint('plain');
    const m = await resolve(dir);
    expect([m.configSource, m.tokenizerSource]).toEqual([join(dir, 'config.json'), join(dir, 'tokenizer.json')]);
  });

  it('tokenizer.json a symbolic link to nothing (a Hub download cut short), or a folder: TokenizerError (the byte tokenizer ran, exit 0)', async () => {
    const dir = await checkpoint('tok-link');
    rmSync(join(dir, 'tokenizer.json'));
    symlinkSync(join(tmp, 'blobs', 'never-downloaded'), join(dir, 'tokenizer.json'));
    await expect(resolve(dir)).rejects.toThrow(TokenizerError);
    await expect(resolve(dir)).rejects.toThrow(`${join(dir, 'tokenizer.json')} cannot be read: a symbolic link to ${join(tmp, 'blobs', 'never-downloaded')}, which does not exist`);
    rmSync(join(dir, 'tokenizer.json'));
    mkdirSync(join(dir, 'tokenizer.json'));
    await expect(resolve(dir)).rejects.toThrow(/tokenizer\.json cannot be read: a folder, not a file/);
    rmSync(join(dir, 'tokenizer.json'), { recursive: true });
    rmSync(join(dir, 'tokenizer_config.json'));
    expect((await resolve(dir)).tokenizerSource, 'no tokenizer file at all: the byte tokenizer, as before').toBe('bytes');
  });

  it('a folder with another tokenizer\'s files (tokenizer.model, tokenizer_config.json) but no tokenizer.json: TokenizerError (the byte tokenizer ran, exit 0)', async () => {
    const dir = await checkpoint('sentencepiece-only');
    rmSync(join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer.model'), 'a SentencePiece model');
    await expect(resolve(dir)).rejects.toThrow(TokenizerError);
    await expect(resolve(dir)).rejects.toThrow(`${dir} has tokenizer.model, tokenizer_config.json but no tokenizer.json`);
  });

  it('tokenizer_config.json, generation_config.json, chat_template.jinja as links to nothing: TokenizerError (each was taken as absent)', async () => {
    const dir = await checkpoint('tok-files');
    expect((await loadTokenizer(dir)).chatTemplate).toBe('from the config');
    for (const name of ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja']) {
      const path = join(dir, name);
      rmSync(path, { force: true });
      symlinkSync(join(tmp, 'nowhere', name), path);
      await expect(loadTokenizer(dir), name).rejects.toThrow(`${path} cannot be read: a symbolic link to ${join(tmp, 'nowhere', name)}, which does not exist`);
      rmSync(path);
    }
  });

  it('config.json a link to nothing or a loop of links: ConfigError (the weights\' own metadata ran instead)', async () => {
    const dir = await checkpoint('config-link');
    const path = join(dir, 'config.json');
    rmSync(path);
    symlinkSync(join(tmp, 'nowhere', 'config.json'), path);
    await expect(resolve(dir)).rejects.toThrow(ConfigError);
    await expect(resolve(dir)).rejects.toThrow(/config\.json: a symbolic link to .*nowhere\/config\.json, which does not exist/);
    rmSync(path);
    symlinkSync(path, path);
    await expect(resolve(dir)).rejects.toThrow(/config\.json: a loop of symbolic links/);
  });

  it('model.safetensors a link to nothing: SafetensorsError saying so ("has neither model.safetensors nor …"); --model a loop of links: InputError saying so ("does not exist")', async () => {
    const dir = await checkpoint('weights-link');
    rmSync(join(dir, 'model.safetensors'));
    symlinkSync(join(tmp, 'nowhere', 'w'), join(dir, 'model.safetensors'));
    await expect(resolve(dir)).rejects.toThrow(SafetensorsError);
    await expect(resolve(dir)).rejects.toThrow(/model\.safetensors cannot be opened: a symbolic link to .*nowhere\/w, which does not exist/);
    const a = join(tmp, 'loop-a'), b = join(tmp, 'loop-b');
    symlinkSync(b, a);
    symlinkSync(a, b);
    await expect(resolve(a)).rejects.toThrow(InputError);
    await expect(resolve(a)).rejects.toThrow(`--model ${a} cannot be read: a loop of symbolic links`);
  });

  it('a shard of a sharded checkpoint that is a link to nothing says so ("is missing")', async () => {
    const dir = join(tmp, 'sharded');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00001.safetensors' } }));
    symlinkSync(join(tmp, 'nowhere', 'shard'), join(dir, 'model-00001-of-00001.safetensors'));
    await expect(resolve(dir)).rejects.toThrow(/shard model-00001-of-00001\.safetensors cannot be read: a symbolic link to .*nowhere\/shard/);
  });
});

describe('run-inference.js with a FIFO or a device as a model file: one error line at once (it hung for good, and SIGTERM printed "interrupted" but could not end it)', () => {
  const fifo = (name: string): string => {
    const p = join(tmp, name);
    expect(spawnSync('mkfifo', [p]).status).toBe(0);
    return p;
  };
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [ENTRY, ...args, '--max-new-tokens', '2'], {
      encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL', env: { ...process.env, FAPOOL_CACHE: cache },
    });
    return { code: r.status, signal: r.signal, errors: r.stderr.split('\n').filter((l) => l.startsWith('error:')), stderr: r.stderr };
  };

  it.each([
    ['--model FIFO', () => ['--model', fifo('weights.safetensors')], 2, /--model .*weights\.safetensors is a FIFO \(named pipe\): give a safetensors file/],
    ['--model /dev/zero', () => ['--model', '/dev/zero'], 2, /--model \/dev\/zero is a device/],
    ['--config FIFO', () => ['--config', fifo('config-fifo.json')], 1, /cannot read config .*config-fifo\.json: a FIFO \(named pipe\), not a file/],
    ['--config /dev/zero (it filled the heap)', () => ['--config', '/dev/zero'], 1, /cannot read config \/dev\/zero: a device, not a file/],
    ['--init random --model FIFO', () => ['--preset', 'tiny', '--init', 'random', '--model', fifo('init.safetensors')], 2, /not written by --init random \(not a regular file\)/],
    ['--cluster FIFO', () => ['--preset', 'tiny', '--cluster', fifo('cluster.json'), '--prompt-len', '40', '--threshold', '16'], 2, /cannot read cluster file .*cluster\.json: a FIFO/],
  ] as const)('%s', (_what, args, code, msg) => {
    const r = run([...args()]);
    expect(r.signal, 'killed after 30 s: it hung').toBeNull();
    expect(r.code, r.stderr).toBe(code);
    expect(r.errors, r.stderr).toHaveLength(1);
    expect(r.errors[0]).toMatch(msg);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it.each([
    ['config.json', /cannot read config .*config\.json: a FIFO/],
    ['tokenizer.json', /tokenizer\.json cannot be read: a FIFO/],
    ['model.safetensors', /model\.safetensors is a FIFO \(named pipe\), not a safetensors file/],
  ])('a checkpoint folder whose %s is a FIFO', async (name, msg) => {
    const dir = await checkpoint(`fifo-${name}`);
    rmSync(join(dir, name));
    fifo(join(`fifo-${name}`, name));
    const r = run(['--model', dir]);
    expect(r.signal, 'killed after 30 s: it hung').toBeNull();
    expect(r.code, r.stderr).toBe(1);
    expect(r.errors, r.stderr).toHaveLength(1);
    expect(r.errors[0]).toMatch(msg);
  });
});
