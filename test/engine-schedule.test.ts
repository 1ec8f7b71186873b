// Continuous batching as a property test: random streams of requests (prompt lengths on both sides of the FA Pool
// threshold, token budgets, arrival times, stop strings, cancellations after a random number of tokens) on one
// device and with two in-process pool ranks. Every request must get the tokens it gets alone (greedy, f32), or a
// prefix of them where a stop string or its cancellation ended it early; the engine must end idle. FAPOOL_TEST_SEED
// reproduces a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type CompletionEvent, type Engine } from '../src/index.js';
import { rng } from './helpers.js';

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
    // A stop string: two characters of the text it makes alone, from its second half (when it has one).
    const stops = plans.map((p, i) => {
      const t = alone[i]!.text;
      if (!p.stop || t.length < 4) return undefined;
      const at = r.int(Math.floor(t.length / 2), t.length - 1);
      return t.slice(at, at + 2);
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
