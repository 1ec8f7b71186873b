// FA Pool routing policy (pure): which sequences run attention on the pool, how many pool ranks they get,
// and how those ranks split one sequence's KV cache (kv-head groups first, then position blocks).
import { FapoolError } from '../../gpu/errors.js';

/** A routing table or argument that cannot be used. */
export class PolicyError extends FapoolError {}

export interface PoolTier {
  /** Inclusive upper bound on sequence length; Infinity for the last tier. */
  maxLen: number;
  poolSize: number;
}

/** Where a prompt longer than the threshold is prefilled (PoolAttentionOptions.prefill). */
export const POOL_PREFILL_MODES = ['local', 'pool'] as const;
export type PoolPrefill = (typeof POOL_PREFILL_MODES)[number];

export interface RoutingPolicy {
  /** Sequences longer than this (strictly) run attention on the pool. */
  threshold: number;
  /** Increasing maxLen, last one Infinity. */
  tiers: PoolTier[];
}

/** The paper's table: pool ranks by sequence length. */
export const PAPER_TIERS: PoolTier[] = Object.freeze([
  { maxLen: 4096, poolSize: 0 },
  { maxLen: 6144, poolSize: 8 },
  { maxLen: 8192, poolSize: 10 },
  { maxLen: 12288, poolSize: 14 },
  { maxLen: 16384, poolSize: 18 },
  { maxLen: 24576, poolSize: 22 },
  { maxLen: 32768, poolSize: 24 },
  { maxLen: Infinity, poolSize: 32 },
].map((t) => Object.freeze(t))) as PoolTier[];

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function checkCount(what: string, n: unknown, min = 0): number {
  if (!isCount(n) || n < min) throw new PolicyError(`${what} must be an integer ≥ ${min}, got ${String(n)}`);
  return n;
}

/** Throws PolicyError unless tiers are non-empty, strictly increasing in maxLen, and end with Infinity. */
export function validateTiers(tiers: readonly PoolTier[]): void {
  if (tiers.length === 0) throw new PolicyError('routing table is empty: it needs at least an "inf:N" tier');
  let prev = -1;
  tiers.forEach((t, i) => {
    const last = i === tiers.length - 1;
    if (last && t.maxLen !== Infinity) throw new PolicyError(`last routing tier must have maxLen inf (open-ended), got ${t.maxLen}`);
    if (!last && t.maxLen === Infinity) throw new PolicyError(`routing tier ${i}: only the last tier may have maxLen inf`);
    if (!last && (!isCount(t.maxLen) || t.maxLen < 1)) throw new PolicyError(`routing tier ${i}: maxLen must be a positive integer, got ${t.maxLen}`);
    if (t.maxLen <= prev) {
      throw new PolicyError(`routing tier ${i}: maxLen ${t.maxLen} must be greater than the previous tier's ${prev}`);
    }
    checkCount(`routing tier ${i} poolSize`, t.poolSize);
    prev = t.maxLen;
  });
}

/** How a routing error names the threshold and the tiers (the command line's flags, or the library's options). */
export interface RoutingNames { threshold: string; tiers: string }
export const POLICY_OPTION_NAMES: RoutingNames = { threshold: 'policy.threshold', tiers: 'policy.tiers' };

/**
 * The threshold and tiers a run routes by, from what was given (the command line, serve and createEngine alike):
 * tiers' leading 0-rank tiers end where the pool starts, so without a threshold that is it (else 4096); with
 * neither, the paper's table from the threshold on. A 0-rank tier above the threshold is a contradiction (those
 * lengths would go to a pool of no ranks); a threshold above where the 0-rank tiers end keeps lengths the tiers give
 * ranks on the base (a warning).
 */
export function resolveRouting(threshold: number | undefined, tiers: readonly PoolTier[] | undefined, names = POLICY_OPTION_NAMES):
  { policy: RoutingPolicy; warnings: string[] } {
  const warnings: string[] = [];
  if (threshold !== undefined) checkCount(names.threshold, threshold, 1);
  if (!tiers) {
    const t = threshold ?? 4096;
    // The paper's table starts at its threshold: below a lowered threshold nothing goes to the pool.
    const table = PAPER_TIERS.map((x) => ({ ...x }));
    table[0] = { maxLen: t, poolSize: 0 };
    const policy = { threshold: t, tiers: table.filter((x, i) => i === 0 || x.maxLen > t) };
    validatePolicy(policy);
    return { policy, warnings };
  }
  validateTiers(tiers);
  let zeroEnd = 0;
  for (const t of tiers) { if (t.poolSize !== 0) break; zeroEnd = t.maxLen; }
  const th = threshold ?? (zeroEnd > 0 && zeroEnd !== Infinity ? zeroEnd : 4096);
  let lo = 1;
  for (const t of tiers) {
    if (t.poolSize === 0 && t.maxLen > th) {
      const from = Math.max(lo, th + 1), to = t.maxLen === Infinity ? 'longer' : `${t.maxLen}`;
      throw new PolicyError(`${names.threshold} ${th} sends sequences longer than ${th} tokens to the pool, but ${names.tiers} gives lengths ${from}–${to} 0 pool ranks: ` +
        `end the 0-rank tiers at the threshold (e.g. ${names.tiers} ${th}:0,...), or ` +
        (tiers.at(-1)!.poolSize === 0 ? `give the open-ended tier ranks (e.g. inf:1); a run without a pool needs no ${names.tiers}` : `set ${names.threshold} ${t.maxLen}`));
    }
    lo = t.maxLen + 1;
  }
  if (zeroEnd > 0 && zeroEnd < th && threshold !== undefined && tiers.some((t) => t.poolSize > 0 && t.maxLen > zeroEnd)) {
    warnings.push(`${names.tiers} gives pool ranks to lengths ${zeroEnd + 1}–${th}, but ${names.threshold} ${th} keeps those on the base group`);
  }
  const policy = { threshold: th, tiers: tiers.map((t) => ({ ...t })) };
  validatePolicy(policy);
  return { policy, warnings };
}

export function validatePolicy(p: RoutingPolicy): void {
  checkCount('routing threshold', p.threshold);
  validateTiers(p.tiers);
}

/** The paper's table as it is, with this threshold (tests of the routing functions' edges; runs use resolveRouting). */
export function defaultPolicy(threshold = 4096): RoutingPolicy {
  const p = { threshold, tiers: PAPER_TIERS.map((t) => ({ ...t })) };
  validatePolicy(p);
  return p;
}

/** Parses the CLI/config form "4096:0,6144:8,8192:10,inf:32" (maxLen:poolSize, increasing, last inf). */
export function parseTiers(spec: string): PoolTier[] {
  const items = spec.split(',').map((s) => s.trim());
  if (items.length === 1 && items[0] === '') throw new PolicyError('routing table is empty: expected e.g. "4096:0,8192:10,inf:32"');
  const tiers = items.map((item, i): PoolTier => {
    const m = /^([^:\s]+)\s*:\s*([^:\s]+)$/.exec(item);
    if (!m) throw new PolicyError(`routing tier ${i} "${item}": expected maxLen:poolSize, e.g. 8192:10`);
    const [, lenS, sizeS] = m as unknown as [string, string, string];
    const maxLen = /^(inf|infinity)$/i.test(lenS) ? Infinity : /^\d+$/.test(lenS) ? Number(lenS) : NaN;
    if (Number.isNaN(maxLen) || (maxLen !== Infinity && (!Number.isSafeInteger(maxLen) || maxLen < 1))) {
      throw new PolicyError(`routing tier ${i} "${item}": maxLen "${lenS}" must be a positive integer or inf`);
    }
    if (!/^\d+$/.test(sizeS) || !Number.isSafeInteger(Number(sizeS))) {
      throw new PolicyError(`routing tier ${i} "${item}": poolSize "${sizeS}" must be a non-negative integer`);
    }
    return { maxLen, poolSize: Number(sizeS) };
  });
  validateTiers(tiers);
  return tiers;
}

/** Where a sequence of `len` tokens runs attention: on the pool when strictly longer than the threshold. */
export function routeOf(len: number, p: RoutingPolicy): 'base' | 'pool' {
  checkCount('sequence length', len);
  return len > p.threshold ? 'pool' : 'base';
}

/**
 * Pool ranks for a sequence of `len` tokens: the table's value, capped by `available` ranks;
 * 0 when routed to base; at least 1 when routed to the pool and a rank is available
 * (a lowered threshold can route lengths whose tier says 0).
 */
export function poolSizeFor(len: number, p: RoutingPolicy, available: number): number {
  checkCount('available pool ranks', available);
  if (routeOf(len, p) === 'base') return 0;
  const tier = p.tiers.find((t) => len <= t.maxLen);
  if (!tier) throw new PolicyError(`no routing tier covers length ${len}: the last tier must be inf`);
  return Math.min(Math.max(tier.poolSize, 1), available);
}

/** One pool rank's share of a sequence's KV cache. */
export interface PoolShard {
  rank: number;
  /** [begin, end) kv heads. */
  kvHeads: [number, number];
  /** [begin, end) cache positions this rank holds; the last block is open-ended (end = Infinity): new tokens land there. */
  positions: [number, number];
}

/** Splits [0, n) into k contiguous near-equal parts; part i = [bounds[i], bounds[i+1]). */
function evenBounds(n: number, k: number): number[] {
  return Array.from({ length: k + 1 }, (_, i) => Math.floor((i * n) / k));
}

/**
 * How `ranks` pool ranks split one sequence's attention: by kv-head groups first (each a contiguous range of
 * at least minHeadsPerRank kv heads), then, when ranks exceed the head groups, by contiguous position blocks
 * of at least minBlock positions (fewer shards when the sequence is short). Ranks past the returned shards idle.
 */
export function planShards(
  nKvHeads: number, seqLen: number, ranks: number,
  opts: { minHeadsPerRank?: number; minBlock?: number } = {},
): PoolShard[] {
  checkCount('nKvHeads', nKvHeads, 1);
  checkCount('seqLen', seqLen);
  checkCount('ranks', ranks, 1);
  const minHeads = checkCount('minHeadsPerRank', opts.minHeadsPerRank ?? 1, 1);
  const minBlock = checkCount('minBlock', opts.minBlock ?? 64, 1);

  const groups = Math.min(ranks, Math.max(1, Math.floor(nKvHeads / minHeads)));
  const headB = evenBounds(nKvHeads, groups);
  // Ranks left over after one per group become extra position blocks, spread over groups as evenly as possible.
  const maxBlocks = Math.max(1, Math.floor(seqLen / minBlock));
  const shards: PoolShard[] = [];
  for (let g = 0; g < groups; g++) {
    const want = Math.floor(ranks / groups) + (g < ranks % groups ? 1 : 0);
    const blocks = Math.min(want, maxBlocks);
    const posB = evenBounds(seqLen, blocks);
    for (let b = 0; b < blocks; b++) {
      shards.push({
        rank: shards.length,
        kvHeads: [headB[g]!, headB[g + 1]!],
        positions: [posB[b]!, b === blocks - 1 ? Infinity : posB[b + 1]!],
      });
    }
  }
  return shards;
}
