// FAPOOL_IDLE_SPIN: while this process's links busy-poll (a decode step's burst of messages), keep CPUs from going
// idle with one lowest-priority spinner process per CPU. Why: a ZeroMQ message between processes wakes two
// sleeping I/O threads (the sender's and the receiver's); on a virtual machine whose idle vCPUs halt (the lent H200:
// Firecracker, no cpuidle driver, idle = HLT) each wake lands on a halted vCPU and costs tens of µs to a few hundred
// (kernels-bench/NOTES.md, sessions 6–7: legs 0.06 ms with every CPU busy against 0.3 in a decode). The spinners run
// under SCHED_IDLE: any other thread that wakes on their CPU takes it at once, and the kernel counts such a CPU as idle
// when it places a woken thread. The cost is CPU time (every spinner burns its CPU while a window is open), so it is
// off by default. Each spinner also exits when this process is gone (it checks its parent), so a killed process
// leaves none behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Spinners per FAPOOL_IDLE_SPIN: 'all' (one per CPU), a count ≥ 0, or unset / '' / 0 (off). */
export function idleSpinCount(value: string | undefined, cpus: number): number {
  const v = value?.trim();
  if (v === undefined || v === '' || v === '0') return 0;
  if (v === 'all') return cpus;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`FAPOOL_IDLE_SPIN=${value}: 'all', or a whole number of CPUs (0: off)`);
  return Math.min(n, cpus);
}

/** The spinner's loop: spin while the parent (this process) lives. `kill -0` is a shell builtin: no fork per turn. */
export const SPIN_SCRIPT = 'while kill -0 $PPID 2>/dev/null; do :; done';

/** Starts the spinner for one CPU: pinned there, at SCHED_IDLE. */
export type SpinnerLauncher = (cpu: number) => ChildProcess;
const launchSpinner: SpinnerLauncher = (cpu) =>
  spawn('taskset', ['-c', String(cpu), 'chrt', '-i', '0', 'sh', '-c', SPIN_SCRIPT], { stdio: 'ignore' });

/**
 * Spinners started by the first acquire() and stopped when the last holder releases them; one per CPU i < count,
 * pinned there (taskset) at SCHED_IDLE (chrt -i 0). A system without taskset or chrt gets none and one warning.
 */
export class IdleSpinners {
  private procs: ChildProcess[] = [];
  private holders = 0;
  private failed = false;

  constructor(readonly count: number, private readonly warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`),
    private readonly launch: SpinnerLauncher = launchSpinner) {}

  /** The spinner processes running now. */
  get pids(): number[] { return this.procs.map((p) => p.pid ?? -1); }

  acquire(): void {
    if (this.holders++ > 0 || this.count === 0 || this.failed) return;
    for (let cpu = 0; cpu < this.count; cpu++) {
      const p = this.launch(cpu);
      p.once('error', (e) => this.fail(`FAPOOL_IDLE_SPIN: could not start a spinner (${e.message}); running without them`));
      p.once('exit', (code) => {
        this.procs = this.procs.filter((q) => q !== p);
        if (code !== null && code !== 0) this.fail(`FAPOOL_IDLE_SPIN: a spinner exited with code ${code} (taskset and chrt -i need util-linux); running without them`);
      });
      p.unref();
      this.procs.push(p);
    }
  }

  release(): void {
    if (this.holders === 0) return;
    if (--this.holders > 0) return;
    this.stopAll();
  }

  private fail(msg: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stopAll();
    this.warn(msg);
  }

  private stopAll(): void {
    for (const p of this.procs) { try { p.kill('SIGKILL'); } catch { /* already gone */ } }
    this.procs = [];
  }
}

let shared: IdleSpinners | null = null;

/** This process's spinners, sized by FAPOOL_IDLE_SPIN when first asked for. */
export function processIdleSpinners(): IdleSpinners {
  return (shared ??= new IdleSpinners(idleSpinCount(process.env.FAPOOL_IDLE_SPIN, availableParallelism())));
}
