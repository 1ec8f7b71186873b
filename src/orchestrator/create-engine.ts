// Building an engine in Node from options: bind this process to its GPU, find the model (a file, a folder, or a
// preset's deterministic random weights), load it, and set up the strategy — one device, FA Pool (attention
// pool ranks in this process, in worker processes, or on other hosts), or the static TP × PP baseline.
import { checkOptionKeys, defaultDType, describeCaps, isSoftwareAdapter, openGpu, shown, type DType, type Gpu, type PipelineMode } from '../gpu/index.js';
import { DeviceLostError, GpuValidationError, InputError } from '../gpu/errors.js';
import { applyGpuBinding, checkPciDevice, planGpuBinding } from '../gpu/select.js';
import { checkKernelSwitches } from '../kernels/env-switches.js';
import { decodeAppendMode } from '../model/device-model.js';
import { loadWeights, type LoadProgress } from '../model/load-weights.js';
import { readPacingEnabled } from '../model/read-pacer.js';
import { DEFAULT_PRESET, resolveModel, type ModelSource } from '../model/model-files.js';
import { weightsFingerprint } from '../model/safetensors-sharded.js';
import { releaseWeights } from '../model/weights.js';
import { StaticParallelGenerator } from './baselines/static-parallel.js';
import { checkPlacement, parsePlacement, PlacementError, placementStr, type StaticPlacement } from './baselines/placement.js';
import { remoteRank } from './baselines/static-remote.js';
import type { StaticRankHandle } from './baselines/static-rank.js';
import { Engine, localEngine, type PlacementReport } from './engine.js';
import type { SchedulerOptions } from './scheduler.js';
import { AttentionRank } from './pool/attention-rank.js';
import { parseTiers, resolveRouting, type PoolPrefill, type PoolTier, type RoutingPolicy } from './pool/policy.js';
import { PoolAttention, type PoolMember } from './pool/pool-attention.js';
import { ClusterError, connectCluster, connectMembers, HANDSHAKE_MS, readCluster, type ClusterEntry } from './transport/cluster.js';
import { deferredLink, inProcessLink, type RankHandler, type RankLink } from './transport/link.js';
import { listLocalGpus, spawnLocalWorkers } from './transport/spawn.js';
import { connectRank, setBusyPollFor } from './transport/zmq-link.js';

export interface PoolOptions {
  /** Attention-pool ranks inside this process (each its own GPUDevice on this adapter unless sharedDevice: tests, one-GPU runs). */
  inProcess?: number;
  /**
   * The in-process ranks use this process's own GPUDevice instead of one each (default false). On one GPU two
   * devices make the GPU switch between their contexts twice a pooled layer: on the H200 that is ≈ 0.35 ms of a
   * pooled layer's 0.7 (kernels-bench/NOTES.md, session 22). The ranks' K/V then count in the base's memory, and a GPU
   * error their work meets ends the run as the base's would (there is one device), instead of failing over.
   */
  sharedDevice?: boolean;
  /** A cluster file listing worker endpoints ({"pool": [{"endpoint": "tcp://host:port"}]}). */
  cluster?: string;
  /** Start worker processes: PCI addresses (comma-separated), "auto" (every GPU but the first) or "none:N". */
  spawn?: string;
  /**
   * ms a rank may take to answer a request before its sequences fall back to the base (static baseline: before a worker
   * rank's silence fails the run). Unset: the link's DEFAULT_TIMEOUT_MS, 60 s; the command line passes its --deadline, 30 s.
   */
  deadlineMs?: number;
  /**
   * ms a worker may take to answer the connect handshake (ping, hello), and a failed pool rank a rejoin probe;
   * independent of deadlineMs (default: HANDSHAKE_MS, 3 s, for the pool's cluster workers and probes; 10 s where a
   * worker that does not answer fails the start: spawned workers, the static baseline's).
   */
  connectTimeoutMs?: number;
  /**
   * ms from a pool rank's failure to its first probe; each failed probe doubles the wait up to rejoinBackoffMaxMs
   * (defaults 1 s and 30 s; PoolAttentionOptions). A rank that answers takes new sequences again.
   */
  rejoinBackoffMs?: number;
  rejoinBackoffMaxMs?: number;
  /** Keep a copy of pooled sequences' caches on the base too (default off: the pool holds them). */
  replica?: boolean;
  /**
   * Micro-batch ping-pong: decode steps run as two micro-batches, the base computing one while the pool answers
   * for the other (default off: it reads the weights twice per step, which pays only when the pool's round trip
   * is longer than a micro-batch's layer).
   */
  pingPong?: boolean;
  /** Where a prompt longer than the threshold is prefilled: 'local' (default) or 'pool' (PoolAttentionOptions.prefill). */
  prefill?: PoolPrefill;
}

export interface EngineOptions extends Partial<ModelSource> {
  /** f32 or f16 (default f16 when the GPU has shader-f16 and is not a CPU adapter). */
  dtype?: DType;
  /** 'fapool' (default: attention of long sequences on the pool when there is one) or 'static' (TP × PP). */
  strategy?: 'fapool' | 'static';
  pool?: PoolOptions;
  /** Sequences longer than `threshold` tokens attend on the pool; pool size by length from `tiers`. */
  policy?: { threshold?: number; tiers?: string | PoolTier[] };
  /**
   * The static baseline's degrees ('tp=2,pp=2' or an object). Rank 0 runs in this process; the others in the
   * worker processes of pool.spawn / pool.cluster (one per GPU), or, without workers, on more devices of this
   * process's adapter.
   */
  placement?: string | StaticPlacement;
  /** This process's GPU: a PCI address or nvidia-smi index (multi-GPU hosts), or 'auto'. */
  gpu?: string;
  onLoad?: LoadProgress;
  log?: (line: string) => void;
  /**
   * How precompile creates pipelines: 'async' (all in flight at once, the default) or 'sync' (one after another,
   * the old path, for comparison). Default: the FAPOOL_PIPELINES environment variable, else 'async'.
   */
  pipelines?: PipelineMode;
  /** Continuous batching of submitted requests (a server's): batch slots, context per slot, prefill chunk. */
  schedule?: SchedulerOptions;
}

/** The routing policy of `policy` options (resolveRouting's rules; the command line warns about what it notes). */
export function routingPolicy(o: EngineOptions['policy'] = {}): RoutingPolicy {
  return resolveRouting(o.threshold, typeof o.tiers === 'string' ? parseTiers(o.tiers) : o.tiers).policy;
}

/** FAPOOL_PIPELINES=sync|async (device rounds compare the two in separate processes). */
export function pipelineModeFromEnv(value = process.env.FAPOOL_PIPELINES): PipelineMode {
  if (value === undefined || value === '' || value === 'async') return 'async';
  if (value === 'sync') return 'sync';
  throw new InputError(`FAPOOL_PIPELINES must be 'async' or 'sync', got ${JSON.stringify(value)}`);
}

/** Open this process's GPU, load the model and build the strategy. */
/**
 * A continuous batch's rows against the device before anything loads: RMSNorm and the sampler launch one workgroup
 * per row of a decode step or a prefill chunk in one dispatch dimension (a row more failed in the kernel, after the
 * model had loaded).
 */
export function checkScheduleFits(s: SchedulerOptions | undefined, maxWorkgroupsPerDim: number): void {
  for (const [k, v, what] of [['maxBatch', s?.maxBatch, 'sequences'], ['prefillChunk', s?.prefillChunk, 'prompt tokens a chunk']] as const) {
    if (v !== undefined && v > maxWorkgroupsPerDim) {
      throw new InputError(`schedule.${k} ${v} (serve --${k === 'maxBatch' ? 'max-batch' : 'prefill-chunk'}): a launch takes one workgroup per row in one dispatch dimension, and this GPU allows ` +
        `${maxWorkgroupsPerDim}; at most ${maxWorkgroupsPerDim} ${what}`);
    }
  }
}

// Every option, once: `satisfies` fails the build when an interface gains one the list lacks (it would be refused).
const ENGINE_KEYS = Object.keys({
  model: 1, config: 1, preset: 1, init: 1, seed: 1, onInit: 1, dtype: 1, strategy: 1, pool: 1, policy: 1, placement: 1, gpu: 1, onLoad: 1,
  log: 1, pipelines: 1, schedule: 1,
} satisfies Record<keyof EngineOptions, 1>);
const POOL_KEYS = Object.keys({
  inProcess: 1, sharedDevice: 1, cluster: 1, spawn: 1, deadlineMs: 1, connectTimeoutMs: 1, rejoinBackoffMs: 1, rejoinBackoffMaxMs: 1,
  replica: 1, pingPong: 1, prefill: 1,
} satisfies Record<keyof PoolOptions, 1>);
const POLICY_KEYS = Object.keys({ threshold: 1, tiers: 1 } satisfies Record<keyof NonNullable<EngineOptions['policy']>, 1>);
const SCHEDULE_KEYS = Object.keys({ maxBatch: 1, maxContext: 1, prefillChunk: 1 } satisfies Record<keyof SchedulerOptions, 1>);

/** The static baseline's degrees the options give (one rank where they give none). */
function placementOf(o: EngineOptions): StaticPlacement {
  return typeof o.placement === 'string' ? parsePlacement(o.placement) : o.placement ?? { tp: 1, pp: 1 };
}

/**
 * Options createEngine would ignore, refused (a misspelt key, strategy 'Static', a placement without the static
 * strategy, FA Pool options under it) — as the command line refuses them; values the command line always passes
 * (placement tp=1,pp=1, no in-process ranks) are not a conflict.
 */
export function checkEngineOptions(o: EngineOptions): void {
  checkOptionKeys(o, ENGINE_KEYS, 'createEngine options');
  checkOptionKeys(o.pool, POOL_KEYS, 'pool');
  checkOptionKeys(o.policy, POLICY_KEYS, 'policy');
  checkOptionKeys(o.schedule, SCHEDULE_KEYS, 'schedule');
  if (o.strategy !== undefined && o.strategy !== 'fapool' && o.strategy !== 'static') throw new InputError(`strategy must be 'fapool' or 'static', got ${shown(o.strategy)}`);
  // Values checked before the GPU opens: 'zeros' ran random weights, '' meant "none", a seed of 1.5 failed after the load.
  if (o.init !== undefined && o.init !== 'random') throw new InputError(`init must be 'random', got ${shown(o.init)}`);
  for (const k of ['model', 'config', 'preset'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) throw new InputError(`${k} must be a non-empty string, got ${shown(o[k])}`);
  }
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) {
    throw new InputError(`seed must be an integer in 0..4294967295, got ${shown(o.seed)}`);
  }
  if (o.dtype !== undefined && o.dtype !== 'f32' && o.dtype !== 'f16') throw new InputError(`dtype must be 'f32' or 'f16', got ${shown(o.dtype)}`);
  const placement = placementOf(o);
  if (o.strategy !== 'static' && placement.tp * placement.pp > 1) {
    throw new InputError(`placement ${placementStr(placement)} sets the static baseline's degrees: add strategy: 'static'`);
  }
  if (o.strategy === 'static') {
    const p = o.pool ?? {};
    const fapoolOnly = [p.inProcess ? 'pool.inProcess' : '', p.sharedDevice ? 'pool.sharedDevice' : '', p.replica ? 'pool.replica' : '', p.pingPong ? 'pool.pingPong' : '',
      p.prefill === 'pool' ? 'pool.prefill' : '', p.rejoinBackoffMs !== undefined ? 'pool.rejoinBackoffMs' : '', p.rejoinBackoffMaxMs !== undefined ? 'pool.rejoinBackoffMaxMs' : '',
      o.policy?.tiers !== undefined ? 'policy.tiers' : ''].filter(Boolean);
    if (fapoolOnly.length) throw new InputError(`${fapoolOnly.join(', ')}: FA Pool options; strategy 'static' places ranks 1.. in pool.spawn / pool.cluster workers, or in this process without them`);
  }
}

export async function createEngine(o: EngineOptions = {}): Promise<Engine> {
  checkEngineOptions(o);
  // Every kernel and model switch now, not when (or whether) the kernel it picks is first built.
  checkKernelSwitches();
  decodeAppendMode();
  readPacingEnabled();
  const log = o.log ?? (() => {});
  const policy = routingPolicy(o.policy); // before anything loads: a contradiction in it is the caller's
  const binding = planGpuBinding(o.gpu ?? 'auto');
  if (binding.pci) checkPciDevice(binding.pci, o.gpu ?? 'auto');
  applyGpuBinding(binding);
  for (const w of binding.warnings) log(`warning: ${w}`);
  const pipelines = o.pipelines ?? pipelineModeFromEnv();
  const gpu = await openGpu({ label: 'base', f16: o.dtype !== 'f32' }); // the base group's device: the report's first rank
  gpu.pipelines = pipelines;
  setBusyPollFor(isSoftwareAdapter(gpu.caps)); // the links to workers made below
  const cleanups: (() => Promise<void> | void)[] = [() => gpu.destroy()];
  const cleanup = async () => { for (const c of cleanups.reverse()) await c(); cleanups.length = 0; };
  try {
    const dtype: DType = o.dtype ?? defaultDType(gpu.caps);
    if (dtype === 'f16' && !gpu.caps.f16) throw new InputError('dtype f16 needs shader-f16, which this GPU lacks; use f32');
    if (dtype !== 'f32' && dtype !== 'f16') throw new InputError(`dtype must be f32 or f16, got ${dtype}`);
    checkScheduleFits(o.schedule, gpu.caps.maxWorkgroupsPerDim);
    log(`gpu: ${describeCaps(gpu.caps)}`);
    const m = await resolveModel({ preset: o.preset ?? DEFAULT_PRESET, seed: o.seed ?? 0, model: o.model, config: o.config, init: o.init, onInit: o.onInit, log }, dtype);
    const cfg = m.config;
    log(`model: ${cfg.name} (${cfg.nLayers} layers, hidden ${cfg.hidden}, ${cfg.nHeads}×${cfg.headDim} heads, ffn ${cfg.ffn}, vocab ${cfg.vocab}) from ${m.weightsPath}; config: ${m.configSource}; tokenizer: ${m.tokenizerSource}; dtype ${dtype}`);

    if (o.strategy === 'static') {
      const placement = placementOf(o);
      const n = placement.tp * placement.pp;
      checkPlacement(cfg, placement);
      // Rank 0 is this process; the others are worker processes (--spawn / --cluster) or, without any, more
      // devices of this process's adapter.
      const links = n > 1 ? await staticWorkers(o.pool ?? {}, placement, cleanups, log) : [];
      const gpus: Gpu[] = [gpu];
      if (links.length === 0) {
        for (let i = 1; i < n; i++) {
          const g = await openGpu({ label: `static${i}`, f16: dtype === 'f16' });
          gpus.push(g);
          cleanups.push(() => g.destroy());
        }
      }
      const remote: StaticRankHandle[] = [];
      try {
        const fingerprint = links.length ? await weightsFingerprint(m.file) : '';
        for (const [i, { link, label }] of links.entries()) {
          log(`static rank ${i + 1}: loading on ${link.name}`);
          remote.push(await remoteRank(link, { path: m.weightsPath, fingerprint, cfg, dtype, placement, index: gpus.length + i, timeoutMs: o.pool?.deadlineMs, label }));
        }
      } catch (e) {
        await m.file.close();
        throw e;
      }
      const gen = await StaticParallelGenerator.create(gpus, cfg, m.file.source(), dtype, placement, o.onLoad, remote).finally(() => m.file.close());
      cleanups.push(() => gen.dispose());
      return new Engine({
        executor: gen, config: cfg, dtype, tokenizer: m.tokenizer, device: describeCaps(gpu.caps),
        report: () => ({ strategy: `static ${placementStr(placement)}`, ranks: gen.rankNames, split: { ...gen.stats }, rankHealth: gen.rankHealth }),
        dispose: cleanup, schedule: o.schedule,
      });
    }

    const { weights, extras } = await loadWeights(gpu, m.file.source(), cfg, dtype, o.onLoad, m.file.header).finally(() => m.file.close());
    cleanups.push(() => releaseWeights(gpu, weights));
    if (extras.length) log(`note: ${extras.length} tensors in the file are not used (${extras.slice(0, 5).join(', ')}${extras.length > 5 ? ', …' : ''})`);
    const dropped: string[] = [];
    const poolGpus: Gpu[] = [];
    const members = await poolMembers(o.pool ?? {}, gpu, dtype, cleanups, log, dropped, poolGpus);
    if (members.length === 0) return localEngine({ gpu, config: cfg, weights, dtype, tokenizer: m.tokenizer, dispose: cleanup, schedule: o.schedule });
    const po = o.pool ?? {};
    const pool = new PoolAttention(members, policy, {
      deadlineMs: po.deadlineMs, replica: po.replica, prefill: po.prefill,
      rejoinBackoffMs: po.rejoinBackoffMs, rejoinBackoffMaxMs: po.rejoinBackoffMaxMs, probeTimeoutMs: po.connectTimeoutMs ?? HANDSHAKE_MS,
    });
    cleanups.push(() => pool.dispose(gpu));
    // Cluster workers that did not answer at start: the pool runs without them; the report says so.
    pool.stats.events.push(...dropped.map((detail) => ({ step: 0, seq: -1, kind: 'fault' as const, detail })));
    log(`attention pool: ${members.map((mb) => mb.link.name).join(', ')}; threshold ${pool.policy.threshold} tokens`);
    const report = (): PlacementReport => ({
      strategy: 'fapool', ranks: [gpu.label, ...members.map((mb) => mb.link.name)],
      perSeq: pool.stats.perSeq, events: pool.stats.events,
      poolMembers: members.map((mb) => ({ name: mb.link.name, alive: mb.alive })),
      split: {
        poolWaitMs: pool.stats.poolWaitMs, transferMs: pool.stats.transferMs, migrateMs: pool.stats.migrateMs, pooledSteps: pool.stats.steps,
        prefillIntoPoolMs: pool.stats.prefillMs, prefillLayers: pool.stats.prefillLayers,
        prefillStreamLayers: pool.stats.stream.layers, prefillStreamBytes: pool.stats.stream.bytes, prefillStreamWaitMs: pool.stats.stream.waitMs,
        rebuilds: pool.stats.rebuilds, ...prefixed('layer.', pool.stats.layer),
        // GPU memory of the in-process ranks (KV shards, staging); worker processes report theirs in their logs.
        ...(poolGpus.length ? { poolGpuBytes: poolGpus.reduce((a, g) => a + g.liveBytes, 0) } : {}),
      },
    });
    return localEngine({ gpu, config: cfg, weights, dtype, tokenizer: m.tokenizer, placement: pool, report, dispose: cleanup, microBatches: o.pool?.pingPong, schedule: o.schedule });
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The pool's members: in-process ranks, a cluster file's workers, spawned worker processes. */
async function poolMembers(o: PoolOptions, base: Gpu, dtype: DType, cleanups: (() => Promise<void> | void)[], log: (l: string) => void,
  dropped: string[], gpus: Gpu[]): Promise<PoolMember[]> {
  const members: PoolMember[] = [];
  for (let i = 0; i < (o.inProcess ?? 0); i++) {
    const shared = o.sharedDevice === true;
    const g = shared ? base : await openGpu({ label: `pool${i}`, f16: dtype === 'f16' });
    const rank = new AttentionRank(g, i);
    if (!shared) gpus.push(g); // a shared device's bytes are the base's
    // On a shared device a GPU error is the device's: whichever side checks first takes it (Gpu.throwIfError).
    let deviceError: Error | null = null;
    const handler: RankHandler = shared
      ? (req, t, client) => rank.handler(req, t, client).catch((e: unknown) => {
        if (e instanceof GpuValidationError || e instanceof DeviceLostError) deviceError ??= e;
        throw e;
      })
      : rank.handler;
    members.push({
      link: inProcessLink(`pool${i} (in-process${shared ? ', base device' : ''})`, handler), alive: true, sameHost: true,
      ...(shared ? { deviceError: () => { const e = deviceError; deviceError = null; return e; } } : {}),
    });
    cleanups.push(() => { rank.dispose(); if (!shared) g.destroy(); });
  }
  members.push(...await poolWorkers(o, cleanups, log, dropped));
  return members;
}

const onThisHost = (endpoint: string): boolean => /^(ipc:\/\/|tcp:\/\/(127\.|localhost[:/]|\[::1\]))/.test(endpoint);

/**
 * The pool's worker processes: a cluster file's, then spawned ones. Cluster workers that do not answer are reported
 * in `dropped` and become members that are down, on a link that connects when the pool's probe reaches them (a worker
 * started after the pool joins it): the pool can run without a worker.
 */
async function poolWorkers(o: PoolOptions, cleanups: (() => Promise<void> | void)[], log: (l: string) => void, dropped: string[]): Promise<PoolMember[]> {
  const links: PoolMember[] = [];
  if (o.cluster) {
    // The handshake has its own timeout: deadlineMs bounds requests (a 1 ms deadline must not drop a healthy worker here).
    const timeoutMs = o.connectTimeoutMs ?? HANDSHAKE_MS, absent: ClusterEntry[] = [];
    const cluster = await connectCluster(o.cluster, {
      timeoutMs, tolerate: true,
      onDrop: (e, err) => { dropped.push(err.message); absent.push(e); log(`warning: ${err.message} (probed until it answers)`); },
    });
    const later = absent.map((e) => ({
      link: deferredLink(e.name, () => connectRank(e.endpoint, { name: e.name, connectTimeoutMs: timeoutMs })), sameHost: onThisHost(e.endpoint), alive: false,
    }));
    cleanups.push(() => Promise.all([...cluster, ...later].map((c) => c.link.close())).then(() => undefined));
    links.push(...cluster.map((c) => ({ link: c.link, sameHost: onThisHost(c.endpoint), alive: true, instance: c.instance })), ...later);
  }
  if (o.spawn) {
    const gpus = spawnGpus(o.spawn, log, 'the pool has no --spawn ranks');
    const w = await spawnLocalWorkers(gpus, { connectTimeoutMs: o.connectTimeoutMs, onLog: (i, line) => log(`[worker ${i}] ${line}`) });
    cleanups.push(() => w.close());
    links.push(...w.members.map((c) => ({ link: c.link, sameHost: true, alive: true })));
  }
  return links;
}

/** --spawn's GPUs: PCI addresses, every GPU but the first ('auto'), or none:N workers on the default adapter. */
function spawnGpus(spec: string, log: (l: string) => void, instead: string): string[] {
  if (spec.startsWith('none:')) return Array<string>(Number(spec.slice(5))).fill('none');
  if (spec !== 'auto') return spec.split(',');
  const all = listLocalGpus();
  // A warning (shown under --quiet), not a note: the run is not the one asked for.
  if (all.length < 2) log(`warning: --spawn auto found no second GPU (nvidia-smi lists ${all.length || 'none'}): no workers started; ${instead}`);
  return all.slice(1);
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
const named = (e: ClusterEntry): string => (e.name === e.endpoint ? e.endpoint : `"${e.name}" at ${e.endpoint}`);

/**
 * The static baseline's worker ranks, each a link and what its errors call it. A placement uses tp·pp − 1: the
 * cluster file's entries in order, then --spawn's GPUs. Only those are connected (or started), and each is required
 * (the error names the rank and its endpoint); the rest are left alone, with a note (a dead endpoint the placement
 * does not reach is no reason to fail). [] without workers: the ranks then run on more devices of this process.
 */
async function staticWorkers(o: PoolOptions, placement: StaticPlacement, cleanups: (() => Promise<void> | void)[],
  log: (l: string) => void): Promise<{ link: RankLink; label: string }[]> {
  const need = placement.tp * placement.pp - 1, where = `static placement ${placementStr(placement)}`;
  const entries = o.cluster ? readCluster(o.cluster) : [];
  // Without workers from --spawn the ranks come from the cluster file, else from more devices of this process's GPU.
  const instead = entries.length ? `${where} takes its ranks from ${o.cluster}` : `${where} runs its other ranks on more devices of this process's GPU`;
  const gpus = o.spawn ? spawnGpus(o.spawn, log, instead) : [];
  if (entries.length + gpus.length === 0) return [];
  if (entries.length + gpus.length < need) {
    const got = [o.cluster ? `${entries.length} in ${o.cluster}` : '', o.spawn ? `${gpus.length} from --spawn ${o.spawn}` : ''].filter(Boolean).join(' + ');
    throw new PlacementError(`${where} needs ${need} worker process${need === 1 ? '' : 'es'} besides this one, got ${got}`);
  }
  const fromCluster = entries.slice(0, need), fromSpawn = gpus.slice(0, need - fromCluster.length);
  if (entries.length > fromCluster.length) {
    log(`note: ${where} uses ${fromCluster.length} of the ${entries.length} workers in ${o.cluster}; not connected: ${entries.slice(fromCluster.length).map(named).join(', ')}`);
  }
  if (gpus.length > fromSpawn.length) {
    const left = o.spawn!.startsWith('none:') ? '' : ` (none on ${gpus.slice(fromSpawn.length).join(', ')})`;
    log(`note: ${where} starts ${fromSpawn.length} of the ${gpus.length} workers --spawn ${o.spawn} lists${left}`);
  }
  const links: { link: RankLink; label: string }[] = [];
  if (fromCluster.length) {
    const role = (e: ClusterEntry, i: number) => `static rank ${i + 1} (${named(e)})`;
    const members = await connectMembers(fromCluster, { timeoutMs: o.connectTimeoutMs, role }).catch((e: unknown) => {
      if (!(e instanceof ClusterError) || entries.length === fromCluster.length) throw e;
      throw new ClusterError(`${e.message} (ranks take ${o.cluster}'s entries in order; ${plural(entries.length - fromCluster.length, 'more is', 'more are')} listed after them)`);
    });
    cleanups.push(() => Promise.all(members.map((c) => c.link.close())).then(() => undefined));
    links.push(...members.map((c, i) => ({ link: c.link, label: role(fromCluster[i]!, i) })));
  }
  if (fromSpawn.length) {
    const role = (i: number, gpu: string) => `static rank ${fromCluster.length + i + 1} (worker ${i}, --gpu ${gpu})`;
    const w = await spawnLocalWorkers(fromSpawn, { connectTimeoutMs: o.connectTimeoutMs, onLog: (i, line) => log(`[worker ${i}] ${line}`), role });
    cleanups.push(() => w.close());
    links.push(...w.members.map((c, i) => ({ link: c.link, label: role(i, fromSpawn[i]!) })));
  }
  return links;
}

function prefixed(prefix: string, o: object): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}${k}`, v as number]));
}
