// Pool workers on this host: one `run-inference.js worker` process per GPU, on an ipc socket each.
// Each is started with --exit-with-parent (it exits when its stdin closes or its parent pid changes, i.e. when this
// process dies, even by SIGKILL), and this process kills what is left when it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { FapoolError } from '../../gpu/errors.js';
import { entryScript } from '../../gpu/package-root.js';
import { connectMembers, type ClusterEntry, type ClusterMember } from './cluster.js';
import { listGpuBusIds } from '../../gpu/select.js';

/** A worker that did not start (exited, or no READY line in time). */
export class SpawnError extends FapoolError {}

export interface SpawnOptions {
  /** The script to run (default: this package's run-inference.js). */
  entry?: string;
  /** Node executable (default: this one). */
  node?: string;
  /** How long a worker may take from start to READY (default 60 s; opening a device can be slow). */
  readyTimeoutMs?: number;
  /** connect + hello timeout per worker (default 10 s). */
  connectTimeoutMs?: number;
  heartbeatMs?: number;
  /** Extra environment for the workers (on top of this process's). */
  env?: NodeJS.ProcessEnv;
  /** Each stderr line of each worker (default: dropped; the last lines are kept for errors). */
  onLog?: (worker: number, line: string) => void;
  /** What errors call worker i (default "pool worker i (--gpu G)"; the static baseline names its rank). */
  role?: (worker: number, gpu: string) => string;
}

export interface LocalWorkers {
  members: ClusterMember[];
  processes: ChildProcess[];
  /** Closes the links, SIGTERMs the workers (SIGKILL after 5 s) and removes their sockets. */
  close(): Promise<void>;
}

/** PCI bus ids of this host's GPUs by index (nvidia-smi), [] when there is no nvidia-smi. */
export function listLocalGpus(): string[] {
  return listGpuBusIds();
}

// Every child still running when this process exits gets SIGKILL, and its ipc socket file is removed (exit
// handlers must be synchronous; a SIGKILLed worker cannot remove its own).
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function track(p: ChildProcess, socket: string): void {
  live.set(p, socket);
  p.once('exit', () => live.delete(p));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, sock] of live) {
        try { c.kill('SIGKILL'); } catch { /* gone */ }
        rmSync(sock, { force: true });
      }
    });
  }
}

let socketCounter = 0;

interface Started { proc: ChildProcess; endpoint: string; socket: string; stderrTail: () => string }

/** Starts one worker and waits for its READY line. */
function startOne(i: number, gpu: string, opts: SpawnOptions, entry: string): Promise<Started> {
  const socket = `/tmp/fapool-${process.pid}-${socketCounter++}.sock`;
  rmSync(socket, { force: true });
  const args = [entry, 'worker', '--gpu', gpu, '--listen', `ipc://${socket}`, '--rank', String(i), '--label', `worker${i}`, '--exit-with-parent'];
  const proc = spawn(opts.node ?? process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  track(proc, socket);
  const tail: string[] = [];
  const stderrTail = () => tail.join('\n');
  lines(proc.stderr!, (l) => { tail.push(l); if (tail.length > 30) tail.shift(); opts.onLog?.(i, l); });
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  return new Promise<Started>((resolve, reject) => {
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      // Let the last stderr arrive before quoting it.
      const who = opts.role?.(i, gpu) ?? `pool worker ${i} (--gpu ${gpu})`;
      setTimeout(() => reject(new SpawnError(`${who} ${why}${tail.length ? `; its stderr:\n${stderrTail()}` : ' (no stderr)'}`)), 50);
    };
    const timer = setTimeout(() => fail(`printed no READY line within ${timeoutMs} ms`), timeoutMs);
    proc.once('error', (e) => fail(`could not start: ${e.message}`));
    proc.once('exit', (code, sig) => fail(`exited before READY (${sig ?? `code ${code}`})`));
    lines(proc.stdout!, (l) => {
      const m = /^READY (\S+)/.exec(l);
      if (!m || done) return;
      done = true;
      clearTimeout(timer);
      resolve({ proc, endpoint: m[1]!, socket, stderrTail });
    });
  });
}

/** Calls fn per line of a stream; keeps draining it so the child never blocks on a full pipe. */
function lines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) { fn(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  stream.on('end', () => { if (buf) fn(buf); buf = ''; });
}

async function stop(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts one worker per entry of `gpus` (PCI addresses as listLocalGpus gives them, or 'none' per worker
 * on the default adapter), waits for each to be READY, connects and says hello. All or nothing: when one
 * fails to start or answer, every started worker is stopped and the error names it with its stderr.
 */
export async function spawnLocalWorkers(gpus: readonly string[], opts: SpawnOptions = {}): Promise<LocalWorkers> {
  const entry = opts.entry ?? entryScript();
  const settled = await Promise.allSettled(gpus.map((g, i) => startOne(i, g, opts, entry)));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    await Promise.all(started.map((s) => stop(s.proc, 5000)));
    for (const s of started) rmSync(s.socket, { force: true });
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) { await stopAll(); throw failed.reason; }

  let members: ClusterMember[];
  try {
    const role = opts.role;
    members = await connectMembers(started.map((s, i) => ({ endpoint: s.endpoint, name: `worker${i}@${gpus[i]}` })), {
      timeoutMs: opts.connectTimeoutMs, heartbeatMs: opts.heartbeatMs, ...(role ? { role: (_e: ClusterEntry, i: number) => role(i, gpus[i]!) } : {}),
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  let closed = false;
  return {
    members,
    processes: started.map((s) => s.proc),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(members.map((m) => m.link.close()));
      await stopAll();
    },
  };
}
