// FAPOOL_IDLE_SPIN: while this process's links busy-poll (a decode step's burst of messages), keep the host's CPUs
// from going idle with one lowest-priority spinning thread per CPU. Why: a ZeroMQ message between processes wakes
// sleeping I/O threads on both sides; on a virtual machine whose idle vCPUs halt (the lent H200: no cpuidle driver,
// idle = HLT) each wake lands on a halted vCPU and costs tens to hundreds of µs. Session 18 (H200, FA Pool batch
// (a), one worker process, script-level SCHED_IDLE spinners): legs 0.29–0.31 → 0.13–0.19 ms each way, the pooled
// layer's overhead 1.19 / 1.31 / 1.25 → 0.88 / 1.04 / 1.05 ms (kernels-bench/NOTES.md).
//
// The spinners are worker threads of this process (no fork: session 17 forked a spinner process per CPU at every
// window and its runs never finished), started once at the first window, each moved to SCHED_IDLE and pinned to
// its CPU by one `chrt`/`taskset` call (else nice 19, one warning). Between windows they block in Atomics.wait (no
// CPU time); they die with the process.
import { availableParallelism } from 'node:os';

/** Spinners per FAPOOL_IDLE_SPIN: auto (unset, '' or 'auto': one per CPU where links busy-poll, else none), 'all', 'off' / 0, or a count. */
export function idleSpinCount(value: string | undefined, cpus: number, busyPollMs: number): number {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'auto') return busyPollMs > 0 ? cpus : 0;
  if (v === 'off') return 0;
  if (v === 'all') return cpus;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new RangeError(`FAPOOL_IDLE_SPIN=${value}: expected auto, all, off or a whole number of CPUs`);
  return Math.min(n, cpus);
}

/**
 * How long the spinners go on after the last window closes (ms). A link's window closes 3 ms after its last message,
 * and a decode step can wait longer than that between messages (the read pacing, the token's read-back): paused and
 * resumed at every step, the spinners' own wake-ups land on halted CPUs at the step's first hop (session 18: paused
 * per window, the spinners gained little of what always-on ones did).
 */
export const IDLE_SPIN_LINGER_MS = 100;

/** Flag values shared with the spinner threads. */
const PAUSED = 0, SPINNING = 1, EXIT = 2;

// The spinner thread: report its kernel thread id, then spin while the flag says so and sleep in Atomics.wait otherwise.
const SPINNER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
let tid = -1;
try { tid = Number(readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
parentPort.postMessage(tid);
const flag = new Int32Array(workerData);
for (;;) {
  const f = Atomics.load(flag, 0);
  if (f === ${EXIT}) break;
  if (f === ${PAUSED}) Atomics.wait(flag, 0, ${PAUSED});
}
`;

/**
 * FAPOOL_IDLE_SPIN_FORM: `thread` (the default: spinner threads of this process) or `process` (an experiment, session
 * 18: one `sh` loop a CPU, started by taskset and chrt like the round scripts' spinners, paused with SIGSTOP and
 * resumed with SIGCONT; a stopped spinner outlives a SIGKILLed parent until its process group is orphaned).
 */
export function idleSpinForm(value = process.env.FAPOOL_IDLE_SPIN_FORM): 'thread' | 'process' {
  const v = value?.trim() || 'thread';
  if (v !== 'thread' && v !== 'process') throw new RangeError(`FAPOOL_IDLE_SPIN_FORM=${value}: expected thread or process`);
  return v;
}

/** The process form's loop: user-mode spinning, checking its parent every ~20000 turns (dash: ≈ 30 ms). */
export const SPIN_SCRIPT = 'while :; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; kill -0 $PPID 2>/dev/null || exit 0; done';

/** Sets SCHED_IDLE and the CPU of each thread (tids[i] on CPU i): one process for all; resolves false if that failed. */
export type IdleClassSetter = (tids: number[]) => Promise<boolean>;

const chrtAndPin: IdleClassSetter = async (tids) => {
  const { spawn } = await import('node:child_process');
  const script = tids.map((t, i) => `chrt -i -p 0 ${t} && taskset -p -c ${i} ${t} >/dev/null`).join(' && ');
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', script], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
};

/**
 * Spinner threads resumed by the first acquire() and paused lingerMs after the last holder releases them. Started at
 * the first acquire (asynchronously: the first window may pass without them).
 */
export class IdleSpinners {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private holders = 0;
  private pauseTimer: ReturnType<typeof setTimeout> | null = null;
  private started: Promise<void> | null = null;
  private threads: { terminate(): Promise<number> }[] = [];
  private procs: import('node:child_process').ChildProcess[] = [];
  /** The spinner threads' kernel ids once started (for tests and reports). */
  tids: number[] = [];
  /** 'idle' (SCHED_IDLE, pinned), 'nice' (nice 19: chrt or taskset missing) or '' before the threads are up. */
  priority: '' | 'idle' | 'nice' = '';

  constructor(readonly count: number, private readonly warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`),
    private readonly setIdleClass: IdleClassSetter = chrtAndPin, private readonly form: 'thread' | 'process' = 'thread',
    private readonly lingerMs = IDLE_SPIN_LINGER_MS) {}

  /** Whether the spinners are told to spin now. */
  get spinning(): boolean { return Atomics.load(this.flag, 0) === SPINNING; }

  acquire(): void {
    if (this.count === 0 || this.holders++ > 0) return;
    if (this.pauseTimer) { clearTimeout(this.pauseTimer); this.pauseTimer = null; }
    if (this.spinning) return;
    this.started ??= this.form === 'process' ? this.startProcesses() : this.start();
    Atomics.store(this.flag, 0, SPINNING);
    Atomics.notify(this.flag, 0);
    this.signal('SIGCONT');
  }

  release(): void {
    if (this.holders === 0 || --this.holders > 0) return;
    if (!(this.lingerMs > 0)) { this.pause(); return; }
    this.pauseTimer = setTimeout(() => { this.pauseTimer = null; this.pause(); }, this.lingerMs);
    this.pauseTimer.unref?.();
  }

  private pause(): void {
    if (Atomics.compareExchange(this.flag, 0, SPINNING, PAUSED) === SPINNING) this.signal('SIGSTOP');
  }

  private signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    for (const p of this.procs) { try { p.kill(sig); } catch { /* gone */ } }
  }

  /** Resolves when the threads are up and their priority set (they start with the first acquire). */
  ready(): Promise<void> { return this.started ?? Promise.resolve(); }

  /** Stops and joins every spinner thread. */
  async close(): Promise<void> {
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    Atomics.store(this.flag, 0, EXIT);
    Atomics.notify(this.flag, 0);
    await this.started?.catch(() => {});
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.threads = [];
    for (const p of this.procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
    this.procs = [];
  }

  private async startProcesses(): Promise<void> {
    const { spawn } = await import('node:child_process');
    for (let cpu = 0; cpu < this.count; cpu++) {
      const p = spawn('taskset', ['-c', String(cpu), 'chrt', '-i', '0', 'sh', '-c', SPIN_SCRIPT], { stdio: 'ignore' });
      p.once('error', () => {});
      p.unref();
      this.procs.push(p);
    }
    this.tids = this.procs.map((p) => p.pid ?? -1);
    this.priority = 'idle';
    process.once('exit', () => { for (const p of this.procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });
    if (Atomics.load(this.flag, 0) !== SPINNING) this.signal('SIGSTOP');
  }

  private async start(): Promise<void> {
    const { Worker } = await import('node:worker_threads');
    const tids = await Promise.all(Array.from({ length: this.count }, () => new Promise<number>((resolve, reject) => {
      const w = new Worker(SPINNER_SOURCE, { eval: true, workerData: this.flag.buffer });
      w.unref();   // never keeps the process alive
      this.threads.push(w);
      w.once('message', (tid: number) => resolve(tid));
      w.once('error', reject);
    })));
    this.tids = tids;
    if (Atomics.load(this.flag, 0) === EXIT) return;
    const { setPriority } = await import('node:os');
    if (tids.every((t) => t > 0) && await this.setIdleClass(tids)) { this.priority = 'idle'; return; }
    for (const t of tids) { try { if (t > 0) setPriority(t, 19); } catch { /* not ours to change */ } }
    this.priority = 'nice';
    this.warn('FAPOOL_IDLE_SPIN: could not set SCHED_IDLE and pin the spinner threads (chrt, taskset); they run at nice 19');
  }
}

let shared: IdleSpinners | null = null;

/** This process's spinners, sized by FAPOOL_IDLE_SPIN (for a busy-poll window of `busyPollMs`) when first asked for. */
export function processIdleSpinners(busyPollMs: number): IdleSpinners {
  return (shared ??= new IdleSpinners(idleSpinCount(process.env.FAPOOL_IDLE_SPIN, availableParallelism(), busyPollMs), undefined, undefined, idleSpinForm()));
}
