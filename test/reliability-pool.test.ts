// A pool worker shared and attacked (issue 17, items 1, 2, 9): two coordinators on ONE `run-inference.js
// worker` process get single-device tokens with no fault; a coordinator that is killed has its shards freed
// (the worker sees its connection close), as has one that goes silent with --client-idle-s; a request listing a
// sequence twice fails alone and another client's requests still work; a 300 MB frame is refused by ZeroMQ
// before the worker allocates it (--max-message-mb); a client cannot hold more than its budget of shards
// (--max-client-mb), and a coordinator refused by it falls back; a cluster with a dead endpoint keeps its live member.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import type { Gpu } from '../src/gpu/index.js';
import { openGpu } from '../src/gpu/index.js';
import { presetConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import type { RoutingPolicy } from '../src/orchestrator/pool/policy.js';
import { AttentionRank } from '../src/orchestrator/pool/attention-rank.js';
import { PoolAttention } from '../src/orchestrator/pool/pool-attention.js';
import { connectMembers, ClusterError, HANDSHAKE_MS, type ClusterEntry } from '../src/orchestrator/transport/cluster.js';
import { decodeHeaderObject, encodeMessage } from '../src/orchestrator/transport/codec.js';
import { inProcessLink, RankRemoteError, type RankHandler, type RankLink } from '../src/orchestrator/transport/link.js';
import { PROTOCOL_VERSION, attendItemsFrame } from '../src/orchestrator/transport/messages.js';
import { connectRank } from '../src/orchestrator/transport/zmq-link.js';
import { rng } from './helpers.js';
import { privateDist } from './private-dist.js';

const { BUILD, ENTRY, build: buildPrivateDist } = privateDist('rel-pool');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-relpool-'));
const cfg = presetConfig('tiny');
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
// Threshold 16: the 30- and 24-token prompts decode on the pool from their first step, the 3-token one never.
const POLICY: RoutingPolicy = { threshold: 16, tiers: [{ maxLen: 16, poolSize: 0 }, { maxLen: Infinity, poolSize: 2 }] };
const NEW = 12;


interface WorkerProc { proc: ChildProcess; endpoint: string; log: string[]; exited: Promise<number | null> }

/** `node run-inference.js worker --listen tcp://127.0.0.1:0 ...`, up once it prints READY. */
async function startWorker(extra: string[] = []): Promise<WorkerProc> {
  const proc = spawn(process.execPath, [ENTRY, 'worker', '--gpu', 'none', '--listen', 'tcp://127.0.0.1:0', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  const log: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => log.push(...c.split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((res) => proc.once('exit', (c) => res(c)));
  const endpoint = await new Promise<string>((res, rej) => {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => { buf += c; const m = /^READY (\S+)/m.exec(buf); if (m) res(m[1]!); });
    void exited.then((c) => rej(new Error(`worker exited (${c}) before READY: ${log.join('\n')}`)));
  });
  return { proc, endpoint, log, exited };
}

async function stopWorker(w: WorkerProc): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
  await w.exited;
}

/** Peak and current resident memory of a process (kB), from /proc. */
function memoryOf(pid: number): { hwm: number; rss: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)![1]);
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const weightsPath = join(tmp, 'tiny.safetensors');
let worker: WorkerProc;
const gpus: Gpu[] = [];
const weights: Weights[] = [];
let prompts: number[][];
let reference: number[][];

async function coordinatorGpu(label: string): Promise<{ g: Gpu; w: Weights }> {
  const g = await openGpu({ label });
  const f = await openSafetensors(weightsPath);
  try {
    const w = (await loadWeights(g, f.source(), cfg, 'f32')).weights;
    gpus.push(g); weights.push(w);
    return { g, w };
  } finally {
    await f.close();
  }
}

/** One coordinator's generation with the worker as its pool (its own link: its own client on the worker). */
async function pooledRun(g: Gpu, w: Weights, link: RankLink, ps = prompts) {
  const exec = new PoolAttention([{ link, alive: true }], POLICY, { minBlock: 8, deadlineMs: 20_000 });
  const gen = new Generator(g, cfg, w, 'f32', exec);
  try {
    const res = await gen.generate(ps, { maxNewTokens: NEW, sampling: GREEDY });
    return { tokens: res.tokens, stats: exec.stats };
  } finally {
    gen.dispose(); exec.dispose(g);
  }
}

beforeAll(async () => {
  await Promise.all([buildPrivateDist(), writeRandomWeights(weightsPath, cfg, { seed: 17, dtype: 'f32' })]);
  worker = await startWorker(['--max-message-mb', '64']);
  const r = rng();
  prompts = [30, 3, 24].map((n) => Array.from({ length: n }, () => r.int(0, cfg.vocab)));
  const { g, w } = await coordinatorGpu('single');
  const gen = new Generator(g, cfg, w, 'f32');
  reference = (await gen.generate(prompts, { maxNewTokens: NEW, sampling: GREEDY })).tokens;
  gen.dispose();
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  gpus.forEach((g, i) => { releaseWeights(g, weights[i]!); g.destroy(); });
  rmSync(BUILD, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('one worker process, two coordinators', () => {
  it('both get single-device tokens, concurrently, with no fault (sequence ids 0–2 on both)', async () => {
    const [a, b] = [await coordinatorGpu('coordA'), await coordinatorGpu('coordB')];
    const links = [await connectRank(worker.endpoint, { name: 'A' }), await connectRank(worker.endpoint, { name: 'B' })];
    try {
      for (let round = 0; round < 2; round++) {
        const [ra, rb] = await Promise.all([pooledRun(a.g, a.w, links[0]!), pooledRun(b.g, b.w, links[1]!)]);
        for (const r of [ra, rb]) {
          expect(r.tokens).toEqual(reference);
          expect(r.stats.events.filter((e) => e.kind === 'fault' || e.kind === 'fallback'), JSON.stringify(r.stats.events)).toEqual([]);
          expect(r.stats.perSeq[0]!.poolSteps, 'the 30-token prompt decoded on the worker').toBe(NEW - 1);
          expect(r.stats.perSeq[2]!.poolSteps).toBe(NEW - 1);
        }
      }
    } finally {
      await Promise.all(links.map((l) => l.close()));
    }
  });

  it('an attend listing a sequence twice fails alone; the other client\'s requests still work', async () => {
    const { g, w } = await coordinatorGpu('coordC');
    const hostile = await connectRank(worker.endpoint, { name: 'hostile' });
    const good = await connectRank(worker.endpoint, { name: 'good' });
    try {
      await hostile.request({ kind: 'alloc', seq: 0, nLayers: cfg.nLayers, kvHeads: [0, cfg.nKvHeads], headDim: cfg.headDim, capacity: 32, posBase: 0, dtype: 'f32', nHeadsPerKv: cfg.nHeads / cfg.nKvHeads });
      const rows = 2 * cfg.nHeads; // q rows of two items, no new k/v
      const item = { seq: 0, kvHeads: cfg.nKvHeads, len: 4, newPos: -1 };
      const group = cfg.nHeads / cfg.nKvHeads;
      const err = await hostile.request({ kind: 'attend', step: 1, layer: 0, group },
        [attendItemsFrame([item, item]), { dtype: 'f32', shape: [rows, cfg.headDim], data: new Float32Array(rows * cfg.headDim) }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RankRemoteError);
      expect(String(err)).toMatch(/sequence 0 is listed twice/);
      // Items travel as plain u32s: what they say is checked on the rank (rows, kv heads, the new position).
      const half = cfg.nHeads * cfg.headDim;
      for (const [bad, why] of [
        [{ ...item, newPos: 3 }, /the items need/], [{ ...item, kvHeads: 0 }, /kv heads/], [{ ...item, newPos: 9 }, /not the last position/], [{ ...item, len: 0 }, /no keys/],
      ] as const) {
        const e = await hostile.request({ kind: 'attend', step: 1, layer: 0, group },
          [attendItemsFrame([bad]), { dtype: 'f32', shape: [cfg.nHeads, cfg.headDim], data: new Float32Array(half).fill(0.5) }]).catch((x: unknown) => x);
        expect(e, JSON.stringify(bad)).toBeInstanceOf(RankRemoteError);
        expect(String(e)).toMatch(why);
      }
      // Its own shard is intact and answers a valid attend.
      const one = await hostile.request({ kind: 'attend', step: 1, layer: 0, group },
        [attendItemsFrame([item]), { dtype: 'f32', shape: [cfg.nHeads, cfg.headDim], data: new Float32Array(cfg.nHeads * cfg.headDim).fill(0.5) }]);
      expect(one.tensors[0]!.shape).toEqual([cfg.nHeads, cfg.headDim]);
      // The other client's generation (same sequence ids) is unaffected.
      expect((await pooledRun(g, w, good)).tokens).toEqual(reference);
    } finally {
      await Promise.all([hostile.close(), good.close()]);
    }
  });

  it('a 300 MB frame is refused before the worker allocates it (--max-message-mb 64); the worker keeps serving', async () => {
    const { g, w } = await coordinatorGpu('coordD');
    const before = memoryOf(worker.proc.pid!);
    const raw = new Dealer({ linger: 0 });
    raw.connect(worker.endpoint);
    const header = encodeMessage({ kind: 'ping', v: PROTOCOL_VERSION, id: 7 })[0]!;
    await raw.send([header, Buffer.alloc(300 * 2 ** 20, 1)]);
    await new Promise((r) => setTimeout(r, 1500));
    raw.close();
    const after = memoryOf(worker.proc.pid!);
    expect((after.hwm - before.hwm) / 1024, `worker peak RSS ${before.hwm} → ${after.hwm} kB`).toBeLessThan(64);
    const link = await connectRank(worker.endpoint, { name: 'after-300MB' });
    try {
      expect((await pooledRun(g, w, link)).tokens).toEqual(reference);
    } finally {
      await link.close();
    }
    expect(worker.proc.exitCode).toBe(null);
  });
});

describe('a coordinator that goes away', () => {
  it('killed mid-generation (SIGKILL): the worker frees its shards when the connection closes', async () => {
    // The coordinator is its own process so that it can really die.
    const script = join(tmp, 'coordinator.mjs');
    const d = (p: string) => JSON.stringify(join(BUILD, 'dist', 'src', p));
    writeFileSync(script, `
      import { openGpu } from ${d('gpu/index.js')};
      import { presetConfig } from ${d('model/config.js')};
      import { Generator } from ${d('model/generator.js')};
      import { loadWeights } from ${d('model/load-weights.js')};
      import { openSafetensors } from ${d('model/safetensors-node.js')};
      import { PoolAttention } from ${d('orchestrator/pool/pool-attention.js')};
      import { connectRank } from ${d('orchestrator/transport/zmq-link.js')};
      const cfg = presetConfig('tiny');
      const g = await openGpu({ label: 'doomed' });
      const f = await openSafetensors(${JSON.stringify(weightsPath)});
      const w = (await loadWeights(g, f.source(), cfg, 'f32')).weights;
      const link = await connectRank(${JSON.stringify(worker.endpoint)}, { name: 'doomed' });
      const policy = { threshold: 16, tiers: [{ maxLen: 16, poolSize: 0 }, { maxLen: Infinity, poolSize: 2 }] };
      const exec = new PoolAttention([{ link, alive: true }], policy, { minBlock: 8 });
      const gen = new Generator(g, cfg, w, 'f32', exec);
      await gen.generate(${JSON.stringify(prompts)}, { maxNewTokens: 400, sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 },
        onToken: (seq, tok, step) => { if (seq === 0) process.stdout.write('TOKEN ' + step + '\\n'); } });
    `);
    const logged = worker.log.length;
    const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    await new Promise<void>((res, rej) => {
      p.stdout!.setEncoding('utf8').on('data', (c: string) => { if (/TOKEN [3-9]/.test(c)) res(); });
      p.once('exit', (c) => rej(new Error(`coordinator exited early (${c}): ${err}`)));
    });
    p.kill('SIGKILL');
    await until(() => worker.log.slice(logged).some((l) => /disconnected: freed its \d+ shards?/.test(l)), 15_000, 'the worker frees the shards');
    const line = worker.log.slice(logged).find((l) => /disconnected: freed/.test(l))!;
    expect(line).toMatch(/client [0-9a-f]+ disconnected: freed its 2 shards/); // seqs 0 and 2 were on the pool
  });

  it('a client that sends an empty message (what a disconnect notification looks like) only ends its own session', async () => {
    // Found by the soak: state made after a spoofed notification was never freed (worker RSS +2.5 MiB/min).
    const raw = new Dealer({ linger: 0, receiveTimeout: 5000 });
    raw.connect(worker.endpoint);
    const ask = async (body: Record<string, unknown>) => {
      await raw.send(encodeMessage({ ...body, v: PROTOCOL_VERSION }));
      const [h] = await raw.receive();
      return decodeHeaderObject(h!) as { kind: string; message?: string };
    };
    const alloc = (seq: number, id: number) => ask({ kind: 'alloc', id, seq, nLayers: cfg.nLayers, kvHeads: [0, 1], headDim: cfg.headDim, capacity: 16, posBase: 0, dtype: 'f32', nHeadsPerKv: 2 });
    const logged = worker.log.length;
    try {
      expect((await alloc(1, 1)).kind).toBe('ok');
      await raw.send([Buffer.alloc(0)]);
      await until(() => worker.log.slice(logged).some((l) => /disconnected: freed its 1 shard$/.test(l)), 10_000, 'the spoof drops its own shard');
      const refused = await alloc(2, 2);
      expect(refused.kind).toBe('error');
      expect(refused.message).toMatch(/this connection was reported closed .*reconnect/);
      await raw.send([Buffer.alloc(0)]); // a second spoof changes nothing
      expect((await ask({ kind: 'ping', id: 3 })).kind).toBe('error');
    } finally {
      raw.close();
    }
    // Another client is served as before.
    const { g, w } = await coordinatorGpu('coordE');
    const link = await connectRank(worker.endpoint, { name: 'after-spoof' });
    try { expect((await pooledRun(g, w, link)).tokens).toEqual(reference); } finally { await link.close(); }
  });

  it('silent but connected, with --client-idle-s 1: its shards are freed after a second', async () => {
    const w2 = await startWorker(['--client-idle-s', '1']);
    const link = await connectRank(w2.endpoint, { name: 'silent' });
    try {
      for (const seq of [4, 9, 11]) {
        await link.request({ kind: 'alloc', seq, nLayers: cfg.nLayers, kvHeads: [0, 1], headDim: cfg.headDim, capacity: 64, posBase: 0, dtype: 'f32', nHeadsPerKv: 2 });
      }
      const t0 = performance.now();
      await until(() => w2.log.some((l) => /idle for \d+ s: freed its 3 shards/.test(l)), 10_000, 'idle expiry');
      expect(performance.now() - t0).toBeGreaterThan(500);
      // A later request from it finds nothing: it must allocate again (the pool then falls back or re-places).
      const err = await link.request({ kind: 'free', seq: 4 }).then(() => 'ok', (e: unknown) => String(e));
      expect(err).toBe('ok'); // freeing what is gone is not an error
    } finally {
      await link.close();
      await stopWorker(w2);
    }
  });
});

describe('a budget per client (--max-client-mb)', () => {
  const alloc = (link: RankLink, seq: number, capacity: number) => link.request({
    kind: 'alloc', seq, nLayers: cfg.nLayers, kvHeads: [0, 1], headDim: cfg.headDim, capacity, posBase: 0, dtype: 'f32', nHeadsPerKv: 2,
  });
  const refusal = (p: Promise<unknown>) => p.then(() => 'allocated', (e: unknown) => (e instanceof RankRemoteError ? e.message : `not a RankRemoteError: ${String(e)}`));

  it('a worker refuses a shard beyond a client\'s budget, naming it; freed shards return their bytes; other clients have their own', async () => {
    // A shard of 2048 positions: 2 layers × K and V × 1 kv head × 2048 × 16 × 4 B = 512 KiB (+ its decode scratch).
    const w = await startWorker(['--max-client-mb', '1']);
    const a = await connectRank(w.endpoint, { name: 'A' }), b = await connectRank(w.endpoint, { name: 'B' });
    try {
      await alloc(a, 1, 2048);
      expect(await refusal(alloc(a, 2, 2048))).toMatch(/ClientBudgetError: rank 0: alloc of seq 2 asks for 0\.5\d\d MiB; this client holds 0\.5\d\d MiB of its 1\.0 MiB budget \(worker --max-client-mb\)/);
      // 2 GiB asked: refused before anything is allocated (the worker would otherwise try).
      expect(await refusal(alloc(a, 3, 2 ** 23))).toMatch(/alloc of seq 3 asks for 2048\.0 MiB; this client holds 0\.5\d\d MiB of its 1\.0 MiB budget/);
      await alloc(b, 1, 2048); // B's budget is its own
      await alloc(a, 1, 2048); // allocating a sequence again replaces it: its old bytes are returned first
      await a.request({ kind: 'free', seq: 1 });
      await alloc(a, 2, 2048); // the freed shard's bytes are back in A's budget
      expect(await refusal(alloc(a, 4, 2048))).toMatch(/alloc of seq 4 asks for/);
      await a.request({ kind: 'free', seq: 2 });
      await alloc(a, 4, 2048);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await stopWorker(w);
    }
    expect(w.log.join('\n')).toMatch(/KV shards: at most 1 MiB per client/);
  });

  it('a coordinator whose alloc is refused counts it as that rank\'s fault for that sequence and falls back: single-device tokens', async () => {
    const { g, w } = await coordinatorGpu('coordBudget');
    const rg = await openGpu({ label: 'budget-rank' });
    const rank = new AttentionRank(rg, 0);
    // What each alloc took, from a run without a budget: the 30-token prompt's shard, then the 24-token one's.
    const held: number[] = [];
    const watch: RankHandler = async (m, t, c) => {
      const out = await rank.handler(m, t, c);
      if (m.kind === 'alloc') held.push(rank.heldBytes);
      return out;
    };
    try {
      const free = await pooledRun(g, w, inProcessLink('budget-rank', watch));
      expect(free.tokens).toEqual(reference);
      expect(free.stats.events.filter((e) => e.kind === 'fault')).toEqual([]);
      expect(held.slice(0, 2), 'seqs 0 and 2 each placed one shard').toHaveLength(2);
      expect(rank.heldBytes, 'every shard freed at the end').toBe(0);
      // Room for seq 0's shard and half of seq 2's: seq 2 is refused.
      const [s0, both] = held as [number, number];
      rank.maxClientBytes = s0 + Math.floor((both - s0) / 2);
      const r = await pooledRun(g, w, inProcessLink('budget-rank', rank.handler));
      expect(r.tokens).toEqual(reference);
      const events = JSON.parse(JSON.stringify(r.stats.events)) as { seq: number; kind: string; detail: string }[];
      const faults = events.filter((e) => e.kind === 'fault');
      expect(faults, JSON.stringify(events)).toHaveLength(1);
      expect(faults[0]!.seq).toBe(2);
      expect(faults[0]!.detail).toMatch(/^budget-rank: RankRemoteError: .*ClientBudgetError: rank 0: alloc of seq 2 asks for [\d.]+ MiB; this client holds [\d.]+ MiB of its [\d.]+ MiB budget/);
      expect(r.stats.perSeq[0]!.poolSteps, 'seq 0 was on the pool before the refusal').toBeGreaterThan(0);
      // Nothing of seq 2 stays. Seq 0's shard may: a coordinator does not free on a rank it counts as failed (a worker
      // frees it when that client disconnects, or with --client-idle-s).
      expect(rank.heldBytes).toBeLessThanOrEqual(s0);
    } finally {
      rank.dispose();
      rg.destroy();
    }
  });
});

describe('worker options', () => {
  it('--max-message-mb, --client-idle-s and --max-client-mb are checked (exit 2, one line); --help names them', () => {
    for (const [args, msg] of [
      [['--max-message-mb', '0'], /--max-message-mb must be an integer in \[1, 4096\], got '0'/],
      [['--max-message-mb', '1e3'], /--max-message-mb must be an integer/],
      [['--client-idle-s=-5'], /--client-idle-s must be an integer in \[0, 604800\], got '-5'/],
      [['--max-client-mb', '1.5'], /--max-client-mb must be an integer in \[0, 16777216\], got '1\.5'/],
      [['--max-client-mb=-1'], /--max-client-mb must be an integer in \[0, 16777216\], got '-1'/],
      [['--gpu', '0000:42:00.0'], /--gpu 0000:42:00\.0: no PCI device at 0000:42:00\.0/],
    ] as [string[], RegExp][]) {
      const r = spawnSync(process.execPath, [ENTRY, 'worker', '--listen', 'tcp://127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const help = spawnSync(process.execPath, [ENTRY, 'worker', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
    for (const flag of ['--max-message-mb', '--client-idle-s', '--max-client-mb N']) expect(help.stdout).toContain(flag);
  });
});

describe('a cluster with a dead endpoint', () => {
  it('tolerant connect: the live member in well under the handshake timeout, the dead one reported', async () => {
    const entries: ClusterEntry[] = [
      { endpoint: worker.endpoint, name: 'alive' },
      { endpoint: 'tcp://127.0.0.1:1', name: 'dead' },
      { endpoint: `ipc://${join(tmp, 'nobody.sock')}`, name: 'ghost' },
    ];
    const dropped: string[] = [];
    const t0 = performance.now();
    const members = await connectMembers(entries, { timeoutMs: 1000, tolerate: true, onDrop: (e, err) => { expect(err).toBeInstanceOf(ClusterError); dropped.push(`${e.name}: ${err.message}`); } });
    const ms = performance.now() - t0;
    try {
      expect(members.map((m) => m.name)).toEqual(['alive']);
      expect(members[0]!.pid).toBe(worker.proc.pid);
      expect(dropped).toHaveLength(2);
      expect(dropped.join('\n')).toMatch(/dead: pool worker dead: .*no rank answering/);
      expect(ms, 'one handshake timeout, in parallel (not 30 s)').toBeLessThan(5000);
      expect(HANDSHAKE_MS).toBeLessThanOrEqual(3000);
    } finally {
      await Promise.all(members.map((m) => m.link.close()));
    }
    // Not tolerant (the default): all or nothing, as before.
    await expect(connectMembers(entries, { timeoutMs: 500 })).rejects.toThrow(ClusterError);
    // Nobody alive: an empty pool, for the caller to judge.
    expect(await connectMembers(entries.slice(1), { timeoutMs: 300, tolerate: true })).toEqual([]);
  });
});
