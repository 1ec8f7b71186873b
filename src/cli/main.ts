// run-inference.js: load a model, generate for one prompt or a batch, stream tokens, report the paper's
// metrics. Errors a user can cause end in one clear line and a non-zero exit.
import { writeFileSync } from 'node:fs';
import { describeCaps, isSoftwareAdapter, openGpu, type DType } from '../gpu/index.js';
import type { GenerateResult } from '../model/generator.js';
import { helpText, parseCli, UsageError, type CliOptions } from './args.js';
import { resolveModel } from './model-files.js';
import { Progress } from './progress.js';
import { runAndExit } from './exit.js';
import { buildRunner, type Runner } from './runners.js';
import { applyGpuBinding, planGpuBinding } from '../orchestrator/gpu-binding.js';

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

function printPlacement(r: ReturnType<Runner['report']>, prompts: number[][]): void {
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

  const binding = planGpuBinding(o.gpu);
  applyGpuBinding(binding);
  for (const w of binding.warnings) log(`warning: ${w}`);
  const gpu = await openGpu({ label: 'fapool', f16: o.dtype !== 'f32' });
  try {
    const dtype: DType = o.dtype ?? (gpu.caps.f16 && !isSoftwareAdapter(gpu.caps) ? 'f16' : 'f32');
    if (dtype === 'f16' && !gpu.caps.f16) throw new UsageError('--dtype f16 needs shader-f16, which this GPU lacks; use --dtype f32');
    log(`gpu: ${describeCaps(gpu.caps)}`);
    const m = await resolveModel(o, dtype);
    const cfg = m.config;
    log(`model: ${cfg.name} (${cfg.nLayers} layers, hidden ${cfg.hidden}, ${cfg.nHeads}×${cfg.headDim} heads, ffn ${cfg.ffn}, vocab ${cfg.vocab}) from ${m.weightsPath}; config: ${m.configSource}; dtype ${dtype}`);

    const loadBar = new Progress('load', !o.quiet);
    const tLoad = performance.now();
    const runner = await buildRunner(o, gpu, cfg, m.file, dtype, (d, t) => loadBar.update(d, t, 'B'), log);
    await m.file.close();
    const loadMs = performance.now() - tLoad;

    const vocab = Math.min(cfg.vocab, m.tokenizer.vocabSize);
    let prompts: number[][];
    if (o.promptLens) {
      prompts = o.promptLens.map((n, i) => syntheticPrompt(n, vocab, o.seed + i));
    } else {
      const base = o.promptLen !== undefined ? syntheticPrompt(o.promptLen, vocab, o.seed) : m.tokenizer.encode(o.prompt ?? DEFAULT_PROMPT);
      if (base.length === 0) throw new UsageError('the prompt is empty');
      prompts = batchPrompts(base, o.batch);
    }
    const longest = Math.max(...prompts.map((p) => p.length));
    const total = prompts.reduce((a, p) => a + p.length, 0);
    if (longest + o.maxNewTokens > cfg.maxSeq) {
      throw new UsageError(`prompt of ${longest} tokens + ${o.maxNewTokens} new tokens exceeds the model's context of ${cfg.maxSeq} tokens`);
    }

    const prefillBar = new Progress('prefill', !o.quiet && total > 256);
    const stream = m.tokenizer.decodeStream();
    if (!o.json && o.promptLen === undefined && !o.promptLens) process.stdout.write(m.tokenizer.decode(prompts[0]!));
    const res: GenerateResult = await runner.generate(prompts, {
      maxNewTokens: o.maxNewTokens,
      sampling: { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed },
      eosId: m.tokenizer.eosId,
      prefillChunk: o.prefillChunk,
      captureLogits: o.dumpLogits !== undefined,
      onPrefill: total > 256 ? (d, t) => prefillBar.update(d, t, 'tok') : undefined,
      onToken: o.json ? undefined : (seq, tok) => { if (seq === 0) process.stdout.write(stream.push(tok)); },
    });
    const texts = res.tokens.map((t) => m.tokenizer.decode(t));
    if (o.dumpLogits) {
      writeFileSync(o.dumpLogits, JSON.stringify({ model: cfg.name, dtype, prompt: prompts[0], tokens: res.tokens[0], logits: Array.from(res.firstLogits![0]!) }));
    }
    const metrics = {
      ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, totalMs: res.totalMs, loadMs,
      inputTokens: res.inputTokens, outputTokens: res.outputTokens, gpuMemoryBytes: res.gpuBytes,
    };
    const placement = runner.report();
    if (o.json) {
      console.log(JSON.stringify({
        model: cfg.name, dtype, device: describeCaps(gpu.caps), batch: prompts.length,
        promptLengths: prompts.map((p) => p.length), tokens: res.tokens, text: texts, metrics, placement,
      }));
    } else {
      process.stdout.write(stream.flush() + '\n');
      for (let i = 1; i < texts.length; i++) console.log(`[seq ${i}, prompt ${prompts[i]!.length} tokens] ${JSON.stringify(texts[i])}`);
      console.log(`\n${prompts.length} sequence(s), ${res.inputTokens} input + ${res.outputTokens} output tokens`);
      printPlacement(placement, prompts);
      console.log(`TTFT ${res.prefillMs.toFixed(1)} ms | TPOT ${res.tpotMs.toFixed(2)} ms | TPS ${res.tps.toFixed(1)} tok/s | total ${res.totalMs.toFixed(0)} ms | load ${loadMs.toFixed(0)} ms | GPU memory ${(res.gpuBytes / 2 ** 20).toFixed(1)} MiB`);
    }
    await runner.dispose();
    return 0;
  } finally {
    gpu.destroy();
  }
}

export function runCli(argv: string[]): Promise<never> {
  return runAndExit(() => main(argv));
}
