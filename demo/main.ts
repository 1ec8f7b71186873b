// Browser demo: the fapool runtime on one GPU through navigator.gpu. Picks a model (fortune-4l, the default:
// trained weights served beside the page; the tiny preset with deterministic random weights generated here;
// or a dropped safetensors file), streams greedy/sampled tokens (Stop ends a run at its next token), and shows
// adapter features, load progress, TTFT/TPOT/TPS and a per-kernel time breakdown.
// The state is mirrored on window.__fapoolDemo for the headless e2e test (test/demo.e2e.test.ts).
import shaders from 'fapool:shaders';
import { registerShaderSources } from '../src/gpu/shader-source.js';
import {
  DeviceLostError, FapoolError, InputError, LimitError, NoAdapterError, describeCaps, openGpu, type Caps, type DType, type Gpu,
} from '../src/gpu/index.js';
import { presetConfig, validateConfig, type ModelConfig } from '../src/model/config.js';
import { batchShape } from '../src/model/generation.js';
import { blobSource, bytesSource, loadWeights, readHeader, type ByteSource } from '../src/model/load-weights.js';
import { randomSafetensorsBytes } from '../src/model/random-weights-mem.js';
import { ByteTokenizer, tolerantTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { localEngine, type Engine, type GenerateRequest, type GenerationEvent } from '../src/orchestrator/engine.js';
import { esc, kernelChart, profileSteps, type KernelTime } from './kernel-profile.js';
import { metricTexts, parseParams, pickDType, type RunParams } from './params.js';
import { readBody } from './download.js';

type State = 'idle' | 'loading' | 'warmup' | 'running' | 'profiling' | 'done' | 'stopped' | 'error';

export interface DemoStatus {
  state: State;
  adapter?: string;
  features?: Record<string, boolean>;
  dtype?: DType;
  prompt?: number[];
  tokens: number[];
  text: string;
  metrics?: { ttftMs: number; tpotMs: number; tps: number; loadMs: number; warmupMs: number; inputTokens: number; outputTokens: number };
  /** The run used the model the last run loaded (loadMs and warmupMs 0: nothing loaded or compiled). */
  reused?: boolean;
  kernels?: KernelTime[] | null;
  error?: { kind: string; message: string };
}

declare global { interface Window { __fapoolDemo: DemoStatus } }

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status: DemoStatus = { state: 'idle', tokens: [], text: '' };
window.__fapoolDemo = status;

function setState(s: State): void {
  status.state = s;
  $('state').textContent = s;
  document.body.dataset.state = s;
}

function showError(kind: string, message: string): void {
  status.error = { kind, message };
  const box = $('error');
  box.style.display = 'block';
  box.textContent = `${kind}: ${message}`;
  console.error(`[demo] ${kind}: ${message}`);
  setState('error');
}

function errorKind(e: unknown): string {
  if (e instanceof NoAdapterError) return 'No WebGPU adapter';
  if (e instanceof DeviceLostError) return 'GPU device lost';
  if (e instanceof InputError) return 'Invalid input';
  // Weights over maxStorageBufferBindingSize / maxBufferSize, or a feature (shader-f16) the adapter lacks.
  if (e instanceof LimitError) return /too big/.test(e.message) ? 'Model too big for this GPU' : 'Beyond this GPU\'s limits';
  if (e instanceof FapoolError) return e.constructor.name;
  return 'Error';
}

// ---- parameters: form fields, pre-filled from the query string ------------------------------------

const q = new URLSearchParams(location.search);
for (const k of ['preset', 'seed', 'prompt', 'tokens', 'temperature', 'dtype']) {
  const v = q.get(k);
  if (v === null) continue;
  const el = $<HTMLInputElement | HTMLSelectElement>(k);
  // A value the select does not list (e.g. an unknown preset) is kept, so the run reports it.
  if (el instanceof HTMLSelectElement && !Array.from(el.options).some((o) => o.value === v)) el.add(new Option(v, v));
  el.value = v;
}
if (q.has('greedy')) $<HTMLInputElement>('greedy').checked = q.get('greedy') !== '0';

const fileInput = $<HTMLInputElement>('file');
const presetSel = $<HTMLSelectElement>('preset');
const syncFileUi = () => {
  const f = presetSel.value === 'file';
  fileInput.style.display = f ? 'inline' : 'none';
  $('drop').style.display = f ? 'block' : 'none';
};
presetSel.addEventListener('change', syncFileUi);
syncFileUi();
let droppedFile: File | null = null;
fileInput.addEventListener('change', () => { droppedFile = fileInput.files?.[0] ?? null; });
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) { droppedFile = f; presetSel.value = 'file'; syncFileUi(); $('loadtext').textContent = `file: ${f.name} (${f.size} bytes)`; }
});

function readParams(): RunParams {
  const v = (id: string) => $<HTMLInputElement | HTMLSelectElement>(id).value;
  return parseParams({
    preset: presetSel.value, seed: v('seed'), prompt: v('prompt'), tokens: v('tokens'),
    greedy: $<HTMLInputElement>('greedy').checked, temperature: v('temperature'), dtype: v('dtype'),
  });
}

// ---- display --------------------------------------------------------------------------------------

function showAdapter(gpu: Gpu): void {
  const c: Caps = gpu.caps;
  status.adapter = describeCaps(c);
  $('adapter').textContent = `${status.adapter} — limits: storage binding ${mib(c.maxStorageBinding)}, buffer ${mib(c.maxBufferSize)}, ` +
    `workgroup storage ${c.maxWorkgroupStorage / 1024} KiB, ${c.maxInvocations} invocations/workgroup`;
  status.features = { f16: c.f16, subgroups: c.subgroups, 'subgroup-matrix': c.subgroupMatrix.length > 0, 'timestamp-query': c.timestampQuery };
  $('features').innerHTML = Object.entries(status.features)
    .map(([k, on]) => `<span class="badge ${on ? 'on' : 'off'}">${k}</span>`).join('');
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** The last run's results cleared: a run that failed or stopped kept showing its metrics, token ids and kernel times. */
function clearResults(): void {
  for (const id of ['adapter', 'loadtext', 'ttft', 'tpot', 'tps', 'loadms', 'warmms', 'kernels']) $(id).textContent = '—';
  for (const id of ['features', 'path', 'out', 'ids']) $(id).textContent = '';
  $<HTMLProgressElement>('loadbar').value = 0;
}

function progress(done: number, total: number, what: string): void {
  const bar = $<HTMLProgressElement>('loadbar');
  bar.max = Math.max(1, total);
  bar.value = done;
  $('loadtext').textContent = `${what}: ${(done / 1024).toFixed(0)} / ${(total / 1024).toFixed(0)} KiB`;
}

// ---- the run --------------------------------------------------------------------------------------

async function modelSource(p: RunParams, dtype: 'f32' | 'f16', file: File | null): Promise<{ src: ByteSource; cfg: ModelConfig }> {
  if (p.preset === 'file') {
    if (!file) throw new FapoolError('choose or drop a .safetensors file first');
    const src = blobSource(file);
    const meta = (await readHeader(src)).metadata;
    const cfg = meta.fapool_config ? validateConfig(JSON.parse(meta.fapool_config) as ModelConfig) : presetConfig('tiny');
    return { src, cfg };
  }
  if (p.preset === 'fortune-4l') {
    // The trained default model (src/model/default/), copied next to the page by demo/build.mjs.
    const res = await fetch('./fortune-4l.safetensors');
    if (!res.ok) throw new FapoolError(`could not fetch the default model's weights (./fortune-4l.safetensors): HTTP ${res.status}`);
    const bytes = await readBody(res, (d, t) => progress(d, t, 'downloading fortune-4l.safetensors'), checkStop);
    progress(bytes.byteLength, bytes.byteLength, 'downloaded fortune-4l.safetensors');
    return { src: bytesSource(bytes, 'fortune-4l.safetensors'), cfg: presetConfig('fortune-4l') };
  }
  const cfg = presetConfig(p.preset);
  // Generate in the dtype the GPU will hold (f16 files for the f16 path), like `--random-weights`.
  const bytes = randomSafetensorsBytes(cfg, { seed: p.seed, dtype, onProgress: (d, t) => progress(d, t, 'generating random weights') });
  return { src: bytesSource(bytes, `${cfg.name} random seed ${p.seed}`), cfg };
}

let running = false;
let stopAsked = false;
const runButton = $<HTMLButtonElement>('run'), stopButton = $<HTMLButtonElement>('stop');
/** Thrown where a run notices Stop (between phases, or at its next token). */
const STOPPED = Symbol('stopped');
const checkStop = () => { if (stopAsked) throw STOPPED; };

/** A generation to its end, or to the next token after Stop: leaving the stream ends it at its next step. */
async function generateUntilStop(engine: Engine, req: GenerateRequest, onToken?: (e: Extract<GenerationEvent, { type: 'token' }>) => void):
  Promise<Extract<GenerationEvent, { type: 'done' }>> {
  for await (const e of engine.generate(req)) {
    checkStop();
    if (e.type === 'token') onToken?.(e);
    else if (e.type === 'done') return e;
  }
  throw new Error('generation ended without a result');
}

/**
 * A model an earlier Run loaded, kept for the next Run that asks for the same one (preset, its seed for random
 * weights, the dropped file, dtype): no reload and no recompile — every Run used to open a new device and compile
 * every pipeline again (13–15 s on SwiftShader).
 */
interface Loaded {
  key: string; gpu: Gpu; cfg: ModelConfig; dtype: DType; tok: Tokenizer; weights: Weights; engine: Engine;
  loadText: string;
  /** The dropped file it was loaded from (another File, even of the same name, size and date, is loaded anew). */
  file: File | null;
}
let loaded: Loaded | null = null;

/** Which model a Run asks for; a Run of the same key reuses the loaded one. */
function modelKey(p: RunParams, f: File | null): string {
  const which = p.preset === 'file' ? `file:${f ? `${f.name}:${f.size}:${f.lastModified}` : '-'}` : p.preset === 'fortune-4l' ? p.preset : `${p.preset}:seed ${p.seed}`;
  return `${which}|${p.dtype}`;
}

/** Frees the kept model and its device. */
async function unload(): Promise<void> {
  const l = loaded;
  loaded = null;
  if (!l) return;
  try {
    await l.engine.dispose();
    releaseWeights(l.gpu, l.weights);
  } catch { /* a lost device: destroy() frees everything */ }
  l.gpu.destroy();
}

/** Opens the GPU, loads the model the form names and warms it up (every pipeline compiled); the prompt is checked first. */
async function load(p: RunParams, key: string, file: File | null): Promise<{ l: Loaded; loadMs: number; warmupMs: number }> {
  registerShaderSources(shaders);
  const g = await openGpu({ label: 'demo', f16: p.dtype !== 'f32' });
  let weights: Weights | undefined, engine: Engine | undefined;
  try {
    void g.device.lost.then((info) => {
      if (running && info.reason !== 'destroyed') showError('GPU device lost', `${info.reason}: ${info.message || 'no message'}`);
    });
    showAdapter(g);
    const dtype: DType = pickDType(p.dtype, g.caps);
    if (dtype === 'f16' && !g.caps.f16) throw new LimitError('the f16 path needs shader-f16, which this adapter lacks; choose dtype f32');
    showPath(dtype);
    const tLoad = performance.now();
    const { src, cfg } = await modelSource(p, dtype === 'f16' ? 'f16' : 'f32', file);
    const tok = tolerantTokenizer(new ByteTokenizer(), cfg.vocab);
    const prompt = tok.encode(p.prompt);
    // Prompt and tokens against the context now: the engine checks at the run after the warm-up (seconds of compiling
    // later), and a long prompt failed the warm-up's check, which named its 2 tokens, not the form's.
    batchShape(cfg, [prompt], { maxNewTokens: p.tokens });
    checkStop();
    weights = (await loadWeights(g, src, cfg, dtype, (d, t, name) => progress(d, t, `loading ${name}`))).weights;
    const loadMs = performance.now() - tLoad;
    checkStop();
    const loadText = `${cfg.name}: ${cfg.nLayers} layers, hidden ${cfg.hidden}, ${cfg.nHeads}×${cfg.headDim} heads (${cfg.nKvHeads} kv), ffn ${cfg.ffn}, vocab ${cfg.vocab} — ${(src.size / 1024).toFixed(0)} KiB loaded in ${loadMs.toFixed(0)} ms`;
    $('loadtext').textContent = loadText;
    engine = localEngine({ gpu: g, config: cfg, weights, dtype, tokenizer: tok });
    // Warm-up: browsers compile pipelines on first use (seconds on SwiftShader); keep that out of TTFT.
    setState('warmup');
    const tWarm = performance.now();
    await generateUntilStop(engine, { prompts: [prompt], maxNewTokens: Math.min(2, p.tokens) });
    return { l: { key, gpu: g, cfg, dtype, tok, weights, engine, loadText, file }, loadMs, warmupMs: performance.now() - tWarm };
  } catch (e) {
    try {
      await engine?.dispose();
      if (weights) releaseWeights(g, weights);
    } catch { /* a lost device: destroy() frees everything */ }
    g.destroy();
    throw e;
  }
}

function showPath(dtype: DType): void {
  status.dtype = dtype;
  $('path').textContent = `path: ${dtype} (${dtype === 'f16' ? 'shader-f16 storage and math' : 'f32 everywhere'}) — single GPU, no pool`;
}

async function run(): Promise<void> {
  if (running) return;
  running = true;
  stopAsked = false;
  runButton.disabled = true;
  stopButton.disabled = false;
  $('error').style.display = 'none';
  Object.assign(status, { tokens: [], text: '', prompt: undefined, dtype: undefined, metrics: undefined, kernels: undefined, error: undefined, reused: false });
  clearResults();
  try {
    setState('loading');
    const p = readParams();
    if (!('gpu' in navigator) || !navigator.gpu) {
      throw new NoAdapterError('this browser has no WebGPU (navigator.gpu is undefined). Use Chrome/Edge 113+ or enable WebGPU; pages must be served over https or from localhost.');
    }
    // The file read once: one dropped while this run loads is the next run's (its weights were stored under this key).
    const file = p.preset === 'file' ? droppedFile : null, key = modelKey(p, file);
    // A lost device's work never finishes: load again.
    if (loaded && (loaded.key !== key || loaded.file !== file || loaded.gpu.isLost)) await unload();
    let L: Loaded, loadMs = 0, warmupMs = 0;
    if (loaded) {
      L = loaded;
      batchShape(L.cfg, [L.tok.encode(p.prompt)], { maxNewTokens: p.tokens }); // before anything shows the run as started
      status.reused = true;
      showAdapter(L.gpu);
      showPath(L.dtype);
      $('loadtext').textContent = `${L.loadText} (kept from the last run)`;
    } else {
      ({ l: L, loadMs, warmupMs } = await load(p, key, file));
      loaded = L;
    }
    const { engine, tok } = L;
    const prompt = tok.encode(p.prompt);
    status.prompt = prompt;
    $('warmms').textContent = status.reused ? 'kept' : warmupMs.toFixed(0);
    const out = $('out');
    out.innerHTML = `<span class="prompt">${esc(tok.decode(prompt))}</span><span class="gen"></span>`;
    const gen = out.querySelector('.gen')!;

    setState('running');
    const { result: res, tails } = await generateUntilStop(engine, {
      prompts: [prompt], maxNewTokens: p.tokens,
      sampling: { temperature: p.temperature, topK: 0, topP: 1, seed: p.seed },
    }, (e) => {
      status.tokens.push(e.token);
      $('ids').textContent = `token ids: ${status.tokens.join(' ')}`;
      status.text += e.text; gen.textContent += e.text;
    });
    status.text += tails[0]!; gen.textContent += tails[0]!;
    status.metrics = { ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, loadMs, warmupMs, inputTokens: res.inputTokens, outputTokens: res.outputTokens };
    const shown = metricTexts(res);
    $('ttft').textContent = shown.ttft;
    $('tpot').textContent = shown.tpot;
    $('tps').textContent = shown.tps;
    $('loadms').textContent = status.reused ? 'kept' : loadMs.toFixed(0);

    setState('profiling');
    status.kernels = await profileSteps(L.gpu, engine.decodeLaunches());
    $('kernels').innerHTML = kernelChart(status.kernels);
    console.log(`[demo] done: ${status.tokens.length} tokens ${JSON.stringify(status.tokens)}; ${status.reused ? 'model kept' : `load ${loadMs.toFixed(0)} ms, warm-up ${warmupMs.toFixed(0)} ms`}, TTFT ${res.prefillMs.toFixed(1)} ms, TPOT ${res.tpotMs.toFixed(1)} ms`);
    setState('done');
  } catch (e) {
    if (e === STOPPED) {
      // A model stopped while it loaded was freed there; one stopped while it generated stays for the next Run.
      console.log(`[demo] stopped after ${status.tokens.length} tokens`);
      setState('stopped');
    } else {
      // A bad form value leaves the kept model as it was; anything else may have left it half-way: load it again.
      if (!(e instanceof InputError)) await unload();
      const err = e as Error;
      showError(errorKind(e), err?.message ?? String(e));
    }
  } finally {
    running = false;
    runButton.disabled = false;
    stopButton.disabled = true;
  }
}

runButton.addEventListener('click', () => void run());
stopButton.addEventListener('click', () => { stopAsked = true; stopButton.disabled = true; });
// A query with a preset (the e2e test, shared links) runs at once.
if (q.has('preset') && q.get('preset') !== 'file') void run();
