// The benchmark scripts' command lines, one way for all (hostile-use round 8): parsed strictly (an unknown, repeated
// or value-less option, or a stray word, is an error), values checked before any GPU work, and --help generated from
// the same table the parser reads, so it cannot drift from the defaults. A bad command line is one `error:` line and
// exit 2, as run-inference.js's. Before, `--samples abc` timed NaN, `--pick` with a typo ran nothing, and a missing
// `--torch` file was skipped — each with exit 0 (session 34's H100 calls s34b/s34c recorded `rows: []` so).
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkWritableFile, int as cliInt, num as cliNum, sameFile } from '../src/cli/args.js';
import { exitAfterFlush, exitCodeOf } from '../src/cli/exit.js';
import { exitWithSpawner } from '../src/cli/parent-watch.js';
import { FapoolError } from '../src/gpu/errors.js';
import { DTYPE_BYTES } from '../src/gpu/index.js';
import { optionLabel, refuseRepeatedOptions, UsageError } from '../src/cli/usage-error.js';
import { PRESETS } from '../src/model/config.js';
import { tensorLimit, type BindingLimits } from '../src/model/load-weights.js';

export { UsageError };

export interface BenchOption {
  type: 'string' | 'boolean';
  default?: string | boolean;
  short?: string;
  /** Its line in --help. */
  help?: string;
  /** A child process's role (set by the script itself): left out of --help. */
  hidden?: boolean;
}
export type BenchOptions = Record<string, BenchOption>;

/** What the parser gives: strings (undefined unless given or defaulted), booleans (false unless given). */
export type BenchValues<O extends BenchOptions> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

export interface BenchUsage {
  /** The script's file name in dist/kernels-bench/ (gemm-sweep.js). */
  script: string;
  /** What it does: lines printed under the usage line. */
  about: string;
  examples?: string[];
}

export function helpText(u: BenchUsage, options: BenchOptions): string {
  const lines = [`Usage: node dist/kernels-bench/${u.script} [options]`, '', u.about.trimEnd(), '', 'Options:'];
  for (const [name, s] of Object.entries({ ...options, help: { type: 'boolean', short: 'h', help: 'show this help' } as BenchOption })) {
    if (s.hidden) continue;
    const def = s.type === 'string' && s.default !== undefined && s.default !== '' ? ` (default ${s.default})` : '';
    lines.push(`  ${optionLabel(name, s).padEnd(26)} ${s.help ?? ''}${def}`);
  }
  if (u.examples?.length) lines.push('', 'Examples:', ...u.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Parses `argv` (default: the process's) strictly against `options`; --help prints the generated help and exits 0.
 * A command line that cannot be parsed is one `error:` line and exit 2, here (scripts parse at module level).
 * `given`: the options on the command line (not defaulted).
 */
export function benchArgs<O extends BenchOptions>(u: BenchUsage, options: O, argv = process.argv.slice(2)): { values: BenchValues<O>; given: Set<string> } {
  const spec = Object.fromEntries(Object.entries({ ...options, help: { type: 'boolean', short: 'h' } as BenchOption }).map(([k, s]) =>
    [k, { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.default !== undefined ? { default: s.default } : {}) }]));
  let values: Record<string, string | boolean | undefined>, tokens: { kind: string; name?: string }[], given: Set<string>;
  try {
    const r = parseArgs({ args: argv, options: spec as never, strict: true, allowPositionals: false, tokens: true }) as unknown as
      { values: Record<string, string | boolean | undefined>; tokens: { kind: string; name?: string }[] };
    values = r.values;
    tokens = r.tokens;
  } catch (e) {
    return usageExit(`${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (--help lists the options)`);
  }
  try { given = refuseRepeatedOptions(tokens); } catch (e) { return usageExit((e as Error).message); }
  if (values.help) { process.stdout.write(helpText(u, options)); process.exit(0); }
  for (const [k, s] of Object.entries(options)) if (s.type === 'boolean') values[k] ??= false;
  delete values.help;
  return { values: values as BenchValues<O>, given };
}

/** One `error:` line and exit 2, at once (a short line to a pipe or a socket is written synchronously). */
function usageExit(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

/**
 * How a script ends: exit with main's code (0 when it returns none); a command line it cannot run (UsageError, the
 * engine's InputError, …) is one `error:` line and exit 2; anything else keeps its stack trace and exits 1, as before.
 */
export function runBench(main: () => Promise<number | void>): void {
  exitWithSpawner(); // a child role (soak's workers and coordinators, a probe's server): it ends with its parent
  main().then((code) => exitAfterFlush(code ?? 0), (e: unknown) => {
    // A FapoolError (a usage error, or a device that cannot run what was asked) is one line, as run-inference.js's.
    if (e instanceof FapoolError) process.stderr.write(`error: ${e.message}\n`);
    else console.error(e);
    return exitAfterFlush(exitCodeOf(e));
  });
}

/**
 * Exit code 1 (with one line naming the first error) when a sweep's every row failed: it measured nothing, and a round
 * script or a reader of its exit status took such a run for a result (round 8's left list). Undefined otherwise.
 */
export function allRowsFailed(rows: readonly { error?: unknown }[]): number | undefined {
  if (rows.length === 0 || rows.some((r) => !r.error)) return undefined;
  process.stderr.write(`error: every row failed (${rows.length}); the first: ${String(rows[0]!.error).split('\n')[0]}\n`);
  return 1;
}

// ---- device limits -----------------------------------------------------------------------------------------

/** A tensor a run will allocate: `what` names the shape and the option that asks for it. */
export interface PlannedTensor { what: string; dtype: 'f16' | 'f32'; shape: readonly number[] }

/**
 * Refuses a run (after the GPU opens, before its first row) when a tensor it will allocate passes the device's limit
 * for one tensor (one storage binding, one buffer): each such row failed at run time, after the other rows' minutes.
 * One line names every such shape, with its largest tensor, and the limit.
 */
export function refuseOverLimit(limits: BindingLimits, planned: readonly PlannedTensor[]): void {
  const limit = tensorLimit(limits);
  const largest = new Map<string, { t: PlannedTensor; bytes: number }>();
  for (const t of planned) {
    const bytes = t.shape.reduce((p, d) => p * d, DTYPE_BYTES[t.dtype]);
    if (bytes > limit && bytes > (largest.get(t.what)?.bytes ?? 0)) largest.set(t.what, { t, bytes });
  }
  if (!largest.size) return;
  const items = [...largest.values()].map(({ t, bytes }) => `${t.what}: ${t.dtype}[${t.shape.join(', ')}] needs ${bytes} bytes`);
  const list = `${items.slice(0, 8).join('; ')}${items.length > 8 ? `; … (${items.length - 8} more)` : ''}`;
  throw new UsageError(`${list}: over this device's limit of ${limit} bytes a tensor (maxStorageBufferBindingSize ${limits.maxStorageBinding}, ` +
    `maxBufferSize ${limits.maxBufferSize}); nothing was run`);
}

// ---- values ------------------------------------------------------------------------------------------------

/** Most --samples a timing takes: its timestamp query set holds 2 a sample, and WebGPU caps a set at 4096. */
export const MAX_SAMPLES = 2048;

/** A decimal integer in [min, max]: run-inference's rule (digits only: `--samples 1e3` is a typo more often than not), spaces around it allowed. */
export function int(name: string, v: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  return cliInt(name, v.trim(), min, max);
}

/** A plain decimal number (1, 0.5, .5, 1e-3) in [lo, hi] ((lo, hi] with loOpen): run-inference's rule, spaces allowed. */
export function num(name: string, v: string, lo: number, hi = Number.MAX_VALUE, loOpen = false): number {
  return cliNum(name, v.trim(), lo, hi, loOpen);
}

/** Comma-separated integers in [min, max]; no empty items. */
export function intList(name: string, v: string, min = 1, max = Number.MAX_SAFE_INTEGER): number[] {
  const items = v.split(',');
  if (items.some((x) => x.trim() === '')) throw new UsageError(`--${name} takes comma-separated integers, got '${v}'`);
  return items.map((x) => {
    try { return int(name, x, min, max); } catch { throw new UsageError(`--${name}: '${x}' is not an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`} (in '${v}')`); }
  });
}

export function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}, got '${v}'`);
  return v as T;
}

/** `known` names, at most `most` of them, for an error message. */
export function nameList(known: readonly string[], most = 40): string {
  return known.length <= most ? known.join(', ') : `${known.slice(0, most).join(', ')}, … (${known.length - most} more)`;
}

/** Each of `given` must be one of `known` (a list option: --parts, --configs, --batches, --ids). */
export function knownNames(name: string, given: readonly string[], known: readonly string[]): void {
  const unknown = given.filter((g) => !known.includes(g));
  if (unknown.length) {
    throw new UsageError(`--${name}: unknown ${unknown.map((x) => `'${x}'`).join(', ')} (known: ${nameList(known)})`);
  }
  const twice = given.filter((g, i) => given.indexOf(g) !== i);
  if (twice.length) throw new UsageError(`--${name}: '${twice[0]}' given twice`);
}

/** Comma-separated names, each one of `known`, none empty or given twice. */
export function nameListOf(name: string, v: string, known: readonly string[]): string[] {
  const given = v.split(',').map((x) => x.trim());
  if (given.some((x) => x === '')) throw new UsageError(`--${name} takes comma-separated names, got '${v}' (known: ${nameList(known)})`);
  knownNames(name, given, known);
  return given;
}

// ---- files -------------------------------------------------------------------------------------------------

/** A file (or, with `folder`, a folder) the script reads: it must exist and be readable. */
export function inputPath(name: string, path: string, o: { folder?: boolean } = {}): string {
  let st;
  try { st = statSync(path); } catch { throw new UsageError(`--${name} ${path} does not exist`); }
  if (st.isDirectory() && !o.folder) throw new UsageError(`--${name} ${path} is a folder; give a file`);
  try { accessSync(path, constants.R_OK); } catch { throw new UsageError(`--${name} ${path}: not readable`); }
  return path;
}

/** A JSON file the script reads (--cublas, --torch, --baseline). */
export function readJson<T>(name: string, path: string): T {
  inputPath(name, path);
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch (e) { throw new UsageError(`--${name} ${path}: not JSON (${(e as Error).message})`); }
}

/**
 * A file the script writes (`--out`, `--md`): its folder must exist and be writable, it must not be a folder, a
 * weights file, nor any of `others` (the run's inputs, or another output), which it would overwrite.
 */
export function outputPath(name: string, path: string, others: Record<string, string | undefined> = {}): string {
  if (path === '') throw new UsageError(`--${name} needs a file path, got ''`);
  checkWritableFile(path, `--${name}`);
  if (/\.safetensors$/i.test(path)) throw new UsageError(`--${name} ${path}: a weights file name, which the results would overwrite; choose another path`);
  for (const [other, p] of Object.entries(others)) {
    if (p !== undefined && sameFile(path, p)) throw new UsageError(`--${name} ${path} is the --${other} file, which the results would overwrite; choose another path`);
  }
  return path;
}

/** The options of the scripts that load a model (--model, --preset, --init, --dtype): one declaration, one check. */
export const MODEL_OPTIONS = {
  model: { type: 'string', help: 'weights (a safetensors file or a checkpoint folder); default: random weights of --preset' },
  preset: { type: 'string', default: 'seed-4l', help: `the model without --model: ${Object.keys(PRESETS).join(', ')}` },
  init: { type: 'string', help: "'random': random weights of --preset's shape written to --model (default without --model)" },
  dtype: { type: 'string', default: 'f16', help: 'f32 or f16' },
} as const satisfies BenchOptions;

/** MODEL_OPTIONS' values checked before the load; what createEngine takes from them. */
export function modelChoice(v: { model?: string; preset: string; init?: string; dtype: string }): { model?: string; preset: string; init?: 'random'; dtype: 'f32' | 'f16' } {
  oneOf('preset', v.preset, Object.keys(PRESETS));
  const dtype = oneOf('dtype', v.dtype, ['f32', 'f16'] as const);
  if (v.init !== undefined) oneOf('init', v.init, ['random']);
  if (v.model !== undefined && v.init === undefined) inputPath('model', v.model, { folder: true });
  const init = v.init !== undefined || v.model === undefined ? 'random' as const : undefined;
  return { ...(v.model !== undefined ? { model: v.model } : {}), preset: v.preset, ...(init ? { init } : {}), dtype };
}
