// Builds what runs the model for the CLI: one device, FA Pool (base + attention pool ranks in this
// process, in worker processes, or both), or the static TP × PP baseline. Each runner knows how to
// describe where attention ran and how to let go of its devices and processes.
import { openGpu, type DType, type Gpu } from '../gpu/index.js';
import type { ModelConfig } from '../model/config.js';
import { Generator, type GenerateOptions, type GenerateResult } from '../model/generator.js';
import { loadWeights, type LoadProgress } from '../model/load-weights.js';
import type { SafetensorsFile } from '../model/safetensors-node.js';
import { releaseWeights } from '../model/weights.js';
import { AttentionRank } from '../orchestrator/attention-rank.js';
import { connectCluster } from '../orchestrator/cluster.js';
import { inProcessLink } from '../orchestrator/link.js';
import { PAPER_TIERS, parseTiers, validatePolicy, type RoutingPolicy } from '../orchestrator/policy.js';
import { PoolExecutor, type PoolMember, type PoolStats } from '../orchestrator/pool-executor.js';
import { listLocalGpus, spawnLocalWorkers } from '../orchestrator/spawn.js';
import { parsePlacement, StaticParallelGenerator } from '../orchestrator/static-parallel.js';
import type { CliOptions } from './args.js';

export interface Runner {
  generate(prompts: number[][], o: GenerateOptions): Promise<GenerateResult>;
  /** Where each sequence's attention ran, and the pool's events (JSON-friendly). */
  report(): { strategy: string; ranks: string[]; perSeq?: PoolStats['perSeq']; events?: PoolStats['events']; split?: Record<string, number> };
  dispose(): Promise<void>;
}

export function policyFrom(o: CliOptions): RoutingPolicy {
  const p = { threshold: o.threshold, tiers: o.tiers ? parseTiers(o.tiers) : PAPER_TIERS.map((t) => ({ ...t })) };
  // The first tier ends at the threshold: below it nothing goes to the pool.
  if (!o.tiers) p.tiers[0] = { maxLen: o.threshold, poolSize: 0 };
  if (!o.tiers) p.tiers = p.tiers.filter((t, i) => i === 0 || t.maxLen > o.threshold);
  validatePolicy(p);
  return p;
}

export async function buildRunner(o: CliOptions, gpu: Gpu, cfg: ModelConfig, file: SafetensorsFile, dtype: DType, onLoad: LoadProgress, log: (m: string) => void): Promise<Runner> {
  if (o.strategy === 'static') {
    const placement = parsePlacement(o.placement);
    const gpus = [gpu];
    for (let i = 1; i < placement.tp * placement.pp; i++) gpus.push(await openGpu({ label: `static${i}`, f16: dtype === 'f16' }));
    const gen = await StaticParallelGenerator.create(gpus, cfg, file, dtype, placement, (d, t) => onLoad(d, t, ''));
    return {
      generate: (p, g) => gen.generate(p, g),
      report: () => ({ strategy: `static tp=${placement.tp} pp=${placement.pp}`, ranks: gpus.map((g) => g.label), split: { ...gen.stats } }),
      dispose: async () => { gen.dispose(); for (const g of gpus.slice(1)) g.destroy(); },
    };
  }
  const { weights, extras } = await loadWeights(gpu, file, cfg, dtype, onLoad);
  if (extras.length) log(`note: ${extras.length} tensors in the file are not used (${extras.slice(0, 5).join(', ')}${extras.length > 5 ? ', …' : ''})`);
  const members: PoolMember[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  for (let i = 0; i < o.pool; i++) {
    const g = await openGpu({ label: `pool${i}`, f16: dtype === 'f16' });
    const rank = new AttentionRank(g, i);
    members.push({ link: inProcessLink(`pool${i} (in-process)`, rank.handler), alive: true });
    cleanups.push(() => { rank.dispose(); g.destroy(); });
  }
  if (o.cluster) members.push(...await connectCluster(o.cluster, { timeoutMs: o.deadlineMs }));
  if (o.spawn) {
    const gpus = o.spawn === 'auto' ? listLocalGpus().slice(1) : o.spawn.startsWith('none:') ? Array(Number(o.spawn.slice(5))).fill('none') : o.spawn.split(',');
    if (gpus.length === 0) log('note: --spawn auto found no second GPU; no workers started');
    const w = await spawnLocalWorkers(gpus, { onLog: (i, line) => log(`[worker ${i}] ${line}`) });
    members.push(...w.members);
    cleanups.push(() => w.close());
  }
  const exec = members.length ? new PoolExecutor(members, policyFrom(o), { deadlineMs: o.deadlineMs }) : undefined;
  const gen = new Generator(gpu, cfg, weights, dtype, exec);
  if (members.length) log(`attention pool: ${members.map((m) => m.link.name).join(', ')}; threshold ${o.threshold} tokens`);
  return {
    generate: (p, g) => gen.generate(p, g),
    report: () => ({
      strategy: members.length ? 'fapool' : 'single device', ranks: [gpu.label, ...members.map((m) => m.link.name)],
      ...(exec ? { perSeq: exec.stats.perSeq, events: exec.stats.events, split: { poolWaitMs: exec.stats.poolWaitMs, transferMs: exec.stats.transferMs, migrateMs: exec.stats.migrateMs, pooledSteps: exec.stats.steps } } : {}),
    }),
    dispose: async () => {
      gen.dispose();
      exec?.dispose(gpu);
      releaseWeights(gpu, weights);
      for (const c of cleanups.reverse()) await c();
    },
  };
}
