// Routing policy and shard planning: table edges, parsing errors, and properties over many random cases.
import { describe, expect, it } from 'vitest';
import {
  defaultPolicy, PAPER_TIERS, parseTiers, planShards, PolicyError, poolSizeFor, resolveRouting, routeOf,
  type PoolShard, type RoutingPolicy,
} from '../src/orchestrator/pool/policy.js';
import { rng } from './helpers.js';

describe('routing', () => {
  const p = defaultPolicy();

  it('routes strictly above the threshold to the pool', () => {
    expect(routeOf(0, p)).toBe('base');
    expect(routeOf(4096, p)).toBe('base');
    expect(routeOf(4097, p)).toBe('pool');
    expect(poolSizeFor(4096, p, 64)).toBe(0);
    expect(poolSizeFor(4097, p, 64)).toBe(8);
  });

  it('takes the pool size from every table edge', () => {
    // [inclusive edge, size at the edge, size one past it]
    const edges: [number, number, number][] = [
      [6144, 8, 10], [8192, 10, 14], [12288, 14, 18], [16384, 18, 22], [24576, 22, 24], [32768, 24, 32],
    ];
    for (const [len, at, past] of edges) {
      expect(poolSizeFor(len, p, 1000), `len ${len}`).toBe(at);
      expect(poolSizeFor(len + 1, p, 1000), `len ${len + 1}`).toBe(past);
    }
    expect(poolSizeFor(1_000_000, p, 1000)).toBe(32);
  });

  it('caps by available ranks, never below 1 on the pool, 0 without ranks', () => {
    expect(poolSizeFor(20000, p, 5)).toBe(5);
    expect(poolSizeFor(20000, p, 1)).toBe(1);
    expect(poolSizeFor(20000, p, 0)).toBe(0);
    expect(poolSizeFor(100, p, 0)).toBe(0);
  });

  it('has a configurable threshold; a lowered one still gives ≥ 1 rank', () => {
    const low = defaultPolicy(1000);
    expect(routeOf(1000, low)).toBe('base');
    expect(routeOf(1001, low)).toBe('pool');
    expect(poolSizeFor(1001, low, 8)).toBe(1); // tier 4096 says 0
    const high = defaultPolicy(10000);
    expect(routeOf(8000, high)).toBe('base');
    expect(poolSizeFor(8000, high, 64)).toBe(0);
    expect(poolSizeFor(10001, high, 64)).toBe(14);
  });

  it('does not share PAPER_TIERS with a policy', () => {
    const q = defaultPolicy();
    q.tiers[1]!.poolSize = 99;
    expect(PAPER_TIERS[1]!.poolSize).toBe(8);
  });

  it('rejects bad lengths and counts', () => {
    expect(() => routeOf(-1, p)).toThrow(PolicyError);
    expect(() => routeOf(1.5, p)).toThrow(PolicyError);
    expect(() => poolSizeFor(5000, p, -2)).toThrow(PolicyError);
    expect(() => defaultPolicy(-5)).toThrow(PolicyError);
  });

  it('agrees with a linear scan of the table over random lengths', () => {
    const r = rng();
    for (let i = 0; i < 2000; i++) {
      const len = r.int(0, 40000), avail = r.int(0, 40), threshold = r.int(0, 9000);
      const q: RoutingPolicy = { threshold, tiers: PAPER_TIERS };
      let want = 0;
      if (len > threshold) {
        let size = 32;
        for (const t of PAPER_TIERS) if (len <= t.maxLen) { size = t.poolSize; break; }
        want = Math.min(Math.max(size, 1), avail);
      }
      expect(poolSizeFor(len, q, avail), `seed ${r.seed} len ${len} thr ${threshold} avail ${avail}`).toBe(want);
    }
  });
});

describe('resolveRouting (the command line, serve and createEngine alike)', () => {
  it('threshold from the tiers\' 0-rank head, else 4096; the paper\'s table from a lowered threshold on', () => {
    expect(resolveRouting(undefined, parseTiers('4:0,inf:1')).policy.threshold).toBe(4);
    expect(resolveRouting(undefined, parseTiers('inf:2')).policy.threshold).toBe(4096);
    const lowered = resolveRouting(2000, undefined).policy;
    expect(lowered.tiers[0]).toEqual({ maxLen: 2000, poolSize: 0 });
    expect(lowered.tiers.slice(1)).toEqual(PAPER_TIERS.slice(1));
  });

  it('a 0-rank tier above the threshold is refused, named as the caller names them', () => {
    expect(() => resolveRouting(16, parseTiers('100:0,inf:1'))).toThrow(PolicyError);
    expect(() => resolveRouting(16, parseTiers('100:0,inf:1'))).toThrow(/^policy\.threshold 16 sends sequences longer than 16 tokens to the pool, but policy\.tiers gives lengths 17–100 0 pool ranks/);
    expect(() => resolveRouting(16, parseTiers('100:0,inf:1'), { threshold: '--threshold', tiers: '--tiers' })).toThrow(/^--threshold 16 sends/);
    // Every tier without ranks: the advice names what to do (it said "or set policy.threshold (no pool needed then)").
    expect(() => resolveRouting(4096, parseTiers('4096:0,inf:0'))).toThrow(/gives lengths 4097–longer 0 pool ranks: end the 0-rank tiers at the threshold \(e\.g\. policy\.tiers 4096:0,\.\.\.\), or give the open-ended tier ranks \(e\.g\. inf:1\); a run without a pool needs no policy\.tiers$/);
    expect(() => resolveRouting(16, parseTiers('100:0,inf:1'))).toThrow(/, or set policy\.threshold 100$/);
    // A table with no ranks anywhere: the open-ended advice, not a threshold the next check refuses (review).
    expect(() => resolveRouting(16, parseTiers('100:0,inf:0'))).toThrow(/, or give the open-ended tier ranks \(e\.g\. inf:1\); a run without a pool needs no policy\.tiers$/);
    expect(resolveRouting(200, parseTiers('100:0,inf:1')).warnings).toEqual(['policy.tiers gives pool ranks to lengths 101–200, but policy.threshold 200 keeps those on the base group']);
    expect(() => resolveRouting(0, undefined)).toThrow(/policy\.threshold must be an integer ≥ 1/);
  });
});

describe('parseTiers', () => {
  it('parses the CLI form', () => {
    expect(parseTiers('4096:0,6144:8,8192:10,inf:32')).toEqual([
      { maxLen: 4096, poolSize: 0 }, { maxLen: 6144, poolSize: 8 }, { maxLen: 8192, poolSize: 10 }, { maxLen: Infinity, poolSize: 32 },
    ]);
    expect(parseTiers(' 100 : 1 , Infinity:2 ')).toEqual([{ maxLen: 100, poolSize: 1 }, { maxLen: Infinity, poolSize: 2 }]);
    expect(parseTiers('inf:4')).toEqual([{ maxLen: Infinity, poolSize: 4 }]);
    const paper = PAPER_TIERS.map((t) => `${t.maxLen === Infinity ? 'inf' : t.maxLen}:${t.poolSize}`).join(',');
    expect(parseTiers(paper)).toEqual(PAPER_TIERS);
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['4096:0', /last routing tier must have maxLen inf/],
    ['4096:0,2048:4,inf:8', /greater than the previous/],
    ['4096:0,4096:4,inf:8', /greater than the previous/],
    ['4096:-1,inf:8', /poolSize "-1"/],
    ['4096:1.5,inf:8', /poolSize "1.5"/],
    ['0:1,inf:8', /positive integer or inf/],
    ['abc:1,inf:8', /positive integer or inf/],
    ['4096,inf:8', /expected maxLen:poolSize/],
    ['4096:1:2,inf:8', /expected maxLen:poolSize/],
    ['inf:8,inf:9', /only the last tier may have maxLen inf/],
    ['4096:0,,inf:8', /expected maxLen:poolSize/],
    ['99999999999999999999:1,inf:2', /positive integer or inf/],
  ];
  it.each(bad)('rejects %j', (spec, msg) => {
    expect(() => parseTiers(spec)).toThrow(PolicyError);
    expect(() => parseTiers(spec)).toThrow(msg);
  });
});

/** Checks the planShards contract; returns a message for the first violation, or null. */
function violation(shards: PoolShard[], nKv: number, seqLen: number, ranks: number, minBlock: number): string | null {
  if (shards.length < 1 || shards.length > ranks) return `${shards.length} shards for ${ranks} ranks`;
  const ids = new Set(shards.map((s) => s.rank));
  if (ids.size !== shards.length) return 'duplicate rank ids';
  for (const s of shards) {
    if (!Number.isInteger(s.rank) || s.rank < 0 || s.rank >= ranks) return `rank id ${s.rank} out of [0, ${ranks})`;
    const [hb, he] = s.kvHeads, [pb, pe] = s.positions;
    if (!(hb >= 0 && he > hb && he <= nKv)) return `rank ${s.rank}: bad kv heads [${hb}, ${he})`;
    if (!(pb >= 0 && pe > pb)) return `rank ${s.rank}: empty block [${pb}, ${pe})`;
    // A closed block holds ≥ minBlock positions; the open one ≥ minBlock of the present tokens unless it is the only one.
    const held = Math.min(pe, seqLen) - pb;
    const alone = pb === 0 && pe === Infinity;
    if (!alone && held < minBlock) return `rank ${s.rank}: block [${pb}, ${pe}) holds ${held} < minBlock ${minBlock} positions`;
  }
  // Exact cover: per kv head, the blocks holding it tile [0, ∞) with no gap and no overlap.
  for (let h = 0; h < nKv; h++) {
    const blocks = shards.filter((s) => s.kvHeads[0] <= h && h < s.kvHeads[1]).map((s) => s.positions).sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [b, e] of blocks) {
      if (b !== at) return `kv head ${h}: positions ${at < b ? `[${at}, ${b}) uncovered` : `from ${b} covered twice`}`;
      at = e;
    }
    if (at !== Infinity) return `kv head ${h}: positions from ${at} uncovered (last block must be open-ended)`;
  }
  return null;
}

describe('planShards', () => {
  it('splits by kv heads first', () => {
    expect(planShards(8, 10000, 4)).toEqual([
      { rank: 0, kvHeads: [0, 2], positions: [0, Infinity] },
      { rank: 1, kvHeads: [2, 4], positions: [0, Infinity] },
      { rank: 2, kvHeads: [4, 6], positions: [0, Infinity] },
      { rank: 3, kvHeads: [6, 8], positions: [0, Infinity] },
    ]);
  });

  it('adds position blocks when ranks exceed the head groups', () => {
    const s = planShards(2, 1000, 4);
    expect(s).toEqual([
      { rank: 0, kvHeads: [0, 1], positions: [0, 500] },
      { rank: 1, kvHeads: [0, 1], positions: [500, Infinity] },
      { rank: 2, kvHeads: [1, 2], positions: [0, 500] },
      { rank: 3, kvHeads: [1, 2], positions: [500, Infinity] },
    ]);
    // minHeadsPerRank 2 of 8 heads: 4 groups, then blocks.
    const g = planShards(8, 10000, 8, { minHeadsPerRank: 2 });
    expect(new Set(g.map((x) => x.kvHeads.join())).size).toBe(4);
    expect(g.every((x) => x.kvHeads[1] - x.kvHeads[0] === 2)).toBe(true);
  });

  it('uses fewer shards for short sequences (minBlock)', () => {
    expect(planShards(1, 100, 8)).toEqual([
      { rank: 0, kvHeads: [0, 1], positions: [0, Infinity] },
    ]);
    expect(planShards(1, 200, 8, { minBlock: 64 })).toHaveLength(3);
    expect(planShards(1, 0, 8)).toEqual([{ rank: 0, kvHeads: [0, 1], positions: [0, Infinity] }]);
    expect(planShards(1, 200, 8, { minBlock: 1 })).toHaveLength(8);
  });

  it('rejects bad arguments', () => {
    expect(() => planShards(0, 10, 2)).toThrow(PolicyError);
    expect(() => planShards(4, -1, 2)).toThrow(PolicyError);
    expect(() => planShards(4, 10, 0)).toThrow(PolicyError);
    expect(() => planShards(4, 10, 2, { minBlock: 0 })).toThrow(PolicyError);
    expect(() => planShards(4, 10, 2, { minHeadsPerRank: 0 })).toThrow(PolicyError);
  });

  it('covers every (kv head, position) exactly once over random cases', () => {
    const r = rng();
    for (let i = 0; i < 3000; i++) {
      const nKv = r.int(1, 65);
      const seqLen = r.next() < 0.1 ? r.int(0, 200) : r.int(0, 70000);
      const ranks = r.int(1, 70);
      const minHeadsPerRank = r.int(1, 5);
      const minBlock = r.next() < 0.5 ? 64 : r.int(1, 3000);
      const s = planShards(nKv, seqLen, ranks, { minHeadsPerRank, minBlock });
      const v = violation(s, nKv, seqLen, ranks, minBlock);
      expect(v, `seed ${r.seed}: planShards(${nKv}, ${seqLen}, ${ranks}, {minHeadsPerRank: ${minHeadsPerRank}, minBlock: ${minBlock}})`).toBeNull();
      // Uses every rank unless heads and blocks run out.
      const groups = Math.min(ranks, Math.max(1, Math.floor(nKv / minHeadsPerRank)));
      if (Math.floor(seqLen / minBlock) * groups >= ranks) expect(s.length).toBe(ranks);
    }
  });

  it('covers exactly once by brute force on small cases', () => {
    const r = rng();
    for (let i = 0; i < 120; i++) {
      const nKv = r.int(1, 9), seqLen = r.int(0, 300), ranks = r.int(1, 20), minBlock = r.int(1, 40);
      const s = planShards(nKv, seqLen, ranks, { minBlock });
      for (let h = 0; h < nKv; h++) {
        for (let pos = 0; pos < seqLen + 5; pos++) { // past seqLen: the open block must take new tokens
          const n = s.filter((x) => x.kvHeads[0] <= h && h < x.kvHeads[1] && x.positions[0] <= pos && pos < x.positions[1]).length;
          expect(n, `seed ${r.seed} (${nKv}, ${seqLen}, ${ranks}, ${minBlock}) head ${h} pos ${pos}`).toBe(1);
        }
      }
    }
  });

  it('the checker catches a broken plan', () => {
    const good = planShards(4, 1000, 8);
    expect(violation(good, 4, 1000, 8, 64)).toBeNull();
    const gap = good.map((s) => ({ ...s, positions: [s.positions[0] + (s.positions[0] > 0 ? 1 : 0), s.positions[1]] as [number, number] }));
    expect(violation(gap, 4, 1000, 8, 64)).toMatch(/uncovered/);
    const dup = good.map((s) => ({ ...s, rank: 0 }));
    expect(violation(dup, 4, 1000, 8, 64)).toMatch(/duplicate/);
    const closed = good.map((s) => ({ ...s, positions: [s.positions[0], Math.min(s.positions[1], 1000)] as [number, number] }));
    expect(violation(closed, 4, 1000, 8, 64)).toMatch(/open-ended/);
  });
});
