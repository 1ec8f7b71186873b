// Fault soak (loopback only, bounded): two coordinator processes share two `run-inference.js worker` processes as
// their attention pool for --minutes. Meanwhile the workers are killed (SIGKILL, SIGTERM), hung (SIGSTOP past the
// deadline) and restarted on the same port, and a hostile client sends garbage to both the whole time. Every round
// each coordinator generates for fresh prompts on the pool and on its own GPU alone: the tokens must be equal.
// Worker and coordinator memory is sampled; the figures go to --out (JSON) and a summary to stdout.
//
//   npx tsc -p tsconfig.json && node dist/kernels-bench/soak.js --minutes 10 --out kernels-bench/soak-results/lavapipe.json
//
// Exit status 0 when every round matched, no process died unasked, and worker memory stayed within --rss-slack-mib.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../src/cli/parent-watch.js';
import { benchArgs, num, outputPath, runBench } from './bench-args.js';


// Threshold 16: prompts of 30 and 45 tokens start on the pool (prefilled here, their K/V handed off: prefill-to-pool),
// 12 crosses onto it after 4 steps (to-pool), 3 never does. (A pool-only cache is not resharded when 30 crosses the
// 40-token tier: the soak sees no reshard since the prefill hand-off.)
const SHAPES = [[30, 3, 45, 12], [12, 30], [45, 3, 3]];
const NEW_TOKENS = 20;
const DEADLINE_MS = 4000;

interface RoundReport {
  coordinator: number; round: number; equal: boolean; tokens: number; ms: number; rssMiB: number;
  events: Record<string, number>; poolSteps: number; baseSteps: number; mismatch?: string; error?: string;
}

// ---------------------------------------------------------------- coordinator (child process)

async function coordinator(id: number, endpoints: string[], weightsPath: string, untilMs: number): Promise<void> {
  const { openGpu } = await import('../src/gpu/index.js');
  const { presetConfig } = await import('../src/model/config.js');
  const { Generator } = await import('../src/model/generator.js');
  const { loadWeights } = await import('../src/model/load-weights.js');
  const { openSafetensors } = await import('../src/model/safetensors-node.js');
  const { PoolAttention } = await import('../src/orchestrator/pool/pool-attention.js');
  const { connectRank } = await import('../src/orchestrator/transport/zmq-link.js');
  const cfg = presetConfig('tiny');
  const g = await openGpu({ label: `coordinator${id}` });
  const f = await openSafetensors(weightsPath);
  const w = (await loadWeights(g, f.source(), cfg, 'f32')).weights;
  await f.close();
  const links = await Promise.all(endpoints.map((e, i) => connectRank(e, { name: `worker${i}`, connectTimeoutMs: 30_000 })));
  const policy = { threshold: 16, tiers: [{ maxLen: 16, poolSize: 0 }, { maxLen: 40, poolSize: 1 }, { maxLen: Infinity, poolSize: 2 }] };
  const members = links.map((link) => ({ link, alive: true }));
  // A worker that failed is probed from 0.5 s on and rejoins by itself once it answers (after a restart, or a hang).
  const exec = new PoolAttention(members, policy, { minBlock: 8, deadlineMs: DEADLINE_MS, rejoinBackoffMs: 500 });
  const pooled = new Generator(g, cfg, w, 'f32', exec);
  const alone = new Generator(g, cfg, w, 'f32');
  const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 };
  let seed = (id + 1) * 0x9e3779b9;
  const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
  const send = (r: RoundReport) => process.stdout.write(`${JSON.stringify(r)}\n`);
  for (let round = 0; Date.now() < untilMs; round++) {
    const prompts = SHAPES[round % SHAPES.length]!.map((n) => Array.from({ length: n }, () => rand() % cfg.vocab));
    const t0 = performance.now();
    const events0 = exec.stats.events.length;
    const steps0 = exec.stats.perSeq.map((s) => ({ ...s }));
    try {
      const ref = (await alone.generate(prompts, { maxNewTokens: NEW_TOKENS, sampling: greedy })).tokens;
      const got = (await pooled.generate(prompts, { maxNewTokens: NEW_TOKENS, sampling: greedy })).tokens;
      const events: Record<string, number> = {};
      for (const e of exec.stats.events.slice(events0)) events[e.kind] = (events[e.kind] ?? 0) + 1;
      exec.stats.events.length = 0; // a long-running coordinator must not keep every event
      const equal = JSON.stringify(ref) === JSON.stringify(got);
      const sum = (k: 'poolSteps' | 'baseSteps') => exec.stats.perSeq.reduce((a, s, i) => a + s[k] - (steps0[i]?.[k] ?? 0), 0);
      (globalThis as { gc?: () => void }).gc?.(); // RSS after a collection: garbage is not a leak
      send({
        coordinator: id, round, equal, tokens: got.reduce((a, t) => a + t.length, 0), ms: performance.now() - t0,
        rssMiB: process.memoryUsage().rss / 2 ** 20, events, poolSteps: sum('poolSteps'), baseSteps: sum('baseSteps'),
        ...(equal ? {} : { mismatch: `prompts ${JSON.stringify(prompts)}: alone ${JSON.stringify(ref)}, pooled ${JSON.stringify(got)}` }),
      });
    } catch (e) {
      send({ coordinator: id, round, equal: false, tokens: 0, ms: performance.now() - t0, rssMiB: process.memoryUsage().rss / 2 ** 20, events: {}, poolSteps: 0, baseSteps: 0, error: String((e as Error)?.stack ?? e) });
    }
  }
  await Promise.all(links.map((l) => l.close()));
  pooled.dispose(); alone.dispose(); exec.dispose(g);
  g.destroy();
}

// ---------------------------------------------------------------- workers (managed by the parent)

/**
 * `run-inference.js worker`, unchanged, in a process that also collects garbage every 5 s and then reports its
 * resident memory on stderr ("soak-rss MiB"): readings after a collection show growth, not garbage.
 */
async function workerRole(args: string[]): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  setInterval(() => { gc?.(); process.stderr.write(`soak-rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)}\n`); }, 5000).unref();
  const { runWorkerCli } = await import('../src/cli/worker-cli.js');
  await runWorkerCli(args);
}

interface WorkerSlot {
  index: number; port: number; proc: ChildProcess | null; pid: number; startedAt: number;
  incarnations: { pid: number; startedAt: number; endedAt?: number; how?: string; rss: [number, number][] }[];
  log: string[]; unaskedExits: string[];
}

function startWorker(slot: WorkerSlot, logLine: (s: string) => void, t0: number): Promise<void> {
  const listen = `tcp://127.0.0.1:${slot.port}`;
  const proc = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--role', 'worker', '--',
    '--gpu', 'none', '--listen', listen, '--rank', String(slot.index), '--label', `worker${slot.index}`, '--max-message-mb', '64'], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  slot.proc = proc;
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      for (const l of c.split('\n')) {
        const m = /^soak-rss ([\d.]+)$/.exec(l);
        const inc = slot.incarnations.find((i) => i.pid === proc.pid);
        if (m) { if (inc) inc.rss.push([Date.now() - t0, Number(m[1])]); continue; }
        if (l) { slot.log.push(l); if (slot.log.length > 2000) slot.log.shift(); }
      }
    });
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      const m = /^READY (\S+)/m.exec(buf);
      if (!m) return;
      if (slot.port === 0) slot.port = Number(/:(\d+)$/.exec(m[1]!)![1]);
      slot.pid = proc.pid!;
      slot.startedAt = Date.now();
      slot.incarnations.push({ pid: proc.pid!, startedAt: slot.startedAt, rss: [] });
      logLine(`worker${slot.index} up: pid ${proc.pid} on ${m[1]}`);
      resolve();
    });
    proc.once('exit', (code, sig) => {
      const inc = slot.incarnations.find((i) => i.pid === proc.pid);
      if (inc && !inc.how) { inc.how = `exited by itself (${sig ?? `code ${code}`})`; slot.unaskedExits.push(`pid ${proc.pid}: ${sig ?? code}; last log: ${slot.log.slice(-3).join(' | ')}`); }
      if (inc) inc.endedAt = Date.now();
      if (slot.proc === proc) slot.proc = null;
      reject(new Error(`worker${slot.index} exited before READY (${sig ?? code}): ${slot.log.slice(-5).join('\n')}`));
    });
  });
}

async function stopWorker(slot: WorkerSlot, how: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const p = slot.proc;
  if (!p) return;
  const inc = slot.incarnations.find((i) => i.pid === p.pid);
  if (inc) inc.how = how;
  const exited = new Promise<void>((res) => p.once('exit', () => res()));
  p.kill(how);
  await exited;
}

// ---------------------------------------------------------------- the hostile client (in the parent)

interface HostileStats { sent: Record<string, number>; replies: number; errorReplies: number; connections: number }

async function hostile(endpoints: () => string[], untilMs: number, stats: HostileStats): Promise<void> {
  const zmq = await import('zeromq');
  const { pack } = await import('msgpackr');
  const { encodeMessage } = await import('../src/orchestrator/transport/codec.js');
  const { PROTOCOL_VERSION, attendItemsFrame } = await import('../src/orchestrator/transport/messages.js');
  let seed = 0x1234567;
  const rand = (n: number) => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed % n; };
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rand(256)));
  const V = PROTOCOL_VERSION;
  const attendFrame = (rows: number) => Buffer.from(new Float32Array(rows * 16).fill(0.25).buffer);
  const alloc = (seq: number) => encodeMessage({ kind: 'alloc', v: V, id: 1, seq, nLayers: 2, kvHeads: [0, 2], headDim: 16, capacity: 32, posBase: 0, dtype: 'f32', nHeadsPerKv: 2 });
  const kinds: [string, () => Buffer[][]][] = [
    ['random bytes', () => [[bytes(1 + rand(300))]]],
    ['random frames', () => [Array.from({ length: 1 + rand(5) }, () => bytes(rand(64)))]],
    ['empty frame (a disconnect notification, spoofed)', () => [[Buffer.alloc(0)]]],
    ['wrong protocol version', () => [[pack({ kind: 'ping', v: 99, id: 3 })]]],
    ['unknown kind', () => [[pack({ kind: 'toString', v: V, id: 4 })]]],
    ['fields of the wrong type', () => [[pack({ kind: 'alloc', v: V, id: 5, seq: 'x', nLayers: -1, kvHeads: [2, 0], headDim: 1e9, capacity: 0, posBase: 0.5, dtype: 'f64', nHeadsPerKv: 0 })]]],
    ['frame descriptors that lie', () => [[pack({ kind: 'attend', v: V, id: 6, step: 1, layer: 0, group: 2, frames: [{ dtype: 'u32', shape: [1, 4] }, { dtype: 'f32', shape: [1 << 20, 1 << 20] }] }), Buffer.alloc(16), Buffer.alloc(64)]]],
    ['attend to a sequence never allocated', () => [[...encodeMessage({ kind: 'attend', v: V, id: 7, step: 1, layer: 0, group: 2 }, [attendItemsFrame([{ seq: 3, kvHeads: 2, len: 4, newPos: -1 }]), { dtype: 'f32', shape: [4, 16], data: new Float32Array(64) }])]]],
    ['alloc, then attend listing the sequence twice', () => {
      const item = { seq: 0, kvHeads: 2, len: 4, newPos: -1 };
      return [alloc(0), encodeMessage({ kind: 'attend', v: V, id: 8, step: 1, layer: 0, group: 2 }, [attendItemsFrame([item, item]), { dtype: 'f32', shape: [8, 16], data: new Float32Array(attendFrame(8).buffer) }])];
    }],
    ['alloc, then load_kv outside the shard', () => [alloc(1), encodeMessage({ kind: 'load_kv', v: V, id: 9, seq: 1, layer: 1, kvHeads: [0, 2], pos0: 30, count: 8 },
      [{ dtype: 'f32', shape: [2, 8, 16], data: new Float32Array(256) }, { dtype: 'f32', shape: [2, 8, 16], data: new Float32Array(256) }])]],
    ['alloc many, never free (freed when it disconnects)', () => Array.from({ length: 20 }, (_, i) => alloc(100 + i))],
  ];
  const oversize = Buffer.alloc(100 * 2 ** 20, 7);
  let lastOversize = 0;
  while (Date.now() < untilMs) {
    const eps = endpoints();
    const sock = new zmq.Dealer({ linger: 0, receiveTimeout: 200 });
    sock.connect(eps[rand(eps.length)]!);
    stats.connections++;
    try {
      const burst: Buffer[][] = [];
      if (Date.now() - lastOversize > 30_000) {
        lastOversize = Date.now();
        burst.push([Buffer.from(encodeMessage({ kind: 'ping', v: V, id: 10 })[0]!), oversize]);
        stats.sent['100 MB message (over --max-message-mb 64)'] = (stats.sent['100 MB message (over --max-message-mb 64)'] ?? 0) + 1;
      }
      for (let k = 0; k < 1 + rand(4); k++) {
        const [name, make] = kinds[rand(kinds.length)]!;
        stats.sent[name] = (stats.sent[name] ?? 0) + 1;
        burst.push(...make());
      }
      for (const msg of burst) await sock.send(msg);
      for (;;) {
        let reply: Buffer[];
        try { reply = await sock.receive(); } catch { break; } // receiveTimeout: nothing more
        stats.replies++;
        if (/error/.test(reply[0]?.toString('latin1') ?? '')) stats.errorReplies++;
      }
    } catch { /* a worker that is down or restarting */ } finally {
      sock.close();
    }
    await new Promise((r) => setTimeout(r, 50 + rand(150)));
  }
}

// ---------------------------------------------------------------- the parent

async function main(): Promise<number> {
  const { values } = benchArgs({
    script: 'soak.js',
    about: `Fault soak (loopback only, bounded): two coordinator processes share two \`run-inference.js worker\` processes as
their attention pool for --minutes, while the workers are killed (SIGKILL, SIGTERM), hung (SIGSTOP past the deadline)
and restarted, and a hostile client sends them garbage. Every round each coordinator's pooled tokens must equal its own
GPU's alone. Exit 0 when every round matched, no process died unasked, and worker memory stayed within --rss-slack-mib.`,
    examples: ['node dist/kernels-bench/soak.js --minutes 10 --out kernels-bench/soak-results/lavapipe.json'],
  }, {
    minutes: { type: 'string', default: '10', help: 'how long, at least 1 (coordinators start no round in the last 20 s)' },
    out: { type: 'string', help: 'write the figures as JSON (its folder is made)' },
    'rss-slack-mib': { type: 'string', default: '40', help: "a worker's allowed memory growth from its 2nd minute to its last (MiB)" },
    'kill-every-s': { type: 'string', default: '45', help: 'seconds between two faults' },
    role: { type: 'string', hidden: true }, id: { type: 'string', hidden: true }, endpoints: { type: 'string', hidden: true },
    weights: { type: 'string', hidden: true }, until: { type: 'string', hidden: true },
  }, process.argv.includes('--') ? process.argv.slice(2, process.argv.indexOf('--')) : process.argv.slice(2));
  if (values.role === 'worker') {
    await workerRole(process.argv.slice(process.argv.indexOf('--') + 1));
    return 0;
  }
  if (values.role === 'coordinator') {
    await coordinator(Number(values.id), values.endpoints!.split(','), values.weights!, Number(values.until));
    return 0;
  }
  // Checked before anything starts: a NaN --kill-every-s once ran the whole soak without a fault, a NaN
  // --rss-slack-mib without the memory check, and --out onto a folder failed only after the last minute.
  const minutes = num('minutes', values.minutes, 1, 7 * 24 * 60);
  const killEveryMs = num('kill-every-s', values['kill-every-s'], 0, 3600, true) * 1000;
  const slack = num('rss-slack-mib', values['rss-slack-mib'], 0);
  if (values.out !== undefined) {
    if (values.out !== '' && !existsSync(dirname(resolve(values.out)))) mkdirSync(dirname(resolve(values.out)), { recursive: true });
    outputPath('out', values.out);
  }
  const t0 = Date.now(), untilMs = t0 + minutes * 60_000;
  const log = (s: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'fapool-soak-'));
  const { presetConfig } = await import('../src/model/config.js');
  const { writeRandomWeights } = await import('../src/model/random-weights.js');
  const weights = join(tmp, 'tiny.safetensors');
  await writeRandomWeights(weights, presetConfig('tiny'), { seed: 21, dtype: 'f32' });

  const slots: WorkerSlot[] = [0, 1].map((index) => ({ index, port: 0, proc: null, pid: 0, startedAt: 0, incarnations: [], log: [], unaskedExits: [] }));
  for (const s of slots) await startWorker(s, log, t0);
  const endpoints = () => slots.map((s) => `tcp://127.0.0.1:${s.port}`);

  // Coordinators stop starting rounds 20 s before the end, so that the last rounds finish inside --minutes.
  const rounds: RoundReport[] = [];
  const coordExits: string[] = [];
  const coordRss: [number, number, number][] = [];
  const coords = [0, 1].map((id) => {
    const p = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--role', 'coordinator', '--id', String(id), '--endpoints', endpoints().join(','), '--weights', weights, '--until', String(untilMs - 20_000)],
      { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    let buf = '', err = '';
    p.stdout!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        try {
          const r = JSON.parse(line) as RoundReport;
          rounds.push(r);
          coordRss.push([Date.now() - t0, id, r.rssMiB]);
          if (!r.equal) log(`coordinator ${id} round ${r.round}: ${r.error ? `ERROR ${r.error.split('\n')[0]}` : `MISMATCH ${r.mismatch}`}`);
        } catch { /* not a report */ }
      }
    });
    p.stderr!.setEncoding('utf8').on('data', (c: string) => { err = (err + c).slice(-4000); });
    const done = new Promise<void>((res) => p.once('exit', (code, sig) => { if (code !== 0) coordExits.push(`coordinator ${id}: ${sig ?? code}: ${err.split('\n').filter((l) => !/^Warning: maxDynamic/.test(l)).slice(-5).join(' | ')}`); res(); }));
    return { p, done };
  });

  // Faults: worker 0 is hit every kill-every-s (SIGKILL, SIGTERM, a hang past the deadline, in turn) and restarted;
  // worker 1 is hung once, half-way, and otherwise lives the whole soak, so that its memory shows over one life.
  const hostileStats: HostileStats = { sent: {}, replies: 0, errorReplies: 0, connections: 0 };
  const hostileDone = hostile(endpoints, untilMs - 10_000, hostileStats);
  const faults: { atS: number; worker: number; what: string }[] = [];
  const faultLoop = (async () => {
    let n = 0, hitOne = false;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while (Date.now() + killEveryMs < untilMs - 30_000) {
      await sleep(killEveryMs);
      const useOne = !hitOne && Date.now() - t0 > (untilMs - t0) / 2;
      const slot = slots[useOne ? 1 : 0]!;
      if (useOne) hitOne = true;
      const what = useOne ? 'SIGSTOP' : (['SIGKILL', 'SIGTERM', 'SIGSTOP'] as const)[n++ % 3]!;
      faults.push({ atS: (Date.now() - t0) / 1000, worker: slot.index, what: what === 'SIGSTOP' ? `SIGSTOP for ${DEADLINE_MS * 2 / 1000} s, then SIGCONT` : `${what}, restart after 3 s` });
      log(`fault: worker${slot.index} ${faults.at(-1)!.what}`);
      if (what === 'SIGSTOP') {
        slot.proc?.kill('SIGSTOP');
        await sleep(DEADLINE_MS * 2);
        slot.proc?.kill('SIGCONT');
        continue;
      }
      await stopWorker(slot, what);
      await sleep(3000);
      for (let attempt = 1; ; attempt++) {
        try { await startWorker(slot, log, t0); break; } catch (e) {
          log(`worker${slot.index} restart ${attempt} failed: ${(e as Error).message.split('\n')[0]}`);
          if (attempt === 5) throw e;
          await sleep(2000);
        }
      }
    }
  })();

  await Promise.all(coords.map((c) => c.done));
  await faultLoop;
  await hostileDone;
  for (const s of slots) await stopWorker(s, 'SIGTERM');
  rmSync(tmp, { recursive: true, force: true });

  // Worker memory (after a collection, every 5 s): per life of over three minutes, the median of its second
  // minute against the median of its last minute.
  const windowMedian = (rss: [number, number][], from: number, to: number) => {
    const w = rss.filter(([t]) => t >= from && t < to).map(([, r]) => r);
    return w.length >= 6 ? median(w) : null;
  };
  const lives = slots.flatMap((s) => s.incarnations.map((inc) => {
    const start = inc.startedAt - t0, end = (inc.endedAt ?? Date.now()) - t0;
    const second = windowMedian(inc.rss, start + 60_000, start + 120_000), lastMin = windowMedian(inc.rss, end - 60_000, end);
    const all = inc.rss.map(([, r]) => r);
    return {
      worker: s.index, pid: inc.pid, lifeS: (end - start) / 1000, ended: inc.how ?? 'SIGTERM at the end',
      rssMiB: { min: all.length ? Math.min(...all) : 0, max: all.length ? Math.max(...all) : 0, secondMinuteMedian: second, lastMinuteMedian: lastMin },
      growthMiB: end - start >= 180_000 && second !== null && lastMin !== null ? lastMin - second : null,
      samples: inc.rss.map(([t, r]) => [Math.round(t / 1000), Math.round(r)]),
    };
  }));
  const byCoord = [0, 1].map((id) => {
    const rs = rounds.filter((r) => r.coordinator === id);
    const ev: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.events)) ev[k] = (ev[k] ?? 0) + v;
    const rss = rs.map((r) => r.rssMiB);
    return {
      coordinator: id, rounds: rs.length, equal: rs.filter((r) => r.equal).length, errors: rs.filter((r) => r.error).length,
      tokensPooled: rs.reduce((a, r) => a + r.tokens, 0), poolSteps: rs.reduce((a, r) => a + r.poolSteps, 0), baseSteps: rs.reduce((a, r) => a + r.baseSteps, 0),
      events: ev, roundMs: { median: median(rs.map((r) => r.ms)), max: Math.max(0, ...rs.map((r) => r.ms)) },
      rssMiB: { first: rss[0] ?? null, at25pct: rss[Math.floor(rss.length / 4)] ?? null, last: rss.at(-1) ?? null, max: Math.max(0, ...rss) },
    };
  });
  const freed = slots.flatMap((s) => s.log.filter((l) => /freed its/.test(l)));
  const grew = lives.filter((l) => l.growthMiB !== null && l.growthMiB > slack);
  const figures = {
    created: new Date().toISOString(), minutes, killEverySeconds: killEveryMs / 1000, machine: 'loopback, lavapipe (software Vulkan), tiny preset, f32',
    coordinators: byCoord, workers: lives, faults, hostile: hostileStats,
    workerLogFreedLines: freed.length, workerLogFreedSamples: freed.slice(0, 5),
    mismatches: rounds.filter((r) => !r.equal).map((r) => ({ coordinator: r.coordinator, round: r.round, mismatch: r.mismatch, error: r.error?.split('\n')[0] })),
    unaskedWorkerExits: slots.flatMap((s) => s.unaskedExits), coordinatorExits: coordExits,
    rssSlackMiB: slack, workersOverSlack: grew.map((l) => `${l.pid}: +${l.growthMiB!.toFixed(1)} MiB`),
  };
  const ok = figures.mismatches.length === 0 && figures.unaskedWorkerExits.length === 0 && coordExits.length === 0 && grew.length === 0 && byCoord.every((c) => c.rounds > 0);
  if (values.out) { mkdirSync(dirname(values.out), { recursive: true }); writeFileSync(values.out, `${JSON.stringify({ ok, ...figures }, null, 2)}\n`); }
  log(`done: ${ok ? 'OK' : 'FAILED'}`);
  for (const c of byCoord) log(`coordinator ${c.coordinator}: ${c.equal}/${c.rounds} rounds equal to one device, ${c.tokensPooled} pooled tokens, pool steps ${c.poolSteps}, base steps ${c.baseSteps}, events ${JSON.stringify(c.events)}, RSS ${c.rssMiB.first?.toFixed(0)} → ${c.rssMiB.last?.toFixed(0)} MiB`);
  for (const l of lives) log(`worker${l.worker} pid ${l.pid}: ${l.lifeS.toFixed(0)} s, ended ${l.ended}, RSS ${l.rssMiB.min.toFixed(0)}–${l.rssMiB.max.toFixed(0)} MiB${l.growthMiB !== null ? `, median ${l.rssMiB.secondMinuteMedian!.toFixed(0)} MiB in its 2nd minute → ${l.rssMiB.lastMinuteMedian!.toFixed(0)} MiB in its last` : ''}`);
  log(`hostile: ${hostileStats.connections} connections, ${Object.values(hostileStats.sent).reduce((a, b) => a + b, 0)} messages, ${hostileStats.errorReplies} error replies; workers freed a gone client's shards ${freed.length} times`);
  for (const m of [...figures.mismatches.map((m) => JSON.stringify(m)), ...figures.unaskedWorkerExits, ...coordExits, ...figures.workersOverSlack]) log(`PROBLEM: ${m}`);
  return ok ? 0 : 1;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
}

runBench(main);
