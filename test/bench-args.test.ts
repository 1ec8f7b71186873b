// The benchmark scripts' command lines under hostile use (round 8): a bad value, an unknown name, a missing input or
// an output onto an input is one `error:` line and exit 2 before any work, not a NaN that times nothing, an empty
// table, a FAILED row per configuration or a stack trace after minutes — each of those exited 0 or 1 before. Every
// script has a --help generated from the table its parser reads. The scripts run from a private build (bench-scripts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int, intList, knownNames, num, outputPath, refuseOverLimit } from '../kernels-bench/bench-args.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { tensorLimit } from '../src/model/load-weights.js';
import { useGpu } from './helpers.js';
import { privateDist } from './private-dist.js';

const { BUILD, build } = privateDist('bench-args', { bench: true });
const gpu = useGpu();
let tmp = '';

interface Result { code: number | null; stderr: string; stdout: string; ms: number }

function bench(script: string, args: string[], prefix: string[] = []): Result {
  const t0 = performance.now();
  const cmd = [...prefix, process.execPath, join(BUILD, 'dist', 'kernels-bench', `${script}.js`), ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, FAPOOL_CACHE: join(tmp, 'cache') }, maxBuffer: 16 * 2 ** 20,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout, ms: performance.now() - t0 };
}

/** Refused as a usage error: exit 2, one `error:` line saying `why` (no stack trace), and nothing measured. */
function refused(script: string, args: string[], why: RegExp | string): Result {
  const r = bench(script, args);
  const lines = r.stderr.split('\n').filter((l) => l && !/^Warning: maxDynamic|^warning:/.test(l));
  expect(r.code, `${script} ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(2);
  expect(lines.filter((l) => l.startsWith('error: ')), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(typeof why === 'string' ? new RegExp(why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : why);
  expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
  expect(r.stdout, 'nothing measured').not.toMatch(/ ms\b|FAILED/);
  return r;
}

describe('benchmark scripts: hostile command lines', () => {
  beforeAll(async () => { tmp = mkdtempSync(join(tmpdir(), 'fapool-bench-args-')); await build(); }, 60_000);
  afterAll(() => { rmSync(tmp, { recursive: true, force: true }); rmSync(BUILD, { recursive: true, force: true }); });

  it('every script: --help tells its options and their defaults (exit 0); an unknown, repeated or value-less option is one error line', () => {
    const scripts = ['gemm-sweep', 'attention-sweep', 'pool-bench', 'decode-profile', 'first-bench', 'hop-bench', 'link-bench', 'server-bench',
      'prefill-profile', 'soak', 'gemm-stability', 'run', 'io-thread-probe'];
    for (const s of scripts) {
      const h = bench(s, ['--help']);
      expect(h.code, `${s} --help: ${h.stderr}`).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^Usage: node dist/kernels-bench/${s}\\.js \\[options\\]`));
      expect(h.stdout).toMatch(/\n {2}-h, --help +show this help\n/);
      expect(h.stdout, `${s}: an internal role option is not a user's`).not.toMatch(/--(role|hop-child|link-child|raw-server)\b/);
    }
    // The defaults --help states are the parser's (one table): spot checks against the scripts' documented ones.
    expect(bench('gemm-sweep', ['--help']).stdout).toMatch(/--samples VALUE .*\(default 8\)\n[^]*--fixk +every generated tile/);
    expect(bench('pool-bench', ['--help']).stdout).toMatch(/--configs VALUE .*\(default single,pool,pool-replica,pool-pingpong\)/);
    expect(bench('run', ['--help']).stdout).toMatch(/--samples VALUE .*\(default 15\)/);
    expect(bench('first-bench', ['--help']).stdout).toMatch(/run-inference\.js's[^]*--warm VALUE .*\(default 2\)/);
    for (const s of ['gemm-sweep', 'pool-bench', 'soak', 'hop-bench', 'server-bench']) {
      refused(s, ['--bogus'], "Unknown option '--bogus'");
      refused(s, ['stray'], "Unexpected argument 'stray'");
    }
    refused('gemm-sweep', ['--pick', 'f32 default path', '--pick', 'nope'], '--pick given twice');
    refused('decode-profile', ['--out'], "Option '--out <value>' argument missing");
    refused('gemm-sweep', ['--size', '-5'], "Option '--size' argument is ambiguous");
  }, 120_000);

  it('gemm-sweep: --pick / --only / --parts that match nothing name what exists; bad numbers, inputs and outputs', () => {
    // Session 34's s34b / s34c (H100): the f32 part's default is "f32 default path", so this ran nothing: rows [], exit 0.
    const r = refused('gemm-sweep', ['--parts', 'f32', '--pick', 'default path', '--samples', '3'], "--pick: no variant named 'default path' in --parts f32");
    expect(r.stderr).toContain('f32 default path, f32 quad 16x16 bk8');
    refused('gemm-sweep', ['--parts', 'f32', '--pick', 'f32 quad 16x16 bk8 db nopf interior|f32 default path'], "'f32 quad 16x16 bk8 db nopf interior'");
    refused('gemm-sweep', ['--parts', 'f32', '--only', 'zzz'], "--only 'zzz' matches no variant");
    refused('gemm-sweep', ['--parts', 'f32,nothing'], "--parts: unknown 'nothing' (known: square, prefill, decode, f32)");
    refused('gemm-sweep', ['--parts', 'f32', '--pick', 'f32 default path', '--only', 'quad'], 'nothing to run');
    refused('gemm-sweep', ['--parts', 'f32', '--size', 'abc'], "--size must be an integer >= 1, got 'abc'");
    refused('gemm-sweep', ['--parts', 'f32', '--size', '0'], '--size must be an integer');
    refused('gemm-sweep', ['--parts', 'f32', '--size', '100.5'], '--size must be an integer');
    refused('gemm-sweep', ['--parts', 'f32', '--samples', '0'], '--samples must be an integer in [1, 2048]');
    refused('gemm-sweep', ['--parts', 'f32', '--samples', '5000'], '--samples must be an integer in [1, 2048]');
    refused('gemm-sweep', ['--parts', 'f32', '--repeat', 'abc'], '--repeat must be an integer');
    refused('gemm-sweep', ['--parts', 'decode', '--shape-div', '3'], '--shape-div 3 does not divide the projection 6144x4096');
    refused('gemm-sweep', ['--parts', 'decode', '--decode-shapes', '0x4096'], "--decode-shapes: bad shape '0x4096'");
    refused('gemm-sweep', ['--parts', 'decode', '--decode-m', '8,,16'], '--decode-m takes comma-separated integers');
    refused('gemm-sweep', ['--parts', 'f32', '--cublas', join(tmp, 'none.json')], 'none.json does not exist');
    writeFileSync(join(tmp, 'bad.json'), '{ not json');
    refused('gemm-sweep', ['--parts', 'f32', '--cublas', join(tmp, 'bad.json')], 'bad.json: not JSON');
    refused('gemm-sweep', ['--parts', 'f32', '--out', join(tmp, 'no-such-folder', 'x.json')], 'no-such-folder does not exist');
    // --out onto --cublas replaced the cuBLAS figures with our rows (after the first row).
    const cub = join(tmp, 'cublas.json');
    writeFileSync(cub, '{"copy_gbs": 3000}');
    refused('gemm-sweep', ['--parts', 'f32', '--cublas', cub, '--out', cub], 'is the --cublas file');
    expect(readFileSync(cub, 'utf8')).toBe('{"copy_gbs": 3000}');
    refused('gemm-sweep', ['--parts', 'f32', '--out', join(tmp, 'same.md'), '--md', join(tmp, 'same.md')], 'is the --md file');
  }, 120_000);

  it('gemm-sweep: an option of a part not run is a warning, and the run goes on', () => {
    const out = join(tmp, 'f32.json');
    const r = bench('gemm-sweep', ['--parts', 'f32', '--size', '32', '--samples', '1', '--repeat', '1', '--pick', 'f32 default path', '--decode-m', '8', '--top', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: --decode-m has no effect without --parts decode');
    expect(r.stderr).toContain('warning: --top has no effect without --parts prefill');
    expect((JSON.parse(readFileSync(out, 'utf8')) as { rows: { name: string }[] }).rows.map((x) => x.name)).toEqual(['f32 default path']);
  }, 120_000);

  it('gemm-sweep: a sweep whose every row failed exits 1, naming the first error (it measured nothing)', async (ctx) => {
    // A variant that does not apply to the shape fails at run time, not on the command line. It exited 0.
    if (!(await gpu()).caps.subgroups) { ctx.skip(); return; }   // no subgroup GEMV variant to pick
    const r = bench('gemm-sweep', ['--parts', 'decode', '--decode-shapes', '8x6', '--decode-m', '1', '--samples', '1', '--pick', 'gemv sg cpt1 u1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: every row failed \(1\); the first: gemv: the subgroup kernel \(cpt 1, u 1\) does not apply to 1x8x6/);
  }, 120_000);

  it("gemm-sweep and attention-sweep: shapes past the device's limit for one tensor are refused before the first row", async () => {
    // Each such row failed at run time, after the others (attention-sweep: after every ragged check); a sweep of only
    // such rows exited 1, one with others 0 with FAILED rows.
    const caps = (await gpu()).caps, limit = tensorLimit(caps);
    const over = `over this device's limit of ${limit} bytes a tensor (maxStorageBufferBindingSize ${caps.maxStorageBinding}, maxBufferSize ${caps.maxBufferSize}); nothing was run`;
    refused('gemm-sweep', ['--parts', 'f32', '--size', '100000', '--samples', '1', '--repeat', '1', '--pick', 'f32 default path'],
      `--size 100000 (part f32): f32[100000, 100000] needs 40000000000 bytes: ${over}`);
    // Every shape in one line: a decode projection whose weights pass the limit beside a square that does.
    const n = Math.floor(limit / 2048) + 8;
    const r = refused('gemm-sweep', ['--parts', 'f32,decode', '--size', '100000', '--decode-shapes', `${n}x1024,8x8`, '--decode-m', '1,8', '--samples', '1'],
      `--size 100000 (part f32): f32[100000, 100000] needs 40000000000 bytes; part decode ${n}x1024: f16[${n}, 1024] needs ${n * 2048} bytes: ${over}`);
    expect(r.stderr, 'the 8x8 shape fits').not.toContain('8x8');
    // A decode shape --pick leaves no variant of is skipped by the sweep, so it is not refused either.
    const skipped = bench('gemm-sweep', ['--parts', 'f32,decode', '--size', '64', '--decode-shapes', `${n}x1024`, '--decode-m', '1', '--samples', '1', '--pick', 'f32 default path']);
    expect(skipped.code, skipped.stderr).toBe(0);
    refused('attention-sweep', ['--quick', '--dec-shapes', '1024x1,1024x100000'],
      `decode 1024x100000 (--dec-shapes): f16[100000, 32, 8, 128] needs 6553600000 bytes: ${over}`);
    refused('attention-sweep', ['--quick', '--only', 'tiled', '--prefill-geos', '256,0,256,3000000,8,8'],
      'prefill check T=256 qPos0=0 kv=256 cap=3000000 H=8/8 D=64 (--prefill-geos): f16[1, 8, 3000000, 64] needs 3072000000 bytes; prefill check T=256 qPos0=0 kv=256 cap=3000000 H=8/8 D=128');
  }, 120_000);

  it('pool-bench: every configuration failing in the engine exits 1 (a malformed --model)', () => {
    const bad = join(tmp, 'bad.safetensors');
    writeFileSync(bad, 'not a safetensors file');
    const r = bench('pool-bench', ['--model', bad, '--dtype', 'f32', '--batches', 'a', '--scale', '256', '--new-tokens', '2', '--configs', 'single,pool']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error: every row failed (2)');
  }, 120_000);

  it('paper sweep and report: counts, strategies, inputs and options checked before any point', () => {
    // --batch abc / --repeat abc ran every point on NaN; an unknown option was a stack trace; report had no --help.
    refused('paper/sweep', ['--batch', 'abc'], "--batch must be an integer >= 1, got 'abc'");
    refused('paper/sweep', ['--repeat', '0'], "--repeat must be an integer >= 1, got '0'");
    refused('paper/sweep', ['--strategies', 'fapool,tp'], "--strategies: unknown 'tp' (known: fapool, static)");
    refused('paper/sweep', ['--lengths', '16,0'], '--lengths');
    refused('paper/sweep', ['--bogus'], "Unknown option '--bogus'");
    refused('paper/report', ['--results', join(tmp, 'missing.json')], 'missing.json does not exist');
    refused('paper/report', ['--gemm-eff', '2'], "--gemm-eff must be a number in (0, 1], got '2'");
    expect(bench('paper/report', ['--help']).stdout).toContain('Usage: node dist/kernels-bench/paper/report.js');
  }, 120_000);

  it('gemm-stability on an adapter without f16 subgroup matrices: one error line, exit 1, no stack trace', async (ctx) => {
    if (hasSubgroupMatrixF16((await gpu()).caps)) { ctx.skip(); return; }   // there it measures
    const r = bench('gemm-stability', ['--sets', '1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error: this adapter has no f16 subgroup matrices: nothing to measure');
    expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
  }, 120_000);

  it('attention-sweep: a missing --torch, an --only matching nothing, and --dec / --dec-kv / --dec-shapes / --prefill-geos / --prefill-d are refused first', () => {
    // A missing --torch file was skipped without a word: no SDPA column, exit 0.
    refused('attention-sweep', ['--quick', '--defaults', '--torch', join(tmp, 'torch-typo.json')], 'torch-typo.json does not exist');
    writeFileSync(join(tmp, 'notorch.json'), '{"ms": {}}');
    refused('attention-sweep', ['--quick', '--torch', join(tmp, 'notorch.json')], 'no "rows" list');
    refused('attention-sweep', ['--quick', '--only', 'zzz'], "--only 'zzz' matches no variant on this device (the names: tiled (f32 FMA, v0)");
    refused('attention-sweep', ['--quick', '--dec', 'bogus'], '--dec bogus: expected u<U>s<splits>');
    // --dec-kv was checked only at the timed decode shapes, after every ragged check.
    refused('attention-sweep', ['--quick', '--dec-kv', '3'], '--dec-kv 3: a divisor of the 32 query heads');
    refused('attention-sweep', ['--quick', '--dec-shapes', '4096'], "--dec-shapes: bad shape '4096'");
    refused('attention-sweep', ['--quick', '--prefill-geos', '1,2,3'], "--prefill-geos '1,2,3': expected");
    refused('attention-sweep', ['--quick', '--prefill-geos', '20,3,40,40,2,1,0'], "--prefill-geos '20,3,40,40,2,1,0': expected");
    refused('attention-sweep', ['--quick', '--prefill-d', '96'], '--prefill-d 96: 128 or 64');
    refused('attention-sweep', ['--quick', '--keep', '0'], '--keep must be an integer >= 1');
    refused('attention-sweep', ['--quick', '--samples', 'abc'], '--samples must be an integer');
    const t = join(tmp, 'torch.json');
    writeFileSync(t, '{"rows": []}');
    refused('attention-sweep', ['--quick', '--torch', t, '--out', t], 'is the --torch file');
    // --defaults runs its own variants: --only / --dec / --keep beside it were ignored without a word.
    const d = refused('attention-sweep', ['--quick', '--defaults', '--only', 'sg u2', '--keep', '2', '--torch', join(tmp, 'none.json')], 'none.json does not exist');
    expect(d.stderr).toContain('warning: --only has no effect with --defaults');
    expect(d.stderr).toContain('warning: --keep has no effect with --defaults');
  }, 120_000);

  it('pool-bench: unknown configurations and batches, values every configuration failed on, --new-tokens 1, a missing --model', () => {
    // Ran 'single' (minutes on a GPU), then a stack trace at 'bogus'.
    refused('pool-bench', ['--preset', 'tiny', '--dtype', 'f32', '--configs', 'single,bogus'], "--configs: unknown 'bogus' (known: single, pool,");
    refused('pool-bench', ['--batches', 'a,z'], "--batches: unknown 'z' (known: a, b, c)");
    refused('pool-bench', ['--configs', 'single,single'], "--configs: 'single' given twice");
    // Each of these was a FAILED row per configuration, exit 0.
    refused('pool-bench', ['--model', join(tmp, 'none.safetensors')], 'none.safetensors does not exist');
    refused('pool-bench', ['--preset', 'tiny', '--dtype', 'f64'], "--dtype must be f32 or f16, got 'f64'");
    refused('pool-bench', ['--preset', 'tiny', '--pool', 'abc'], "--pool must be an integer in [1, 64], got 'abc'");
    refused('pool-bench', ['--preset', 'tiny', '--new-tokens', '0'], '--new-tokens must be an integer >= 2');
    // One token is the prefill's: "step 0.23 ms", "per-layer overhead 0.096 ms" measured no decode step.
    refused('pool-bench', ['--preset', 'tiny', '--new-tokens', '1'], '--new-tokens must be an integer >= 2');
    refused('pool-bench', ['--preset', 'tiny', '--scale', '0'], '--scale must be a number > 0');
    refused('pool-bench', ['--preset', 'tiny', '--threshold', '16', '--scale', '100'], 'rounds to a threshold of 0');
    refused('pool-bench', ['--preset', 'nope'], "--preset must be seed-4l, tiny or fortune-4l, got 'nope'");
    refused('pool-bench', ['--preset', 'tiny', '--out', tmp], 'is a folder');
  }, 120_000);

  it('decode-profile and prefill-profile: values checked before the model loads; --out never replaces the weights', () => {
    // A NaN target timed nothing: a table of NaN, exit 0.
    refused('decode-profile', ['--preset', 'tiny', '--dtype', 'f32', '--target-ms', 'abc'], "--target-ms must be a number in (0, 60000], got 'abc'");
    refused('decode-profile', ['--preset', 'tiny', '--batch', '0'], "--batch must be an integer >= 1, got '0'");
    // TPOT 0.000 ms and NaN step figures from one token (the prefill's).
    refused('decode-profile', ['--preset', 'tiny', '--new-tokens', '1'], '--new-tokens must be an integer >= 2');
    refused('decode-profile', ['--preset', 'tiny', '--samples', '9999'], '--samples must be an integer in [1, 2048]');
    refused('decode-profile', ['--preset', 'tiny', '--warm-ms', 'abc'], "--warm-ms must be a number in [0, 60000], got 'abc'");
    refused('decode-profile', ['--preset', 'tiny', '--init', 'randm'], "--init must be random, got 'randm'");
    refused('decode-profile', ['--model', join(tmp, 'nothing-here')], 'nothing-here does not exist');
    // The engine's own refusal (after the load): a stack trace before, one line now.
    refused('decode-profile', ['--preset', 'tiny', '--dtype', 'f32', '--context', '100000'], "exceeds the model's context of 512");
    const w = join(tmp, 'w.safetensors');
    writeFileSync(w, 'weights');
    refused('decode-profile', ['--model', w, '--wall-only', '--out', w], 'a weights file name, which the results would overwrite');
    refused('prefill-profile', ['--model', w, '--out', w], 'a weights file name');
    expect(readFileSync(w, 'utf8')).toBe('weights');
    refused('prefill-profile', ['--preset', 'tiny', '--prompt-len', '0'], "--prompt-len must be an integer >= 1, got '0'");
    refused('prefill-profile', ['--preset', 'tiny', '--chunk', '1.5'], "--chunk must be an integer >= 1, got '1.5'");
    refused('prefill-profile', ['--preset', 'tiny', '--dtype', 'bf16'], '--dtype must be f32 or f16');
  }, 120_000);

  it('decode-profile: an option --wall-only does not use is a warning', () => {
    const r = bench('decode-profile', ['--preset', 'tiny', '--dtype', 'f32', '--context', '8', '--new-tokens', '2', '--warm-tokens', '1', '--wall-only', '--samples', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: --samples has no effect with --wall-only');
  }, 120_000);

  it("first-bench: its own options' values, --help without a model, options it would ignore, a missing --prompt-len", () => {
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--warm', 'abc'], "--warm must be an integer >= 0, got 'abc'");
    // A value-less --warm last was Number(undefined): "first-bench: --warm takes a count ≥ 0" with a stack.
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--warm'], '--warm needs a value');
    // --warm=3 went to run-inference's parser: "Unknown option '--warm'" with a stack. run-inference's warnings (an
    // option that changes nothing) were dropped.
    const ok = bench('first-bench', ['--preset', 'tiny', '--dtype', 'f32', '--prompt-len', '8', '--max-new-tokens', '2', '--warm=0', '--threshold', '16']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as { ttftMs: number[] }).ttftMs).toHaveLength(1);
    expect(ok.stderr).toContain('warning: --threshold has no effect without a pool');
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--warm', '1', '--warm', '2'], '--warm given twice');
    // --help loaded the default model and failed in precompile with a stack trace.
    expect(bench('first-bench', ['--help']).code).toBe(0);
    refused('first-bench', ['--preset', 'tiny'], 'first-bench needs --prompt-len N');
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--batch', '4'], '--batch: first-bench times one synthetic --prompt-len prompt');
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--temperature', '0.8'], '--temperature: first-bench times one');
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--idle-tick-ms', '100'], '--idle-tick-ms ticks during the --idle-ms wait');
    refused('first-bench', ['--preset', 'tiny', '--prompt-len', '8', '--bogus'], "Unknown option '--bogus'");
  }, 120_000);

  it('hop-bench, link-bench, gemm-stability, io-thread-probe: counts and names checked before any GPU, worker or child', () => {
    // --reps 0 timed nothing (link-bench after starting a worker), then a TypeError on an empty percentile.
    refused('hop-bench', ['--reps', '0'], "--reps must be an integer >= 1, got '0'");
    refused('link-bench', ['--reps', 'abc'], "--reps must be an integer >= 1, got 'abc'");
    refused('link-bench', ['--len', '0'], '--len must be an integer >= 1');
    refused('gemm-stability', ['--ids', 't128x256_sg2x4_k32_b1,nope'], "--ids: unknown 'nope' (known: t128x256_sg2x4_k32_b1,");
    refused('gemm-stability', ['--sets', '0'], '--sets must be an integer >= 1');
    refused('io-thread-probe', ['--rounds', '0'], '--rounds must be an integer >= 1');
    refused('io-thread-probe', ['--variants', 'default,nope'], "--variants: unknown 'nope' (known: default, pin, idle, spin)");
    // Below 3 CPUs the probe's client child failed and this process, left waiting on nothing, exited 0.
    const r = bench('io-thread-probe', ['--reps', '5', '--rounds', '1', '--variants', 'default'], ['taskset', '-c', '0']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('io-thread-probe needs 3 CPUs or more');
  }, 120_000);

  it('server-bench: lengths, max_tokens, levels and --url checked before a server starts', () => {
    // Each request was a 400 (a table of errors, exit 0), or the server started and the warm-up failed.
    refused('server-bench', ['--max-tokens', '0'], "--max-tokens must be an integer >= 1, got '0'");
    refused('server-bench', ['--lens', '16,abc'], "--lens: 'abc' is not an integer >= 1");
    refused('server-bench', ['--lens', '0'], "--lens: '0' is not an integer >= 1");
    refused('server-bench', ['--levels', '0:2'], "--levels item '0:2'");
    refused('server-bench', ['--levels', '1:0'], "--levels item '1:0'");
    refused('server-bench', ['--url', 'http://127.0.0.1:1', '--preset', 'tiny'], '--preset: options of the server this bench starts; --url names a running one');
    refused('server-bench', ['--url', 'localhost:8000'], "--url must be a server's base URL");
    refused('server-bench', ['--out', join(tmp, 'nope', 'x.json')], 'does not exist');
    // The served context (the model's, or serve's --max-context) was known only from /v1/models, after the model
    // loaded: a stack trace, exit 1. Now from the model files and serve's own parser, before the server starts.
    const early = (args: string[], why: string) => expect(refused('server-bench', args, why).stderr, 'no server started').not.toContain('[serve]');
    early(['--preset', 'tiny', '--lens', '16,500', '--max-tokens', '32'], "--lens 500 with --max-tokens 32: over the server's context of 512 tokens (model 'tiny')");
    early(['--preset', 'tiny', '--lens', '64', '--serve-args=--max-context 64'], "--lens 64 with --max-tokens 32: over the server's context of 64 tokens (--serve-args --max-context 64)");
    early(['--dtype', 'f64'], "the started server's options: --dtype must be f32 or f16, got 'f64'");
    early(['--serve-args=--max-batch 0'], "the started server's options: --max-batch must be an integer in [1,");
  }, 120_000);

  it('soak: a NaN fault period or memory slack, and --out onto a folder, are refused before anything starts', () => {
    // NaN: the whole soak ran without a fault / without its memory check, exit 0; 0: a fault back to back.
    refused('soak', ['--kill-every-s', 'abc'], "--kill-every-s must be a number in (0, 3600], got 'abc'");
    refused('soak', ['--kill-every-s', '0'], '--kill-every-s must be a number in (0, 3600]');
    refused('soak', ['--rss-slack-mib', 'abc'], "--rss-slack-mib must be a number >= 0, got 'abc'");
    refused('soak', ['--minutes', '0.2'], '--minutes must be a number in [1, 10080]');
    // EISDIR after the last minute.
    refused('soak', ['--out', tmp], 'is a folder');
    const out = join(tmp, 'made', 'soak.json');
    refused('soak', ['--out', out, '--minutes', 'x'], '--minutes must be a number');
    expect(existsSync(join(tmp, 'made')), '--out is checked after the numbers').toBe(false);
  }, 120_000);

  it('run: an --only matching no case, bad --samples and --peak-*, a missing --baseline', () => {
    // An empty table, exit 0.
    refused('run', ['--quick', '--only', 'zzz'], "--only 'zzz' matches no case of --quick (the cases: gemm_f32,");
    // Every case FAILED ("First query (0) exceeds the number of queries (0)"), exit 0.
    refused('run', ['--quick', '--samples', '0'], '--samples must be an integer in [1, 2048]');
    // The roofline column silently '-'.
    refused('run', ['--quick', '--peak-gbs', 'abc'], "--peak-gbs must be a number > 0, got 'abc'");
    refused('run', ['--quick', '--baseline', join(tmp, 'none.json')], 'none.json does not exist');
  }, 120_000);
});

describe('bench-args values', () => {
  it('refuseOverLimit: the largest tensor of each shape past min(binding, buffer), all in one line; none past it, no error', () => {
    const limits = { maxStorageBinding: 1000, maxBufferSize: 4000 };
    expect(() => refuseOverLimit(limits, [{ what: 'a', dtype: 'f32', shape: [250] }, { what: 'b', dtype: 'f16', shape: [500] }])).not.toThrow();
    expect(() => refuseOverLimit(limits, [{ what: 'a', dtype: 'f32', shape: [251] }, { what: 'a', dtype: 'f32', shape: [300] }, { what: 'b', dtype: 'f16', shape: [10, 60] }]))
      .toThrow("a: f32[300] needs 1200 bytes; b: f16[10, 60] needs 1200 bytes: over this device's limit of 1000 bytes a tensor (maxStorageBufferBindingSize 1000, maxBufferSize 4000); nothing was run");
  });

  it('numbers are decimal and in range; lists have no empty items; names are known and once', () => {
    expect(int('n', '12')).toBe(12);
    for (const v of ['', ' ', '0x10', '1e3', '1.0', '-1', 'NaN', '9007199254740993']) expect(() => int('n', v), v).toThrow(/--n must be an integer/);
    expect(int('n', '0', 0)).toBe(0);
    expect(num('x', '.5', 0)).toBe(0.5);
    expect(num('x', '1e-3', 0, 1, true)).toBe(0.001);
    for (const v of ['0', 'abc', 'Infinity', '-1', '0x1']) expect(() => num('x', v, 0, 10, true), v).toThrow(/--x must be a number in \(0, 10\]/);
    expect(intList('m', '1, 8,64')).toEqual([1, 8, 64]);
    expect(() => intList('m', '1,,8')).toThrow('--m takes comma-separated integers');
    expect(() => knownNames('p', ['a', 'c'], ['a', 'b'])).toThrow("--p: unknown 'c' (known: a, b)");
    expect(() => knownNames('p', ['a', 'a'], ['a', 'b'])).toThrow("--p: 'a' given twice");
  });

  it('an output path: its folder exists, it is no folder, no weights file, none of the inputs', () => {
    const d = mkdtempSync(join(tmpdir(), 'fapool-bench-out-'));
    try {
      mkdirSync(join(d, 'sub'));
      writeFileSync(join(d, 'in.json'), '{}');
      expect(outputPath('out', join(d, 'r.json'), { cublas: join(d, 'in.json') })).toBe(join(d, 'r.json'));
      expect(() => outputPath('out', join(d, 'sub'))).toThrow('is a folder');
      expect(() => outputPath('out', join(d, 'x', 'r.json'))).toThrow('does not exist');
      expect(() => outputPath('out', join(d, 'm.safetensors'))).toThrow('a weights file name');
      expect(() => outputPath('out', join(d, 'sub', '..', 'in.json'), { cublas: join(d, 'in.json') })).toThrow('is the --cublas file');
      expect(() => outputPath('out', '')).toThrow("--out needs a file path, got ''");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
