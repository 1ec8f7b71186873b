// Worker processes in tests run compiled JavaScript. So that a test never depends on a stale dist/ (or rewrites
// the shared one while others edit), it transpiles src/ into a private out/ folder (oxc via rolldown, which
// vitest ships; ~0.5 s) and runs a copy of run-inference.js from there.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');

/**
 * A private build for the test file `name`: ENTRY is its run-inference.js; build() writes it. `bench`: the
 * benchmark scripts (kernels-bench/) too, at BUILD/dist/kernels-bench/.
 */
export function privateDist(name: string, opts: { bench?: boolean } = {}): { BUILD: string; ENTRY: string; build(): Promise<void> } {
  const BUILD = join(ROOT, 'out', `${name}-test-${process.pid}`);
  const ENTRY = join(BUILD, 'run-inference.js');
  return {
    BUILD, ENTRY,
    async build() {
      const { transform } = await import('rolldown/experimental');
      const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(d, e.name)] : []));
      for (const f of [...walk(join(ROOT, 'src')), ...(opts.bench ? walk(join(ROOT, 'kernels-bench')) : [])]) {
        const r = await transform(f, readFileSync(f, 'utf8'), { target: 'es2022' });
        if (r.errors.length) throw new Error(`transpiling ${f}: ${r.errors.map((e) => e.message).join('; ')}`);
        const dst = join(BUILD, 'dist', relative(ROOT, f).replace(/\.ts$/, '.js'));
        mkdirSync(dirname(dst), { recursive: true });
        writeFileSync(dst, r.code);
      }
      copyFileSync(join(ROOT, 'run-inference.js'), ENTRY);
    },
  };
}

/** p, or a rejection after ms (a worker that ignores a signal must fail the test, not hang it). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}
