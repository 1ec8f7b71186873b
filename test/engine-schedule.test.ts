// Continuous batching as a property test: random streams of requests (prompt lengths on both sides of the FA Pool
// threshold, token budgets, arrival times, stop strings, cancellations after a random number of tokens) on one
// device and with two in-process pool ranks. Every request must get the tokens it gets alone (greedy, f32), or a
// prefix of them where a stop string or its cancellation ended it early; the engine must end idle. FAPOOL_TEST_SEED
// reproduces a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type CompletionEvent, type Engine } from '../src/index.js';
import { codePointSlice, rng } from './helpers.js';

let single: Engine, pooled: Engine;
beforeAll(async () => {
  single = await createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 3, prefillChunk: 16 } });
  pooled = await createEngine({
    preset: 'tiny', dtype: 'f32', pool: { inProcess: 2 }, policy: { threshold: 20, tiers: '20:0,inf:2' }, schedule: { maxBatch: 3, prefillChunk: 16 },
  });
});
afterAll(async () => { await single?.dispose(); await pooled?.dispose(); });

interface Plan { prompt: number[]; maxTokens: number; delayMs: number; cancelAfter: number | null; stop: boolean }

describe.each([['one device', () => single], ['FA Pool (2 in-process ranks)', () => pooled]] as const)('random request streams on %s', (_name, engine) => {
  it('every request gets its tokens alone (or a prefix where a stop string or a cancellation ends it); the engine ends idle', async () => {
    const e = engine(), r = rng();
    const plans: Plan[] = Array.from({ length: r.int(5, 10) }, () => ({
      // Printable bytes (the tiny preset's byte tokenizer), 1 to 40 tokens: short ones grow past the threshold of 20.
      prompt: Array.from({ length: r.int(1, 41) }, () => r.int(32, 127)),
      maxTokens: r.int(1, 17), delayMs: r.int(0, 40), cancelAfter: r.next() < 0.2 ? r.int(0, 6) : null, stop: r.next() < 0.25,
    }));
    const alone: { tokens: number[]; text: string }[] = [];
    for (const p of plans) {
      const res = await e.run({ prompts: [p.prompt], maxNewTokens: p.maxTokens, stopAtEos: false });
      alone.push({ tokens: res.result.tokens[0]!, text: res.texts[0]! });
    }
    // A stop string: two characters (code points) of the text it makes alone, from its second half (when it has one).
    const stops = plans.map((p, i) => {
      const t = alone[i]!.text, n = Array.from(t).length;
      if (!p.stop || n < 4) return undefined;
      const at = r.int(Math.floor(n / 2), n - 1);
      return codePointSlice(t, at, at + 2);
    });
    const got = await Promise.all(plans.map(async (p, i) => {
      await new Promise((res) => setTimeout(res, p.delayMs));
      const ac = new AbortController();
      const stop = stops[i];
      let n = 0, done: Extract<CompletionEvent, { type: 'done' }> | undefined;
      for await (const ev of e.submit({ prompt: p.prompt, maxTokens: p.maxTokens, signal: ac.signal, ...(stop ? { stop: [stop] } : {}) })) {
        if (ev.type === 'token' && ++n === p.cancelAfter) ac.abort();
        if (ev.type === 'done') done = ev;
      }
      return done!;
    }));
    got.forEach((d, i) => {
      const p = plans[i]!, want = alone[i]!, what = `seed ${r.seed} request ${i} ${JSON.stringify({ ...p, prompt: p.prompt.length, stop: stops[i] })}: ${d.reason}`;
      expect(d.tokens, `${what}: a prefix of its tokens alone`).toEqual(want.tokens.slice(0, d.tokens.length));
      expect(d.promptTokens, what).toBe(p.prompt.length);
      if (d.reason === 'length') expect(d.tokens, what).toEqual(want.tokens);
      else if (d.reason === 'stop') expect(want.text.includes(stops[i]!) && !d.text.includes(stops[i]!), what).toBe(true);
      else expect(d.reason, what).toBe('cancelled');
      if (d.reason === 'cancelled') expect(p.cancelAfter, `${what}: only the requests cancelled`).not.toBeNull();
      if (stops[i] === undefined && p.cancelAfter === null) expect(d.reason, what).toBe('length');
    });
    expect(e.load()).toMatchObject({ running: 0, queued: 0 });
    const reasons = got.reduce<Record<string, number>>((a, d) => ({ ...a, [d.reason]: (a[d.reason] ?? 0) + 1 }), {});
    console.info(`[schedule] seed ${r.seed}: ${plans.length} requests, ${JSON.stringify(reasons)}, pool steps ${got.reduce((a, d) => a + d.poolSteps, 0)}`);
  });
});

describe('the queue and its counts', () => {
  it('a request cancelled while it waits leaves the queue at once (it held a place, and live clients got "queue full")', async () => {
    const e = single, waiting: AbortController[] = [];
    const long = e.submit({ prompt: [65, 66], maxTokens: 40 });
    const busy = [long, e.submit({ prompt: [67], maxTokens: 40 }), e.submit({ prompt: [68], maxTokens: 40 })]; // maxBatch 3
    // Admitted: each busy request's first token (a poll could miss the whole window on a fast machine).
    const iters = busy.map((st) => st[Symbol.asyncIterator]());
    for (const it of iters) { for (;;) { const r = await it.next(); if (r.done || r.value.type === 'token') break; } }
    const ends: Promise<string>[] = [];
    for (let i = 0; i < 3; i++) {
      const ac = new AbortController();
      waiting.push(ac);
      ends.push((async () => { let why = ''; for await (const ev of e.submit({ prompt: [69 + i], maxTokens: 4, signal: ac.signal })) if (ev.type === 'done') why = ev.reason; return why; })());
    }
    expect(e.load().queued).toBe(3);
    for (const ac of waiting) ac.abort();
    expect(e.load().queued, 'right after the aborts').toBe(0);
    expect(await Promise.all(ends)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const done = await Promise.all(iters.map(async (it) => {
      for (;;) { const r = await it.next(); if (r.done) throw new Error('no done event'); if (r.value.type === 'done') return r.value; }
    }));
    // One device: every decode step ran on the base, one per token after the first (they read 0).
    for (const d of done) expect([d.baseSteps, d.poolSteps]).toEqual([Math.max(0, d.tokens.length - 1), 0]);
    expect(e.load()).toMatchObject({ running: 0, queued: 0 });
    // Aborted before submit() returned: the request ends at once and leaves nothing listed (it stayed in the engine's
    // live set, with its stream, for the engine's life).
    const live = (e as unknown as { live: Set<unknown> }).live, before = live.size;
    const gone = new AbortController();
    gone.abort();
    for (let i = 0; i < 5; i++) for await (const ev of e.submit({ prompt: [70], maxTokens: 4, signal: gone.signal })) expect(ev.type).toBe('done');
    expect(live.size).toBe(before);
  });
});

describe.each([
  ['one device', () => createEngine({ preset: 'tiny', dtype: 'f32', schedule: { maxBatch: 3, prefillChunk: 16 } })],
  ['FA Pool (1 in-process rank)', () => createEngine({ preset: 'tiny', dtype: 'f32', pool: { inProcess: 1 }, policy: { threshold: 8, tiers: '8:0,inf:1' }, schedule: { maxBatch: 3, prefillChunk: 16 } })],
  ['static tp=2 (in process)', () => createEngine({ preset: 'tiny', dtype: 'f32', strategy: 'static', placement: 'tp=2', schedule: { maxBatch: 3, prefillChunk: 16 } })],
] as const)('a seeded sampled request on %s', (_name, open) => {
  it('gets the same tokens alone, beside another request of its seed, and joining a running batch in another slot (draws keyed by position)', async () => {
    const e = await open();
    try {
      const sampling = { temperature: 1.3, topK: 0, topP: 1, seed: 42 };
      const tokens = async (events: AsyncIterable<CompletionEvent>) => { for await (const ev of events) if (ev.type === 'done') return ev.tokens; return []; };
      const a = { prompt: [72, 105, 33, 32, 65], maxTokens: 12, sampling }, b = { prompt: [77, 121], maxTokens: 20, sampling };
      const aloneA = await tokens(e.submit(a)), aloneB = await tokens(e.submit(b));
      expect(await tokens(e.submit(a)), 'alone again').toEqual(aloneA);
      // b first (slot 0), and once it has 5 tokens a joins in slot 1 (a sleep let b end first on a fast machine); then two a's at once.
      const itB = e.submit(b)[Symbol.asyncIterator]();
      let seen = 0, doneB: number[] | null = null;
      while (seen < 5 && doneB === null) { const r = await itB.next(); if (r.done) break; if (r.value.type === 'token') seen++; else doneB = r.value.tokens; }
      expect(seen, 'b was running when a joined').toBe(5);
      const [gotB, gotA] = await Promise.all([tokens({ [Symbol.asyncIterator]: () => itB }), tokens(e.submit(a))]);
      expect(gotA, 'a beside b').toEqual(aloneA);
      expect(gotB, 'b beside a').toEqual(aloneB);
      const [a1, a2] = await Promise.all([tokens(e.submit(a)), tokens(e.submit(a))]);
      expect([a1, a2], 'two a\'s at once').toEqual([aloneA, aloneA]);
      // Unseeded requests still draw anew, and two alike in one batch differ (their draws are by step and slot).
      const free = { prompt: [72, 105], maxTokens: 24, sampling: { temperature: 1.3, topK: 0, topP: 1 } };
      const [f1, f2] = await Promise.all([tokens(e.submit(free)), tokens(e.submit(free))]);
      expect(f1).not.toEqual(f2);
    } finally {
      await e.dispose();
    }
  });
});
