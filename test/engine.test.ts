// The public engine (src/index.ts) on lavapipe: a batch generation streams its tokens as events and ends with
// the metrics; a stream of requests (continuous batching: they join and leave the shared decode batch) gives
// each request the tokens it gets alone, on one device and with FA Pool ranks; stop strings, cancellation,
// the bounded queue and bad requests behave.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, InputError, QueueFullError, type CompletionEvent, type Engine } from '../src/index.js';
import { presetConfig } from '../src/model/config.js';
import { decodedTokens, defaultPrefillChunk, PREFILL_CHUNK_MIN, type ForwardExecutor } from '../src/model/generation.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { expectGreedyAgree } from './helpers.js';
import { refWeights } from './random-config.js';
import { RefModel, type RefWeights } from './ref/model.js';

let single: Engine, pooled: Engine;
let ref64: RefWeights;
const PROMPTS = ['Hello there', 'The attention pool takes the long sequences', 'A', 'Once upon a time in a land far away, a'];

beforeAll(async () => {
  single = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 3, prefillChunk: 16 } });
  // Threshold 20: the longer prompts and sequences that grow past it attend on the pool.
  pooled = await createEngine({
    preset: 'tiny', dtype: 'f32', pool: { inProcess: 2 }, policy: { threshold: 20, tiers: '20:0,inf:2' }, schedule: { maxBatch: 3, prefillChunk: 16 },
  });
  // The tiny preset's weights as createEngine writes them (seed 0), in float64 for the reference model.
  const dir = mkdtempSync(join(tmpdir(), 'fapool-engine-'));
  await writeRandomWeights(join(dir, 'tiny.safetensors'), presetConfig('tiny'), { seed: 0, dtype: 'f32' });
  ref64 = await refWeights(join(dir, 'tiny.safetensors'), presetConfig('tiny'));
  rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => { await single?.dispose(); await pooled?.dispose(); });

async function alone(engine: Engine, prompt: string, n: number): Promise<number[]> {
  return (await engine.run({ prompts: [prompt], maxNewTokens: n, stopAtEos: false })).result.tokens[0]!;
}

/**
 * A request's tokens where it shared its steps with others or attended on the pool, against its tokens alone on one
 * device: not the same bits (other row counts, attention on the ranks), so the same tokens or a parting at a near-tie
 * of the float64 reference. The prompts are fixed (no seed).
 */
function expectAlone(prompt: string, got: number[], want: number[], what: string): void {
  expectGreedyAgree(single.config, ref64, [single.encode(prompt)], [got], [want], `${what} (${JSON.stringify(prompt)})`);
}

async function collect(it: AsyncIterable<CompletionEvent>): Promise<{ texts: string; done: Extract<CompletionEvent, { type: 'done' }> }> {
  let texts = '', done: CompletionEvent | undefined;
  for await (const e of it) { if (e.type === 'token') texts += e.text; else done = e; }
  if (done?.type !== 'done') throw new Error('no done event');
  return { texts, done };
}

describe('engine.generate', () => {
  it('the near-tie guard\'s float64 reference holds the weights the engine loaded', async () => {
    const p = single.encode(PROMPTS[1]!), want = new RefModel(single.config, ref64).greedy(p, 12).tokens;
    expectAlone(PROMPTS[1]!, await alone(single, PROMPTS[1]!, 12), want, 'the engine against its float64 reference');
  });

  it('streams token events per sequence and ends with the metrics and texts', async () => {
    const seen: number[][] = [[], []];
    let done: CompletionEvent | undefined;
    for await (const e of single.generate({ prompts: PROMPTS.slice(0, 2), maxNewTokens: 6, stopAtEos: false })) {
      if (e.type === 'token') seen[e.seq]!.push(e.token);
      if (e.type === 'done') done = e as never;
    }
    const d = done as unknown as { result: { tokens: number[][]; tpotMs: number; tps: number }; texts: string[] };
    expect(d.result.tokens).toEqual(seen);
    expect(d.texts).toHaveLength(2);
    expect(d.result.tpotMs).toBeGreaterThan(0);
  });

  it('decodedTokens: a sequence\'s first token is its prefill\'s, and one that ended at once has none', () => {
    expect(decodedTokens([[], [4, 5, 6]])).toBe(2); // was counted 1: one first token subtracted per sequence
    expect(decodedTokens([[7], [8, 9]])).toBe(1);
    expect(decodedTokens([[1], [2]])).toBe(0);
  });

  it('one token a sequence has no decode phase: TPOT 0 (it was the read-back\'s time over one token), TPS still counted', async () => {
    const r = (await single.run({ prompts: PROMPTS.slice(0, 2), maxNewTokens: 1, stopAtEos: false })).result;
    expect([r.outputTokens, r.tpotMs]).toEqual([2, 0]);
    expect(r.tps).toBeGreaterThan(0);
  });
});

describe('engine.prefillChunk', () => {
  it('one device: the largest chunk its binding limit allows; with an attention pool the smallest', () => {
    expect(single.prefillChunk).toBe(defaultPrefillChunk(single.config, single.dtype, single.gpu!.caps));
    expect(single.prefillChunk).toBeGreaterThan(PREFILL_CHUNK_MIN);   // tiny's activations are small
    expect(pooled.prefillChunk).toBe(PREFILL_CHUNK_MIN);
  });
  it('generate() and precompile() cut a prompt by it when the request names no chunk', async () => {
    const internals = single as unknown as { parts: { executor: ForwardExecutor; prefillChunk?: number } };
    const ex = internals.parts.executor, was = internals.parts.prefillChunk;
    const orig = { prefill: ex.prefill, precompile: ex.precompile };
    const rows: number[] = [], compiled: number[][] = [];
    const prefill = ex.prefill.bind(ex), precompile = ex.precompile!.bind(ex);
    ex.prefill = async (c) => { rows.push(c.n); return prefill(c); };
    ex.precompile = async (shape, sampling, chunks) => { compiled.push([...chunks]); return precompile(shape, sampling, chunks); };
    internals.parts.prefillChunk = 8;
    try {
      await single.precompile({ promptLengths: [20], maxNewTokens: 2 });
      await single.run({ prompts: [Array.from({ length: 20 }, (_, i) => 1 + i)], maxNewTokens: 2, stopAtEos: false });
    } finally {
      Object.assign(ex, orig);
      internals.parts.prefillChunk = was;
    }
    expect(compiled).toEqual([[8, 4]]);
    expect(rows).toEqual([8, 8, 4]);
  });
});

describe('engine.prefillParts (kernel profiles)', () => {
  it("gives a chunk's launches by part (attention in every layer), and they run", async () => {
    const prompt = Array.from({ length: 40 }, (_, j) => (5 * j + 1) % 256);
    await single.run({ prompts: [prompt], maxNewTokens: 2, prefillChunk: 16, stopAtEos: false });
    const parts = single.prefillParts(16, 16);
    const L = single.config.nLayers;
    expect(parts.map((p) => p.part)).toEqual(['embed', ...Array.from({ length: L }, () => ['pre', 'attention', 'oProj', 'ffn']).flat()]);
    for (const p of parts.filter((x) => x.part === 'attention')) expect(p.steps.length).toBeGreaterThan(0);
    await single.gpu!.run(parts.flatMap((p) => p.steps));
  });
});

describe('createEngine: a routing policy that contradicts itself', () => {
  it('is refused before the GPU opens or the model loads (serve took it and sent 41-token sequences to the pool)', async () => {
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', pool: { inProcess: 1 }, policy: { threshold: 16, tiers: '100:0,inf:1' } }))
      .rejects.toThrow(/^policy\.threshold 16 sends sequences longer than 16 tokens to the pool, but policy\.tiers gives lengths 17–100 0 pool ranks/);
  });
});

describe('createEngine: a schedule the device cannot launch', () => {
  it('a batch or prefill chunk over the workgroups of one dispatch dimension is refused before loading, naming the limit', async () => {
    // Before: the model loaded, then the serving precompile failed in RMSNorm's launch (65536 workgroups).
    const limit = 65535; // lavapipe's (and WebGPU's default) maxComputeWorkgroupsPerDimension
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: limit + 1 } })).rejects.toThrow(InputError);
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: limit + 1 } }))
      .rejects.toThrow(/schedule\.maxBatch 65536 \(serve --max-batch\): .* this GPU allows 65535; at most 65535 sequences/);
    await expect(createEngine({ preset: 'tiny', dtype: 'f32', schedule: { prefillChunk: limit + 1 } })).rejects.toThrow(/schedule\.prefillChunk 65536 \(serve --prefill-chunk\)/);
  });
});

describe('engine.precompile', () => {
  it('compiles every pipeline a run of that shape launches: the run itself creates none', async () => {
    const e = await createEngine({ preset: 'tiny', dtype: 'f32' }); // its own device: nothing compiled yet
    try {
      const lens = [37, 5], req = { maxNewTokens: 6, prefillChunk: 16 };
      const c = await e.precompile({ promptLengths: lens, ...req });
      expect(c.pipelines).toBeGreaterThan(5);
      const before = e.gpu!.programCount;
      const prompts = lens.map((n, i) => Array.from({ length: n }, (_, j) => (7 * i + 3 * j) % 256));
      await e.run({ prompts, ...req, stopAtEos: false });
      expect(e.gpu!.programCount).toBe(before);
      // A shape it was not told about compiles more (the check can fail): 4 rows a step, where it knew 1 and 2.
      await e.run({ prompts: [0, 1, 2, 3].map((i) => prompts[0]!.slice(i, i + 3)), maxNewTokens: 2, prefillChunk: 2, stopAtEos: false });
      expect(e.gpu!.programCount).toBeGreaterThan(before);
    } finally {
      await e.dispose();
    }
  });

  it('pipelines created concurrently (the default) and one by one give the same pipelines and tokens; progress counts them', async () => {
    const lens = [29, 6], req = { maxNewTokens: 5, prefillChunk: 8 };
    const prompts = lens.map((n, i) => Array.from({ length: n }, (_, j) => (11 * i + 5 * j) % 256));
    const runs = await Promise.all((['async', 'sync'] as const).map(async (pipelines) => {
      const e = await createEngine({ preset: 'tiny', dtype: 'f32', pipelines });
      try {
        const progress: [number, number][] = [];
        const c = await e.precompile({ promptLengths: lens, ...req, onProgress: (d, t) => progress.push([d, t]) });
        expect(progress.at(-1)).toEqual([c.pipelines, c.pipelines]);
        const before = e.gpu!.programCount;
        const tokens = (await e.run({ prompts, ...req, stopAtEos: false })).result.tokens;
        expect(e.gpu!.programCount).toBe(before);
        return { pipelines: c.pipelines, tokens };
      } finally {
        await e.dispose();
      }
    }));
    expect(runs[0]!.pipelines).toBeGreaterThan(5);
    expect(runs[0]).toEqual(runs[1]);
  });
});

describe('engine.run again with a larger batch capacity', () => {
  it('a pooled prompt run with few tokens, then with more: the pool sizes its shards for the new run', async () => {
    // The same batch shape with a longer decode reuses the base's buffers; the pool's shards must still be sized
    // by the new capacities (an old capacity made the rank refuse the step and the base overflow its cache).
    const prompt = PROMPTS[3]!; // past the threshold: prefilled into the pool
    await alone(pooled, prompt, 2);
    const got = await pooled.run({ prompts: [prompt], maxNewTokens: 24, stopAtEos: false });
    expectAlone(prompt, got.result.tokens[0]!, await alone(single, prompt, 24), 'pooled');
    expect((got.placement.events ?? []).filter((e) => e.kind === 'fault' || e.kind === 'fallback')).toEqual([]);
  });
});

describe('FA Pool ranks on the base\'s own device (pool.sharedDevice)', () => {
  it('the same tokens as one device; the ranks\' memory is the base\'s (no pool figure of its own)', async () => {
    const shared = await createEngine({
      preset: 'tiny', dtype: 'f32', pool: { inProcess: 2, sharedDevice: true }, policy: { threshold: 20, tiers: '20:0,inf:2' }, schedule: { maxBatch: 3, prefillChunk: 16 },
    });
    try {
      const prompt = PROMPTS[3]!; // past the threshold: its attention is on the pool
      const got = await shared.run({ prompts: [prompt, PROMPTS[0]!], maxNewTokens: 12, stopAtEos: false });
      expectAlone(prompt, got.result.tokens[0]!, await alone(single, prompt, 12), 'seq 0');
      expectAlone(PROMPTS[0]!, got.result.tokens[1]!, await alone(single, PROMPTS[0]!, 12), 'seq 1');
      expect(got.placement.ranks.slice(1)).toEqual(['pool0 (in-process, base device)', 'pool1 (in-process, base device)']);
      expect(got.placement.perSeq?.[0]?.poolSteps, 'the long prompt decodes on the pool').toBeGreaterThan(0);
      expect(got.placement.split?.poolGpuBytes).toBeUndefined();
      expect((got.placement.events ?? []).filter((e) => e.kind === 'fault' || e.kind === 'fallback')).toEqual([]);
    } finally {
      await shared.dispose(); // the ranks release their buffers, the device goes once (with the base)
    }
  });
});

describe.each([['one device', () => single], ['FA Pool (2 in-process ranks)', () => pooled]] as const)('engine.submit on %s', (_name, engine) => {
  it('concurrent requests (more than the batch has slots) each get the tokens they get alone', async () => {
    const e = engine();
    const want: number[][] = [];
    for (const p of PROMPTS) want.push(await alone(e, p, 10));
    const got = await Promise.all(PROMPTS.map(async (p, i) => {
      await new Promise((r) => setTimeout(r, 7 * i)); // they arrive while others decode
      return collect(e.submit({ prompt: p, maxTokens: 10 }));
    }));
    got.forEach((g, i) => {
      expectAlone(PROMPTS[i]!, g.done.tokens, want[i]!, `request ${i}`);
      expect(g.done.reason).toBe('length');
      expect(g.done.promptTokens).toBe(e.encode(PROMPTS[i]!).length);
      expect(g.done.ttftMs).toBeGreaterThanOrEqual(g.done.queueMs);
    });
    expect(e.load()).toMatchObject({ running: 0, queued: 0 });
  });
});

describe('placement counts (FA Pool): each request and run its own steps', () => {
  const long = PROMPTS[3]!; // past the threshold: attends on the pool from its first decode step

  it('requests one after another: decode steps on the pool = tokens − 1 each (a batch\'s step 1 after another\'s last step 1 went uncounted)', async () => {
    for (const n of [2, 2, 4, 3]) {
      const { done } = await collect(pooled.submit({ prompt: long, maxTokens: n }));
      expect([done.baseSteps, done.poolSteps], `maxTokens ${n}`).toEqual([0, n - 1]);
    }
  });

  it('run() twice: each result\'s placement counts that run (it summed the engine\'s life)', async () => {
    for (let k = 0; k < 2; k++) {
      const r = await pooled.run({ prompts: [long], maxNewTokens: 6, stopAtEos: false });
      expect(r.placement.perSeq?.[0], `run ${k}`).toMatchObject({ baseSteps: 0, poolSteps: 5 });
      expect(r.placement.events?.filter((e) => e.kind === 'prefill-to-pool'), `run ${k}: its own hand-off only`).toHaveLength(1);
    }
    // A short prompt after them: on the base, no ranks named (they were the earlier runs').
    const short = await pooled.run({ prompts: [PROMPTS[2]!], maxNewTokens: 6, stopAtEos: false });
    expect(short.placement.perSeq?.[0]).toEqual({ baseSteps: 5, poolSteps: 0, ranks: [] });
    expect(short.placement.events).toEqual([]);
  });
});

describe('engine.submit behaviour', () => {
  it('requests of different lengths that join and leave mid-batch each get the tokens they get alone', async () => {
    const lens = [3, 11, 6, 9];
    const want = await Promise.all(PROMPTS.map(async (p, i) => alone(single, p, lens[i]!)));
    const got = await Promise.all(PROMPTS.map(async (p, i) => {
      await new Promise((r) => setTimeout(r, 5 * i));
      return collect(single.submit({ prompt: p, maxTokens: lens[i]! }));
    }));
    got.forEach((g, i) => expectAlone(PROMPTS[i]!, g.done.tokens, want[i]!, `request ${i}`));
    expect(single.load()).toMatchObject({ running: 0, queued: 0 });
  });

  it('a request with other sampling parameters waits for the batch to drain, then samples with its own', async () => {
    const hot = { temperature: 1.5, topK: 0, topP: 1, seed: 11 };
    const wantHot = (await collect(single.submit({ prompt: 'Hello there', maxTokens: 8, sampling: hot }))).done.tokens; // alone
    const wantGreedy = await alone(single, 'A', 6);
    expect(wantHot, 'the hot draws differ from greedy (else this test proves nothing)').not.toEqual(await alone(single, 'Hello there', 8));
    const [greedy, hotOne] = await Promise.all([
      collect(single.submit({ prompt: 'A', maxTokens: 6 })),
      collect(single.submit({ prompt: 'Hello there', maxTokens: 8, sampling: hot })),
    ]);
    expect(greedy.done.tokens).toEqual(wantGreedy);
    expect(hotOne.done.tokens).toEqual(wantHot);
  });

  it('decode steps are pipelined: the next step is submitted before the last one is read', async () => {
    const ex = (single as unknown as { parts: { executor: ForwardExecutor } }).parts.executor;
    const calls: string[] = [];
    const orig = { decode: ex.decode, readTokens: ex.readTokens };
    const decode = ex.decode.bind(ex), read = ex.readTokens.bind(ex);
    ex.decode = async (input, buf) => { calls.push('D'); return decode(input, buf); };
    ex.readTokens = async (buf) => { calls.push('R'); return read(buf); };
    try {
      const { done } = await collect(single.submit({ prompt: 'Hello there', maxTokens: 6 }));
      expect(done.tokens).toEqual(await alone(single, 'Hello there', 6));
    } finally {
      Object.assign(ex, orig);
    }
    // First token, then 5 steps: step 2 goes in before step 1 is read, and so on; the last one is read alone.
    expect(calls.slice(0, 11).join('')).toBe('RDDRDRDRDRR');
  });

  it('a stop string ends the request; the text stops before it', async () => {
    const full = single.tokenizer.decode(await alone(single, 'Hello there', 12));
    const stopAt = full.slice(3, 5);
    const { texts, done } = await collect(single.submit({ prompt: 'Hello there', maxTokens: 12, stop: [stopAt] }));
    expect(done.reason).toBe('stop');
    expect(done.text).toBe(full.slice(0, full.indexOf(stopAt)));
    expect(texts).toBe(done.text);
  });

  it('an aborted request ends as cancelled and frees its slot; the others finish', async () => {
    const ac = new AbortController();
    const other = collect(single.submit({ prompt: 'A', maxTokens: 8 }));
    let n = 0;
    let done: CompletionEvent | undefined;
    for await (const e of single.submit({ prompt: 'Hello there', maxTokens: 200, signal: ac.signal })) {
      if (e.type === 'token' && ++n === 2) ac.abort();
      if (e.type === 'done') done = e;
    }
    expect(done).toMatchObject({ type: 'done', reason: 'cancelled' });
    expect((done as { tokens: number[] }).tokens.length).toBeLessThan(200);
    expect((await other).done.tokens).toHaveLength(8);
  });

  it('a full queue refuses with QueueFullError; bad requests with InputError', async () => {
    single.maxQueue = 1;
    try {
      // Submitted at once: one waits in the queue, the rest are refused until the loop admits it.
      const accepted: Promise<unknown>[] = [];
      let refused = 0;
      for (let i = 0; i < 5; i++) {
        try { accepted.push(collect(single.submit({ prompt: 'ABC'.slice(0, 1 + (i % 3)), maxTokens: 20 }))); } catch (e) { expect(e).toBeInstanceOf(QueueFullError); refused++; }
      }
      expect(accepted.length).toBe(1);
      expect(refused).toBe(4);
      await Promise.all(accepted);
      expect(single.load().queued).toBe(0);
    } finally {
      single.maxQueue = 64;
    }
    expect(() => single.submit({ prompt: 'A', maxTokens: 0 })).toThrow(InputError);
    expect(() => single.submit({ prompt: [1, 99999], maxTokens: 2 })).toThrow(/outside the vocabulary/);
    expect(() => single.submit({ prompt: 'A'.repeat(600), maxTokens: 2 })).toThrow(/exceeds the context/);
  });
});
