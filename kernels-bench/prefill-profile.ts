// Where a prompt's prefill time goes: after a real generation of one prompt (which fills its cache), the launches
// of each prefill chunk (engine.prefillParts(), attention pointed at the chunk's positions) are timed (a) as the
// chunk's whole list in one pass — launch gaps included — and (b) each launch alone, grouped by part and kernel
// (pre, attention, oProj, ffn × label and switches) and summed over the prompt. Launches other than attention
// have the same shapes in every full-length chunk: timed in the first one and counted for the others. Beside the
// wall TTFT of the real run (which also pays the first token's head and sampling). Prints a table; writes JSON.
//
//   node dist/kernels-bench/prefill-profile.js --model /tmp/seed-4l-f16.safetensors --prompt-len 32768 --out pre.json
//   node dist/kernels-bench/prefill-profile.js --preset tiny --dtype f32 --prompt-len 300 --chunk 128   # any machine
import { writeFileSync } from 'node:fs';
import { syntheticPrompt } from '../src/cli/main.js';
import { timeDispatchesFor, type Dispatch } from '../src/gpu/index.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { MAX_SAMPLES, MODEL_OPTIONS, benchArgs, int, modelChoice, num, outputPath, runBench } from './bench-args.js';
import { isLaunch, kernelName } from './launch-groups.js';

interface Row { kernel: string; count: number; ms: number; pct: number }

async function main(): Promise<void> {
  const { values: v } = benchArgs({
    script: 'prefill-profile.js',
    about: `Where a prompt's prefill time goes: after a real generation of one --prompt-len prompt, each prefill chunk's
launches timed as one list and each alone, grouped by part and kernel and summed over the prompt, beside the wall TTFT.
Prints a table; --out writes JSON.`,
    examples: ['node dist/kernels-bench/prefill-profile.js --preset tiny --dtype f32 --prompt-len 300 --chunk 128   # any machine',
      'node dist/kernels-bench/prefill-profile.js --model /tmp/seed-4l-f16.safetensors --prompt-len 32768 --out pre.json'],
  }, {
    ...MODEL_OPTIONS,
    'prompt-len': { type: 'string', default: '4096', help: 'prompt tokens' },
    chunk: { type: 'string', help: "prompt rows per prefill launch (default: the engine's, as run-inference.js)" },
    samples: { type: 'string', default: '5', help: `timed samples per list (median), 1–${MAX_SAMPLES}` },
    'target-ms': { type: 'string', default: '20', help: 'repeat a list within a sample until it takes about this long' },
    out: { type: 'string', help: 'write the figures as JSON' },
  });
  // Checked before the model loads.
  const L = int('prompt-len', v['prompt-len']), samples = int('samples', v.samples, 1, MAX_SAMPLES), targetMs = num('target-ms', v['target-ms'], 0, 60_000, true);
  if (v.chunk !== undefined) int('chunk', v.chunk);
  const m = modelChoice(v);
  if (v.out !== undefined) outputPath('out', v.out, { model: v.model });
  const engine = await createEngine(m);
  try {
    const gpu = engine.gpu;
    if (!gpu) throw new Error('this engine has no single-device program to profile');
    const cfg = engine.config;
    const chunk = v.chunk === undefined ? engine.prefillChunk : Number(v.chunk);   // default: what run-inference uses
    const prompt = syntheticPrompt(L, cfg.vocab, 7);
    const run = () => engine.run({ prompts: [prompt], maxNewTokens: 2, stopAtEos: false, prefillChunk: chunk });
    await run(); // warm-up: compiles the chunk shapes' pipelines
    const done = (await run()).result;
    const ttftMs = done.prefillMs;

    const byKernel = new Map<string, { count: number; ms: number }>();
    const add = (kernel: string, ms: number, times = 1) => {
      const g = byKernel.get(kernel) ?? { count: 0, ms: 0 };
      g.count += times; g.ms += ms * times;
      byKernel.set(kernel, g);
    };
    const alone = async (d: Dispatch) => (await timeDispatchesFor(gpu, [d], { samples, targetMs, maxInner: 200 })).medianMs;
    let wholeMs = 0;
    const chunks: { p0: number; tokens: number; wholeMs: number; attentionMs: number }[] = [];
    const firstFull = new Map<string, number>(); // non-attention kernel → ms (full-length chunks)
    for (let p0 = 0; p0 < L; p0 += chunk) {
      const tokens = Math.min(chunk, L - p0);
      const parts = engine.prefillParts(tokens, p0, p0 + tokens >= L);
      if (parts.length === 0) throw new Error('this engine does not expose its prefill launches');
      const launches = parts.flatMap((p) => p.steps.filter(isLaunch).map((d) => ({ part: p.part, d })));
      const whole = (await timeDispatchesFor(gpu, launches.map((l) => l.d), { samples, targetMs, maxInner: 50 })).medianMs;
      wholeMs += whole;
      let attentionMs = 0;
      const reuse = tokens === chunk && firstFull.size > 0;
      for (const l of launches) {
        const kernel = kernelName(l.part, l.d);
        if (l.part !== 'attention' && reuse && firstFull.has(kernel)) { add(kernel, firstFull.get(kernel)!); continue; }
        const ms = await alone(l.d);
        if (l.part === 'attention') attentionMs += ms;
        else if (tokens === chunk) firstFull.set(kernel, ms); // the same kernel name repeats per layer: the last one's time
        add(kernel, ms);
      }
      chunks.push({ p0, tokens, wholeMs: whole, attentionMs });
      process.stderr.write(`chunk at ${p0} (${tokens} rows): ${whole.toFixed(2)} ms, attention ${attentionMs.toFixed(2)} ms\n`);
    }
    const sumAlone = [...byKernel.values()].reduce((a, g) => a + g.ms, 0);
    const table: Row[] = [...byKernel.entries()].map(([kernel, g]) => ({ kernel, count: g.count, ms: g.ms, pct: (100 * g.ms) / wholeMs }))
      .sort((a, b) => b.ms - a.ms);
    const w = Math.max(6, ...table.map((t) => t.kernel.length));
    console.log(`prefill: ${cfg.name} ${engine.dtype}, prompt ${L}, chunks of ${chunk}, ${engine.device}`);
    console.log(`${'kernel'.padEnd(w)}  count  ms/prompt  % of GPU time`);
    for (const t of table) console.log(`${t.kernel.padEnd(w)}  ${String(t.count).padStart(5)}  ${t.ms.toFixed(2).padStart(9)}  ${t.pct.toFixed(1).padStart(8)}`);
    console.log(`GPU time of the chunks (each one pass): ${wholeMs.toFixed(2)} ms; launches alone summed: ${sumAlone.toFixed(2)} ms; wall TTFT (warm) ${ttftMs.toFixed(2)} ms`);
    if (v.out) {
      writeFileSync(String(v.out), JSON.stringify({
        created: new Date().toISOString(), args: process.argv.slice(2), device: engine.device, model: cfg.name, dtype: engine.dtype,
        promptLen: L, chunk, ttftMs, gpuMs: wholeMs, sumAloneMs: sumAlone, chunks, kernels: table,
      }, null, 1));
    }
  } finally {
    await engine.dispose();
  }
}

runBench(main);
