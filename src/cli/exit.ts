// How a command ends: a FapoolError is one clear line: exit 2 when the command cannot run as given (usage,
// input, policy, placement, GPU binding), 1 when something failed while running; anything else is a bug and
// keeps its stack trace. Output still queued for a pipe is written before the process exits.
import { FapoolError, InputError } from '../gpu/errors.js';
import { GpuBindingError } from '../gpu/select.js';
import { PlacementError } from '../orchestrator/baselines/placement.js';
import { PolicyError } from '../orchestrator/pool/policy.js';
import { exitWithSpawner } from './parent-watch.js';
import { UsageError } from './usage-error.js';

/** Errors in what the user asked for (exit 2); every other FapoolError is a failure while running (exit 1). */
const USER_ERRORS = [UsageError, InputError, PolicyError, PlacementError, GpuBindingError];

export function exitCodeOf(e: unknown): number {
  return USER_ERRORS.some((c) => e instanceof c) ? 2 : 1;
}

/**
 * Resolves once everything written to `stream` so far has reached the OS. process.exit() drops what Node still
 * queues for a pipe whose reader is slower than us (a 64 KiB pipe buffer, or a socket from child_process).
 */
export function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) { resolve(); return; }
    stream.write('', () => resolve()); // the callback runs after the earlier writes (or with EPIPE: no reader)
  });
}

/** Exit with `code` once stdout and stderr are drained. */
export async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

/**
 * For a command whose output is its product (run-inference.js): a reader that closed its end of stdout (`| head`)
 * ends it quietly (exit 0), as a Unix filter does, instead of an unhandled 'error' event's stack trace; any other
 * stdout error is one line, exit 1. A closed stderr (`2>&1 | head`) only loses the progress lines. Not for serve
 * or worker: their stdout closing is no reason to stop (nor to exit 0, which a supervisor would not restart).
 */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`error: writing the output: ${e.message}\n`);
    process.exit(1);
  });
  process.stderr.on('error', () => undefined);
}

export async function runAndExit(main: () => Promise<number>): Promise<never> {
  exitWithSpawner(); // started by one of ours (a bench's server, a soak's worker): not a moment past it
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    if (e instanceof FapoolError) {
      process.stderr.write(`error: ${e.message}\n`);
      code = exitCodeOf(e);
    } else {
      process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    }
  }
  return exitAfterFlush(code);
}
