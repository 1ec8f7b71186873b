// How a command ends: a FapoolError is one clear line (exit 2 for usage errors, 1 otherwise); anything
// else is a bug and keeps its stack trace.
import { FapoolError } from '../gpu/errors.js';
import { UsageError } from './usage-error.js';

export async function runAndExit(main: () => Promise<number>): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    if (e instanceof FapoolError) {
      process.stderr.write(`error: ${e.message}\n`);
      code = e instanceof UsageError ? 2 : 1;
    } else {
      process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    }
  }
  process.exit(code);
}
