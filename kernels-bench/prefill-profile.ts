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
import { parseArgs } from 'node:util';
import { syntheticPrompt } from '../src/cli/main.js';
import { timeDispatchesFor, type Dispatch } from '../src/gpu/index.js';
import { createEngine } from '../src/orchestrator/create-engine.js';
import { isLaunch, kernelName } from './launch-groups.js';

interface Row { kernel: string; count: number; ms: number; pct: number }

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, preset: { type: 'string', default: 'seed-4l' }, init: { type: 'string' },
      dtype: { type: 'string', default: 'f16' }, 'prompt-len': { type: 'string', default: '4096' },
      chunk: { type: 'string' }, samples: { type: 'string', default: '5' },
      'target-ms': { type: 'string', default: '20' }, out: { type: 'string' },
    },
  });
  const L = Number(v['prompt-len']), samples = Number(v.samples), targetMs = Number(v['target-ms']);
  for (const [k, x] of [['prompt-len', L], ['chunk', Number(v.chunk ?? 1)], ['samples', samples], ['target-ms', targetMs]] as const) {
    if (!Number.isInteger(x) || x < 1) throw new Error(`--${k} must be a positive integer, got ${x}`);
  }
  const init = (v.init ?? (v.model ? undefined : 'random')) as 'random' | undefined;
  const engine = await createEngine({ model: v.model, preset: v.preset, init, dtype: v.dtype as 'f32' | 'f16' });
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

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
