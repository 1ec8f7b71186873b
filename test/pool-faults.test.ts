// Pool faults on lavapipe: a rank that hangs (deadline), one that answers with corrupt tensors or a corrupt
// frame (FrameError on the base), one that is stopped mid-run (SIGSTOP: deadline, then the link is dropped),
// one that joins late (a connect that waits for it) or never (a clear error within the deadline). In every
// case generation continues on the base group with the tokens of a fault-free run, and the events that the
// CLI's --json prints as `placement.events` (PoolAttention.stats.events) name the rank and the rebuild. A rank
// that fails and later answers again is probed back: what it held is freed, and later sequences use it again.
// A 1 ms deadline bounds requests only: a worker slow to say hello is still connected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Router } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGpu, type Gpu } from '../src/gpu/index.js';
import { presetConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import type { Weights } from '../src/model/weights.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { AttentionRank } from '../src/orchestrator/pool/attention-rank.js';
import { inProcessLink, RankDeadError, type RankHandler, type RankLink } from '../src/orchestrator/transport/link.js';
import { decodeMessage, encodeMessage } from '../src/orchestrator/transport/codec.js';
import type { RequestBody } from '../src/orchestrator/transport/messages.js';
import { PoolAttention, type PoolMember } from '../src/orchestrator/pool/pool-attention.js';
import type { RoutingPolicy } from '../src/orchestrator/pool/policy.js';
import { spawnLocalWorkers } from '../src/orchestrator/transport/spawn.js';
import { connectRank, serveRank } from '../src/orchestrator/transport/zmq-link.js';
import { expectGreedyAgree, rng, useGpu } from './helpers.js';
import { refWeights } from './random-config.js';
import type { RefWeights } from './ref/model.js';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
const gpu = useGpu();
const cfg = presetConfig('tiny');
const dir = mkdtempSync(join(tmpdir(), 'fapool-pf-'));
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const POLICY: RoutingPolicy = { threshold: 16, tiers: [{ maxLen: 16, poolSize: 0 }, { maxLen: 36, poolSize: 2 }, { maxLen: Infinity, poolSize: 3 }] };
const NEW = 12;
const ranks: { gpu: Gpu; rank: AttentionRank }[] = [];
let weights: Weights;
let g: Gpu;
let prompts: number[][];
let reference: number[][];
let seed: number;
let ref64: RefWeights;

beforeAll(async () => {
  const path = join(dir, 'tiny.safetensors');
  await writeRandomWeights(path, cfg, { seed: 13, dtype: 'f32' });
  const f = await openSafetensors(path);
  g = await gpu();
  weights = (await loadWeights(g, f.source(), cfg, 'f32')).weights;
  await f.close();
  ref64 = await refWeights(path, cfg);
  for (let i = 0; i < 2; i++) { const rg = await openGpu({ label: `pf${i}` }); ranks.push({ gpu: rg, rank: new AttentionRank(rg, i) }); }
  const r = rng();
  seed = r.seed;
  prompts = [10, 30, 3].map((n) => Array.from({ length: n }, () => r.int(0, cfg.vocab)));
  const gen = new Generator(g, cfg, weights, 'f32');
  reference = (await gen.generate(prompts, { maxNewTokens: NEW, sampling: GREEDY })).tokens;
  gen.dispose();
});
afterAll(() => {
  for (const r of ranks) { r.rank.dispose(); r.gpu.destroy(); }
  rmSync(dir, { recursive: true, force: true });
});

async function run(members: PoolMember[], deadlineMs = 5000, onToken?: (seq: number, tok: number, step: number) => void) {
  const exec = new PoolAttention(members, POLICY, { minBlock: 8, deadlineMs });
  const gen = new Generator(g, cfg, weights, 'f32', exec);
  const t0 = performance.now();
  try {
    const res = await gen.generate(prompts, { maxNewTokens: NEW, sampling: GREEDY, onToken });
    return { res, exec, ms: performance.now() - t0 };
  } finally {
    gen.dispose(); exec.dispose(g);
  }
}

/**
 * Tokens of a run with pool ranks against one device's, which are not the same bits (position blocks merged by LSE,
 * a cache rebuilt from the tokens): the same tokens, or a parting at a near-tie of the float64 reference.
 */
const expectReference = (got: number[][], what = '') => expectGreedyAgree(cfg, ref64, prompts, got, reference, `seed ${seed}${what}`);

/** Rank i of the in-process pool, its handler optionally wrapped (a faulty rank). */
const member = (i: number, wrap?: (h: RankHandler) => RankHandler): PoolMember =>
  ({ link: inProcessLink(`pf${i}`, wrap ? wrap(ranks[i]!.rank.handler) : ranks[i]!.rank.handler), alive: true });

/** The --json view of the run: the same object the CLI prints as `placement.events`. */
const placementEvents = (exec: PoolAttention) => JSON.parse(JSON.stringify({ events: exec.stats.events })).events as { step: number; seq: number; kind: string; detail: string }[];

function expectFallback(exec: PoolAttention, rankName: string, detail: RegExp): void {
  const ev = placementEvents(exec);
  const fault = ev.find((e) => e.kind === 'fault' && e.detail.startsWith(`${rankName}: `));
  expect(fault, JSON.stringify(ev)).toBeDefined();
  expect(fault!.detail).toMatch(detail);
  // Without a replica the sequence's cache is rebuilt from its tokens (on the rank left, else on the base).
  expect(ev.some((e) => e.kind === 'rebuild' && e.seq === fault!.seq), JSON.stringify(ev)).toBe(true);
}

describe('in-process pool ranks that misbehave', () => {
  it('a rank that never answers: deadline → fault + rebuild, same tokens', async () => {
    let n = 0;
    const hang = (h: RankHandler): RankHandler => (m, t, c) => (m.kind === 'attend' && ++n > 4 ? new Promise(() => {}) : h(m, t, c));
    const { res, exec, ms } = await run([member(0), member(1, hang)], 400);
    expectReference(res.tokens);
    expectFallback(exec, 'pf1', /RankTimeoutError: pf1: attend #\d+: no reply within 400 ms/);
    expect(exec.members[1]!.alive).toBe(false);
    expect(ms, 'one deadline, not one per step').toBeLessThan(20_000);
  });

  it('a rank that returns garbage tensors: FrameError on the base → rebuild, same tokens', async () => {
    let n = 0;
    const corrupt = (h: RankHandler): RankHandler => async (m, t, c) => {
      const out = await h(m, t, c);
      if (m.kind !== 'attend' || ++n <= 3) return out;
      // O frames with the wrong head count and an LSE of the wrong dtype.
      return { header: out.header, tensors: (out.tensors ?? []).map((x, i) => (i % 2 ? { dtype: 'u32', shape: [1], data: new Uint32Array(1) } : x)) } as typeof out;
    };
    const { res, exec } = await run([member(0, corrupt), member(1)]);
    expectReference(res.tokens);
    expectFallback(exec, 'pf0', /FrameError: .*attend_ok: LSE must be f32/);
  });

  it('a rank that answers a well-formed reply for the wrong heads (one O row and LSE short): FrameError → rebuild, same tokens', async () => {
    let n = 0;
    const short = (h: RankHandler): RankHandler => async (m, t, c) => {
      const out = await h(m, t, c);
      if (m.kind !== 'attend' || ++n <= 3) return out;
      const [o, lse, ...rest] = out.tensors!;
      const D = o!.shape[1]!, rows = o!.shape[0]! - 1;
      return { header: out.header, tensors: [{ ...o!, shape: [rows, D], data: o!.data.subarray(0, rows * D) }, { ...lse!, shape: [rows], data: lse!.data.subarray(0, rows) }, ...rest] } as typeof out;
    };
    const { res, exec } = await run([member(0, short), member(1)]);
    expectReference(res.tokens);
    expectFallback(exec, 'pf0', /FrameError: pf0: attend_ok O is f32\[\d+, \d+\], the request asked for f32\[\d+, \d+\]/);
  });
});

describe('ZeroMQ ranks that misbehave', () => {
  it('a rank that replies with a corrupt frame (right id, bad header/bytes): FrameError → rebuild, same tokens', async () => {
    // A raw ROUTER that answers hello/alloc/load_kv properly through a real rank, then corrupts attend replies.
    const real = await serveRank(`ipc://${join(dir, 'real.sock')}`, ranks[1]!.rank.handler, { heartbeatMs: 0 });
    const upstream = await connectRank(real.endpoint, { name: 'upstream', heartbeatMs: 0 });
    const sock = new Router({ linger: 0 });
    const ep = `ipc://${join(dir, 'corrupt.sock')}`;
    await sock.bind(ep);
    let attends = 0;
    const serving = (async () => {
      for await (const [rid, ...parts] of sock) {
        const { header, tensors } = decodeMessage(parts);
        const { v: _v, id, frames: _f, ...req } = header as unknown as Record<string, unknown>;
        const reply = await upstream.request(req as RequestBody, tensors).catch((e: Error) => ({ header: { kind: 'error', message: e.message }, tensors: [] }));
        const { frames: _rf, ...rh } = reply.header as unknown as Record<string, unknown>;
        const enc = encodeMessage({ ...rh, id }, reply.tensors);
        if (header.kind === 'attend' && ++attends > 3) enc[1] = enc[1]!.subarray(0, enc[1]!.length - 3); // O frame 3 bytes short
        await sock.send([rid!, ...enc]);
      }
    })();
    let link: RankLink | null = null;
    try {
      link = await connectRank(ep, { name: 'corrupt-rank', heartbeatMs: 0 });
      const { res, exec } = await run([member(0), { link, alive: true }]);
      expectReference(res.tokens);
      expectFallback(exec, 'corrupt-rank', /FrameError: frame 0: f32\[\d+, \d+\] needs \d+ bytes, got \d+/);
    } finally {
      await link?.close();
      sock.close();
      await serving.catch(() => undefined);
      await upstream.close();
      await real.close();
    }
  });

  it('a rank that joins late is connected once it is up; one that never comes fails clearly within the deadline', async () => {
    const ep = `ipc://${join(dir, 'late.sock')}`;
    let server: Awaited<ReturnType<typeof serveRank>> | null = null;
    const up = new Promise<void>((res) => setTimeout(() => { void serveRank(ep, ranks[0]!.rank.handler).then((s) => { server = s; res(); }); }, 700));
    const t0 = performance.now();
    const link = await connectRank(ep, { name: 'late-rank', connectTimeoutMs: 10_000 });
    await up;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(600);
    try {
      const { res, exec } = await run([{ link, alive: true }, member(1)]);
      expectReference(res.tokens);
      expect(placementEvents(exec).filter((e) => e.kind === 'fault')).toEqual([]);
      expect(exec.stats.perSeq[1]!.ranks).toContain('late-rank');
    } finally {
      await link.close();
      await server!.close();
    }
    const t1 = performance.now();
    await expect(connectRank(`ipc://${join(dir, 'never.sock')}`, { name: 'ghost', connectTimeoutMs: 500 })).rejects.toThrow(RankDeadError);
    await expect(connectRank(`ipc://${join(dir, 'never.sock')}`, { name: 'ghost', connectTimeoutMs: 500 })).rejects.toThrow(/ghost: no rank answering at .*never\.sock/);
    expect(performance.now() - t1).toBeLessThan(3000);
  });
});

describe('a worker process stopped mid-generation (SIGSTOP)', () => {
  it('deadline → fault + rebuild naming it, same tokens; the worker is released afterwards', async () => {
    const w = await spawnLocalWorkers(['none'], { entry: join(ROOT, 'run-inference.js') });
    const proc = w.processes[0]!;
    try {
      let stopped = false;
      const { res, exec } = await run([member(0), { ...w.members[0]!, alive: true }], 1500, (_s, _t, step) => {
        if (step === 4 && !stopped) { stopped = true; proc.kill('SIGSTOP'); }
      });
      expect(stopped).toBe(true);
      expectReference(res.tokens);
      expectFallback(exec, w.members[0]!.name, /RankTimeoutError|RankDeadError/);
    } finally {
      proc.kill('SIGCONT');
      await w.close();
    }
  });
});

describe('a rank that fails, then comes back', () => {
  it('is probed after its back-off: what it held is freed, it rejoins where sequences are placed, and a later generation runs on it again, same tokens', async () => {
    // A rank of its own (a fresh AttentionRank on pf1's device): its shard count is this test's alone.
    const rank = new AttentionRank(ranks[1]!.gpu, 1);
    let down = false;
    const outage: RankHandler = (m, t, c) => (down ? Promise.reject(new Error('simulated outage')) : rank.handler(m, t, c));
    const exec = new PoolAttention([member(0), { link: inProcessLink('pf1', outage), alive: true }], POLICY,
      { minBlock: 8, deadlineMs: 5000, rejoinBackoffMs: 20, rejoinBackoffMaxMs: 100 });
    const gen = new Generator(g, cfg, weights, 'f32', exec);
    const generate = (ps: number[][], onToken?: (seq: number, tok: number, step: number) => void) => gen.generate(ps, { maxNewTokens: NEW, sampling: GREEDY, onToken });
    const events = () => placementEvents(exec);
    try {
      // 1. pf1 goes down at step 3 and stays down: every request fails, its probes too (no rejoin).
      const first = await generate(prompts, (_s, _t, step) => { if (step === 3) down = true; });
      expectReference(first.tokens);
      expectFallback(exec, 'pf1', /simulated outage/);
      expect(exec.members[1]!.alive).toBe(false);
      expect(rank.sequences, 'the shards it held when it failed').toBeGreaterThan(0);
      expect(events().filter((e) => e.kind === 'rejoin')).toEqual([]);

      // 2. It is back. A generation of short prompts only (never on the pool) starts a probe: hello, then the frees.
      down = false;
      await new Promise((r) => setTimeout(r, 150)); // past the longest back-off
      const single = new Generator(g, cfg, weights, 'f32');
      const short = (await single.generate([prompts[2]!], { maxNewTokens: NEW, sampling: GREEDY })).tokens;
      single.dispose();
      expect((await generate([prompts[2]!])).tokens).toEqual(short);
      for (let t0 = performance.now(); rank.sequences > 0 && performance.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 10));
      expect(rank.sequences, 'the probe freed what it held').toBe(0);
      expect(exec.members[1]!.alive, 'rejoins only where sequences are placed').toBe(false);

      // 3. The next generation places its long prompt on both ranks again: the same tokens.
      const before = exec.stats.perSeq[1]!.poolSteps, at = events().length;
      const third = await generate(prompts);
      expectReference(third.tokens);
      expect(exec.members[1]!.alive).toBe(true);
      const later = events().slice(at);
      const rejoin = later.find((e) => e.kind === 'rejoin');
      expect(rejoin, JSON.stringify(later)).toBeDefined();
      expect(rejoin!.seq).toBe(-1);
      expect(rejoin!.detail).toMatch(/^pf1: answered a probe \d+\.\d s after it failed \(hello: rank 1, pid \d+\); new sequences may be placed on it$/);
      expect(later.some((e) => e.kind === 'prefill-to-pool' && e.seq === 1 && /on pf0, pf1$/.test(e.detail)), JSON.stringify(later)).toBe(true);
      expect(later.filter((e) => e.kind === 'fault'), 'no fault since').toEqual([]);
      expect(exec.stats.perSeq[1]!.poolSteps - before, 'the 30-token prompt decoded on the pool').toBe(NEW - 1);
      expect(rank.sequences, 'freed at the end, as any rank').toBe(0);
    } finally {
      gen.dispose(); exec.dispose(g);
      rank.dispose();
    }
  });
});

describe('a 1 ms deadline', () => {
  it('bounds requests, not the connect handshake: a worker slow to say hello is kept, and its requests still miss 1 ms', async () => {
    // A healthy worker on a busy host: its handshake (ping, hello) takes 50 ms, any other request 20 ms.
    const handler: RankHandler = async (m, t, c) => {
      await new Promise((r) => setTimeout(r, m.kind === 'ping' || m.kind === 'hello' ? 50 : 20));
      return ranks[0]!.rank.handler(m, t, c);
    };
    const server = await serveRank(`ipc://${join(dir, 'slow.sock')}`, handler);
    const cluster = join(dir, 'slow.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint: server.endpoint, name: 'slow' }] }));
    const log: string[] = [];
    try {
      const engine = await createEngine({
        model: join(dir, 'tiny.safetensors'), dtype: 'f32', pool: { cluster, deadlineMs: 1 }, policy: { threshold: POLICY.threshold, tiers: POLICY.tiers }, log: (l) => log.push(l),
      });
      try {
        const start = engine.report();
        expect(start.poolMembers, log.join('\n')).toEqual([{ name: 'slow', alive: true }]);
        expect(start.events).toEqual([]);
        const done = await engine.run({ prompts, maxNewTokens: NEW, stopAtEos: false });
        expectReference(done.result.tokens);
        const faults = (done.placement.events ?? []).filter((e) => e.kind === 'fault');
        expect(faults.length, JSON.stringify(done.placement.events)).toBeGreaterThan(0);
        expect(faults[0]!.detail).toMatch(/^slow: RankTimeoutError: slow: \w+ #\d+: no reply within 1 ms$/);
      } finally {
        await engine.dispose();
      }
    } finally {
      await server.close();
    }
  });
});

describe('a cluster worker absent when the pool starts', () => {
  it('is a member that is down, probed until it comes up; then it takes new sequences (same tokens)', async () => {
    const endpoint = `ipc://${join(dir, 'late.sock')}`;
    const cluster = join(dir, 'late.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint, name: 'late' }] }));
    const log: string[] = [];
    const engine = await createEngine({
      model: join(dir, 'tiny.safetensors'), dtype: 'f32', pool: { cluster, connectTimeoutMs: 300, rejoinBackoffMs: 50 },
      policy: { threshold: POLICY.threshold, tiers: POLICY.tiers }, log: (l) => log.push(l),
    });
    let server: Awaited<ReturnType<typeof serveRank>> | null = null;
    try {
      // Before: a worker that did not answer at start was left out for good (the engine had no pool at all).
      expect(engine.report().poolMembers, log.join('\n')).toEqual([{ name: 'late', alive: false }]);
      expect(log.join('\n')).toMatch(/warning: pool worker late: .*no rank answering.* \(probed until it answers\)/);
      const first = await engine.run({ prompts, maxNewTokens: NEW, stopAtEos: false });
      expectReference(first.result.tokens);
      expect(first.placement.perSeq!.every((s) => s.poolSteps === 0), 'no worker yet: all on the base').toBe(true);
      server = await serveRank(endpoint, ranks[1]!.rank.handler);
      let pooled = false;
      for (let i = 0; i < 20 && !pooled; i++) {
        await new Promise((r) => setTimeout(r, 60)); // past the back-off: the next placement's probe finds it
        const done = await engine.run({ prompts, maxNewTokens: NEW, stopAtEos: false });
        expectReference(done.result.tokens, ` run ${i} after it came up`);
        pooled = done.placement.perSeq!.some((s) => s.poolSteps > 0);
      }
      expect(pooled, 'a later run used the worker').toBe(true);
      const report = engine.report();
      expect(report.poolMembers).toEqual([{ name: 'late', alive: true }]);
      expect(report.events!.filter((e) => e.kind === 'rejoin').map((e) => e.detail)).toEqual([expect.stringMatching(/^late: answered a probe/)]);
    } finally {
      await engine.dispose();
      await server?.close();
    }
  });
});

describe('one worker listed twice, the second endpoint not up at start', () => {
  it('is never taken as a second rank when that endpoint comes up: its hello names the first one\'s instance', async () => {
    const first = await serveRank(`ipc://${join(dir, 'twin-a.sock')}`, ranks[1]!.rank.handler);
    const second = `ipc://${join(dir, 'twin-b.sock')}`;
    const cluster = join(dir, 'twin.json');
    writeFileSync(cluster, JSON.stringify({ pool: [{ endpoint: first.endpoint, name: 'a' }, { endpoint: second, name: 'b' }] }));
    const engine = await createEngine({
      model: join(dir, 'tiny.safetensors'), dtype: 'f32', pool: { cluster, connectTimeoutMs: 300, rejoinBackoffMs: 50 },
      policy: { threshold: POLICY.threshold, tiers: POLICY.tiers }, log: () => {},
    });
    const later = await serveRank(second, ranks[1]!.rank.handler); // the same rank (one instance id) on a second endpoint
    try {
      expect(engine.report().poolMembers).toEqual([{ name: 'a', alive: true }, { name: 'b', alive: false }]);
      let twin: string | undefined;
      for (let i = 0; i < 20 && !twin; i++) {
        await new Promise((r) => setTimeout(r, 60));
        const done = await engine.run({ prompts, maxNewTokens: NEW, stopAtEos: false });
        expectReference(done.result.tokens, ` run ${i}`);
        twin = done.placement.events?.find((e) => e.kind === 'fault' && /the same worker as/.test(e.detail))?.detail;
      }
      expect(twin).toBe('b: the same worker as a (one instance id in both hellos): not taken as a second rank');
      const report = engine.report();
      expect(report.poolMembers).toEqual([{ name: 'a', alive: true }, { name: 'b', alive: false }]);
      expect(report.events!.filter((e) => e.kind === 'rejoin')).toEqual([]);
    } finally {
      await engine.dispose();
      await later.close();
      await first.close();
    }
  });
});
