// Load benchmark of `run-inference.js serve`: autocannon sends POST /v1/completions with prompts of mixed
// lengths (token ids, cycled in a fixed shuffled order) at a few concurrency levels, each bounded by a
// request count or a duration. Reported per level: requests/s and tokens/s (completed requests over the level's
// wall time), TTFT, TPOT and queue-time percentiles from the engine's per-request metrics (each response's
// choices[0].metrics), and client-side latency. The server runs as a child process on 127.0.0.1 (or --url).
//
//   node dist/kernels-bench/server-bench.js --preset tiny --dtype f32 --lens 16,64,128,256 --max-tokens 32 --levels 1:24,4:24,16:48
//   node dist/kernels-bench/server-bench.js --model /tmp/seed-4l-f16.safetensors --dtype f16 --lens 256,1024,4096,32768 --levels 1:8,8:24
//   ... --levels 16:48 "--serve-args=--max-batch 16"      (options for serve; the = form, as they start with --)
// A level bounded by seconds ("8:20s") drops the requests still running at its end (their clients disconnect,
// which cancels them): its requests/s and tokens/s undercount; a level bounded by requests does not.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { childEnv } from '../src/cli/parent-watch.js';
import { parseServeArgs } from '../src/cli/serve-args.js';
import { entryScript } from '../src/gpu/package-root.js';
import { peekModelConfig } from '../src/model/model-files.js';
import { UsageError, benchArgs, inputPath, int, intList, outputPath, runBench } from './bench-args.js';

interface AutocannonResult {
  duration: number; non2xx: number; errors: number; timeouts: number; '2xx': number;
  latency: Record<'p50' | 'p90' | 'p99' | 'max' | 'average', number>;
}
type Autocannon = (o: object) => Promise<AutocannonResult>;
// autocannon ships no types; one call, typed here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Level { connections: number; amount?: number; seconds?: number }
interface Sample { status: number; ttftMs: number; tpotMs: number; queueMs: number; promptTokens: number; completionTokens: number }

const { values: a, given } = benchArgs({
  script: 'server-bench.js',
  about: `Load benchmark of \`run-inference.js serve\`: autocannon sends POST /v1/completions with prompts of mixed lengths
(token ids) at a few concurrency levels, each bounded by a request count or a duration. Per level: requests/s, tokens/s,
TTFT, TPOT and queue-time percentiles from the engine's per-request metrics, and client-side latency. The server runs as
a child process on 127.0.0.1 (--model / --preset / --dtype / --serve-args), or --url names a running one. A level bounded
by seconds ("8:20s") drops the requests still running at its end: its requests/s and tokens/s undercount.`,
  examples: ['node dist/kernels-bench/server-bench.js --preset tiny --dtype f32 --lens 16,64,128,256 --max-tokens 32 --levels 1:24,4:24,16:48',
    'node dist/kernels-bench/server-bench.js --levels 16:48 "--serve-args=--max-batch 16"   # options for serve: the = form'],
}, {
  url: { type: 'string', help: 'a running server (its base URL) instead of starting one' },
  preset: { type: 'string', default: 'tiny', help: "the started server's --preset (without --model)" },
  model: { type: 'string', help: "the started server's --model" },
  dtype: { type: 'string', help: "the started server's --dtype" },
  lens: { type: 'string', default: '16,64,128,256', help: 'comma-separated prompt lengths (tokens), cycled in a fixed shuffled order' },
  'max-tokens': { type: 'string', default: '32', help: 'max_tokens of every request' },
  levels: { type: 'string', default: '1:16,4:24,16:48', help: 'comma-separated CONNECTIONS:REQUESTS or CONNECTIONS:SECONDSs' },
  'max-queue': { type: 'string', default: '256', help: "the started server's --max-queue" },
  'serve-args': { type: 'string', default: '', help: 'more options for the started server, space-separated' },
  timeout: { type: 'string', default: '300', help: "seconds a request may take (autocannon's timeout)" },
  out: { type: 'string', help: 'write the levels as JSON (after every level)' },
  metrics: { type: 'string', help: "write the server's /metrics text after every level" },
  seed: { type: 'string', default: '1', help: 'seed of the prompts\' token ids' },
});

/** "c:n" = c connections for n requests; "c:Ns" = for N seconds. */
function parseLevels(spec: string): Level[] {
  return spec.split(',').map((item) => {
    const m = /^([1-9]\d*):([1-9]\d*)(s?)$/.exec(item.trim());
    if (!m) throw new UsageError(`--levels item '${item}': expected CONNECTIONS:REQUESTS or CONNECTIONS:SECONDSs (positive integers)`);
    return m[3] ? { connections: Number(m[1]), seconds: Number(m[2]) } : { connections: Number(m[1]), amount: Number(m[2]) };
  });
}

/** The started server's options: 127.0.0.1 on a free port, the model and queue options, then --serve-args. */
function serveArgv(): string[] {
  return ['--host', '127.0.0.1', '--port', '0', ...(a.model ? ['--model', a.model] : ['--preset', a.preset]), ...(a.dtype ? ['--dtype', a.dtype] : []),
    '--max-queue', a['max-queue'], ...a['serve-args'].split(' ').filter(Boolean)];
}

/**
 * The context the started server will serve (its /v1/models max_model_len), known before it starts: serve's own
 * parser reads the options, the runtime's config loading the model's context (a weights file's header at most), and
 * --max-context caps it as serve does. A --lens that did not fit was found only after the model had loaded.
 */
async function servedContext(argv: string[]): Promise<{ context: number; why: string }> {
  let s;
  try { s = parseServeArgs(argv); } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(`the started server's options: ${e.message.split('\n')[0]!.replace(/^serve: /, '')} (serve --help lists them)`);
  }
  const o = s.engine;
  // The dtype only names the cache file of random weights; their config is the same.
  const { config } = await peekModelConfig({ model: o.model, config: o.config, preset: o.preset!, init: o.init, seed: o.seed ?? 0 }, o.dtype === 'f16' ? 'f16' : 'f32');
  const cap = o.schedule?.maxContext;
  return cap !== undefined && cap < config.maxSeq ? { context: cap, why: `--serve-args --max-context ${cap}` } : { context: config.maxSeq, why: `model '${config.name}'` };
}

/** Every prompt length with --max-tokens must fit the served context: one line naming them, exit 2. */
function checkLens(lens: number[], maxTokens: number, context: number, why: string): void {
  const tooLong = lens.filter((n) => n + maxTokens > context);
  if (tooLong.length) throw new UsageError(`--lens ${tooLong.join(',')} with --max-tokens ${maxTokens}: over the server's context of ${context} tokens (${why})`);
}

/** Starts `run-inference.js serve` with `argv` and resolves with its URL once it prints it. */
function startServer(argv: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [entryScript(), 'serve', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  proc.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l && !l.startsWith('Warning:')) process.stderr.write(`[serve] ${l}\n`); });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc });
    });
  });
}

function xorshift(seed: number) {
  let s = (seed * 2654435761 + 1) >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function main(): Promise<void> {
  // Checked before the server starts (an empty prompt, or max_tokens 0, once made every request a 400: a table of
  // errors, exit 0).
  const lens = intList('lens', a.lens);
  const maxTokens = int('max-tokens', a['max-tokens']);
  const levels = parseLevels(a.levels);
  const timeout = int('timeout', a.timeout), seed = int('seed', a.seed, 0, 0xffffffff);
  int('max-queue', a['max-queue']);
  if (a.url !== undefined) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(a.url)) throw new UsageError(`--url must be a server's base URL (http://HOST:PORT), got '${a.url}'`);
    const unused = ['preset', 'model', 'dtype', 'max-queue', 'serve-args'].filter((k) => given.has(k));
    if (unused.length) throw new UsageError(`${unused.map((k) => `--${k}`).join(', ')}: options of the server this bench starts; --url names a running one`);
  }
  if (a.model !== undefined) inputPath('model', a.model, { folder: true });
  if (a.out !== undefined) outputPath('out', a.out, { model: a.model, metrics: a.metrics });
  if (a.metrics !== undefined) outputPath('metrics', a.metrics, { model: a.model });
  let server: { url: string; proc: ChildProcess } | null = null;
  if (a.url === undefined) {
    const argv = serveArgv(), served = await servedContext(argv);
    checkLens(lens, maxTokens, served.context, served.why);
    server = await startServer(argv);
  }
  const url = a.url ?? server!.url;
  try {
    const health = await (await fetch(`${url}/health`)).json() as { model: string; device: string; dtype: string };
    // A running server's context is known only from itself.
    const context = (await (await fetch(`${url}/v1/models`)).json() as { data: { max_model_len: number }[] }).data[0]!.max_model_len;
    checkLens(lens, maxTokens, context, `${url}/v1/models`);
    // Prompts: token ids below 256 (valid for every model, and bytes for the byte tokenizer).
    const rand = xorshift(seed);
    const prompts = lens.map((n) => Array.from({ length: n }, () => rand() % 256));
    const order = Array.from({ length: 64 }, (_, i) => i % lens.length);
    for (let i = order.length - 1; i > 0; i--) { const j = rand() % (i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
    const bodies = order.map((k) => JSON.stringify({ prompt: prompts[k], max_tokens: maxTokens, temperature: 0 }));

    // Warm-up (not measured): compiles the pipelines, with the shortest prompt and the longest up to two prefill
    // chunks (longer ones only repeat chunks, and a 32K warm-up would cost a level's time).
    const short = prompts.filter((p) => p.length <= 4096).sort((x, y) => x.length - y.length);
    for (const p of new Set([short[0] ?? prompts[0]!, short.at(-1) ?? prompts[0]!])) {
      const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: p, max_tokens: 2, temperature: 0 }) });
      if (res.status !== 200) throw new Error(`warm-up: ${res.status} ${await res.text()}`);
    }

    const rows = [];
    let next = 0;
    for (const lv of levels) {
      const samples: Sample[] = [];
      const t0 = performance.now();
      const r = await autocannon({
        url, connections: lv.connections, ...(lv.amount ? { amount: lv.amount } : { duration: lv.seconds }), timeout,
        requests: [{
          method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' },
          setupRequest: (req: object) => ({ ...req, body: bodies[next++ % bodies.length] }),
          onResponse: (status: number, body: string) => {
            if (status !== 200) { samples.push({ status, ttftMs: NaN, tpotMs: NaN, queueMs: NaN, promptTokens: 0, completionTokens: 0 }); return; }
            const m = (JSON.parse(body) as { choices: { metrics: { ttft_ms: number; tpot_ms: number; queue_ms: number; prompt_tokens: number; completion_tokens: number } }[] }).choices[0]!.metrics;
            samples.push({ status, ttftMs: m.ttft_ms, tpotMs: m.tpot_ms, queueMs: m.queue_ms, promptTokens: m.prompt_tokens, completionTokens: m.completion_tokens });
          },
        }],
      });
      const wallS = (performance.now() - t0) / 1000;
      const ok = samples.filter((s) => s.status === 200);
      const f = (k: keyof Sample) => ok.map((s) => s[k]);
      const row = {
        connections: lv.connections, bound: lv.amount ? `${lv.amount} req` : `${lv.seconds} s`, wallS: round(wallS, 2), ok: ok.length,
        refused429: samples.filter((s) => s.status === 429).length, otherErrors: samples.filter((s) => s.status !== 200 && s.status !== 429).length + r.errors,
        timeouts: r.timeouts, reqPerS: round(ok.length / wallS, 3), outTokPerS: round(sum(f('completionTokens')) / wallS, 1),
        inTokPerS: round(sum(f('promptTokens')) / wallS, 1),
        ttftMs: { p50: pct(f('ttftMs'), 50), p90: pct(f('ttftMs'), 90), p99: pct(f('ttftMs'), 99) },
        tpotMs: { p50: pct(f('tpotMs'), 50), p90: pct(f('tpotMs'), 90), p99: pct(f('tpotMs'), 99) },
        queueMs: { p50: pct(f('queueMs'), 50), p99: pct(f('queueMs'), 99) },
        latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99 },
      };
      rows.push(row);
      process.stderr.write(`level ${lv.connections} connections: ${JSON.stringify(row)}\n`);
      // Rewritten after every level: a run cut short by a timeout keeps what it measured.
      const result = { model: health.model, dtype: health.dtype, device: health.device, lens, maxTokens, levels: rows };
      if (a.out) writeFileSync(a.out, `${JSON.stringify(result, null, 1)}\n`);
      if (a.metrics) writeFileSync(a.metrics, await (await fetch(`${url}/metrics`)).text());
    }
    console.log(`server bench: ${health.model} ${health.dtype} on ${health.device}; prompt lengths ${lens.join(',')}, max_tokens ${maxTokens}, greedy`);
    console.log('| connections | bound | ok | 429 | err | req/s | out tok/s | in tok/s | TTFT p50 / p90 / p99 (ms) | TPOT p50 / p90 / p99 (ms) | queue p50 / p99 (ms) | latency p50 / p90 / p99 (ms) |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const w of rows) {
      const t = (o: Record<string, number>) => Object.values(o).map((v) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 0) : '–')).join(' / ');
      console.log(`| ${w.connections} | ${w.bound} | ${w.ok} | ${w.refused429} | ${w.otherErrors + w.timeouts} | ${w.reqPerS} | ${w.outTokPerS} | ${w.inTokPerS} | ${t(w.ttftMs)} | ${t(w.tpotMs)} | ${t(w.queueMs)} | ${t(w.latencyMs)} |`);
    }
  } finally {
    if (server) {
      const exited = new Promise((res) => server!.proc.once('exit', res));
      server.proc.kill('SIGTERM');
      const timer = setTimeout(() => server!.proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

runBench(main);
