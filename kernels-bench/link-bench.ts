// The pool's hop, taken apart: where the time of one decode-layer request goes between the base and a pool rank.
// Four measurements on this machine, same payloads as seed-4l's pooled decode layer (q, new k, new v of one
// sequence: 32 + 2·32 rows of 128 f16 = 24 KiB out; O 8 KiB + LSE back):
//   raw      plain zeromq.js DEALER → ROUTER echo between two processes (the transport's floor); then with the
//            server's thread busy 0.2–1 ms before each answer (ZeroMQ's I/O threads idle meanwhile, as in a decode)
//   ping     our link (msgpackr header, schema checks) to a worker process, no GPU work
//   refused  the attend payload to a worker that refuses it after decoding (no GPU work)
//   attend   our link to a worker process whose AttentionRank runs the layer on its GPU (rank time reported)
//   attend'  the same with a GPUDevice open in this process (as a base has)
//   local    the same AttentionRank in this process on a GPUDevice of its own (in-process link)
// Transport overhead = attend round trip − the rank's own time; compare it with raw and ping.
//
//   node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out link.json
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGpu, type Gpu } from '../src/gpu/index.js';
import { AttentionRank } from '../src/orchestrator/pool/attention-rank.js';
import { inProcessLink, type RankLink } from '../src/orchestrator/transport/link.js';
import { attendItemsFrame, attendTiming } from '../src/orchestrator/transport/messages.js';
import { spawnLocalWorkers } from '../src/orchestrator/transport/spawn.js';
import { childEnv } from '../src/cli/parent-watch.js';
import { benchArgs, int, outputPath, runBench } from './bench-args.js';

const HEADS = 32, D = 128;

function stats(xs: number[]): { p10: number; p50: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p10: at(0.1), p50: at(0.5), p90: at(0.9) };
}

/**
 * The raw echo server (child process): replies to each request with `replyBytes` bytes, after spinning `holdMs`
 * (its JavaScript thread busy, ZeroMQ's I/O threads idle: the gap a rank's GPU work leaves between messages).
 */
async function rawServer(endpoint: string, replyBytes: number, holdMs: number): Promise<void> {
  const { Router } = await import('zeromq');
  const sock = new Router({ linger: 0 });
  await sock.bind(endpoint);
  process.send?.('ready');
  const reply = Buffer.alloc(replyBytes, 1);
  for await (const [rid, head] of sock) {
    if (head?.length === 1 && head[0] === 0x6b) continue; // 'k': a keep-alive, no answer
    const until = performance.now() + holdMs;
    while (performance.now() < until) { /* the rank's work */ }
    await sock.send([rid!, Buffer.from('h'), reply]);
  }
}

/**
 * Round trips (minus the server's hold) of raw ZeroMQ; `keepAliveMs` > 0: while waiting, the client sends a
 * one-byte message that often (the server drops it), so neither side's I/O thread goes idle.
 */
async function rawRtt(reps: number, reqBytes: number, replyBytes: number, holdMs = 0, keepAliveMs = 0): Promise<number[]> {
  const endpoint = `ipc://${join(tmpdir(), `fapool-link-bench-${process.pid}-${holdMs}.sock`)}`;
  const child = fork(fileURLToPath(import.meta.url), ['--raw-server', endpoint, '--reply-bytes', String(replyBytes), '--hold-ms', String(holdMs)], { stdio: 'inherit', env: childEnv() });
  await new Promise<void>((res) => child.once('message', () => res()));
  const { Dealer } = await import('zeromq');
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const payload = Buffer.alloc(reqBytes, 2), out: number[] = [], k = Buffer.from('k');
  for (let i = 0; i < reps + 20; i++) {
    const t0 = performance.now();
    await sock.send([Buffer.from('h'), payload]);
    const reply = sock.receive();
    if (keepAliveMs > 0) {
      let done = false, next = performance.now() + keepAliveMs;
      void reply.then(() => { done = true; });
      while (!done) {
        await new Promise<void>((r) => setImmediate(r));
        if (!done && performance.now() >= next) { next = performance.now() + keepAliveMs; await sock.send([k]); }
      }
    }
    await reply;
    if (i >= 20) out.push(performance.now() - t0 - holdMs);
    // With a hold, the client's own work between two layers' messages too (its thread busy, its I/O thread idle).
    const pause = performance.now() + (holdMs > 0 ? 0.4 : 0);
    while (performance.now() < pause) { /* busy */ }
  }
  sock.close();
  child.kill();
  return out;
}

/** attend round trips of one seed-4l-shaped sequence of `len` positions on `link`: (round trip, rank's own time). */
async function attendRtt(link: RankLink, len: number, reps: number): Promise<{ rtt: number[]; rank: number[] }> {
  await link.request({ kind: 'alloc', seq: 0, nLayers: 1, kvHeads: [0, HEADS], headDim: D, capacity: len, posBase: 0, dtype: 'f16', nHeadsPerKv: 1 });
  // Never time on zeros: the cache holds small random f16 values (±[0.5, 1) · 2^-4), loaded in chunks.
  const chunk = Math.min(len, 1024), kv = new Uint16Array(HEADS * chunk * D);
  let seed = 1;
  const next = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
  for (let p0 = 0; p0 < len - 1; p0 += chunk) {
    const count = Math.min(chunk, len - 1 - p0);
    for (let i = 0; i < HEADS * count * D; i++) kv[i] = 0x2c00 | (next() & 0x83ff);
    const f = { dtype: 'f16' as const, shape: [HEADS, count, D], data: kv.subarray(0, HEADS * count * D) };
    await link.request({ kind: 'load_kv', seq: 0, layer: 0, kvHeads: [0, HEADS], pos0: p0, count }, [f, f]);
  }
  const rows = new Uint16Array(3 * HEADS * D);
  for (let i = 0; i < rows.length; i++) rows[i] = 0x2c00 | (next() & 0x83ff);
  const rtt: number[] = [], rank: number[] = [];
  for (let i = 0; i < reps + 20; i++) {
    const t0 = performance.now();
    const r = await link.request({ kind: 'attend', step: i, layer: 0, group: 1 },
      [attendItemsFrame([{ seq: 0, kvHeads: HEADS, len, newPos: len - 1 }]), { dtype: 'f16', shape: [3 * HEADS, D], data: rows }]);
    if (i < 20) continue;
    rtt.push(performance.now() - t0);
    const ms = attendTiming(r.tensors);
    rank.push((ms?.write ?? 0) + (ms?.wait ?? 0));
  }
  await link.request({ kind: 'free', seq: 0 });
  return { rtt, rank };
}

async function main(): Promise<void> {
  const { values: v } = benchArgs({
    script: 'link-bench.js',
    about: `The pool's hop taken apart: where one decode-layer request's time goes between the base and a pool rank, with
seed-4l's payloads (24 KiB out; O 8 KiB + LSE back): raw ZeroMQ echo between two processes (with the server busy
before it answers), our link's ping, an attend the worker refuses, attend to a worker process's AttentionRank (with
and without a GPUDevice open here), and the same rank in this process. p10/p50/p90 of --reps round trips each.`,
    examples: ['node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out link.json'],
  }, {
    len: { type: 'string', default: '32768', help: "the attended sequence's length (positions in the rank's cache)" },
    reps: { type: 'string', default: '300', help: 'timed round trips per measurement (after 20 untimed)' },
    out: { type: 'string', help: 'write the figures as JSON' },
    'raw-server': { type: 'string', hidden: true }, 'reply-bytes': { type: 'string', default: '0', hidden: true }, 'hold-ms': { type: 'string', default: '0', hidden: true },
  });
  if (v['raw-server']) return rawServer(String(v['raw-server']), Number(v['reply-bytes']), Number(v['hold-ms']));
  // Checked before a worker starts: --reps 0 (or abc) once timed nothing and failed on an empty percentile at the end.
  const len = int('len', v.len), reps = int('reps', v.reps);
  if (v.out !== undefined) outputPath('out', v.out);
  const reqBytes = 3 * HEADS * D * 2, replyBytes = HEADS * D * 2 + HEADS * 4;
  const rows: Record<string, unknown>[] = [];
  const show = (what: string, rtt: number[], rank?: number[]) => {
    const r = stats(rtt), k = rank ? stats(rank) : null;
    const over = rank ? stats(rtt.map((x, i) => x - rank[i]!)) : null;
    rows.push({ what, rttMs: r, rankMs: k, overheadMs: over });
    console.log(`${what.padEnd(44)} round trip p50 ${r.p50.toFixed(3)} ms (p10 ${r.p10.toFixed(3)}, p90 ${r.p90.toFixed(3)})` +
      (k && over ? `  rank ${k.p50.toFixed(3)} ms  transport ${over.p50.toFixed(3)} ms (p10 ${over.p10.toFixed(3)})` : ''));
  };

  show(`raw zeromq, ${reqBytes} B → ${replyBytes} B`, await rawRtt(reps, reqBytes, replyBytes));
  // The same with the server's thread busy before it answers (no GPU): is a gap between messages what costs?
  for (const hold of [0.2, 0.5, 1]) show(`  the same, server busy ${hold} ms first (round trip − ${hold})`, await rawRtt(reps, reqBytes, replyBytes, hold));
  for (const hold of [0.5, 1]) show(`  busy ${hold} ms, keep-alives every 0.1 ms meanwhile`, await rawRtt(reps, reqBytes, replyBytes, hold, 0.1));
  const workers = await spawnLocalWorkers(['none']);
  const link = workers.members[0]!.link;
  let gpu: Gpu | null = null;
  try {
    const ping: number[] = [];
    for (let i = 0; i < reps + 20; i++) { const t0 = performance.now(); await link.request({ kind: 'ping' }); if (i >= 20) ping.push(performance.now() - t0); }
    show('our link, ping (worker process)', ping);
    // The attend payload without GPU work: a request the rank refuses (unknown sequence) after decoding it.
    const rows = new Uint16Array(3 * HEADS * D).fill(0x3000), refused: number[] = [];
    for (let i = 0; i < reps + 20; i++) {
      const t0 = performance.now();
      await link.request({ kind: 'attend', step: 0, layer: 0, group: 1 },
        [attendItemsFrame([{ seq: 99, kvHeads: HEADS, len: 8, newPos: 7 }]), { dtype: 'f16', shape: [3 * HEADS, D], data: rows }]).catch(() => undefined);
      if (i >= 20) refused.push(performance.now() - t0);
    }
    show('our link, attend payload refused (no GPU work)', refused);
    const a = await attendRtt(link, len, reps);
    show(`our link, attend len ${len} (worker process)`, a.rtt, a.rank);
    // The base of a real run has a GPUDevice of its own (Dawn polls its events in this process's loop).
    gpu = await openGpu({ label: 'link-bench-rank' });
    const b = await attendRtt(link, len, reps);
    show(`  the same, a GPUDevice open in this process`, b.rtt, b.rank);
    const rank = new AttentionRank(gpu, 0);
    const c = await attendRtt(inProcessLink('local', rank.handler), len, reps);
    show(`in-process link, attend len ${len}`, c.rtt, c.rank);
    rank.dispose();
  } finally {
    await workers.close();
    gpu?.destroy();
  }
  if (v.out) writeFileSync(String(v.out), JSON.stringify({ created: new Date().toISOString(), len, reps, rows }, null, 1));
}

runBench(main);
