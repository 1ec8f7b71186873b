// Where a ZeroMQ leg's time goes on a virtual machine: raw DEALER → ROUTER between two processes, the server busy
// `hold` ms before each answer (a rank's GPU work) and the client busy `gap` ms before each request (the base's
// layer), both event loops spinning between messages as a pooled decode's do. Variants (fresh processes each,
// since ZeroMQ's context options apply before its first socket):
//   default   ZeroMQ's I/O thread wherever the kernel puts it
//   pin       each side's I/O thread pinned to a CPU of its own (ZMQ_THREAD_AFFINITY_CPU_ADD)
//   idle      the same, and a SCHED_IDLE spinner on that CPU (its vCPU never halts; any wake-up preempts it)
//   spin      the spinners alone, the I/O threads unpinned
// Reported per variant: the legs (round trip − hold, halved), and the synchronous time of each send() call.
//
//   node dist/kernels-bench/io-thread-probe.js --reps 400 --out io.json
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../src/cli/parent-watch.js';
import { benchArgs, int, nameListOf, num, outputPath, runBench } from './bench-args.js';

const ZMQ_THREAD_AFFINITY_CPU_ADD = 7; // zmq.h (libzmq 4.3)
const VARIANTS = ['default', 'pin', 'idle', 'spin'] as const;
type Variant = (typeof VARIANTS)[number];

interface Setup { variant: Variant; cpu: number }

/** Applies a variant's context options (before any socket) and starts its spinner; returns a stop function. */
async function setup({ variant, cpu }: Setup): Promise<{ stop(): void; readonly note: string }> {
  const zmq = await import('zeromq');
  const ctx = zmq.context as unknown as { setInt32Option(o: number, v: number): void };
  let note = '';
  if (variant === 'pin' || variant === 'idle') ctx.setInt32Option(ZMQ_THREAD_AFFINITY_CPU_ADD, cpu);
  let spinner: ChildProcess | null = null;
  if (variant === 'idle' || variant === 'spin') {
    spinner = spawn('chrt', ['-i', '0', 'taskset', '-c', String(cpu), 'sh', '-c', 'p=$1; while kill -0 "$p" 2>/dev/null; do :; done', 'sh', String(process.pid)], { stdio: 'ignore' });
    spinner.on('error', (e) => { note += ` spinner failed: ${e.message}`; });
  }
  return { stop: () => spinner?.kill('SIGKILL'), get note() { return note; } }; // a spinner's start failure comes later
}

/** Keeps the event loop turning (a link's busy-poll) until stopped. */
function spinLoop(): () => void {
  let on = true;
  const turn = () => { if (on) setImmediate(turn); };
  setImmediate(turn);
  return () => { on = false; };
}

const busy = (ms: number) => { const u = performance.now() + ms; while (performance.now() < u) { /* work */ } };

async function server(endpoint: string, s: Setup, holdMs: number, replyBytes: number): Promise<void> {
  const env = await setup(s);
  const { Router } = await import('zeromq');
  const sock = new Router({ linger: 0 });
  await sock.bind(endpoint);
  const stop = spinLoop();
  process.send?.({ ready: true, note: env.note });
  const reply = Buffer.alloc(replyBytes, 1);
  const sends: number[] = [];
  for await (const [rid, head] of sock) {
    if (head?.length === 1 && head[0] === 0x71) break; // 'q'
    busy(holdMs);
    const t0 = performance.now();
    const sent = sock.send([rid!, Buffer.from('h'), reply]);
    sends.push(performance.now() - t0);
    await sent;
  }
  process.send?.({ sends });
  stop();
  sock.close();
  env.stop();
}

function pct(xs: number[], q: number): number { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]!; }

async function client(variant: Variant, reps: number, gapMs: number, holdMs: number): Promise<Record<string, unknown>> {
  const n = availableParallelism();
  if (n < 3) throw new Error(`io-thread-probe needs 3 CPUs or more (the two I/O threads' CPUs and the rest), this machine has ${n}`);
  const endpoint = `ipc://${join(tmpdir(), `fapool-io-probe-${process.pid}-${variant}.sock`)}`;
  // A child per variant for the client too: context options must come before the first socket of a process.
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'server', '--endpoint', endpoint, '--variant', variant, '--cpu', String(n - 2), '--hold', String(holdMs)], { stdio: 'inherit', env: childEnv() });
  const ready = await new Promise<{ note: string }>((res) => child.once('message', (m) => res(m as { note: string })));
  const env = await setup({ variant, cpu: n - 1 });
  const { Dealer } = await import('zeromq');
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const stop = spinLoop();
  const req = Buffer.alloc(24 * 1024, 3);
  const legs: number[] = [], sends: number[] = [];
  for (let i = 0; i < reps + 30; i++) {
    busy(gapMs);
    const t0 = performance.now();
    const sent = sock.send([Buffer.from('r'), req]);
    const t1 = performance.now();
    await sent;
    await sock.receive();
    const t2 = performance.now();
    if (i >= 30) { legs.push((t2 - t0 - holdMs) / 2); sends.push(t1 - t0); }
  }
  const serverSends = new Promise<number[]>((res) => child.on('message', (m) => { const x = m as { sends?: number[] }; if (x.sends) res(x.sends); }));
  await sock.send([Buffer.from('q')]);
  const ss = (await serverSends).slice(30);
  stop();
  sock.close();
  env.stop();
  await new Promise<void>((res) => { if (child.exitCode !== null) res(); else child.once('exit', () => res()); });
  return { variant, legP10: pct(legs, 0.1), legP50: pct(legs, 0.5), legP90: pct(legs, 0.9), sendP50: pct(sends, 0.5), serverSendP50: pct(ss, 0.5), notes: `${env.note} ${ready.note}`.trim() };
}

async function main(): Promise<void> {
  const { values: a } = benchArgs({
    script: 'io-thread-probe.js',
    about: `Where a ZeroMQ leg's time goes on a virtual machine: raw DEALER → ROUTER between two processes, the server busy
--hold ms before each answer and the client busy --gap ms before each request, both event loops spinning. Variants
(fresh processes each): default, pin (each side's I/O thread on a CPU of its own), idle (pinned, with a SCHED_IDLE
spinner on that CPU), spin (the spinners alone). Needs 3 CPUs or more.`,
    examples: ['node dist/kernels-bench/io-thread-probe.js --reps 400 --out io.json'],
  }, {
    hold: { type: 'string', default: '0.4', help: 'ms the server is busy before each answer' },
    gap: { type: 'string', default: '0.3', help: 'ms the client is busy before each request' },
    reps: { type: 'string', default: '400', help: 'timed round trips per variant (after 30 untimed)' },
    variants: { type: 'string', default: VARIANTS.join(','), help: `comma-separated: ${VARIANTS.join(', ')}` },
    rounds: { type: 'string', default: '2', help: 'times each variant is run, in turn' },
    out: { type: 'string', help: 'write the rows as JSON' },
    role: { type: 'string', hidden: true }, endpoint: { type: 'string', hidden: true }, variant: { type: 'string', default: 'default', hidden: true },
    cpu: { type: 'string', default: '0', hidden: true },
  });
  const hold = Number(a.hold);
  if (a.role === 'server') {
    await server(a.endpoint!, { variant: a.variant as Variant, cpu: Number(a.cpu) }, hold, 8 * 1024 + 64);
    return;
  }
  if (a.role === 'client') {
    const r = await client(a.variant as Variant, Number(a.reps), Number(a.gap), hold);
    process.send?.(r);
    return;
  }
  num('hold', a.hold, 0, 1000); num('gap', a.gap, 0, 1000); int('reps', a.reps);
  const rounds = int('rounds', a.rounds);
  const variants = nameListOf('variants', a.variants, VARIANTS) as Variant[];
  if (a.out !== undefined) outputPath('out', a.out);
  // Here, not only in the client: a client that failed so once left this process waiting on nothing, and it exited 0.
  if (availableParallelism() < 3) throw new Error(`io-thread-probe needs 3 CPUs or more (the two I/O threads' CPUs and the rest), this machine has ${availableParallelism()}`);
  const rows: Record<string, unknown>[] = [];
  console.log(`io-thread-probe: ${availableParallelism()} CPUs, gap ${a.gap} ms, hold ${hold} ms, ${a.reps} reps`);
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const c = fork(fileURLToPath(import.meta.url), ['--role', 'client', '--variant', v, '--reps', a.reps!, '--gap', a.gap!, '--hold', a.hold!], { stdio: 'inherit', env: childEnv() });
      const row = await new Promise<Record<string, unknown>>((res, rej) => {
        c.once('message', (m) => res(m as Record<string, unknown>));
        c.once('exit', (code, sig) => rej(new Error(`the ${v} client exited (${sig ?? `code ${code}`}) without a result`)));
      });
      await new Promise<void>((res) => { if (c.exitCode !== null) res(); else c.once('exit', () => res()); });
      rows.push({ round: r, ...row });
      const f = (k: string) => (row[k] as number).toFixed(3);
      console.log(`${v.padEnd(9)} leg p10 ${f('legP10')} p50 ${f('legP50')} p90 ${f('legP90')} ms; send() p50 client ${f('sendP50')} server ${f('serverSendP50')} ms ${row.notes ? `(${row.notes})` : ''}`);
    }
  }
  if (a.out) writeFileSync(a.out, JSON.stringify({ cpus: availableParallelism(), gapMs: Number(a.gap), holdMs: hold, rows }, null, 1));
}

runBench(main);
