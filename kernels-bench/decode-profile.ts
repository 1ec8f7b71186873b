// Where a decode step's time goes: the launches of one all-local decode step (engine.decodeParts()), timed
// (a) as the whole list in one pass — the step's GPU time, launch gaps included — and (b) each launch alone,
// repeated in its own pass, grouped by part of the step and kernel (embed, pre, attention, oProj, ffn, head ×
// the launch's label and on-switches), summed per step. Also the wall TPOT of a real generation. Then where the
// whole step's gaps sit: each part's launches as one list against the same launches alone, the step without its
// attention, and with --leave-one-out each part's list without each of its kernels in turn. Prints a table;
// writes JSON. --wall-only: the generation's wall figures alone (no GPU timing passes: --samples, --target-ms and
// --leave-one-out do nothing); --step-timing: each step's decode() and token read in the loop, and each submission's
// start and end on the GPU's clock (busy time, and the GPU's idle time before it); --in-step: each launch timed in
// place (a pass a launch, consecutive pass ends: what it adds to the step where it stands, against it alone).
//
//   node dist/kernels-bench/decode-profile.js --model /tmp/seed-4l-f16.safetensors --context 4096 --batch 1 --out dec.json
//   node dist/kernels-bench/decode-profile.js --preset tiny --dtype f32 --context 64 --new-tokens 8   # any machine
//   node dist/kernels-bench/decode-profile.js --model /tmp/seed-4l-f16.safetensors --batch 64 --leave-one-out
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { syntheticPrompt } from '../src/cli/main.js';
import { readTimestamps, timeDispatchesFor, timeLaunchesInList, type Gpu, type Step } from '../src/gpu/index.js';
import { samplesGreedily, type SamplingParams } from '../src/kernels/sampling.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { MAX_SAMPLES, MODEL_OPTIONS, benchArgs, int, modelChoice, num, outputPath, runBench } from './bench-args.js';
import { isLaunch, kernelName } from './launch-groups.js';

interface Group { kernel: string; count: number; usPerStep: number; pctOfStep: number }

/** Median ms of one execution of `list`, repeated so that a sample takes about `targetMs`. */
async function timeList(gpu: Gpu, list: readonly Step[], samples: number, targetMs: number, maxInner: number): Promise<{ ms: number; inner: number; method: string }> {
  const t = await timeDispatchesFor(gpu, list, { samples, targetMs, maxInner });
  return { ms: t.medianMs, inner: t.inner, method: t.method };
}

/** Wraps an executor's decode() and readTokens() to record each call's duration (diagnostics: --step-timing). */
function timeSteps(ex: Record<string, unknown>, into: { decodeMs: number[]; readMs: number[] }): void {
  for (const [name, list] of [['decode', into.decodeMs], ['readTokens', into.readMs]] as const) {
    const f = ex[name] as (...a: unknown[]) => Promise<unknown>;
    ex[name] = async (...a: unknown[]) => {
      const t = performance.now();
      try { return await f.apply(ex, a); } finally { list.push(performance.now() - t); }
    };
  }
}

/**
 * Brackets every queue submission of `gpu` with two empty timestamped compute passes (diagnostics: --step-timing), so
 * the GPU's own clock says how long each submission ran and how long the GPU sat idle before it. `read()` stops it
 * and returns [start, end] ms per submission (GPU clock) for at most `most` submissions (a query set holds 4096).
 */
function timeSubmissions(gpu: Gpu, most = 2048): { read(): Promise<[number, number][]> } {
  const dev = gpu.device;
  const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * most });
  let n = 0;
  const mark = (index: number): GPUCommandBuffer => {
    const enc = dev.createCommandEncoder();
    enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: index } }).end();
    return enc.finish();
  };
  const submit = gpu.submitBuffers.bind(gpu);
  gpu.submitBuffers = (buffers: GPUCommandBuffer[]) => {
    if (n >= most) return submit(buffers);
    const i = n++;
    submit([mark(2 * i), ...buffers, mark(2 * i + 1)]);
  };
  return {
    async read() {
      gpu.submitBuffers = submit;
      const t = await readTimestamps(gpu, qs, 2 * Math.max(1, n));
      qs.destroy();
      return Array.from({ length: n }, (_, i) => [Number(t[2 * i]!) / 1e6, Number(t[2 * i + 1]!) / 1e6] as [number, number]);
    },
  };
}

async function main(): Promise<void> {
  const { values: v, given } = benchArgs({
    script: 'decode-profile.js',
    about: `Where a decode step's time goes: one all-local decode step's launches timed as one list (the step's GPU time,
gaps included) and each alone, grouped by part and kernel; the wall TPOT of a real generation (--batch prompts of
--context tokens, --new-tokens each); each part's launches as a list against the same launches alone. Prints a table;
--out writes JSON.`,
    examples: ['node dist/kernels-bench/decode-profile.js --preset tiny --dtype f32 --context 64 --new-tokens 8   # any machine',
      'node dist/kernels-bench/decode-profile.js --model /tmp/seed-4l-f16.safetensors --context 4096 --batch 1 --out dec.json'],
  }, {
    ...MODEL_OPTIONS,
    context: { type: 'string', default: '4096', help: 'prompt tokens per sequence' },
    batch: { type: 'string', default: '1', help: 'sequences decoding together' },
    'new-tokens': { type: 'string', default: '64', help: 'tokens generated per sequence, at least 2 (one decode step)' },
    'warm-tokens': { type: 'string', default: '4', help: 'tokens of the untimed warm-up generation' },
    'warm-ms': { type: 'string', default: '600', help: "sustained load before the timed generation, so the GPU's clock governor has ramped up (0: none; the first request after idle)" },
    samples: { type: 'string', default: '10', help: `timed samples per list (median), 1–${MAX_SAMPLES}` },
    'target-ms': { type: 'string', default: '10', help: 'repeat a list within a sample until it takes about this long' },
    out: { type: 'string', help: 'write the figures as JSON' },
    'leave-one-out': { type: 'boolean', default: false, help: "also time each part's list without each of its kernels in turn" },
    'in-step': { type: 'boolean', default: false, help: 'also time each launch in place: the step with a pass a launch, what each adds where it stands (timestamps only)' },
    'wall-only': { type: 'boolean', default: false, help: "the generation's wall figures only (no GPU timing passes)" },
    'step-timing': { type: 'boolean', default: false, help: "each step's decode() and token read, and each submission on the GPU's clock" },
    temperature: { type: 'string', default: '0', help: 'sampling temperature of the generations (0 = greedy): the profiled step samples so' },
    'top-k': { type: 'string', default: '0', help: 'top-k sampling (0 = off)' },
    'top-p': { type: 'string', default: '1', help: 'nucleus sampling mass (1 = off)' },
  });
  // Checked before the model loads (a NaN --target-ms once timed nothing and printed a table of NaN, exit 0).
  const context = int('context', v.context), B = int('batch', v.batch), newTokens = int('new-tokens', v['new-tokens'], 2);
  const samples = int('samples', v.samples, 1, MAX_SAMPLES), targetMs = num('target-ms', v['target-ms'], 0, 60_000, true), warmTokens = int('warm-tokens', v['warm-tokens']);
  const warmLoadMs = num('warm-ms', v['warm-ms'], 0, 60_000);
  // A sampled step's last launch walks the vocabulary several times (top-k / top-p searches): profile what users run.
  const sampling: SamplingParams = {
    temperature: num('temperature', v.temperature, 0, 100), topK: int('top-k', v['top-k'], 0), topP: num('top-p', v['top-p'], 0, 1, true), seed: 1,
  };
  const m = modelChoice(v);
  if (v.out !== undefined) outputPath('out', v.out, { model: v.model });
  if (v['wall-only']) for (const k of ['samples', 'target-ms', 'leave-one-out', 'in-step']) if (given.has(k)) console.error(`warning: --${k} has no effect with --wall-only`);
  const engine = await createEngine(m);
  try {
    const gpu = engine.gpu;
    if (!gpu) throw new Error('this engine has no single-device decode program to profile');
    const cfg = engine.config;
    const prompts = Array.from({ length: B }, (_, i) => syntheticPrompt(context, cfg.vocab, 7 + i));
    // Warm-up: the same batch size with short prompts compiles the decode step's pipelines (--warm-tokens steps of
    // it also warm the JavaScript that encodes a step: its first ~100 runs are not yet optimised code).
    let t0 = performance.now();
    await engine.run({ prompts: prompts.map((p) => p.slice(0, 64)), maxNewTokens: warmTokens, stopAtEos: false, sampling });
    // Clock warm-up (--warm-ms): a Vulkan device gets the driver's adaptive clock governor, which drops the SM clock
    // to its floor 0.6–2 s into an idle (H100: 1980 → 345 MHz) and needs a few hundred ms of sustained load to come
    // back; a CUDA process holds its clock (NOTES, sessions 33 and 42). The first full-length prefill (new buffers,
    // the GPU mostly idle) is the idle that drops it, so: one generation of the real prompts and length (the timed
    // run's capacities, so it reuses these buffers), then short-prompt generations until warm-ms of load has run,
    // then at once the timed one — a warm figure, as the CUDA graph's.
    if (warmLoadMs > 0) {
      await engine.run({ prompts, maxNewTokens: newTokens, stopAtEos: false, sampling });
      const short = prompts.map((p) => p.slice(0, 64));
      const shortNew = Math.max(2, Math.min(64, engine.config.maxSeq - Math.max(...short.map((p) => p.length))));
      const tw = performance.now();
      while (performance.now() - tw < warmLoadMs) await engine.run({ prompts: short, maxNewTokens: shortNew, stopAtEos: false, sampling });
    }
    const warmupMs = performance.now() - t0;
    // The real generation (wall TPOT); its decode step is then the one profiled (KV lengths ≈ context + new tokens).
    // Sequence 0's token times: the gaps between steps give the steady step apart from the first one (which
    // builds the step's launches for the new batch shape, unless the clock warm-up ran this shape already).
    const tokenAt: number[] = [];
    // --step-timing: how long each step's decode() (encode, uniform writes, submit) and token read take in the loop.
    const stepHost: { decodeMs: number[]; readMs: number[] } = { decodeMs: [], readMs: [] };
    if (v['step-timing']) timeSteps((engine as unknown as { parts: { executor: Record<string, unknown> } }).parts.executor, stepHost);
    const gpuClock = v['step-timing'] && gpu.caps.timestampQuery ? timeSubmissions(gpu) : null;
    t0 = performance.now();
    const done = await engine.run({ prompts, maxNewTokens: newTokens, stopAtEos: false, sampling }, (e) => {
      if (e.type === 'token' && e.seq === 0) tokenAt.push(performance.now());
    });
    const gaps = tokenAt.slice(1).map((t, i) => t - tokenAt[i]!);
    // Per submission (GPU clock): how long it ran, and how long the GPU was idle before it (from the previous one's end).
    const sub = gpuClock ? await gpuClock.read() : [];
    const subBusyMs = sub.map(([a, b]) => b - a), subIdleMs = sub.slice(1).map(([a], i) => a - sub[i]![1]);
    const firstStepMs = gaps[0] ?? NaN;
    const later = gaps.slice(1).sort((a, b) => a - b);
    const steadyStepMs = later.length > 1 ? later[(later.length - 1) >> 1]! : NaN;
    const p90StepMs = later.length > 1 ? later[Math.floor(0.9 * (later.length - 1))]! : NaN;
    // Stalls: later steps over 1.5× the steady one, and the time they add beyond it.
    const stalls = later.filter((g) => g > 1.5 * steadyStepMs);
    const stallMs = stalls.reduce((a, g) => a + g - steadyStepMs, 0);
    const r = done.result;
    const steps = Math.max(1, r.outputTokens / B - 1);
    const stepMs = r.decodeMs / steps;
    const wallLines = (): void => {
      console.log(`wall: TPOT ${r.tpotMs.toFixed(3)} ms, decode step ${stepMs.toFixed(3)} ms (${newTokens} new tokens), TTFT ${r.prefillMs.toFixed(0)} ms, warm-up ${warmupMs.toFixed(0)} ms (${warmTokens} tokens${warmLoadMs > 0 ? `, then ${warmLoadMs} ms of load` : ', no clock warm-up'})`);
      console.log(`wall per step: first ${firstStepMs.toFixed(3)} ms, steady ${steadyStepMs.toFixed(3)} ms (median of the later steps' token gaps), p90 ${p90StepMs.toFixed(3)}, max ${(later.at(-1) ?? NaN).toFixed(3)}; ${stalls.length} stalls (> 1.5× steady) add ${stallMs.toFixed(1)} ms`);
      // A slow start (steps after the first well over the steady one for a while, then not) shows in the quarters.
      const q = Math.max(1, Math.floor(gaps.length / 4));
      const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
      const quarters = (a: number[]) => [0, 1, 2, 3].map((i) => mean(a.slice(1 + i * q, 1 + (i + 1) * q)).toFixed(3)).join(' / ');
      console.log(`wall per step by quarter of the run (mean ms): ${quarters(gaps)}`);
      if (v['step-timing']) {
        // readMs[0] is the first token's read, before any decode step.
        console.log(`decode() per step by quarter (mean ms): ${quarters(stepHost.decodeMs)}; token read: ${quarters(stepHost.readMs.slice(1))}`);
        if (sub.length) {
          // The run's submissions: the prefill's first, its decode steps' last (one a step here: the last `steps` of them).
          const last = (a: number[]) => a.slice(Math.max(0, a.length - gaps.length - 1));
          console.log(`GPU per submission by quarter (mean ms, the decode's ${last(subBusyMs).length}): busy ${quarters(last(subBusyMs))}; idle before it ${quarters(last(subIdleMs))}`);
        }
      }
    };
    if (v['wall-only']) {
      wallLines();
      if (v.out) {
        writeFileSync(String(v.out), JSON.stringify({
          created: new Date().toISOString(), args: process.argv.slice(2), device: engine.device, model: cfg.name, dtype: engine.dtype, batch: B, context, sampling,
          newTokens, warmTokens, tpotMs: r.tpotMs, stepWallMs: stepMs, firstStepMs, steadyStepMs, p90StepMs, stallMs, stepGapsMs: gaps, ttftMs: r.prefillMs, warmupMs, warmLoadMs,
          tokenAtMs: tokenAt, // performance.now() of each token: ms since the process's time origin (as --trace-gc prints)
          ...(v['step-timing'] ? { stepDecodeMs: stepHost.decodeMs, stepReadMs: stepHost.readMs.slice(1), firstReadMs: stepHost.readMs[0], submissionGpuMs: sub } : {}),
        }, null, 1));
      }
      return;
    }

    const parts = engine.decodeParts();
    const launches = parts.flatMap((p) => p.steps.filter(isLaunch).map((d) => ({ part: p.part, layer: p.layer, d })));
    const whole = await timeList(gpu, launches.map((l) => l.d), samples, targetMs, 1000);
    const groups = new Map<string, { count: number; ms: number }>();
    const perLaunch: { kernel: string; part: string; layer: number | null; grid: number[]; us: number }[] = [];
    for (const l of launches) {
      const t = await timeList(gpu, [l.d], samples, Math.max(1, targetMs / 5), 2000);
      const kernel = kernelName(l.part, l.d);
      perLaunch.push({ kernel, part: l.part, layer: l.layer, grid: [...l.d.workgroups], us: t.ms * 1e3 });
      const g = groups.get(kernel) ?? { count: 0, ms: 0 };
      g.count++; g.ms += t.ms;
      groups.set(kernel, g);
    }
    const wholeMs = whole.ms;
    // Each part's launches as one list against the same launches alone: where the whole step's gaps (or overlaps)
    // between launches are (a part's list faster than its launches alone: they overlap; slower: gaps between them).
    const byPart: { part: string; listUs: number; aloneUs: number; without: Record<string, number> }[] = [];
    for (const part of [...new Set(launches.map((l) => l.part))]) {
      const mine = launches.filter((l) => l.part === part);
      const t = await timeList(gpu, mine.map((l) => l.d), samples, targetMs, 1000);
      const alone = perLaunch.filter((p) => p.part === part).reduce((a, p) => a + p.us, 0);
      // With --leave-one-out: the part's list without each of its kernels in turn (which one the list's gap is in).
      const kinds = [...new Set(mine.map((l) => kernelName(l.part, l.d)))];
      const without: Record<string, number> = {};
      if (v['leave-one-out'] && kinds.length > 1) {
        for (const k of kinds) {
          const others = mine.filter((l) => kernelName(l.part, l.d) !== k).map((l) => l.d);
          without[k] = (await timeList(gpu, others, samples, targetMs, 1000)).ms * 1e3;
        }
      }
      byPart.push({ part, listUs: t.ms * 1e3, aloneUs: alone, without });
    }
    // The step without each part (every other part's launches, in order): what the part adds in place. Beside its own
    // list's time, the rest is what its launches cost at the seams with their neighbours (a part whose removal saves
    // more than its list takes has costly neighbours: e.g. a kernel that waits longer for the one before it).
    const withoutPartUs: Record<string, number> = {};
    for (const part of byPart.map((b) => b.part)) {
      const rest = launches.filter((l) => l.part !== part);
      if (rest.length && rest.length < launches.length) withoutPartUs[part] = (await timeList(gpu, rest.map((l) => l.d), samples, targetMs, 1000)).ms * 1e3;
    }
    const restUs = withoutPartUs.attention ?? NaN;
    // With --in-step: what each launch adds to the step where it stands (a pass a launch, consecutive pass ends),
    // against the same launch alone — the launches that pay for their neighbours. Per step (chained launches summed).
    let inStep: { totalUs: number; repeats: number; perLaunch: { kernel: string; addedUs: number; aloneUs: number }[] } | null = null;
    if (v['in-step']) {
      const t = await timeLaunchesInList(gpu, launches.map((l) => l.d));
      if (t) {
        const perLaunchIn = perLaunch.map((p, i) => ({ kernel: p.kernel, addedUs: t.addedMs[i]! * 1e3, aloneUs: p.us }));
        inStep = { totalUs: t.totalMs * 1e3, repeats: t.repeats, perLaunch: perLaunchIn };
      }
    }
    // Host time to encode and submit one step's launches (what a step costs the CPU besides its uniform writes):
    // if the wall step exceeds the GPU time by about this much, the host, not the GPU, sets the pace.
    const all = parts.flatMap((p) => p.steps);
    const hostUs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      gpu.submit(all);
      hostUs.push((performance.now() - t) * 1e3);
      if (i % 8 === 7) await gpu.sync();
    }
    await gpu.sync();
    const encodeUs = hostUs.sort((a, b) => a - b)[hostUs.length >> 1]!;
    const sumAloneMs = [...groups.values()].reduce((a, g) => a + g.ms, 0);
    const table: Group[] = [...groups.entries()].map(([kernel, g]) => ({
      kernel, count: g.count, usPerStep: g.ms * 1e3, pctOfStep: (100 * g.ms) / wholeMs,
    }));

    const w = Math.max(6, ...table.map((t) => t.kernel.length));
    const how = samplesGreedily(sampling) ? 'greedy' : `sampled (temperature ${sampling.temperature}, top-k ${sampling.topK}, top-p ${sampling.topP})`;
    console.log(`decode step: ${cfg.name} ${engine.dtype}, batch ${B}, context ${context} (+${newTokens} new), ${how}, ${engine.device}`);
    console.log(`${'kernel'.padEnd(w)}  count  µs/step  % of step`);
    for (const t of table) {
      console.log(`${t.kernel.padEnd(w)}  ${String(t.count).padStart(5)}  ${t.usPerStep.toFixed(1).padStart(7)}  ${t.pctOfStep.toFixed(1).padStart(8)}`);
    }
    console.log(`launches per step: ${launches.length}`);
    console.log(`GPU time of the whole step (one pass, ${whole.method}, ×${whole.inner}): ${(wholeMs * 1e3).toFixed(1)} µs; launches alone summed: ${(sumAloneMs * 1e3).toFixed(1)} µs (difference ${((wholeMs - sumAloneMs) * 1e3).toFixed(1)} µs)`);
    console.log(`by part, as one list / launches alone (µs): ${byPart.map((b) => `${b.part} ${b.listUs.toFixed(1)} / ${b.aloneUs.toFixed(1)}`).join(', ')}`);
    for (const b of byPart) {
      for (const [k, us] of Object.entries(b.without)) console.log(`  ${b.part} as one list without ${k.slice(b.part.length + 2)}: ${us.toFixed(1)} µs (with it ${b.listUs.toFixed(1)})`);
    }
    if (Number.isFinite(restUs)) console.log(`the step without its attention launches: ${restUs.toFixed(1)} µs (the whole step ${(wholeMs * 1e3).toFixed(1)})`);
    // Step − without(part) − part's own list: > 0, the part's seams with its neighbours cost that much in the step.
    console.log(`seams by part (step − step without it − its list, µs): ${byPart.filter((b) => b.part in withoutPartUs)
      .map((b) => `${b.part} ${(wholeMs * 1e3 - withoutPartUs[b.part]! - b.listUs).toFixed(1)}`).join(', ')}`);
    if (inStep) {
      console.log(`in place (a pass a launch, ×${inStep.repeats}): the step ${inStep.totalUs.toFixed(1)} µs; by kernel, added in the step / alone (µs a step):`);
      const byKernel = new Map<string, { added: number; alone: number }>();
      for (const p of inStep.perLaunch) {
        const b = byKernel.get(p.kernel) ?? { added: 0, alone: 0 };
        b.added += p.addedUs; b.alone += p.aloneUs;
        byKernel.set(p.kernel, b);
      }
      for (const [k, b] of byKernel) console.log(`  ${k.padEnd(w)}  ${b.added.toFixed(1).padStart(7)} / ${b.alone.toFixed(1).padStart(7)}  (${(b.added - b.alone >= 0 ? '+' : '') + (b.added - b.alone).toFixed(1)})`);
    }
    console.log(`host: encode + submit of one step ${encodeUs.toFixed(1)} µs (median of 40)`);
    // The generated tokens' digest: arms of a round (robustness, kernel variants) that must agree compare this line.
    const tokensSha = createHash('sha256').update(JSON.stringify(r.tokens)).digest('hex').slice(0, 16);
    console.log(`tokens: sha256 ${tokensSha} (${r.tokens.length} sequences × ${newTokens})`);
    wallLines();
    if (v.out) {
      writeFileSync(String(v.out), JSON.stringify({
        created: new Date().toISOString(), args: process.argv.slice(2), device: engine.device, model: cfg.name, sampling,
        dtype: engine.dtype, batch: B, context, newTokens, warmTokens, launches: launches.length,
        stepGpuUs: wholeMs * 1e3, stepGpuMethod: whole.method, sumAloneUs: sumAloneMs * 1e3, byPart, withoutAttentionUs: restUs, withoutPartUs, ...(inStep ? { inStep } : {}), hostEncodeUs: encodeUs,
        tpotMs: r.tpotMs, stepWallMs: stepMs, firstStepMs, steadyStepMs, p90StepMs, stallMs, stepGapsMs: gaps, ttftMs: r.prefillMs, warmupMs, warmLoadMs, kernels: table, perLaunch,
        tokensSha, tokens: r.tokens,
      }, null, 1));
    }
  } finally {
    await engine.dispose();
  }
}

runBench(main);
