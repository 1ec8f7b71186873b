// What --quiet keeps on stderr, for run-inference and serve alike: warnings and errors, a pool worker's too.

/** Lines --quiet keeps: warnings and errors, a pool worker's too ("[worker 0] WARNING: ..."). */
const KEPT_WHEN_QUIET = /^(\[worker \d+\] )?(warning|error)\b/i;

export function keptWhenQuiet(line: string): boolean {
  return KEPT_WHEN_QUIET.test(line);
}

/** run-inference's log: every line, or under --quiet only those keptWhenQuiet keeps (no progress, no load log). */
export function quietLog(quiet: boolean, write: (line: string) => void): (line: string) => void {
  return (line) => { if (!quiet || keptWhenQuiet(line)) write(line); };
}
