// The library API used carelessly or with hostile intent (the tiny preset on lavapipe): calls after dispose(), dispose()
// while streams run, a stream read twice or left half-way, and requests with bad values. Each answer is a FapoolError
// subclass whose message names the parameter and its value, thrown by the call itself (precompile: its rejection), and
// the engine keeps generating the same tokens afterwards. Each test fails on the code before its fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, FapoolError, InputError, type CompletionEvent, type Engine, type GenerateRequest } from '../src/index.js';
import { EngineDisposedError, type CompletionRequest } from '../src/orchestrator/engine.js';
import type { ForwardExecutor } from '../src/model/generation.js';

let engine: Engine;
beforeAll(async () => { engine = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 2, prefillChunk: 16 } }); });
afterAll(async () => { await engine?.dispose(); });

const tiny = () => createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 1, prefillChunk: 16 } });
const greedy = async (e: Engine, prompt = 'Hello', n = 4) => (await e.run({ prompts: [prompt], maxNewTokens: n, stopAtEos: false })).result.tokens[0]!;

/** `p`, or a rejection after `ms`: a hang fails the test at once instead of holding it for its whole timeout. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The decode steps engine `e` runs while `f` runs. */
async function countingDecodes<T>(e: Engine, f: () => Promise<T>): Promise<{ value: T; decodes: number }> {
  const ex = (e as unknown as { parts: { executor: ForwardExecutor } }).parts.executor;
  const decode = ex.decode;
  let decodes = 0;
  ex.decode = (input, buf) => { decodes++; return decode.call(ex, input, buf); };
  try {
    return { value: await f(), decodes };
  } finally {
    ex.decode = decode;
  }
}

/** Read a stream to its end: the tokens seen, then its done event or the error it failed with. */
async function drain<E extends { type: string }>(it: AsyncIterable<E>, onToken?: (n: number) => void | Promise<void>): Promise<{ tokens: number; end: E | Error }> {
  let tokens = 0;
  try {
    let last: E | undefined;
    for await (const e of it) { last = e; if (e.type === 'token') await onToken?.(++tokens); }
    return { tokens, end: last! };
  } catch (e) {
    return { tokens, end: e as Error };
  }
}

describe('after dispose()', () => {
  it('every entry point throws EngineDisposedError (a FapoolError); dispose() again returns the same promise, settled once all is freed', async () => {
    const e = await tiny();
    let freed = false;
    const first = e.dispose().then(() => { freed = true; });
    const again = e.dispose();
    await again;
    // Before: the second call resolved at once (the first still freeing), and the calls below threw a plain Error.
    expect(freed, 'the second dispose() settled after the first').toBe(true);
    await first;
    expect(e.dispose()).toBe(again);
    const req = { prompts: ['A'], maxNewTokens: 2 };
    expect(() => e.generate(req)).toThrow(EngineDisposedError);
    expect(() => e.generate(req)).toThrow(/^generate\(\): this engine is disposed/);
    expect(() => e.submit({ prompt: 'A', maxTokens: 2 })).toThrow(EngineDisposedError);
    await expect(e.run(req)).rejects.toThrow(EngineDisposedError);
    await expect(e.precompile({ promptLengths: [3], maxNewTokens: 2 })).rejects.toThrow(EngineDisposedError);
    await expect(e.precompileServing()).rejects.toThrow(EngineDisposedError);
    expect(new EngineDisposedError('x')).toBeInstanceOf(FapoolError);
  });
});

describe('dispose() while streams run', () => {
  it('a generate() stream ends at its next step: its reader gets EngineDisposedError after the tokens so far', async () => {
    const e = await tiny();
    await greedy(e); // pipelines compiled: the stream below decodes at once
    // The reader disposes the engine from its own loop body, then reads on (no deadlock: events are buffered).
    const { value: got, decodes } = await countingDecodes(e, () => within(drain(e.generate({ prompts: ['Hello'], maxNewTokens: 300, stopAtEos: false }),
      async (n) => { if (n === 3) await e.dispose(); }), 30_000, 'the stream'));
    // Before: dispose() waited for all 300 tokens, and the reader got them and a 'done' event.
    expect(got.end).toBeInstanceOf(EngineDisposedError);
    expect((got.end as Error).message).toMatch(/^the engine was disposed while this generation ran \(after \d+ tokens\)$/);
    expect(got.tokens).toBeGreaterThanOrEqual(3);
    expect(decodes).toBeLessThan(20);
  });

  it('running and waiting submit() requests fail with EngineDisposedError; dispose() does not wait for their maxTokens', async () => {
    const e = await tiny();
    await greedy(e);
    let disposed: Promise<void> | null = null;
    const { value: [running, waiting], decodes } = await countingDecodes(e, () => within(Promise.all([
      drain(e.submit({ prompt: 'Hello', maxTokens: 300 }), (n) => { if (n === 2) disposed = e.dispose(); }),
      drain(e.submit({ prompt: 'Hi', maxTokens: 300, sampling: { temperature: 1, seed: 3 } })), // another kind: it waits (one slot)
    ]), 30_000, 'the streams'));
    await disposed;
    // Before: both ran their 300 tokens and ended with reason 'length'.
    expect(running.end).toBeInstanceOf(EngineDisposedError);
    expect((running.end as Error).message).toMatch(/^the engine was disposed while this request ran \(after \d+ of 300 tokens\)$/);
    expect(waiting.end).toBeInstanceOf(EngineDisposedError);
    expect(waiting.tokens).toBe(0);
    expect(decodes).toBeLessThan(20);
  });
});

describe('streams read twice or left half-way', () => {
  it('a second for-await over one stream is refused with InputError (two readers both hung for ever)', async () => {
    const streams: AsyncIterable<{ type: string }>[] = [
      engine.generate({ prompts: ['Hello'], maxNewTokens: 4 }),
      engine.submit({ prompt: 'Hello', maxTokens: 4 }),
    ];
    for (const s of streams) {
      const [a, b] = await within(Promise.all([drain(s), drain(s)]), 10_000, 'two readers');
      expect(a.end).toMatchObject({ type: 'done' });
      expect(b.end).toBeInstanceOf(InputError);
      expect((b.end as Error).message).toMatch(/already being read \(or was read\): a stream of generate\(\) or submit\(\) can be iterated once/);
    }
  });

  it('breaking out of a generate() loop, or throwing in its body, stops the generation: the next one does not wait for it', async () => {
    const want = await greedy(engine);
    const { value: got, decodes } = await countingDecodes(engine, async () => {
      for await (const e of engine.generate({ prompts: ['Hello'], maxNewTokens: 300, stopAtEos: false })) if (e.type === 'token' && e.step === 2) break;
      await expect((async () => {
        for await (const e of engine.generate({ prompts: ['Once upon'], maxNewTokens: 300, stopAtEos: false })) if (e.type === 'token') throw new Error('a bug in the loop body');
      })()).rejects.toThrow('a bug in the loop body');
      return greedy(engine);
    });
    // Before: both abandoned generations ran their 300 steps (about 600 decodes) before the third could start.
    expect(decodes).toBeLessThan(30);
    expect(got).toEqual(want);
  });

  it('leaving a submit() loop cancels its request and frees its slot', async () => {
    const { decodes } = await countingDecodes(engine, async () => {
      for await (const e of engine.submit({ prompt: 'Hello', maxTokens: 300 })) if (e.type === 'token' && e.index === 1) break;
      await greedy(engine); // runs once the scheduler is idle
    });
    // Before: the request decoded its 300 tokens for nobody (the slot held, load().running 1 meanwhile).
    expect(decodes).toBeLessThan(30);
    expect(engine.load()).toMatchObject({ running: 0, queued: 0 });
  });
});

describe('bad requests', () => {
  const base: GenerateRequest = { prompts: ['Hello'], maxNewTokens: 4, stopAtEos: false };
  // What each did before, in the comment after it.
  const generateCases: [string, Record<string, unknown>, RegExp][] = [
    ['prompts as one string', { prompts: 'Hello' }, /^prompts must be an array \(of strings or arrays of token ids\), got "Hello"$/], // TypeError: req.prompts.map is not a function
    ['no prompts field', { prompts: undefined }, /^prompts must be an array .*, got undefined$/], // TypeError
    ['a prompt that is a number', { prompts: [5] }, /^prompts\[0\] must be a string or an array of token ids, got 5$/], // TypeError: prompt is not iterable
    ['a null prompt', { prompts: ['A', null] }, /^prompts\[1\] must be .*, got null$/], // TypeError
    ['a prompt with a lone surrogate', { prompts: ['ok', 'a\ud800b'] }, /^prompts\[1\] holds a lone UTF-16 surrogate: a prompt must be well-formed text$/], // ran "a\ufffdb"
    ['a token id given as a string', { prompts: [['1']] }, /^prompt 0: token "1" outside the vocabulary/], // "token 1 outside", at the first event
    ['maxNewTokens 0', { maxNewTokens: 0 }, /^maxNewTokens must be a positive integer, got 0$/], // ran: no tokens
    ['maxNewTokens -1', { maxNewTokens: -1 }, /^maxNewTokens must be a positive integer, got -1$/], // ran: no tokens
    ['maxNewTokens 1.5', { maxNewTokens: 1.5 }, /^maxNewTokens must be a positive integer, got 1\.5$/], // 2 tokens
    ['maxNewTokens NaN', { maxNewTokens: NaN }, /^maxNewTokens must be a positive integer, got NaN$/], // ShapeError: invalid dimension NaN
    ['maxNewTokens "3"', { maxNewTokens: '3' }, /^maxNewTokens must be a positive integer, got "3"$/], // ran 3 tokens
    ['maxNewTokens Infinity', { maxNewTokens: Infinity }, /^maxNewTokens must be a positive integer, got Infinity$/], // InputError at the first event
    ['prefillChunk 0', { prefillChunk: 0 }, /^prefillChunk must be a positive integer \(or Infinity\), got 0$/], // taken as 1
    ['prefillChunk 1.5', { prefillChunk: 1.5 }, /^prefillChunk must be .*, got 1\.5$/], // ShapeError: invalid dimension 1.5
    ['prefillChunk NaN', { prefillChunk: NaN }, /^prefillChunk must be .*, got NaN$/], // ShapeError
    ['temperature NaN', { sampling: { temperature: NaN } }, /^sampling\.temperature must be finite and >= 0, got NaN$/], // RangeError at the first event
    ['temperature -1', { sampling: { temperature: -1 } }, /^sampling\.temperature must be finite and >= 0, got -1$/], // RangeError
    ['temperature "0.8"', { sampling: { temperature: '0.8' } }, /^sampling\.temperature must be finite and >= 0, got "0\.8"$/], // RangeError "got 0.8"
    ['topP 0', { sampling: { temperature: 1, topP: 0 } }, /^sampling\.topP must be in \(0, 1\], got 0$/], // RangeError
    ['topP 2', { sampling: { temperature: 1, topP: 2 } }, /^sampling\.topP must be in \(0, 1\], got 2$/], // RangeError
    ['topP "0.5"', { sampling: { temperature: 1, topP: '0.5' } }, /^sampling\.topP must be in \(0, 1\], got "0\.5"$/], // ran: a string in the uniforms
    ['topK -1', { sampling: { temperature: 1, topK: -1 } }, /^sampling\.topK must be an integer >= 0, got -1$/], // RangeError
    ['topK 1.5', { sampling: { temperature: 1, topK: 1.5 } }, /^sampling\.topK must be an integer >= 0, got 1\.5$/], // RangeError
    ['seed 2^40', { sampling: { temperature: 1, seed: 2 ** 40 } }, /^sampling\.seed must be a u32 \(an integer in 0\.\.4294967295\), got 1099511627776$/], // RangeError
    ['a misspelt option', { sampling: { temperature: 1, top_p: 0.5 } }, /^sampling has no option "top_p" \(it takes temperature, topK, topP, seed\)$/], // ignored: top-p 1
    ['sampling a number', { sampling: 0.8 }, /^sampling must be an object, got 0\.8$/], // ignored: greedy
    ['sampling an empty array', { sampling: [] }, /^sampling must be an object, got an array of 0$/], // ran greedy
    ['seed a BigInt', { sampling: { temperature: 1, seed: 5n } }, /^sampling\.seed must be a u32 \(an integer in 0\.\.4294967295\), got 5n$/], // "got 5"
    ['topK a BigInt', { sampling: { temperature: 1, topK: 40n } }, /^sampling\.topK must be an integer >= 0, got 40n$/], // "got 40"
    ['a misspelt stopAtEos', { stopAtEOS: false }, /^a generate\(\) request has no option "stopAtEOS" \(it takes prompts, maxNewTokens, /], // ignored: stopped at eos
    ['stop strings (a submit() option)', { stop: ['c'] }, /^a generate\(\) request has no option "stop"/], // ignored
    ['stopAtEos 0', { stopAtEos: 0 }, /^stopAtEos must be a boolean, got 0$/], // taken as true
    ['stopAtEos "false"', { stopAtEos: 'false' }, /^stopAtEos must be a boolean, got "false"$/], // taken as true
  ];

  it.each(generateCases)('generate() with %s: InputError naming it, thrown by the call', (_what, bad, message) => {
    const call = () => engine.generate({ ...base, ...bad } as unknown as GenerateRequest);
    expect(call).toThrow(InputError);
    expect(call).toThrow(message);
  });

  const submitCases: [string, Record<string, unknown>, RegExp][] = [
    ['a prompt that is a number', { prompt: 5 }, /^prompt must be a string or an array of token ids, got 5$/], // TypeError: prompt is not iterable
    ['maxTokens "3"', { maxTokens: '3' }, /^maxTokens must be a positive integer, got "3"$/], // "got 3": the string looked like a number
    ['stop as one string', { stop: 'abc' }, /^stop must be an array of strings, got "abc"$/], // TypeError: stops.map is not a function
    ['a null stop string', { stop: ['a', null] }, /^stop\[1\] must be a string, got null$/], // TypeError reading 'length'
    ['a number stop string', { stop: [5] }, /^stop\[0\] must be a string, got 5$/], // taken as "5"
    ['a signal that is not an AbortSignal', { signal: {} }, /^signal must be an AbortSignal, got an object$/], // TypeError: addEventListener is not a function
    ['temperature NaN', { sampling: { temperature: NaN } }, /^sampling\.temperature must be finite and >= 0, got NaN$/], // RangeError at the first event
    ['a misspelt option', { sampling: { temperature: 1, topk: 5 } }, /^sampling has no option "topk"/], // ignored
    ['maxNewTokens (a generate() option)', { maxNewTokens: 9 }, /^a submit\(\) request has no option "maxNewTokens" \(it takes prompt, maxTokens, sampling, stop, signal\)$/], // ignored
    ['stops for stop', { stops: ['x'] }, /^a submit\(\) request has no option "stops"/], // ignored: no stop
  ];

  it.each(submitCases)('submit() with %s: InputError naming it, thrown by the call', (_what, bad, message) => {
    const call = () => engine.submit({ prompt: 'Hello', maxTokens: 4, ...bad } as unknown as CompletionRequest);
    expect(call).toThrow(InputError);
    expect(call).toThrow(message);
  });

  it('after all of them the engine generates the same tokens, and has nothing queued or running', async () => {
    const want = await greedy(engine);
    for (const [, bad] of generateCases) try { engine.generate({ ...base, ...bad } as unknown as GenerateRequest); } catch { /* refused */ }
    for (const [, bad] of submitCases) try { engine.submit({ prompt: 'Hello', maxTokens: 4, ...bad } as unknown as CompletionRequest); } catch { /* refused */ }
    expect(await greedy(engine)).toEqual(want);
    const { end } = await drain(engine.submit({ prompt: 'Hello', maxTokens: 4 }));
    expect(end).toMatchObject({ type: 'done', reason: 'length', tokens: want });
    expect(engine.load()).toMatchObject({ running: 0, queued: 0 });
  });

  it('a sampling option given as undefined takes its default (it reached the sampler as NaN: RangeError)', async () => {
    const got = await engine.run({ ...base, sampling: { temperature: undefined, seed: undefined } });
    expect(got.result.tokens[0]).toEqual(await greedy(engine));
  });

  it("a refused submit() leaves no listener on the caller's AbortSignal (one per refusal before)", () => {
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => { listeners++; add(...a); }) as typeof add;
    for (let i = 0; i < 5; i++) expect(() => engine.submit({ prompt: [1, 99999], maxTokens: 2, signal: ac.signal })).toThrow(/outside the vocabulary/);
    expect(listeners).toBe(0);
  });

  it('maxQueue 0, -1, NaN or 1.5 is refused when set (0 refused every request as "the queue is full (0 requests waiting)", NaN none)', () => {
    for (const bad of [0, -1, NaN, 1.5]) {
      expect(() => { engine.maxQueue = bad; }).toThrow(InputError);
      expect(() => { engine.maxQueue = bad; }).toThrow(`maxQueue must be a positive integer, got ${bad}`);
    }
    expect(engine.maxQueue).toBe(64);
  });

  it('200,000 stop strings: the request runs (the longest was found with a spread: RangeError, stack overflow)', async () => {
    const { end } = await drain(engine.submit({ prompt: 'Hello', maxTokens: 4, stop: Array<string>(200_000).fill('\u0000never') }));
    expect(end).toMatchObject({ type: 'done', reason: 'length', tokens: await greedy(engine) });
  });

  it('precompile(): a bad prompt length is refused before a stand-in prompt is built (1e9 filled the heap and killed the process)', async () => {
    // Before: -1 and 1.5 gave RangeError: Invalid array length; 1e9 ran Node out of memory.
    await expect(engine.precompile({ promptLengths: [-1], maxNewTokens: 2 })).rejects.toThrow(/^promptLengths\[0\] must be a positive integer, got -1$/);
    await expect(engine.precompile({ promptLengths: [4, 1.5], maxNewTokens: 2 })).rejects.toThrow(/^promptLengths\[1\] must be a positive integer, got 1\.5$/);
    const before = process.memoryUsage().heapUsed;
    await expect(engine.precompile({ promptLengths: [1e9], maxNewTokens: 2 })).rejects.toThrow(/^promptLengths\[0\] is 1000000000, over the model's context of 512$/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 << 20);
    await expect(engine.precompile({ promptLengths: [4], maxNewTokens: 2, sampling: { topP: 0 } })).rejects.toThrow(/^sampling\.topP/);
  });

  it("a batch over the GPU's workgroups per dispatch dimension is refused by the call, not after every prompt's prefill", () => {
    // Before: 70,000 one-token prompts ran all their prefills (193 s on lavapipe), then failed in RMSNorm's launch.
    const limit = engine.gpu!.caps.maxWorkgroupsPerDim;
    const call = () => engine.generate({ prompts: Array.from({ length: limit + 1 }, () => [1]), maxNewTokens: 1 });
    expect(call).toThrow(InputError);
    expect(call).toThrow(`prompts: ${limit + 1} sequences in one batch need ${limit + 1} workgroups in one dispatch dimension (one per row), over this GPU's limit of ${limit}`);
  });

  it('createEngine refuses options it would ignore, before the GPU opens (each ran as if not given)', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ dType: 'f32' }, /^createEngine options has no option "dType" \(it takes model, config, preset, /],
      [{ pool: { inprocess: 2 } }, /^pool has no option "inprocess" \(it takes inProcess, /], // no pool
      [{ policy: { treshold: 8 } }, /^policy has no option "treshold" \(it takes threshold, tiers\)$/],
      [{ schedule: { batch: 4 } }, /^schedule has no option "batch"/],
      [{ strategy: 'Static', placement: 'tp=2' }, /^strategy must be 'fapool' or 'static', got "Static"$/], // one device
      [{ placement: 'tp=2' }, /^placement tp=2,pp=1 sets the static baseline's degrees: add strategy: 'static'$/], // ignored
      [{ strategy: 'static', pool: { inProcess: 2 } }, /^pool\.inProcess: FA Pool options; strategy 'static'/], // the pool ignored
      [{ pool: 3 }, /^pool must be an object, got 3$/],
      [{ init: 'zeros' }, /^init must be 'random', got "zeros"$/], // ran random weights
      [{ model: '' }, /^model must be a non-empty string, got ""$/], // meant "none"
      [{ config: '' }, /^config must be a non-empty string/],
      [{ seed: 1.5 }, /^seed must be an integer in 0\.\.4294967295, got 1\.5$/], // a RangeError after the load
      [{ seed: '7' }, /^seed must be an integer in 0\.\.4294967295, got "7"$/], // the string was shown as 7
      [{ dtype: 'f64' }, /^dtype must be 'f32' or 'f16', got "f64"$/],
    ];
    for (const [bad, msg] of cases) await expect(createEngine({ preset: 'tiny', dtype: 'f32', ...bad } as never), JSON.stringify(bad)).rejects.toThrow(msg);
    // What the command line always passes is not a conflict: placement tp=1,pp=1 under FA Pool, no pool ranks under static.
    const e = await createEngine({ preset: 'tiny', dtype: 'f32', placement: 'tp=1,pp=1', pool: { inProcess: 0, replica: false, prefill: 'local' } });
    await e.dispose();
  });

  it('precompile() with no prompt lengths names itself (it said "generate: no prompts")', async () => {
    await expect(engine.precompile({ promptLengths: [], maxNewTokens: 2 })).rejects.toThrow(/^precompile: promptLengths must be a non-empty array/);
    await expect(engine.precompile({ promptLengths: [4], maxNewTokens: 2, chunk: 8 } as never)).rejects.toThrow(/^precompile\(\) options has no option "chunk"/);
  });

  it('createEngine refuses a schedule no request can run (schedule.prefillChunk 0 cut prompts into empty chunks)', async () => {
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', schedule: { prefillChunk: 0 } })).rejects.toThrow(InputError);
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxContext: NaN } })).rejects.toThrow(/^schedule\.maxContext must be a positive integer \(or Infinity\), got NaN$/);
  });
});

describe('a short context', () => {
  it('a schedule whose context is below the prefill chunk compiles and serves (precompileServing built a 512-row chunk against a 112-row cache)', async () => {
    const e = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 2, maxContext: 100 } });
    try {
      await e.precompileServing();
      let n = 0;
      for await (const ev of e.submit({ prompt: 'a'.repeat(90), maxTokens: 10 })) if (ev.type === 'token') n++;
      expect(n).toBe(10);
    } finally {
      await e.dispose();
    }
  });
});

describe('what held (no change)', () => {
  it('an AbortSignal aborted before submit(): a done event, reason cancelled, no tokens; two generate() calls at once run in turn', async () => {
    const ac = new AbortController();
    ac.abort();
    const { end } = await drain(engine.submit({ prompt: 'Hello', maxTokens: 4, signal: ac.signal }));
    expect(end).toMatchObject({ type: 'done', reason: 'cancelled', tokens: [] });
    const [a, b] = await Promise.all([greedy(engine, 'Hello'), greedy(engine, 'A')]);
    expect([a, b]).toEqual([await greedy(engine, 'Hello'), await greedy(engine, 'A')]);
    const events: CompletionEvent[] = [];
    for await (const e of engine.submit({ prompt: 'Hello', maxTokens: 4, stop: [''] })) events.push(e);
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'length' }); // an empty stop string never matches
  });
});
