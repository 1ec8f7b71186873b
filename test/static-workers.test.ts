// The static TP × PP baseline across processes on lavapipe: rank 0 in this process, the other ranks in
// `run-inference.js worker` processes over ZeroMQ (ipc), each loading its share of the tiny model from the
// file. Placements 2×1, 1×2 and 2×2 give the single-device Generator's greedy tokens and first-token
// logits; a rank SIGKILLed mid-generation fails the generation with an error naming it, without hanging. A cluster
// file's static ranks: only the entries the placement uses are connected; errors name the static rank, not its ids.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../src/gpu/index.js';
import { presetConfig } from '../src/model/config.js';
import type { GenerateResult } from '../src/model/generation.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors, type SafetensorsFile } from '../src/model/safetensors-node.js';
import { openWeightsFile, weightsFingerprint } from '../src/model/safetensors-sharded.js';
import { releaseWeights } from '../src/model/weights.js';
import type { StaticPlacement } from '../src/orchestrator/baselines/placement.js';
import { StaticParallelGenerator } from '../src/orchestrator/baselines/static-parallel.js';
import type { StaticRankHandle } from '../src/orchestrator/baselines/static-rank.js';
import { remoteRank } from '../src/orchestrator/baselines/static-remote.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { spawnLocalWorkers, type LocalWorkers } from '../src/orchestrator/transport/spawn.js';
import { compare, expectGreedyAgree, rng, useGpu } from './helpers.js';
import { refWeights } from './random-config.js';
import type { RefWeights } from './ref/model.js';
import { privateDist, within } from './private-dist.js';

const cfg = presetConfig('tiny');
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const NEW = 10;
const dist = privateDist('static-workers');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-static-workers-'));
const path = join(tmp, 'tiny.safetensors');
const gpu = useGpu();
let g: Gpu;
let file: SafetensorsFile;
let workers: LocalWorkers;
let prompts: number[][];
let reference: GenerateResult;
let seed: number;
let weightSeed: number;
let fingerprint: string;
let ref64: RefWeights;

beforeAll(async () => {
  await dist.build();
  const starting = spawnLocalWorkers(['none', 'none', 'none'], { entry: dist.ENTRY });
  const r = rng();
  seed = r.seed;
  weightSeed = r.int(1, 2 ** 30);
  await writeRandomWeights(path, cfg, { seed: weightSeed, dtype: 'f32' });
  file = await openSafetensors(path);
  const wf = await openWeightsFile(path);
  fingerprint = await weightsFingerprint(wf);
  await wf.close();
  ref64 = await refWeights(path, cfg);
  prompts = [r.int(10, 30), 1, r.int(3, 9)].map((n) => Array.from({ length: n }, () => r.int(0, cfg.vocab)));
  g = await gpu();
  const { weights } = await loadWeights(g, file.source(), cfg, 'f32');
  const gen = new Generator(g, cfg, weights, 'f32');
  reference = await gen.generate(prompts, { maxNewTokens: NEW, sampling: GREEDY, captureLogits: true });
  gen.dispose();
  releaseWeights(g, weights);
  workers = await starting;
}, 120_000);
afterAll(async () => {
  await workers?.close();
  await file?.close();
  rmSync(dist.BUILD, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

/** Rank 0 here, ranks 1.. on the first workers. */
async function acrossProcesses(p: StaticPlacement): Promise<StaticParallelGenerator> {
  const remote: StaticRankHandle[] = [];
  for (let i = 1; i < p.tp * p.pp; i++) {
    remote.push(await remoteRank(workers.members[i - 1]!.link, { path, fingerprint, cfg, dtype: 'f32', placement: p, index: i, timeoutMs: 20_000 }));
  }
  return StaticParallelGenerator.create([g], cfg, file.source(), 'f32', p, undefined, remote);
}

describe('static TP × PP over worker processes', () => {
  for (const p of [{ tp: 2, pp: 1 }, { tp: 1, pp: 2 }, { tp: 2, pp: 2 }]) {
    it(`tp=${p.tp},pp=${p.pp}: same greedy tokens and first-token logits as one device`, async () => {
      const gen = await acrossProcesses(p);
      const res = await gen.generate(prompts, { maxNewTokens: NEW, sampling: GREEDY, captureLogits: true, prefillChunk: 7 });
      const stats = { ...gen.stats }, names = gen.rankNames;
      await gen.dispose();
      // Not the same bits: tp > 1 sums the ranks' partials in another order, and the prompts go in chunks of 7 (the
      // reference's in one: other kernels), so the paths may part at a near-tie.
      expectGreedyAgree(cfg, ref64, prompts, res.tokens, reference.tokens, `seed ${seed} tp=${p.tp},pp=${p.pp}`);
      prompts.forEach((_, b) => expect(compare(res.firstLogits![b]!, reference.firstLogits![b]!).rel, `seq ${b}`).toBeLessThan(1e-5));
      expect(names.slice(1)).toEqual(workers.members.slice(0, p.tp * p.pp - 1).map((m) => m.link.name));
      expect(stats.steps).toBe(NEW - 1);
      if (p.tp > 1) expect(stats.allReduces).toBeGreaterThanOrEqual(2 * cfg.nLayers * (NEW - 1));
    }, 60_000);
  }

  it('a worker asked for a rank it cannot load answers a clear error (bad path, bad config)', async () => {
    const link = workers.members[0]!.link;
    await expect(remoteRank(link, { path: join(tmp, 'missing.safetensors'), fingerprint, cfg, dtype: 'f32', placement: { tp: 2, pp: 1 }, index: 1 }))
      .rejects.toThrow(/^static rank 1 \(worker0@none\) failed loading its share of the weights: the rank answered: StaticRankError: static_load: this worker cannot open .*missing\.safetensors \(a static rank reads the weights at the lead's path/);
    await expect(remoteRank(link, { path, fingerprint, cfg: { ...cfg, hidden: -1 }, dtype: 'f32', placement: { tp: 2, pp: 1 }, index: 1 }))
      .rejects.toThrow(/model config is not valid: .*hidden must be a positive integer/);
    await expect(remoteRank(link, { path, fingerprint, cfg, dtype: 'f32', placement: { tp: 2, pp: 1 }, index: 2 }))
      .rejects.toThrow(/rank 2 is outside tp·pp = 2/);
    // Other weights of the same shape at the lead's path on the worker's host (another seed): refused, not loaded.
    const other = join(tmp, 'other.safetensors');
    await writeRandomWeights(other, cfg, { seed: weightSeed + 1, dtype: 'f32' });
    await expect(remoteRank(link, { path: other, fingerprint, cfg, dtype: 'f32', placement: { tp: 2, pp: 1 }, index: 1 }))
      .rejects.toThrow(/holds other weights than the lead's \(their fingerprints differ\)/);
    await expect(link.request({ kind: 'static_continue' }, [{ dtype: 'f32', shape: [1, cfg.hidden], data: new Float32Array(cfg.hidden) }]))
      .rejects.toThrow(/no static rank loaded here/);
  });

  it('a cluster file: only the entries the placement uses are connected (a dead one past them is noted); a dead one it uses fails, named', async () => {
    const live = workers.members[0]!.endpoint, dead = 'tcp://127.0.0.1:1';
    const clusterFile = (name: string, pool: object[]) => { const f = join(tmp, name); writeFileSync(f, JSON.stringify({ pool })); return f; };
    const engine = (cluster: string, log: string[]) => createEngine({
      model: path, dtype: 'f32', strategy: 'static', placement: 'tp=2', pool: { cluster, connectTimeoutMs: 300 }, log: (l) => log.push(l),
    });
    // tp=2 needs one worker: the first entry. The dead one after it was connected too, and failed the start.
    const log: string[] = [];
    const e = await engine(clusterFile('live-dead.json', [{ endpoint: live }, { endpoint: dead, name: 'spare' }]), log);
    try {
      expect(log).toContain(`note: static placement tp=2,pp=1 uses 1 of the 2 workers in ${join(tmp, 'live-dead.json')}; not connected: "spare" at ${dead}`);
      const done = await e.run({ prompts: [prompts[0]!], maxNewTokens: 3, stopAtEos: false });
      expectGreedyAgree(cfg, ref64, [prompts[0]!], done.result.tokens, [reference.tokens[0]!.slice(0, 3)], `seed ${seed} cluster tp=2`);
      expect(done.placement.ranks).toEqual(['base', live]);
    } finally {
      await e.dispose();
    }
    // The dead entry first: the rank that needs it fails, named as the static rank with its endpoint (it was
    // "pool worker …: RankDeadError: …: ping #0: no reply …").
    const first = clusterFile('dead-live.json', [{ endpoint: dead }, { endpoint: live }]);
    await expect(engine(first, [])).rejects.toThrow(new RegExp(`^static rank 1 \\(tcp://127\\.0\\.0\\.1:1\\): no rank answering at tcp://127\\.0\\.0\\.1:1 ` +
      `\\(no reply within 300 ms\\) \\(ranks take .*dead-live\\.json's entries in order; 1 more is listed after them\\)$`));
  }, 60_000);

  it('a rank SIGKILLed mid-generation: the generation fails naming it, no hang', async () => {
    const victim = workers.members[1]!, proc: ChildProcess = workers.processes[1]!;
    const gen = await acrossProcesses({ tp: 2, pp: 2 });
    const t0 = performance.now();
    const err = await within(gen.generate(prompts, {
      maxNewTokens: NEW, sampling: GREEDY,
      onToken: (_s, _t, step) => { if (step === 3) proc.kill('SIGKILL'); },
    }).then(() => null, (e: unknown) => e as Error), 30_000, 'generate after a rank died');
    expect(err, 'the generation must fail').toBeInstanceOf(Error);
    expect(err!.message).toContain(victim.link.name);
    // Named as the static rank it is (index 2 of 2×2), without the link's request ids ("static_start #369").
    expect(err!.message).toMatch(new RegExp(`^static rank 2 \\(${victim.link.name}\\) failed [a-z ]+: `));
    expect(err!.message).not.toMatch(/#\d|pool worker/);
    expect(err!.name).toMatch(/RankDeadError|RankTimeoutError/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    // The dead rank is known as such (the server's /health answers 503 from it); the others still answer.
    expect(gen.rankHealth.filter((r) => !r.alive).map((r) => r.name)).toEqual([victim.link.name]);
    await gen.dispose();
  }, 60_000);
});
