// --threshold and --tiers, the same for the main command and serve: the policy module's rules (resolveRouting),
// its errors as usage errors naming the flags.
import { parseTiers, PolicyError, resolveRouting, type PoolTier } from '../orchestrator/pool/policy.js';
import { UsageError } from './usage-error.js';

const FLAGS = { threshold: '--threshold', tiers: '--tiers' };

/** The threshold a run routes by (given, else where --tiers' 0-rank tiers end, else 4096) and the notes on them. */
export function cliRouting(threshold: number | undefined, tiersSpec: string | undefined, command = ''): { threshold: number; warnings: string[] } {
  let tiers: PoolTier[] | undefined;
  try {
    tiers = tiersSpec === undefined ? undefined : parseTiers(tiersSpec);
  } catch (e) {
    throw new UsageError(`${command}--tiers: ${(e as Error).message}`);
  }
  try {
    const { policy, warnings } = resolveRouting(threshold, tiers, FLAGS);
    return { threshold: policy.threshold, warnings };
  } catch (e) {
    if (e instanceof PolicyError) throw new UsageError(`${command}${e.message}`);
    throw e;
  }
}
