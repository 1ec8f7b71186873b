// The same-GPU hop taken apart, in one process (no transport): what a pooled decode layer pays between two
// GPUDevices of one adapter, and whether a second device slows the first one's read-backs.
//   map1      one device: write 24 KiB, copy it to a mappable buffer, map (the read-back floor)
//   map1 after onSubmittedWorkDone: the same, waiting for the queue before asking for the map
//   map1+idle the same with a second device open and idle
//   hop       A → B → A: A copies and maps 24 KiB, B gets it (writeBuffer), copies and maps 8 KiB, A writes them
//   tick      host time of one event-loop turn while a read-back is pending (Dawn polls its events once a turn),
//             with one and with two devices waiting
//   xhop      the same hop with B in a child process, raw ZeroMQ between them (no codec), each side's event loop
//             spinning as a rank's does: every leg timed on the shared clock (A's map, leg out, B's write + copy +
//             map, leg back); then with B's GPU work left out (echo), and with A's left out — which of the GPU
//             context switch across processes and the transport makes a worker's hop cost more than in process
//   xlink     xhop over our link instead (connectRank / serveRank, attend and attend_ok through the codec, the
//             rank's busy-poll): what the link adds to raw ZeroMQ with the same GPU work on both sides
//
//   node dist/kernels-bench/hop-bench.js --reps 500 --out hop.json
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGpu, type Gpu, type Tensor } from '../src/gpu/index.js';
import { attendItemsFrame, attendTiming, RANK_TIMING_WORDS, rankTimingFrame, type FrameDesc } from '../src/orchestrator/transport/messages.js';
import { BUSY_POLL_MS, busyPoll, connectRank, serveRank, setLinkTrace } from '../src/orchestrator/transport/zmq-link.js';
import { framesOf } from '../src/orchestrator/transport/link.js';
import { childEnv } from '../src/cli/parent-watch.js';
import { benchArgs, int, outputPath, runBench } from './bench-args.js';

const OUT_BYTES = 24 * 1024, BACK_BYTES = 8 * 1024;
/** The link child's attend_ok: O, LSE and the timing frame. */
const REPLY_FRAMES: FrameDesc[] = [{ dtype: 'f16', shape: [BACK_BYTES / 256, 128] }, { dtype: 'f32', shape: [BACK_BYTES / 256] }, { dtype: 'u32', shape: [RANK_TIMING_WORDS] }];

function p(xs: number[], q: number): number { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]!; }

interface Side { gpu: Gpu; t: Tensor; read: GPUBuffer; host: Uint16Array }

function side(gpu: Gpu, bytes: number): Side {
  const host = new Uint16Array(bytes / 2);
  for (let i = 0; i < host.length; i++) host[i] = 0x3000 | (i & 0x3ff); // never zeros
  return { gpu, t: gpu.tensor([bytes / 2], 'f16', 'hop.t'), read: gpu.readbackBuffer(bytes, 'hop.read'), host };
}

/** Copy the side's tensor to its read-back buffer and map it; `workDone`: wait for the queue first, then map. */
async function readBack(s: Side, bytes: number, workDone = false): Promise<Uint8Array> {
  s.gpu.submit([{ copy: { src: s.t.buffer, srcOffset: 0, dst: s.read, dstOffset: 0, size: bytes } }]);
  if (workDone) await s.gpu.device.queue.onSubmittedWorkDone();
  return s.gpu.readMapped(s.read, bytes);
}

async function timeIt(reps: number, f: () => Promise<unknown>): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < reps + 20; i++) {
    const t0 = performance.now();
    await f();
    if (i >= 20) xs.push(performance.now() - t0);
  }
  return xs;
}

/** Event-loop turns while `pending` read-backs wait behind a long copy on each device: ms per turn. */
async function tick(sides: { s: Side; big: Tensor; big2: Tensor }[]): Promise<number> {
  let turns = 0, done = false;
  const waits = sides.map(({ s, big, big2 }) => {
    s.gpu.submit([{ copy: { src: big.buffer, srcOffset: 0, dst: big2.buffer, dstOffset: 0, size: big.buffer.size } },
      { copy: { src: s.t.buffer, srcOffset: 0, dst: s.read, dstOffset: 0, size: OUT_BYTES } }]);
    return s.gpu.readMapped(s.read, OUT_BYTES);
  });
  const t0 = performance.now();
  const spin = () => { turns++; if (!done) setImmediate(spin); };
  setImmediate(spin);
  await Promise.all(waits);
  done = true;
  return (performance.now() - t0) / Math.max(1, turns);
}

/** Keeps this process's event loop turning until stopped: a link's busy-poll with no end. */
function spinLoop(): () => void {
  const spin = busyPoll(Infinity);
  spin.touch();
  return () => spin.stop();
}

/**
 * The child side of xhop: B on its own GPUDevice behind a ROUTER. Each request's first frame says whether to do
 * the GPU part ('g': write the 24 KiB, copy + map 8 KiB back) or echo; the reply's first frame carries B's
 * arrival and departure times on the shared clock (timeOrigin + now, f64).
 */
async function hopChild(endpoint: string): Promise<void> {
  const { Router } = await import('zeromq');
  const gB = await openGpu({ label: 'hop.xB' });
  const B = side(gB, OUT_BYTES);
  const sock = new Router({ linger: 0 });
  await sock.bind(endpoint);
  const stop = spinLoop();
  process.send?.('ready');
  const echo = new Uint8Array(BACK_BYTES).fill(7);
  for await (const [rid, head, body] of sock) {
    const tIn = performance.timeOrigin + performance.now();
    if (head!.length === 1 && head![0] === 0x71) break; // 'q'
    let back: Uint8Array = echo;
    if (head![0] === 0x67) { // 'g'
      gB.write(B.t, new Uint16Array(body!.buffer, body!.byteOffset, OUT_BYTES / 2));
      back = await readBack(B, BACK_BYTES);
    }
    const times = new Float64Array([tIn, performance.timeOrigin + performance.now()]);
    await sock.send([rid!, Buffer.from(times.buffer), Buffer.from(back.buffer, back.byteOffset, back.byteLength)]);
  }
  stop();
  sock.close();
  gB.destroy();
}

/** xlink's child: B behind serveRank, answering attend with B's GPU part (as a pool rank's reply: O, LSE, rankMs). */
async function linkChild(endpoint: string): Promise<void> {
  const gB = await openGpu({ label: 'hop.lB' });
  const B = side(gB, OUT_BYTES);
  const lse = new Float32Array(BACK_BYTES / 256).fill(1.5);
  let done!: () => void;
  const quit = new Promise<void>((res) => { done = res; });
  const stamps: [string, number][] = [];
  const stamp = (step: string) => { stamps.push([step, performance.timeOrigin + performance.now()]); };
  setLinkTrace(stamp);
  const server = await serveRank(endpoint, async (req, tensors) => {
    if (req.kind === 'ping') return { header: { kind: 'pong' } };
    if (req.kind !== 'attend') { done(); return { header: { kind: 'ok' } }; }
    stamp('h.start');
    const t0 = performance.now();
    const rows = tensors[1]!.data as Uint16Array;
    gB.write(B.t, rows);
    const t1 = performance.now();
    const back = await readBack(B, BACK_BYTES);
    stamp('h.end');
    return {
      header: { kind: 'attend_ok' },
      tensors: [{ dtype: 'f16', shape: [BACK_BYTES / 256, 128], data: new Uint16Array(back.buffer, back.byteOffset, BACK_BYTES / 2) }, { dtype: 'f32', shape: [lse.length], data: lse },
        rankTimingFrame({ write: t1 - t0, wait: performance.now() - t1, at: performance.timeOrigin + t0, submit: 0 })],
    };
  }, { spinMs: BUSY_POLL_MS });
  process.send?.('ready');
  await quit;
  setLinkTrace(null);
  await new Promise<void>((res) => process.send!({ stamps }, () => res()));
  await server.close();
  gB.destroy();
}

/** Steps of a traced hop (zmq-link setLinkTrace), in order: the base's then the rank's, and back. */
const HOP_STEPS = ['c.send', 'c.sent', 'r.recv', 'r.decoded', 'h.start', 'h.end', 'r.answered', 'r.packed', 'r.sent', 'c.recv', 'c.matched', 'c.resumed'];

/**
 * Per traced attend hop, the time between consecutive steps (HOP_STEPS): the base's stamps grouped from each
 * 'c.send', the rank's from each 'r.recv' that reached the attend handler, paired in order.
 */
function hopSplit(base: [string, number][], rank: [string, number][]): Record<string, number[]> {
  const groups = (xs: [string, number][], start: string) => {
    const out: Map<string, number>[] = [];
    for (const [s, t] of xs) { if (s === start) out.push(new Map()); out.at(-1)?.set(s, t); }
    return out;
  };
  const b = groups(base, 'c.send'), r = groups(rank, 'r.recv').filter((g) => g.has('h.start'));
  const split: Record<string, number[]> = {};
  for (let i = 0; i < Math.min(b.length, r.length); i++) {
    const at = new Map([...b[i]!, ...r[i]!]);
    for (let k = 1; k < HOP_STEPS.length; k++) {
      const from = at.get(HOP_STEPS[k - 1]!), to = at.get(HOP_STEPS[k]!);
      if (from !== undefined && to !== undefined) (split[`${HOP_STEPS[k - 1]} → ${HOP_STEPS[k]}`] ??= []).push(to - from);
    }
  }
  return split;
}

/** xhop over our link (A's side): per rep [A's part, leg out, B's part, leg back, A's write, total]. */
async function xlink(A: Side, Aback: Tensor, reps: number): Promise<number[][]> {
  const endpoint = `ipc://${join(tmpdir(), `fapool-hop-link-${process.pid}.sock`)}`;
  const child = fork(fileURLToPath(import.meta.url), ['--link-child', endpoint], { stdio: 'inherit', env: childEnv() });
  await new Promise<void>((res) => child.once('message', () => res()));
  const childStamps = new Promise<[string, number][]>((res) => child.on('message', (m: { stamps?: [string, number][] }) => { if (m.stamps) res(m.stamps); }));
  const link = await connectRank(endpoint, { spinMs: BUSY_POLL_MS });
  const stamps: [string, number][] = [];
  const now = () => performance.timeOrigin + performance.now();
  const rows: number[][] = [];
  // A seed-4l layer's request for one pooled sequence: 32 q heads + its new k and v (1 kv head each, GQA off).
  const items = [{ seq: 0, kvHeads: 32, len: 32768, newPos: 32767 }];
  for (let i = 0; i < reps + 20; i++) {
    if (i === 20) setLinkTrace((step) => { stamps.push([step, now()]); }); // the measured reps only
    const t0 = now();
    const out = await readBack(A, OUT_BYTES);
    const t1 = now();
    // As the pool's base sends it: the reply it expects named, so its header is matched by its bytes.
    const tensors = [attendItemsFrame(items), { dtype: 'f16' as const, shape: [OUT_BYTES / 256, 128], data: new Uint16Array(out.buffer, out.byteOffset, OUT_BYTES / 2) }];
    const reply = await link.send(link.prepare<'attend'>({ kind: 'attend', step: i, layer: 0, group: 1 }, framesOf(tensors), REPLY_FRAMES), tensors);
    const t2 = now();
    A.gpu.write(Aback, reply.tensors[0]!.data as Uint16Array);
    const t3 = now();
    const ms = attendTiming(reply.tensors)!;
    const bIn = ms.at, bOut = ms.at + ms.write + ms.wait;
    if (i >= 20) rows.push([t1 - t0, bIn - t1, bOut - bIn, t2 - bOut, t3 - t2, t3 - t0]);
    const until = performance.now() + 0.3; // the base's layer between two hops
    while (performance.now() < until) { /* busy */ }
  }
  setLinkTrace(null);
  await link.request({ kind: 'free', seq: 0 }).catch(() => undefined);
  const split = hopSplit(stamps, (await childStamps).filter(([, t]) => t >= (stamps[0]?.[1] ?? 0)));
  await link.close();
  await new Promise<void>((res) => { if (child.exitCode !== null) res(); else child.once('exit', () => res()); });
  lastSplit = split;
  return rows;
}

/** The last xlink's per-step split (hopSplit), reported by main. */
let lastSplit: Record<string, number[]> = {};

/** xhop from A's side: `gpuA`/`gpuB` say which sides do their GPU part. Per rep: [A's part, leg out, B's part, leg back, A's write, total]. */
async function xhop(A: Side, Aback: Tensor, reps: number, gpuA: boolean, gpuB: boolean): Promise<number[][]> {
  const endpoint = `ipc://${join(tmpdir(), `fapool-hop-${process.pid}-${gpuA}-${gpuB}.sock`)}`;
  const child = fork(fileURLToPath(import.meta.url), ['--hop-child', endpoint], { stdio: 'inherit', env: childEnv() });
  await new Promise<void>((res) => child.once('message', () => res()));
  const { Dealer } = await import('zeromq');
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const stop = spinLoop();
  const now = () => performance.timeOrigin + performance.now();
  const rows: number[][] = [];
  const idle = new Uint8Array(OUT_BYTES).fill(3);
  for (let i = 0; i < reps + 20; i++) {
    const t0 = now();
    const out = gpuA ? await readBack(A, OUT_BYTES) : idle;
    const t1 = now();
    await sock.send([Buffer.from(gpuB ? 'g' : 'e'), Buffer.from(out.buffer, out.byteOffset, OUT_BYTES)]);
    const [times, back] = await sock.receive();
    const t2 = now();
    if (gpuA) A.gpu.write(Aback, new Uint16Array(back!.buffer, back!.byteOffset, BACK_BYTES / 2));
    const t3 = now();
    const [bIn, bOut] = new Float64Array(new Uint8Array(times!).slice().buffer);
    if (i >= 20) rows.push([t1 - t0, bIn! - t1, bOut! - bIn!, t2 - bOut!, t3 - t2, t3 - t0]);
    // A layer's own work between two hops (≈ 0.3 ms on the H200): both sides idle on the GPU meanwhile.
    const until = performance.now() + 0.3;
    while (performance.now() < until) { /* the base's layer */ }
  }
  await sock.send([Buffer.from('q')]);
  stop();
  sock.close();
  await new Promise<void>((res) => { if (child.exitCode !== null) res(); else child.once('exit', () => res()); });
  return rows;
}

async function main(): Promise<void> {
  const { values: v } = benchArgs({
    script: 'hop-bench.js',
    about: `The same-GPU hop taken apart, in one process: read-backs on one device and with a second open, a hop A → B → A
between two GPUDevices, event-loop turns while read-backs wait, then the hop with B in a child process over raw ZeroMQ
(xhop, with either side's GPU work left out) and over the pool's link (xlink, step by step). p10/p50/p90 of --reps.`,
    examples: ['node dist/kernels-bench/hop-bench.js --reps 500 --out hop.json'],
  }, {
    reps: { type: 'string', default: '500', help: 'timed repetitions of each measurement (after 20 untimed)' },
    out: { type: 'string', help: 'write the figures as JSON' },
    'hop-child': { type: 'string', hidden: true }, 'link-child': { type: 'string', hidden: true },
  });
  if (v['hop-child']) return hopChild(String(v['hop-child']));
  if (v['link-child']) return linkChild(String(v['link-child']));
  // Checked before any GPU work: --reps 0 (or abc) once timed nothing and failed on an empty percentile at the end.
  const reps = int('reps', v.reps);
  if (v.out !== undefined) outputPath('out', v.out);
  const rows: Record<string, unknown>[] = [];
  const show = (what: string, xs: number[]) => {
    const r = { what, p10: p(xs, 0.1), p50: p(xs, 0.5), p90: p(xs, 0.9) };
    rows.push(r);
    console.log(`${what.padEnd(40)} p50 ${r.p50.toFixed(3)} ms  (p10 ${r.p10.toFixed(3)}, p90 ${r.p90.toFixed(3)})`);
  };
  const gA = await openGpu({ label: 'hop.A' });
  const A = side(gA, OUT_BYTES);
  gA.write(A.t, A.host);
  show('map1: one device, 24 KiB read-back', await timeIt(reps, () => readBack(A, OUT_BYTES)));
  show('map1 after onSubmittedWorkDone', await timeIt(reps, () => readBack(A, OUT_BYTES, true)));
  show('onSubmittedWorkDone alone', await timeIt(reps, async () => { A.gpu.submit([]); await A.gpu.device.queue.onSubmittedWorkDone(); }));
  const gB = await openGpu({ label: 'hop.B' });
  const B = side(gB, OUT_BYTES), Aback = gA.tensor([BACK_BYTES / 2], 'f16', 'hop.back');
  show('map1+idle: a second device open', await timeIt(reps, () => readBack(A, OUT_BYTES)));
  show('map on B alone', await timeIt(reps, () => readBack(B, BACK_BYTES)));
  show('hop A → B → A (24 KiB out, 8 KiB back)', await timeIt(reps, async () => {
    const out = await readBack(A, OUT_BYTES);
    gB.write(B.t, new Uint16Array(out.buffer, out.byteOffset, OUT_BYTES / 2));
    const back = await readBack(B, BACK_BYTES);
    gA.write(Aback, new Uint16Array(back.buffer, back.byteOffset, BACK_BYTES / 2));
  }));
  const bigBytes = 64 << 20; // a copy of ~30 µs on the H200, a few ms on a CPU adapter
  const mk = (g: Gpu) => ({ big: g.tensor([bigBytes / 4], 'f32', 'hop.big'), big2: g.tensor([bigBytes / 4], 'f32', 'hop.big2') });
  const bA = mk(gA), bB = mk(gB);
  const one: number[] = [], two: number[] = [];
  for (let i = 0; i < 20; i++) {
    one.push(await tick([{ s: A, ...bA }]));
    two.push(await tick([{ s: A, ...bA }, { s: B, ...bB }]));
  }
  show('tick: one device waiting (ms a turn)', one);
  show('tick: two devices waiting (ms a turn)', two);
  gB.destroy();
  const parts = ['A read-back', 'leg out', 'B part', 'leg back', 'A write', 'total'];
  for (const [what, ga, gb] of [['xhop A → B (child process) → A', true, true], ['xhop, B echoes (no GPU work in B)', true, false],
    ['xhop, A sends host bytes (no GPU work in A)', false, true], ['xhop, no GPU work either side', false, false], ['xlink: xhop over our link', true, true]] as const) {
    const xs = what.startsWith('xlink') ? await xlink(A, Aback, reps) : await xhop(A, Aback, reps, ga, gb);
    const med = parts.map((_, k) => p(xs.map((r) => r[k]!), 0.5));
    rows.push({ what, parts, p50: med, p90total: p(xs.map((r) => r[5]!), 0.9) });
    console.log(`${what.padEnd(44)} p50 ` + parts.map((n, k) => `${n} ${med[k]!.toFixed(3)}`).join(', ') + ' ms');
  }
  // Where xlink's hop goes, step by step (µs, p50 / p90 over the traced hops).
  const steps = Object.entries(lastSplit).map(([step, xs]) => ({ step, n: xs.length, p50: p(xs, 0.5) * 1000, p90: p(xs, 0.9) * 1000 }));
  rows.push({ what: 'xlink steps (µs)', steps });
  for (const s of steps) console.log(`  xlink ${s.step.padEnd(26)} p50 ${s.p50.toFixed(1).padStart(7)} µs  p90 ${s.p90.toFixed(1).padStart(7)}  (${s.n} hops)`);
  gA.destroy();
  if (v.out) writeFileSync(String(v.out), JSON.stringify({ created: new Date().toISOString(), reps, rows }, null, 1));
}

runBench(main);
