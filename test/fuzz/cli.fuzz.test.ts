// Fuzzes run-inference.js's option parser: random command lines built from its flags (and unknown ones) with
// edge values (empty, hex, exponents, signs, huge, NaN, paths that do not exist). Every case parses into options
// that satisfy every invariant the rest of the program relies on, or throws UsageError; never anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCli, UsageError, type CliOptions } from '../../src/cli/args.js';
import { PRESETS } from '../../src/model/config.js';
import { parseTiers } from '../../src/orchestrator/pool/policy.js';
import { CASE_HANG_MS, fuzz, newStats, runCase, summary } from './harness.js';

const LIMITS = { allowed: [UsageError], maxMs: CASE_HANG_MS };

const FLAGS = ['--preset', '--model', '--config', '--init', '--seed', '--prompt', '--prompt-len', '--prompt-lens', '--max-new-tokens', '--batch', '--dtype',
  '--temperature', '--top-k', '--top-p', '--prefill-chunk', '--gpu', '--strategy', '--pool', '--cluster', '--spawn', '--threshold', '--tiers', '--placement',
  '--deadline', '--dump-logits'];
const BOOLS = ['--json', '--quiet', '--force', '--help', '-h'];
const value = fc.oneof(
  fc.constantFrom('', '0', '1', '-1', '0x10', '1e3', '1.5', '.5', '4294967295', '4294967296', '5000000000', '9007199254740993', 'NaN', 'Infinity', ' 7', '007',
    'tiny', 'seed-4l', 'fortune-4l', 'nope', 'random', 'f16', 'f32', 'fapool', 'static', 'auto', 'none', 'none:2', 'none:abc', 'none:65', '0000:00:07.0', 'gpu1',
    '100:0,inf:1', '16:0,inf:2', 'inf:4', '4096:0,8192:8,inf:32', '5:0,3:1', 'tp=2,pp=2', '2x2', '3,4,5', '0,1', '/nonexistent/x.json', '/tmp', '--json'),
  fc.string({ maxLength: 10 }), fc.integer().map(String), fc.double().map(String),
);
const arg = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...FLAGS), value).map(([f, v]) => [f, v]) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...FLAGS), value).map(([f, v]) => [`${f}=${v}`]) },
  { weight: 2, arbitrary: fc.constantFrom(...BOOLS).map((b) => [b]) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => [s]) },
);
const argv = fc.array(arg, { maxLength: 6 }).map((a) => a.flat());

const u = (n: number, lo: number, hi = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(n) && n >= lo && n <= hi;

/** What the rest of the program assumes of parsed options. */
function checkOptions(o: CliOptions, args: string[]): void {
  const at = JSON.stringify(args);
  expect(Object.hasOwn(PRESETS, o.preset), at).toBe(true);
  expect(u(o.seed, 0, 0xffffffff), at).toBe(true);
  expect(u(o.maxNewTokens, 1) && u(o.batch, 1) && (o.prefillChunk === undefined || u(o.prefillChunk, 1)) && u(o.topK, 0) && u(o.pool, 0, 64) && u(o.threshold, 1) && u(o.deadlineMs, 1), at).toBe(true);
  expect(o.topP > 0 && o.topP <= 1 && o.temperature >= 0 && o.temperature <= 100, at).toBe(true);
  if (o.promptLen !== undefined) expect(u(o.promptLen, 1), at).toBe(true);
  for (const n of o.promptLens ?? []) expect(u(n, 1), at).toBe(true);
  expect([o.prompt, o.promptLen, o.promptLens].filter((v) => v !== undefined).length <= 1, at).toBe(true);
  if (o.spawn !== undefined) expect(/^(auto|none:([1-9]|[1-5]\d|6[0-4])|[^,]+(,[^,]+)*)$/.test(o.spawn), at).toBe(true);
  if (o.strategy === 'static') expect(o.pool === 0 && o.cluster === undefined && o.spawn === undefined && o.tiers === undefined, at).toBe(true);
  if (o.force) expect(o.init, at).toBe('random');
  if (o.tiers) for (const t of parseTiers(o.tiers)) if (t.poolSize === 0) expect(t.maxLen <= o.threshold, at).toBe(true);
  expect(['f32', 'f16', undefined]).toContain(o.dtype);
}

describe('fuzz: run-inference.js options', () => {
  it('random command lines: valid options or UsageError', async () => {
    const stats = newStats();
    await fuzz('cli args', argv, async (args) => {
      await runCase(stats, LIMITS, 0, () => { checkOptions(parseCli(args), args); });
    });
    summary('cli args', stats);
    expect(stats.ok, 'some command lines are valid').toBeGreaterThan(0);
    expect(stats.errors.get('UsageError') ?? 0, 'most are not').toBeGreaterThan(stats.ok);
  });
});
