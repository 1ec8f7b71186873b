// The first request of a process against warm ones, with the run's pipelines compiled at load (issue 15,
// "no first-request penalty"). One process, the same code as run-inference.js (parseCli, engineOptions,
// createEngine, precompile): load, precompile (split into the collect pass on the main thread and the wait
// for the pipelines), the first request, then --warm more; then what reflection costs now against parsing
// each program's whole WGSL (the old way). FAPOOL_PIPELINES=sync|async picks the creation path. One JSON line.
//
// --idle-ms N sleeps N ms before every request (the first too): whether a request after an idle GPU pays what a
// first request can (session 30 caught the SM clock at 450–570 MHz through one first request). --load-warmup N runs
// one untimed generation of an N-token prompt right after the load, before the timed requests: whether work at load
// takes such a drop out of the first request. --idle-tick-ms T: during each idle wait, a 1-token generation every
// T ms (a keep-warm): whether work while idle keeps the clock up (session 32's s31a: every request after 2 s idle ran
// at 345–465 MHz, 170–256 ms against 44).
//
//   FAPOOL_PIPELINES=sync node dist/kernels-bench/first-bench.js --model W --dtype f16 --prompt-len 4096 --max-new-tokens 16 --warm 2
import { parseCli } from '../src/cli/args.js';
import { engineOptions } from '../src/cli/engine-options.js';
import { syntheticPrompt } from '../src/cli/main.js';
import { parseWgsl, reflectLayout } from '../src/gpu/program.js';
import { createEngine, pipelineModeFromEnv } from '../src/orchestrator/create-engine.js';
import { UsageError, helpText, int, num, runBench, type BenchOptions } from './bench-args.js';

/** This bench's own options; every other one is run-inference.js's (parseCli). */
const OWN = {
  warm: { type: 'string', default: '2', help: 'warm requests after the first' },
  'idle-ms': { type: 'string', default: '0', help: 'sleep this long before every request (the first too)' },
  'load-warmup': { type: 'string', default: '0', help: 'one untimed generation of a prompt of this many tokens right after the load' },
  'idle-tick-ms': { type: 'string', default: '0', help: 'during each idle wait, a 1-token generation this often (a keep-warm)' },
} satisfies BenchOptions;
/** run-inference.js options a first-bench run does not use (one greedy --prompt-len prompt, a JSON line): refused. */
const UNUSED = ['prompt', 'prompt-lens', 'batch', 'temperature', 'top-k', 'top-p', 'json', 'stream', 'dump-logits'];

/** Takes this bench's options (`--warm 2` or `--warm=2`) out of argv, before run-inference's parser reads the rest. */
function takeOwn(argv: string[]): Record<keyof typeof OWN, string> {
  const own: Record<string, string> = {};
  for (let i = 0; i < argv.length;) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i]!);
    if (!m || !Object.hasOwn(OWN, m[1]!)) { i++; continue; }
    if (Object.hasOwn(own, m[1]!)) throw new UsageError(`--${m[1]} given twice`);
    const val = m[2] ?? argv[i + 1];
    if (val === undefined || (m[2] === undefined && val.startsWith('--'))) throw new UsageError(`--${m[1]} needs a value`);
    own[m[1]!] = val;
    argv.splice(i, m[2] === undefined ? 2 : 1);
  }
  for (const [k, o] of Object.entries(OWN)) own[k] ??= o.default;
  return own as Record<keyof typeof OWN, string>;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText({ script: 'first-bench.js', about: `The first request of a process against warm ones, with the run's pipelines compiled at load: load, precompile
(the collect pass and the wait for the pipelines), the first request, then --warm more, each one greedy --prompt-len
prompt; then what reflection costs. One JSON line on stdout. FAPOOL_PIPELINES=sync|async picks the creation path.
Every other option is run-inference.js's (node run-inference.js --help); --prompt-len is required, and
${UNUSED.map((k) => `--${k}`).join(', ')} are refused (a request here is one synthetic prompt, greedy).`,
    examples: ['node dist/kernels-bench/first-bench.js --preset tiny --dtype f32 --prompt-len 64 --max-new-tokens 4 --warm 1   # any machine',
      'FAPOOL_PIPELINES=sync node dist/kernels-bench/first-bench.js --model W --dtype f16 --prompt-len 4096 --max-new-tokens 16 --warm 2'] }, OWN));
    return;
  }
  const own = takeOwn(argv);
  const warm = int('warm', own.warm, 0), idleMs = num('idle-ms', own['idle-ms'], 0), loadWarmup = int('load-warmup', own['load-warmup'], 0);
  const tickMs = num('idle-tick-ms', own['idle-tick-ms'], 0);
  if (tickMs > 0 && idleMs === 0) throw new UsageError('--idle-tick-ms ticks during the --idle-ms wait: add --idle-ms');
  for (const k of UNUSED) {
    if (argv.some((x) => x === `--${k}` || x.startsWith(`--${k}=`))) throw new UsageError(`--${k}: first-bench times one synthetic --prompt-len prompt, greedy; --${k} would be ignored`);
  }
  const o = parseCli(argv);
  if (o.promptLen === undefined) throw new UsageError('first-bench needs --prompt-len N (the timed requests\' prompt length)');
  for (const w of o.warnings) console.error(`warning: ${w}`);
  const engine = await createEngine(engineOptions(o));
  try {
    const dev = engine.gpu!.device;
    // Which (source, entry) each new pipeline compiles: for the reflection figures at the end.
    const codes = new Map<GPUShaderModule, string>(), programs: { code: string; entry: string }[] = [];
    const mod = dev.createShaderModule.bind(dev), sync = dev.createComputePipeline.bind(dev), async_ = dev.createComputePipelineAsync.bind(dev);
    const note = (d: GPUComputePipelineDescriptor) => { programs.push({ code: codes.get(d.compute.module) ?? '', entry: d.compute.entryPoint ?? '' }); };
    dev.createShaderModule = (d) => { const m = mod(d); codes.set(m, d.code); return m; };
    dev.createComputePipeline = (d) => { note(d); return sync(d); };
    dev.createComputePipelineAsync = (d) => { note(d); return async_(d); };
    // What each request creates on the device (bind groups, buffers and their bytes): host work a warm request skips.
    const made = { bindGroups: 0, buffers: 0, bufferBytes: 0 };
    const bindGroup = dev.createBindGroup.bind(dev), buffer = dev.createBuffer.bind(dev);
    dev.createBindGroup = (d) => { made.bindGroups++; return bindGroup(d); };
    dev.createBuffer = (d) => { made.buffers++; made.bufferBytes += d.size; return buffer(d); };

    const vocab = Math.min(engine.config.vocab, engine.tokenizer.vocabSize);
    const prompts = [syntheticPrompt(o.promptLen!, vocab, o.seed)];
    const t0 = performance.now();
    let collected = 0;
    const c = await engine.precompile({
      promptLengths: [o.promptLen!], maxNewTokens: o.maxNewTokens, prefillChunk: o.prefillChunk,
      onProgress: (d) => { if (d === 0) collected = performance.now() - t0; },
    });
    const gen = { prompts, maxNewTokens: o.maxNewTokens, prefillChunk: o.prefillChunk, stopAtEos: false };
    let loadWarmupMs: number | null = null;
    if (loadWarmup > 0) {
      const w0 = performance.now();
      await engine.run({ ...gen, prompts: [syntheticPrompt(loadWarmup, vocab, o.seed + 1)], maxNewTokens: 1 });
      loadWarmupMs = performance.now() - w0;
    }
    const before = engine.gpu!.programCount;
    const ttft: number[] = [];
    const startedAt: number[] = [];   // each request's start, epoch ms: to line up with a clock trace (rounds/s30c.sh)
    // Per request: the process's CPU time (user + system ms) and what it created on the device. A first request slow
    // on the host shows more CPU and creations than a warm one; one slow on the GPU (its clocks) does not.
    const requests: { cpuMs: number; bindGroups: number; buffers: number; bufferMiB: number }[] = [];
    for (let r = 0; r <= warm; r++) {
      if (idleMs > 0 && tickMs > 0) {
        for (const end = performance.now() + idleMs; performance.now() < end;) {
          await engine.run({ ...gen, prompts: [[1]], maxNewTokens: 1 });
          await new Promise((done) => setTimeout(done, Math.min(tickMs, Math.max(0, end - performance.now()))));
        }
      } else if (idleMs > 0) await new Promise((done) => setTimeout(done, idleMs));
      Object.assign(made, { bindGroups: 0, buffers: 0, bufferBytes: 0 });
      const cpu = process.cpuUsage();
      startedAt.push(Date.now());
      ttft.push((await engine.run(gen)).result.prefillMs);
      const u = process.cpuUsage(cpu);
      requests.push({ cpuMs: (u.user + u.system) / 1000, bindGroups: made.bindGroups, buffers: made.buffers, bufferMiB: made.bufferBytes / 2 ** 20 });
    }
    const created = engine.gpu!.programCount - before;

    // Reflection: each program parsed its whole source before; now its entry's reachable part, once per (source, entry).
    const time = (f: () => unknown) => { const s = performance.now(); f(); return performance.now() - s; };
    const wholeMs = programs.reduce((a, p) => a + time(() => parseWgsl(p.code, p.entry)), 0);
    const distinct = new Map(programs.map((p) => [`${p.entry}\n${p.code}`, p]));
    const prunedMs = [...distinct.values()].reduce((a, p) => a + time(() => reflectLayout(p.code, p.entry)), 0);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    console.log(JSON.stringify({
      pipelines: pipelineModeFromEnv(), promptLen: o.promptLen, device: engine.device,
      compileMs: r1(c.ms), collectMs: r1(collected), waitMs: r1(c.ms - collected), compiled: c.pipelines, createdByRequests: created,
      firstTtftMs: r1(ttft[0]!), warmTtftMs: warm > 0 ? r1(Math.min(...ttft.slice(1))) : null, idleMs, idleTickMs: tickMs,
      loadWarmup, loadWarmupMs: loadWarmupMs === null ? null : r1(loadWarmupMs), ttftMs: ttft.map(r1), startedAt,
      requests: requests.map((q) => ({ ...q, cpuMs: r1(q.cpuMs), bufferMiB: r1(q.bufferMiB) })),
      reflect: { programs: programs.length, sources: new Set(programs.map((p) => p.code)).size, wholeMs: r1(wholeMs), prunedMs: r1(prunedMs) },
    }));
  } finally {
    await engine.dispose();
  }
}

runBench(main);
