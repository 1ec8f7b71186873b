import { FapoolError } from '../gpu/errors.js';

/** A command line that cannot be run (unknown flag, bad value): exit code 2. */
export class UsageError extends FapoolError {}

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
