// A process this package starts (a pool worker, the server a benchmark starts, a benchmark's child role) must not
// outlive the process that started it: a stray worker holds a GPU device and its memory. A parent killed by a signal
// (SIGKILL included) runs no exit handler, so the child has to notice by itself. It polls getppid(): an orphan is
// re-parented (to init or a subreaper), so its parent pid changes whatever killed the parent and whatever the child's
// stdio is. That is one system call a quarter second on an unref'd timer, and nothing on the token path.

/** Set by a spawner to its own pid: the child exits when that process is no longer its parent. */
export const PARENT_PID_ENV = 'FAPOOL_PARENT_PID';

/** How often the parent pid is read (the child exits within about this long, plus its own shutdown). */
const POLL_MS = 250;

/** After the SIGTERM a gone parent causes, how long the child's own shutdown may take before a hard exit. */
const SHUTDOWN_GRACE_MS = 3000;

/** The environment for a child that must exit with this process: this process's, `extra`, and this pid. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, [PARENT_PID_ENV]: String(process.pid) };
}

/**
 * Calls `onGone` once, as soon as `parentPid` is no longer this process's parent (checked at once, then every
 * `intervalMs`). Returns a function that stops the watch. The timer never keeps the process alive.
 */
export function watchParent(parentPid: number, onGone: () => void, intervalMs = POLL_MS): () => void {
  let timer: ReturnType<typeof setInterval> | null = null;
  const stop = () => { if (timer) clearInterval(timer); timer = null; };
  const check = () => {
    if (process.ppid === parentPid) return;
    stop();
    onGone();
  };
  timer = setInterval(check, intervalMs);
  timer.unref();
  check(); // a parent that died before we started watching
  return stop;
}

/**
 * When a spawner named itself in PARENT_PID_ENV: on its death, SIGTERM to this process (so the command's own
 * shutdown runs: a worker removes its socket, a server closes its workers), and a hard exit if that takes over
 * SHUTDOWN_GRACE_MS. The variable is removed, so that this process's own children are not bound to its parent.
 * A no-op without the variable (a command started by hand lives on its own).
 */
export function exitWithSpawner(): void {
  const v = process.env[PARENT_PID_ENV];
  if (v === undefined) return;
  delete process.env[PARENT_PID_ENV];
  const pid = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(pid) || pid < 1) return;
  watchParent(pid, () => {
    // stderr may be a pipe nobody reads any more: its EPIPE must not become an uncaught error now.
    process.stderr.on('error', () => undefined);
    process.stderr.write(`[pid ${process.pid}] the process that started this one (pid ${pid}) is gone: stopping\n`);
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  });
}
