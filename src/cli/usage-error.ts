import { parseArgs } from 'node:util';
import { FapoolError } from '../gpu/errors.js';

/** A command line that cannot be run (unknown flag, bad value): exit code 2. */
export class UsageError extends FapoolError {}

/** An option as --help lists it: `-h, --help`, `--port VALUE`. */
export function optionLabel(name: string, spec: { type: string; short?: string }): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ' VALUE' : ''}`;
}

/**
 * --strategy against the options it leaves unused, the same for the main command and serve: FA Pool flags under
 * static (`fapoolFlags`: those the command has that were given), --placement without it.
 */
export function refuseStrategyConflicts(given: ReadonlySet<string>, strategy: string, fapoolFlags: readonly string[], command = ''): void {
  if (strategy === 'static') {
    const poolOpts = fapoolFlags.filter((k) => given.has(k));
    if (poolOpts.length) throw new UsageError(`${command}${poolOpts.map((k) => `--${k}`).join(', ')}: FA Pool options; --strategy static places ranks 1.. in --spawn/--cluster workers, or in this process without them (--placement)`);
  } else if (given.has('placement')) {
    throw new UsageError(`${command}--placement sets the static baseline's degrees: add --strategy static (FA Pool ranks come from --pool, --cluster or --spawn)`);
  }
}

/** An option given twice is a mistake (node:util's parseArgs keeps the last value without a word). */
export function refuseRepeatedOptions(tokens: readonly { kind: string; name?: string }[], command = ''): Set<string> {
  const given = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (given.has(t.name!)) throw new UsageError(`${command}--${t.name} given twice`);
    given.add(t.name!);
  }
  return given;
}

/** An option table: what node:util's parseArgs reads (type, short, default) beside the help the command prints. */
export type OptionTable = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string; readonly default?: string | boolean }>>;

/**
 * argv against an option table: its values and the options given (each at most once, refuseRepeatedOptions). An
 * unknown option or a missing value is a UsageError, `command` first and `hint` (where to see the options) last.
 */
export function parseOptions(argv: string[], table: OptionTable, command: string, hint: string): { values: Record<string, string | boolean | undefined>; given: Set<string> } {
  const options = Object.fromEntries(Object.entries(table).map(([k, s]) => [k, { type: s.type, ...(s.short !== undefined ? { short: s.short } : {}), ...(s.default !== undefined ? { default: s.default } : {}) }]));
  let parsed: { values: Record<string, string | boolean | undefined>; tokens: { kind: string; name?: string }[] };
  try {
    parsed = parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false, tokens: true }) as unknown as typeof parsed;
  } catch (e) {
    throw new UsageError(`${command}${(e as Error).message.replace(/\. To specify.*$/, '')}\n${hint}`);
  }
  return { values: parsed.values, given: refuseRepeatedOptions(parsed.tokens, command) };
}
