import { FapoolError } from '../gpu/errors.js';

/** A command line that cannot be run (unknown flag, bad value): exit code 2. */
export class UsageError extends FapoolError {}
