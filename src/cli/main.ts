// run-inference.js: load a model, generate for one prompt or a batch, stream tokens, report the paper's
// metrics. Errors a user can cause end in one clear line and a non-zero exit; every size is checked against
// the model and the device before any work (no weights written, no prompts built, no GPU memory taken).
import { writeFileSync } from 'node:fs';
import { defaultDType, LimitError, requestAdapter, type DType } from '../gpu/index.js';
import { applyGpuBinding, checkPciDevice, planGpuBinding } from '../gpu/select.js';
import type { ModelConfig } from '../model/config.js';
import { checkModelFits, tensorLimit, type BindingLimits } from '../model/load-weights.js';
import { peekModelConfig } from '../model/model-files.js';
import { activationWidth, decodedTokens, defaultPrefillChunk } from '../model/generation.js';
import { createEngine } from '../orchestrator/create-engine.js';
import type { PlacementReport } from '../orchestrator/engine.js';
import { PAPER_TIERS, parseTiers } from '../orchestrator/pool/policy.js';
import { ClusterError, readCluster } from '../orchestrator/transport/cluster.js';
import { helpText, parseCli, spawnCount, UsageError, type CliOptions } from './args.js';
import { engineOptions } from './engine-options.js';
import { exitAfterFlush, exitQuietlyOnClosedPipe, runAndExit } from './exit.js';
import { Progress } from './progress.js';
import { quietLog } from './quiet-log.js';

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

const mib = (n: number) => (n >= 2 ** 40 ? `${(n / 2 ** 40).toFixed(1)} TiB` : n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);

/** A batch's sizes as the CLI sees them before building it. */
export interface RunShape { longest: number; batch: number; maxNewTokens: number; prefillChunk: number }

/** The device limits a run is checked against: bindings, and workgroups per dispatch dimension. */
export interface RunLimits extends BindingLimits {
  /** maxComputeWorkgroupsPerDimension: RMSNorm and the sampler launch one workgroup per row (65535 on lavapipe). */
  maxWorkgroupsPerDim: number;
}

/**
 * Check a run against the model's context and the device's limits before building anything: the context (the
 * last new token is sampled, never fed back), the rows of a prefill chunk or a decode step against the workgroups
 * of one dispatch dimension, their activations, the logits of the batch, one sequence's KV cache per layer.
 */
export function checkRunFits(cfg: ModelConfig, dtype: DType, limits: RunLimits, r: RunShape, what: { batch: string; length: string }): void {
  if (r.longest + r.maxNewTokens - 1 > cfg.maxSeq) {
    throw new UsageError(`prompt of ${r.longest} tokens + ${r.maxNewTokens} new tokens exceeds the model's context of ${cfg.maxSeq} tokens`);
  }
  const el = dtype === 'f16' ? 2 : 4;
  const limit = tensorLimit(limits);
  const over = (bytes: number) => bytes > limit;
  const device = `this GPU's limit of ${mib(limit)} per storage binding`;
  const logits = r.batch * cfg.vocab * el; // in the model dtype (the LM head's output, sampled as it is)
  const maxBatch = Math.min(Math.floor(limit / (cfg.vocab * el)), limits.maxWorkgroupsPerDim);
  if (over(logits)) {
    throw new UsageError(`${what.batch}: the logits of ${r.batch} sequences (${dtype}[${r.batch}, ${cfg.vocab}], ${mib(logits)}) exceed ${device}; ` +
      `at most ${maxBatch} sequences fit`);
  }
  const rows = Math.max(Math.min(r.prefillChunk, r.longest), r.batch);
  if (rows > limits.maxWorkgroupsPerDim) {
    const [flag, these, most] = rows === r.batch ? [what.batch, `${rows} sequences need`, `${maxBatch} sequences`]
      : ['--prefill-chunk', `a prefill chunk of ${rows} tokens needs`, `${limits.maxWorkgroupsPerDim} tokens a chunk`];
    // RMSNorm and the sampler launch one workgroup per row: one row more fails in the kernel, after loading (exit 1).
    throw new UsageError(`${flag}: ${these} ${rows} workgroups in one dispatch dimension (one per row), over this GPU's limit of ` +
      `${limits.maxWorkgroupsPerDim}; at most ${most} fit`);
  }
  const width = activationWidth(cfg);
  if (over(rows * width * el)) {
    throw new UsageError(`${rows === r.batch ? what.batch : '--prefill-chunk'}: activations of ${rows} rows (${dtype}[${rows}, ${width}], ${mib(rows * width * el)}) exceed ${device}; ` +
      `at most ${Math.floor(limit / (width * el))} rows fit${rows === r.batch ? '' : ' (lower --prefill-chunk)'}`);
  }
  const capacity = Math.ceil((r.longest + r.maxNewTokens) / 16) * 16;
  const kv = capacity * cfg.nKvHeads * cfg.headDim * el;
  if (over(kv)) {
    throw new UsageError(`${what.length}: a KV cache of ${capacity} positions (${mib(kv)} per layer) exceeds ${device}; ` +
      `at most ${Math.floor(limit / (cfg.nKvHeads * cfg.headDim * el)) - r.maxNewTokens} prompt tokens fit`);
  }
}

function fitsAs(limits: BindingLimits, cfg: ModelConfig, dtype: DType): boolean {
  try { checkModelFits(limits, cfg, dtype); return true; } catch { return false; }
}

interface Preflight { dtype: 'f32' | 'f16'; limits: RunLimits; config: ModelConfig; hasPool: boolean }

/** Everything that can be checked before the engine exists: GPU binding, dtype, model, sizes, pool. */
async function preflight(o: CliOptions, warn: (m: string) => void): Promise<Preflight> {
  // The Vulkan loader reads the device-select variables when the instance is created: bind before the adapter.
  const binding = planGpuBinding(o.gpu);
  if (binding.pci) checkPciDevice(binding.pci, o.gpu);
  applyGpuBinding(binding);
  const adapter = await requestAdapter();
  const info = adapter.info;
  const f16 = adapter.features.has('shader-f16');
  if (o.dtype === 'f16' && !f16) throw new UsageError('--dtype f16 needs shader-f16, which this GPU lacks; use --dtype f32');
  const dtype: 'f32' | 'f16' = o.dtype ?? defaultDType({ f16, vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? info.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) });
  const limits: RunLimits = {
    maxStorageBinding: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize,
    maxWorkgroupsPerDim: adapter.limits.maxComputeWorkgroupsPerDimension,
  };

  const { config } = await peekModelConfig({ preset: o.preset, model: o.model, config: o.config, init: o.init, seed: o.seed }, dtype);
  // A --model (not written by --init random) brings its config: the preset is only the last resort for a file without one.
  if (o.presetGiven && o.model !== undefined && o.init === undefined && o.config === undefined && config.name !== o.preset) {
    warn(`--preset ${o.preset} has no effect: --model ${o.model} brings its own config (model '${config.name}')`);
  }
  try {
    checkModelFits(limits, config, dtype);
  } catch (e) {
    if (e instanceof LimitError) throw new UsageError(`${e.message}${dtype === 'f32' && f16 && fitsAs(limits, config, 'f16') ? '; it fits with --dtype f16' : ''}`);
    throw e;
  }
  // A text prompt is tokenized later (its length is checked then); at least one token.
  const longest = o.promptLens ? o.promptLens.reduce((m, n) => Math.max(m, n), 0) : o.promptLen ?? 1;
  const prefillChunk = o.prefillChunk ?? defaultPrefillChunk(config, dtype, limits);   // the largest an engine would take
  checkRunFits(config, dtype, limits, { longest, batch: o.promptLens?.length ?? o.batch, maxNewTokens: o.maxNewTokens, prefillChunk },
    { batch: o.promptLens ? '--prompt-lens' : '--batch', length: o.promptLens ? '--prompt-lens' : o.promptLen !== undefined ? '--prompt-len' : '--max-new-tokens' });

  const hasPool = o.strategy === 'fapool' && (o.pool > 0 || o.cluster !== undefined || o.spawn !== undefined);
  if (hasPool) {
    const tiers = o.tiers ? parseTiers(o.tiers) : PAPER_TIERS;
    const largest = tiers.reduce((m, t) => Math.max(m, t.poolSize), 1);
    const local = o.pool + spawnCount(o.spawn);
    if (local > largest) {
      throw new UsageError(`--pool/--spawn ask for ${local} pool ranks, but no sequence uses more than ${largest} (the largest --tiers pool size${o.tiers ? '' : ', from the paper\'s table'})`);
    }
    if (o.cluster) {
      let n: number;
      try { n = readCluster(o.cluster).length; } catch (e) { throw new UsageError((e as Error).message); }
      if (n + local > largest) warn(`the pool has ${n + local} ranks, but no sequence uses more than ${largest} (--tiers)`);
    }
    if (o.threshold + 1 > config.maxSeq) warn(`no sequence can be longer than --threshold ${o.threshold} (the model's context is ${config.maxSeq} tokens): the pool will not be used`);
  } else if (o.cluster) {
    // The static baseline's ranks: the same check, before the model loads (a missing file is the user's, exit 2).
    try { readCluster(o.cluster); } catch (e) { throw new UsageError((e as Error).message); }
  }
  return { dtype, limits, config, hasPool };
}

export async function main(argv: string[]): Promise<number> {
  const o: CliOptions = parseCli(argv);
  if (o.help) { console.log(helpText()); return 0; }
  const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);
  for (const w of o.warnings) warn(w);
  // --quiet drops the progress and the load log, not warnings or errors (a pool worker dropped, and why; a worker's own).
  const log = quietLog(o.quiet, (line) => process.stderr.write(`${line}\n`));

  // Streamed text ends with a newline even when the run is interrupted.
  let midLine = false;
  const out = (text: string) => { if (text) { process.stdout.write(text); midLine = !text.endsWith('\n'); } };
  // Listeners stay registered (not `once`): others, such as the weight writer's temp-file cleanup, then leave the
  // exit to this one. A second signal exits at once.
  let signals = 0;
  const interrupted = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signals++) process.exit(code);
    if (midLine) process.stdout.write('\n');
    process.stderr.write(`interrupted (${signal})\n`);
    void exitAfterFlush(code);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  const pre = await preflight(o, warn);
  const initBar = new Progress('init', !o.quiet), loadBar = new Progress('load', !o.quiet);
  const tLoad = performance.now();
  const engine = await createEngine(engineOptions({ ...o, dtype: pre.dtype }, { log, onInit: (d, t) => initBar.update(d, t, 'B'), onLoad: (d, t) => loadBar.update(d, t, 'B') }));
  try {
    const loadMs = performance.now() - tLoad;
    const cfg = engine.config, tok = engine.tokenizer;
    const vocab = Math.min(cfg.vocab, tok.vocabSize);
    // Sizes are checked before a prompt is built (a text prompt is bounded by the command line).
    const base = o.promptLens ? null : o.promptLen !== undefined ? null : tok.encode(o.prompt ?? DEFAULT_PROMPT);
    if (base && base.length === 0) throw new UsageError('the prompt is empty');
    const longest = o.promptLens ? o.promptLens.reduce((m, n) => Math.max(m, n), 0) : base ? base.length : o.promptLen!;
    const batch = o.promptLens?.length ?? o.batch;
    const prefillChunk = o.prefillChunk ?? engine.prefillChunk;
    checkRunFits(cfg, engine.dtype, pre.limits, { longest, batch, maxNewTokens: o.maxNewTokens, prefillChunk },
      { batch: o.promptLens ? '--prompt-lens' : '--batch', length: o.promptLens ? '--prompt-lens' : base ? '--prompt' : '--prompt-len' });
    const placed = engine.report(), noRank = placed.strategy === 'single device' || placed.poolMembers?.some((m) => m.alive) === false;
    if (pre.hasPool && noRank && longest + o.maxNewTokens - 1 > o.threshold) {
      throw new ClusterError(`a sequence of up to ${longest + o.maxNewTokens - 1} tokens needs the attention pool (--threshold ${o.threshold}), but no pool rank is reachable`);
    }
    const prompts = o.promptLens ? o.promptLens.map((n, i) => syntheticPrompt(n, vocab, o.seed + i))
      : batchPrompts(base ?? syntheticPrompt(o.promptLen!, vocab, o.seed), batch);
    const total = prompts.reduce((a, p) => a + p.length, 0);
    // Every pipeline this run launches is compiled now, as part of loading: TTFT is the first request's own time.
    // Its summary line ("compile: N pipelines in S s") replaces the old log line.
    const compileBar = new Progress('compile', !o.quiet);
    const compiled = await engine.precompile({
      promptLengths: prompts.map((p) => p.length), maxNewTokens: o.maxNewTokens, prefillChunk,
      onProgress: (d, t) => compileBar.update(d, t, 'pipelines'),
    });

    const prefillBar = new Progress('prefill', !o.quiet && total > 256);
    if (!o.json && o.promptLen === undefined && !o.promptLens) out(tok.decode(prompts[0]!));
    const done = await engine.run({
      prompts, maxNewTokens: o.maxNewTokens, prefillChunk, captureLogits: o.dumpLogits !== undefined,
      sampling: { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed },
    }, (e) => {
      if (e.type === 'prefill' && total > 256) prefillBar.update(e.doneTokens, e.totalTokens, 'tok');
      if (e.type === 'token' && e.seq === 0 && !o.json) out(e.text);
      if (e.type === 'token' && o.stream) console.log(JSON.stringify({ type: 'token', seq: e.seq, step: e.step, token: e.token, text: e.text }));
    });
    const res = done.result;
    if (o.dumpLogits) {
      writeFileSync(o.dumpLogits, JSON.stringify({ model: cfg.name, dtype: engine.dtype, prompt: prompts[0], tokens: res.tokens[0], logits: Array.from(res.firstLogits![0]!) }));
    }
    const metrics = {
      ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, totalMs: res.totalMs, loadMs, compileMs: compiled.ms,
      inputTokens: res.inputTokens, outputTokens: res.outputTokens, gpuMemoryBytes: res.gpuBytes,
    };
    if (o.json) {
      // A text that ends inside a UTF-8 character gets its U+FFFD only when the generation ends: the streamed pieces
      // must still add up to the result's text.
      if (o.stream) done.tails.forEach((text, seq) => { if (text) console.log(JSON.stringify({ type: 'tail', seq, text })); });
      console.log(JSON.stringify({
        ...(o.stream ? { type: 'result' } : {}), model: cfg.name, dtype: engine.dtype, device: engine.device, batch: prompts.length,
        promptLengths: prompts.map((p) => p.length), tokens: res.tokens, text: done.texts, metrics, placement: done.placement,
      }));
    } else {
      out(`${done.tails[0]}\n`);
      for (let i = 1; i < done.texts.length; i++) console.log(`[seq ${i}, prompt ${prompts[i]!.length} tokens] ${JSON.stringify(done.texts[i])}`);
      console.log(`\n${prompts.length} sequence(s), ${res.inputTokens} input + ${res.outputTokens} output tokens`);
      printPlacement(done.placement, prompts);
      const tpot = decodedTokens(res.tokens) > 0 ? `${res.tpotMs.toFixed(2)} ms` : 'none (no decode step ran)';
      console.log(`TTFT ${res.prefillMs.toFixed(1)} ms | TPOT ${tpot} | TPS ${res.tps.toFixed(1)} tok/s | total ${res.totalMs.toFixed(0)} ms | load ${loadMs.toFixed(0)} ms (+ compile ${compiled.ms.toFixed(0)} ms) | GPU memory ${(res.gpuBytes / 2 ** 20).toFixed(1)} MiB`);
    }
    return 0;
  } catch (e) {
    if (midLine) { process.stdout.write('\n'); midLine = false; } // the error line starts on a line of its own
    throw e;
  } finally {
    await engine.dispose();
  }
}

export function runCli(argv: string[]): Promise<never> {
  exitQuietlyOnClosedPipe();
  return runAndExit(() => main(argv));
}
