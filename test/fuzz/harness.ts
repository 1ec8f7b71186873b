// Shared fuzz harness: seeded fast-check runs whose every case must end in a correct result or one of the
// allowed typed errors, within a time bound and without host allocation out of proportion to the input.
// FUZZ_RUNS (default 300, `npm run fuzz` sets 10000) and FUZZ_SEED (default random, printed) choose the run.
import fc from 'fast-check';

export const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
export const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * A case's wall-clock bound: a hang or a blow-up (quadratic parsing), not a speed claim. Cases take ≤ 25 ms alone,
 * ≤ 190 ms for a 200k-deep JSON; 1 s failed once on a CI dry run that shared the machine with other test runs
 * (1060 ms for a 139,683-deep header).
 */
export const CASE_HANG_MS = 10_000;

export interface CaseLimits {
  /** The error types a case may end in (anything else fails the run). */
  allowed: readonly ErrorClass[];
  /** Wall-clock bound per case (synchronous code cannot be interrupted, so it is measured). */
  maxMs: number;
  /** Allowed growth of process.memoryUsage().arrayBuffers: inputBytes × factor + slack. */
  memFactor?: number;
  memSlackBytes?: number;
}

export interface CaseStats { cases: number; ok: number; errors: Map<string, number>; worstMs: number; worstMemBytes: number }

export function newStats(): CaseStats {
  return { cases: 0, ok: 0, errors: new Map(), worstMs: 0, worstMemBytes: 0 };
}

/**
 * Runs one case: `body` returns the input size in bytes (for the allocation bound) after checking any
 * successful result itself. Throws a plain Error (failing the property) on a disallowed outcome.
 */
export async function runCase(stats: CaseStats, lim: CaseLimits, inputBytes: number, body: () => unknown): Promise<void> {
  const ab0 = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let err: unknown = null;
  try {
    await body();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  const grew = process.memoryUsage().arrayBuffers - ab0;
  stats.cases++;
  stats.worstMs = Math.max(stats.worstMs, ms);
  stats.worstMemBytes = Math.max(stats.worstMemBytes, grew);
  if (err === null) stats.ok++;
  else {
    const ok = lim.allowed.some((C) => err instanceof C);
    if (!ok) {
      const e = err as Error;
      throw new Error(`disallowed outcome ${e?.name ?? typeof e}: ${e?.message ?? String(e)}\n${e?.stack ?? ''}`);
    }
    const msg = (err as Error).message;
    if (!msg || msg.length < 8) throw new Error(`${(err as Error).name} with an unhelpful message ${JSON.stringify(msg)}`);
    stats.errors.set((err as Error).name, (stats.errors.get((err as Error).name) ?? 0) + 1);
  }
  if (ms > lim.maxMs) throw new Error(`case took ${ms.toFixed(1)} ms (bound ${lim.maxMs} ms)`);
  const bound = inputBytes * (lim.memFactor ?? 4) + (lim.memSlackBytes ?? 8 << 20);
  if (grew > bound) throw new Error(`arrayBuffers grew by ${grew} bytes for a ${inputBytes}-byte input (bound ${bound})`);
}

/** fc.assert with the run's seed and count; prints both so a failure can be replayed (FUZZ_SEED=…). */
export async function fuzz<T>(name: string, arb: fc.Arbitrary<T>, check: (x: T) => Promise<void>, runs = RUNS): Promise<void> {
  console.info(`[fuzz] ${name}: ${runs} cases, FUZZ_SEED=${SEED}`);
  await fc.assert(fc.asyncProperty(arb, check), { seed: SEED, numRuns: runs, endOnFailure: true });
}

export function summary(name: string, s: CaseStats): string {
  const errs = [...s.errors].map(([k, v]) => `${k} ${v}`).join(', ');
  const line = `[fuzz] ${name}: ${s.cases} cases, ${s.ok} loaded, errors: ${errs || 'none'}; worst ${s.worstMs.toFixed(1)} ms, worst arrayBuffers growth ${s.worstMemBytes} B`;
  console.info(line);
  return line;
}
