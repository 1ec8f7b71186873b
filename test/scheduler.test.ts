// The continuous-batching scheduler (src/orchestrator/scheduler.ts) on a stand-in executor (no GPU): which requests
// join the running batch, and the decode steps a request's rows get. Its token arithmetic on real kernels is
// engine.test.ts's.
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/gpu/errors.js';
import { NO_POSITION } from '../src/model/run-state.js';
import type { ModelConfig } from '../src/model/config.js';
import type { DecodeStepInput, ForwardExecutor } from '../src/model/generation.js';
import type { SamplingParams } from '../src/kernels/sampling.js';
import { FAIR_WAIT_STEPS, Scheduler, type ScheduledRequest } from '../src/orchestrator/scheduler.js';

const cfg = { vocab: 256, maxSeq: 512 } as ModelConfig;
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * An executor that samples token 7 everywhere (read-back `eosAt`: token 9, the end of sequence; read-backs past
 * `failFrom`: a device lost) and records each decode step's (step, rows).
 */
function standIn(B: number, o: { eosAt?: number; failFrom?: number } = {}): ForwardExecutor & { decodes: { step: number; rows: Uint32Array }[] } {
  let reads = 0;
  return {
    cfg, gpuBytes: 0, decodes: [],
    prepare: () => undefined,
    prefill: turn, sampleFirst: turn, sync: turn,
    async decode(input: DecodeStepInput) { this.decodes.push({ step: input.step, rows: input.rows.slice() }); await turn(); },
    async readTokens() {
      reads++;
      await turn();
      if (o.failFrom !== undefined && reads >= o.failFrom) throw new Error('device lost (stand-in)');
      return new Uint32Array(B).fill(reads === o.eosAt ? 9 : 7);
    },
    readLogits: async () => new Float32Array(0),
  };
}

/** One lock for the scheduler's loop (the engine's is shared with its batch generations). */
function serial(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => { const r = tail.then(work); tail = r.catch(() => undefined); return r; };
}

interface Probe { req: ScheduledRequest; slot: number; tokens: number; ended: Promise<string> }

function request(sampling: SamplingParams, maxTokens: number, opts: { stopAfter?: number; onEnd?: () => void; onStart?: () => void; cancelled?: () => boolean } = {}): Probe {
  let end!: (why: string) => void;
  const p: Probe = {
    slot: -1, tokens: 0, ended: new Promise((r) => { end = r; }),
    req: {
      prompt: [1, 2, 3], maxTokens, sampling, eosIds: [9],
      isStopped: () => (opts.stopAfter !== undefined && p.tokens >= opts.stopAfter) || (opts.cancelled?.() ?? false),
      onStart(slot) { p.slot = slot; opts.onStart?.(); },
      onToken() { p.tokens++; },
      onDone(why) { end(why); opts.onEnd?.(); },
      onError(e) { end(`error ${String(e)}`); },
    },
  };
  return p;
}

/** The steps of the decode launches that gave slot `slot` a row, from the `from`-th launch on. */
const stepsOf = (decodes: { step: number; rows: Uint32Array }[], slot: number, from = 0) =>
  decodes.slice(from).filter((d) => d.rows[2 * slot + 1] !== NO_POSITION).map((d) => d.step);

const SEEDED: SamplingParams = { temperature: 0.8, topK: 0, topP: 1, seed: 42 };
const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, seed: 0 };

describe('Scheduler', () => {
  /**
   * A request submitted as the last one of a batch ends (how: `first`'s options, `exOpts`): its slot and decode steps,
   * and those of the same request alone.
   */
  async function afterTheLast(exOpts: { eosAt?: number }, firstOpts: { stopAfter?: number }, ends: string, maxTokens: number) {
    const alone = standIn(4);
    const solo = request(SEEDED, maxTokens);
    new Scheduler(alone, cfg, serial(), { maxBatch: 4 }).submit(solo.req);
    expect(await solo.ended).toBe('length');
    const ex = standIn(4, exOpts);
    const s = new Scheduler(ex, cfg, serial(), { maxBatch: 4 });
    let next: Probe | null = null, from = 0;
    const first = request(SEEDED, 50, { ...firstOpts, onEnd: () => { from = ex.decodes.length; next = request(SEEDED, maxTokens); s.submit(next.req); } });
    s.submit(first.req);
    expect(await first.ended).toBe(ends);
    const second = next as unknown as Probe;
    expect(await second.ended).toBe('length');
    return { got: [second.slot, stepsOf(ex.decodes, second.slot, from)], alone: [solo.slot, stepsOf(alone.decodes, solo.slot)] };
  }

  it('a request arriving as the last one ends on a stop (its next token in flight) starts a batch of its own: slot and steps as when alone', async () => {
    const r = await afterTheLast({}, { stopAfter: 2 }, 'stopped', 5);
    expect(r.got).toEqual(r.alone);
  });

  it('a request arriving as the last one ends on an end of sequence (the next step in flight) starts at step 0, as alone', async () => {
    const r = await afterTheLast({ eosAt: 3 }, {}, 'eos', 3);
    expect(r.got).toEqual(r.alone);
  });

  it('a read-back failing as a batch ends fails what is left, never the process; the scheduler serves the next request', async () => {
    for (const B of [1, 2]) {
      let ex = standIn(B, { eosAt: 2, failFrom: 3 });
      const s = new Scheduler({ ...ex, readTokens: (buf) => ex.readTokens(buf), decode: (i, buf) => ex.decode(i, buf) } as ForwardExecutor, cfg, serial(), { maxBatch: B });
      let next: Probe | null = null;
      const first = request(GREEDY, 50, { onEnd: () => { next = request(GREEDY, 3); s.submit(next.req); } });
      s.submit(first.req);
      expect(await first.ended).toBe('eos');
      const second = next as unknown as Probe;
      expect(await second.ended, `B=${B}`).toMatch(/^error .*device lost/);
      ex = standIn(B); // the device is back
      const third = request(GREEDY, 3);
      s.submit(third.req);
      expect([await third.ended, third.slot], `B=${B}`).toEqual(['length', 0]);
    }
  });

  it('a batch that cannot be prepared (a dead rank) fails its request, not the loop; the next request is served', async () => {
    let dead = true;
    const ex = standIn(2);
    const s = new Scheduler({ ...ex, prepare: () => { if (dead) throw new Error('rank 1 is dead (stand-in)'); } } as ForwardExecutor, cfg, serial(), { maxBatch: 2 });
    const a = request(GREEDY, 3), b = request(SEEDED, 3);
    s.submit(a.req);
    s.submit(b.req);
    expect(await a.ended).toMatch(/^error .*rank 1 is dead/);
    expect(await b.ended).toMatch(/^error .*rank 1 is dead/);
    dead = false;
    const c = request(GREEDY, 3);
    s.submit(c.req);
    expect(await c.ended).toBe('length');
    expect(s.queued).toBe(0);
  });

  it('requests sampled without a seed: one batch together, a new random seed for each batch they start; a seeded one keeps its own', async () => {
    const ex = standIn(4);
    const prepared: SamplingParams[] = [];
    const s = new Scheduler({ ...ex, prepare: (_shape: unknown, p: SamplingParams) => { prepared.push(p); } } as unknown as ForwardExecutor, cfg, serial(), { maxBatch: 4 });
    const fresh = () => { const r = request(SEEDED, 3); r.req.freshSeed = true; return r; };
    // Three submitted together share one batch (one prepare); each later batch draws again.
    const together = [fresh(), fresh(), fresh()];
    for (const r of together) s.submit(r.req);
    for (const r of together) expect(await r.ended).toBe('length');
    expect(together.map((r) => r.slot).sort()).toEqual([0, 1, 2]);
    expect(prepared).toHaveLength(1);
    for (let k = 0; k < 3; k++) { const r = fresh(); s.submit(r.req); expect(await r.ended).toBe('length'); }
    expect(prepared).toHaveLength(4);
    const seeds = prepared.map((p) => p.seed);
    expect(new Set(seeds).size, `seeds ${seeds.join(', ')}: a new one each batch (equal by chance: 4 draws of 2^32)`).toBe(4);
    expect(prepared.every((p) => p.temperature === SEEDED.temperature && Number.isInteger(p.seed) && p.seed >= 0 && p.seed < 2 ** 32)).toBe(true);
    // A seeded request keeps its seed, alone or again.
    for (let k = 0; k < 2; k++) { const r = request(SEEDED, 3); s.submit(r.req); expect(await r.ended).toBe('length'); }
    expect(prepared.slice(4).map((p) => p.seed)).toEqual([42]); // prepared once: the second batch was already prepared for it
  });

  it('greedy requests share one batch whatever their temperature, top-p and seed (top_k 1, temperature < 1e-30)', async () => {
    const ex = standIn(4);
    const prepared: SamplingParams[] = [];
    const s = new Scheduler({ ...ex, prepare: (_shape: unknown, p: SamplingParams) => { prepared.push(p); } } as unknown as ForwardExecutor, cfg, serial(), { maxBatch: 4 });
    // All pick the argmax (the sampler's greedy path). Before: a batch each (the key held temperature and seed), one
    // after another: on the server, clients sending top_k 1 with their own seeds decoded one at a time.
    const all = [GREEDY, { temperature: 0.7, topK: 1, topP: 0.9, seed: 1 }, { temperature: 1e-31, topK: 0, topP: 1, seed: 2 }, { ...GREEDY, seed: 3 }]
      .map((p) => request(p, 10));
    for (const r of all) s.submit(r.req);
    for (const r of all) expect(await r.ended).toBe('length');
    expect(all.map((r) => r.slot).sort(), 'slots: one batch').toEqual([0, 1, 2, 3]);
    expect(prepared, 'prepared once').toHaveLength(1);
    expect(ex.decodes.some((d) => [0, 1, 2, 3].every((b) => d.rows[2 * b + 1] !== NO_POSITION)), 'a decode step of all four').toBe(true);
    // A sampled request still waits for them (another kind), and is not batched with them.
    const sampled = request(SEEDED, 2);
    s.submit(sampled.req);
    expect(await sampled.ended).toBe('length');
    expect(prepared.map((p) => p.seed)).toEqual([0, 42]);
  });

  it('a request cancelled while it waits leaves the queue at the next admission, unstarted', async () => {
    const ex = standIn(1);
    const s = new Scheduler(ex, cfg, serial(), { maxBatch: 1 });
    let cancel = false;
    const running = request(GREEDY, 20);
    const waiting = request(SEEDED, 5, { cancelled: () => cancel });
    s.submit(running.req);
    s.submit(waiting.req);
    cancel = true;
    expect(await waiting.ended).toBe('stopped');
    expect(waiting.slot, 'never started').toBe(-1);
    expect(await running.ended).toBe('length');
  });

  it(`a request of another kind waits at most ${FAIR_WAIT_STEPS} decode steps (and the batch's drain) however many keep coming`, async () => {
    const B = 2, ex = standIn(B);
    const s = new Scheduler(ex, cfg, serial(), { maxBatch: B });
    let stopTraffic = false;
    const client = () => { if (!stopTraffic) s.submit(request(GREEDY, 3, { onEnd: client }).req); };
    for (let i = 0; i < 4; i++) client();
    while (ex.decodes.length < 10) await turn();
    const submittedAt = ex.decodes.length;
    let startedAt = -1;
    const other = request(SEEDED, 2, { onStart: () => { startedAt = ex.decodes.length; } });
    s.submit(other.req);
    // Greedy traffic goes on (each of 4 clients sends again as soon as it is answered) until 10 × the bound.
    while (startedAt < 0 && ex.decodes.length < submittedAt + 10 * FAIR_WAIT_STEPS) await turn();
    stopTraffic = true;
    expect(await other.ended).toBe('length');
    // Its wait: the bound, then the running requests' last tokens (3 each) and the steps in flight.
    expect(startedAt - submittedAt, 'decode steps the seeded request waited').toBeLessThanOrEqual(FAIR_WAIT_STEPS + 4);
    expect(startedAt - submittedAt, 'greedy requests kept joining for a while').toBeGreaterThanOrEqual(FAIR_WAIT_STEPS - 4);
  });

  it('options no schedule can run are refused when it is made, naming the option', () => {
    // Before: a prefill chunk of 0 (or 1.5, NaN) and a NaN context were taken; a chunk of 0 cut each prompt into empty
    // chunks for ever, NaN sizes reached the buffers.
    const make = (o: object) => () => new Scheduler(standIn(1), cfg, serial(), o);
    for (const [o, message] of [
      [{ prefillChunk: 0 }, 'schedule.prefillChunk must be a positive integer, got 0'],
      [{ prefillChunk: 1.5 }, 'schedule.prefillChunk must be a positive integer, got 1.5'],
      [{ prefillChunk: Infinity }, 'schedule.prefillChunk must be a positive integer, got Infinity'],
      [{ maxContext: NaN }, 'schedule.maxContext must be a positive integer (or Infinity), got NaN'],
      [{ maxBatch: 0 }, 'schedule.maxBatch must be a positive integer, got 0'],
    ] as const) {
      expect(make(o)).toThrow(InputError);
      expect(make(o)).toThrow(message);
    }
    expect(new Scheduler(standIn(1), cfg, serial(), { maxContext: Infinity }).maxContext).toBe(cfg.maxSeq);
  });

});
