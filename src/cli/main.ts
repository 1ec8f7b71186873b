// run-inference.js: load a model, generate for one prompt or a batch, stream tokens, report the paper's
// metrics. Errors a user can cause end in one clear line and a non-zero exit.
import { writeFileSync } from 'node:fs';
import { createEngine } from '../orchestrator/create-engine.js';
import type { PlacementReport } from '../orchestrator/engine.js';
import { helpText, parseCli, UsageError, type CliOptions } from './args.js';
import { engineOptions } from './engine-options.js';
import { runAndExit } from './exit.js';
import { Progress } from './progress.js';

const DEFAULT_PROMPT = 'The attention pool takes the long sequences, so the base group never waits.';

/** Prompt token ids for each sequence of the batch: sequence i takes a shorter prefix (different lengths). */
export function batchPrompts(base: number[], batch: number): number[][] {
  return Array.from({ length: batch }, (_, i) => base.slice(0, Math.max(1, Math.ceil((base.length * (batch - i)) / batch))));
}

/** A deterministic synthetic prompt of n tokens (xorshift over the vocabulary). */
export function syntheticPrompt(n: number, vocab: number, seed: number): number[] {
  let s = (seed * 2654435761 + 1) >>> 0 || 1;
  return Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % vocab; });
}

function printPlacement(r: PlacementReport, prompts: number[][]): void {
  console.log(`strategy: ${r.strategy}; ranks: ${r.ranks.join(', ')}`);
  r.perSeq?.forEach((s, i) => {
    if (!s) return;
    console.log(`  seq ${i} (prompt ${prompts[i]!.length}): attention on base ${s.baseSteps} steps, on pool ${s.poolSteps} steps${s.ranks.length ? ` (${s.ranks.join(', ')})` : ''}`);
  });
  for (const e of r.events ?? []) console.log(`  step ${e.step} seq ${e.seq}: ${e.kind} — ${e.detail}`);
  if (r.split) console.log(`  time split: ${Object.entries(r.split).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(1) : v}`).join(', ')}`);
}

export async function main(argv: string[]): Promise<number> {
  const o: CliOptions = parseCli(argv);
  if (o.help) { console.log(helpText()); return 0; }
  const log = (msg: string) => { if (!o.quiet) process.stderr.write(`${msg}\n`); };

  const initBar = new Progress('init', !o.quiet), loadBar = new Progress('load', !o.quiet);
  const tLoad = performance.now();
  const engine = await createEngine(engineOptions(o, { log, onInit: (d, t) => initBar.update(d, t, 'B'), onLoad: (d, t) => loadBar.update(d, t, 'B') }));
  try {
    const loadMs = performance.now() - tLoad;
    const cfg = engine.config, tok = engine.tokenizer;
    const vocab = Math.min(cfg.vocab, tok.vocabSize);
    let prompts: number[][];
    if (o.promptLens) {
      prompts = o.promptLens.map((n, i) => syntheticPrompt(n, vocab, o.seed + i));
    } else {
      const base = o.promptLen !== undefined ? syntheticPrompt(o.promptLen, vocab, o.seed) : tok.encode(o.prompt ?? DEFAULT_PROMPT);
      if (base.length === 0) throw new UsageError('the prompt is empty');
      prompts = batchPrompts(base, o.batch);
    }
    const longest = Math.max(...prompts.map((p) => p.length));
    const total = prompts.reduce((a, p) => a + p.length, 0);
    if (longest + o.maxNewTokens > cfg.maxSeq) {
      throw new UsageError(`prompt of ${longest} tokens + ${o.maxNewTokens} new tokens exceeds the model's context of ${cfg.maxSeq} tokens`);
    }

    const prefillBar = new Progress('prefill', !o.quiet && total > 256);
    if (!o.json && o.promptLen === undefined && !o.promptLens) process.stdout.write(tok.decode(prompts[0]!));
    const done = await engine.run({
      prompts, maxNewTokens: o.maxNewTokens, prefillChunk: o.prefillChunk, captureLogits: o.dumpLogits !== undefined,
      sampling: { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed },
    }, (e) => {
      if (e.type === 'prefill' && total > 256) prefillBar.update(e.doneTokens, e.totalTokens, 'tok');
      if (e.type === 'token' && e.seq === 0 && !o.json) process.stdout.write(e.text);
    });
    const res = done.result;
    if (o.dumpLogits) {
      writeFileSync(o.dumpLogits, JSON.stringify({ model: cfg.name, dtype: engine.dtype, prompt: prompts[0], tokens: res.tokens[0], logits: Array.from(res.firstLogits![0]!) }));
    }
    const metrics = {
      ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, totalMs: res.totalMs, loadMs,
      inputTokens: res.inputTokens, outputTokens: res.outputTokens, gpuMemoryBytes: res.gpuBytes,
    };
    if (o.json) {
      console.log(JSON.stringify({
        model: cfg.name, dtype: engine.dtype, device: engine.device, batch: prompts.length,
        promptLengths: prompts.map((p) => p.length), tokens: res.tokens, text: done.texts, metrics, placement: done.placement,
      }));
    } else {
      process.stdout.write(`${done.tails[0]}\n`);
      for (let i = 1; i < done.texts.length; i++) console.log(`[seq ${i}, prompt ${prompts[i]!.length} tokens] ${JSON.stringify(done.texts[i])}`);
      console.log(`\n${prompts.length} sequence(s), ${res.inputTokens} input + ${res.outputTokens} output tokens`);
      printPlacement(done.placement, prompts);
      console.log(`TTFT ${res.prefillMs.toFixed(1)} ms | TPOT ${res.tpotMs.toFixed(2)} ms | TPS ${res.tps.toFixed(1)} tok/s | total ${res.totalMs.toFixed(0)} ms | load ${loadMs.toFixed(0)} ms | GPU memory ${(res.gpuBytes / 2 ** 20).toFixed(1)} MiB`);
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

export function runCli(argv: string[]): Promise<never> {
  return runAndExit(() => main(argv));
}
