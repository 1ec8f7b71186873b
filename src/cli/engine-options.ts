// The command line's options as engine options (run-inference.js and the paper sweep build engines the same way).
import type { EngineOptions } from '../orchestrator/create-engine.js';
import type { CliOptions } from './args.js';

export function engineOptions(o: CliOptions, hooks: Pick<EngineOptions, 'onLoad' | 'onInit' | 'log'> = {}): EngineOptions {
  return {
    preset: o.preset, model: o.model, config: o.config, init: o.init, seed: o.seed, dtype: o.dtype, gpu: o.gpu,
    strategy: o.strategy, placement: o.placement,
    pool: {
      inProcess: o.pool, sharedDevice: o.poolSharedDevice, cluster: o.cluster, spawn: o.spawn, deadlineMs: o.deadlineMs,
      connectTimeoutMs: o.connectTimeoutMs, rejoinBackoffMs: o.rejoinBackoffMs, replica: o.kvReplica, pingPong: o.pingPong, prefill: o.poolPrefill,
    },
    policy: { threshold: o.threshold, tiers: o.tiers },
    ...hooks,
  };
}
