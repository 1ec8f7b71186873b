// Browser demo: the fapool runtime on one GPU through navigator.gpu. Picks a model (fortune-4l, the default:
// trained weights served beside the page; the tiny preset with deterministic random weights generated here;
// or a dropped safetensors file), streams greedy/sampled tokens, and shows adapter features, load progress,
// TTFT/TPOT/TPS and a per-kernel time breakdown.
// The state is mirrored on window.__fapoolDemo for the headless e2e test (test/demo.e2e.test.ts).
import shaders from 'fapool:shaders';
import { registerShaderSources } from '../src/gpu/shader-source.js';
import {
  DeviceLostError, FapoolError, LimitError, NoAdapterError, describeCaps, openGpu, type Caps, type DType, type Gpu,
} from '../src/gpu/index.js';
import { presetConfig, validateConfig, type ModelConfig } from '../src/model/config.js';
import { blobSource, bytesSource, loadWeights, readHeader, type ByteSource } from '../src/model/load-weights.js';
import { randomSafetensorsBytes } from '../src/model/random-weights-mem.js';
import { ByteTokenizer, tolerantTokenizer } from '../src/model/tokenizer.js';
import { releaseWeights } from '../src/model/weights.js';
import { localEngine } from '../src/orchestrator/engine.js';
import { profileSteps, type KernelTime } from './kernel-profile.js';

type State = 'idle' | 'loading' | 'warmup' | 'running' | 'profiling' | 'done' | 'error';

export interface DemoStatus {
  state: State;
  adapter?: string;
  features?: Record<string, boolean>;
  dtype?: DType;
  prompt?: number[];
  tokens: number[];
  text: string;
  metrics?: { ttftMs: number; tpotMs: number; tps: number; loadMs: number; warmupMs: number; inputTokens: number; outputTokens: number };
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

interface RunParams { preset: string; seed: number; prompt: string; tokens: number; greedy: boolean; temperature: number; dtype: 'auto' | DType }

function readParams(): RunParams {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  const tokens = num('tokens'), seed = num('seed');
  if (!Number.isInteger(tokens) || tokens < 1) throw new FapoolError(`tokens must be a positive integer, got ${$<HTMLInputElement>('tokens').value}`);
  if (!Number.isSafeInteger(seed)) throw new FapoolError(`seed must be an integer, got ${$<HTMLInputElement>('seed').value}`);
  return {
    preset: presetSel.value, seed, prompt: $<HTMLInputElement>('prompt').value, tokens,
    greedy: $<HTMLInputElement>('greedy').checked, temperature: num('temperature'),
    dtype: $<HTMLSelectElement>('dtype').value as RunParams['dtype'],
  };
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
const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

function progress(done: number, total: number, what: string): void {
  const bar = $<HTMLProgressElement>('loadbar');
  bar.max = Math.max(1, total);
  bar.value = done;
  $('loadtext').textContent = `${what}: ${(done / 1024).toFixed(0)} / ${(total / 1024).toFixed(0)} KiB`;
}

/** Horizontal bar chart in SVG: one bar per kernel variant, its summed time in one decode step. */
function kernelChart(ks: KernelTime[] | null): string {
  if (ks === null) return 'This device has no timestamp-query feature: no per-kernel times.';
  if (ks.length === 0) return 'no kernels';
  const total = ks.reduce((a, k) => a + k.ms, 0);
  const max = Math.max(...ks.map((k) => k.ms), 1e-9);
  const rowH = 18, labelW = 300, barW = 420, h = ks.length * rowH + 24;
  const rows = ks.map((k, i) => {
    const y = i * rowH;
    const w = Math.max(1, (k.ms / max) * barW);
    return `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(k.label)} ×${k.launches}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#4a7bd0"/>` +
      `<text x="${labelW + w + 6}" y="${y + 13}">${k.ms.toFixed(3)} ms (${((100 * k.ms) / total).toFixed(0)}%)</text>`;
  }).join('');
  return `<svg width="${labelW + barW + 140}" height="${h}" font-size="11" font-family="ui-monospace, monospace">${rows}` +
    `<text x="0" y="${h - 6}">sum ${total.toFixed(3)} ms per decode step (each launch in its own pass; browsers may quantise timestamps)</text></svg>`;
}

// ---- the run --------------------------------------------------------------------------------------

async function modelSource(p: RunParams, dtype: 'f32' | 'f16'): Promise<{ src: ByteSource; cfg: ModelConfig }> {
  if (p.preset === 'file') {
    if (!droppedFile) throw new FapoolError('choose or drop a .safetensors file first');
    const src = blobSource(droppedFile);
    const meta = (await readHeader(src)).metadata;
    const cfg = meta.fapool_config ? validateConfig(JSON.parse(meta.fapool_config) as ModelConfig) : presetConfig('tiny');
    return { src, cfg };
  }
  if (p.preset === 'fortune-4l') {
    // The trained default model (src/model/default/), copied next to the page by demo/build.mjs.
    const res = await fetch('./fortune-4l.safetensors');
    if (!res.ok) throw new FapoolError(`could not fetch the default model's weights (./fortune-4l.safetensors): HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    progress(bytes.byteLength, bytes.byteLength, 'downloaded fortune-4l.safetensors');
    return { src: bytesSource(bytes, 'fortune-4l.safetensors'), cfg: presetConfig('fortune-4l') };
  }
  const cfg = presetConfig(p.preset);
  // Generate in the dtype the GPU will hold (f16 files for the f16 path), like `--random-weights`.
  const bytes = randomSafetensorsBytes(cfg, { seed: p.seed, dtype, onProgress: (d, t) => progress(d, t, 'generating random weights') });
  return { src: bytesSource(bytes, `${cfg.name} random seed ${p.seed}`), cfg };
}

let running = false;

async function run(): Promise<void> {
  if (running) return;
  running = true;
  $('error').style.display = 'none';
  Object.assign(status, { tokens: [], text: '', metrics: undefined, kernels: undefined, error: undefined });
  $('out').innerHTML = '';
  let gpu: Gpu | null = null;
  let finished = false;
  try {
    setState('loading');
    const p = readParams();
    if (!('gpu' in navigator) || !navigator.gpu) {
      throw new NoAdapterError('this browser has no WebGPU (navigator.gpu is undefined). Use Chrome/Edge 113+ or enable WebGPU; pages must be served over https or from localhost.');
    }
    registerShaderSources(shaders);
    gpu = await openGpu({ label: 'demo', f16: p.dtype !== 'f32' });
    const g = gpu;
    void g.device.lost.then((info) => {
      if (!finished && info.reason !== 'destroyed') showError('GPU device lost', `${info.reason}: ${info.message || 'no message'}`);
    });
    showAdapter(g);
    const dtype: DType = p.dtype === 'auto' ? (g.caps.f16 && !g.caps.isFallbackAdapter ? 'f16' : 'f32') : p.dtype;
    if (dtype === 'f16' && !g.caps.f16) throw new LimitError('the f16 path needs shader-f16, which this adapter lacks; choose dtype f32');
    status.dtype = dtype;
    $('path').textContent = `path: ${dtype} (${dtype === 'f16' ? 'shader-f16 storage and math' : 'f32 everywhere'}) — single GPU, no pool`;

    const tLoad = performance.now();
    const { src, cfg } = await modelSource(p, dtype === 'f16' ? 'f16' : 'f32');
    const { weights } = await loadWeights(g, src, cfg, dtype, (d, t, name) => progress(d, t, `loading ${name}`));
    const loadMs = performance.now() - tLoad;
    $('loadtext').textContent = `${cfg.name}: ${cfg.nLayers} layers, hidden ${cfg.hidden}, ${cfg.nHeads}×${cfg.headDim} heads (${cfg.nKvHeads} kv), ffn ${cfg.ffn}, vocab ${cfg.vocab} — ${(src.size / 1024).toFixed(0)} KiB loaded in ${loadMs.toFixed(0)} ms`;

    const tok = tolerantTokenizer(new ByteTokenizer(), cfg.vocab);
    const prompt = tok.encode(p.prompt);
    if (prompt.length === 0) throw new FapoolError('the prompt is empty');
    status.prompt = prompt;
    const out = $('out');
    out.innerHTML = `<span class="prompt">${esc(tok.decode(prompt))}</span><span class="gen"></span>`;
    const gen = out.querySelector('.gen')!;

    const engine = localEngine({ gpu: g, config: cfg, weights, dtype, tokenizer: tok });
    try {
      // Warm-up: browsers compile pipelines on first use (seconds on SwiftShader); keep that out of TTFT.
      setState('warmup');
      const tWarm = performance.now();
      await engine.run({ prompts: [prompt], maxNewTokens: Math.min(2, p.tokens) });
      const warmupMs = performance.now() - tWarm;
      $('warmms').textContent = warmupMs.toFixed(0);
      setState('running');
      const { result: res, tails } = await engine.run({
        prompts: [prompt], maxNewTokens: p.tokens,
        sampling: { temperature: p.greedy ? 0 : p.temperature, topK: 0, topP: 1, seed: p.seed >>> 0 },
      }, (e) => {
        if (e.type !== 'token') return;
        status.tokens.push(e.token);
        $('ids').textContent = `token ids: ${status.tokens.join(' ')}`;
        status.text += e.text; gen.textContent += e.text;
      });
      status.text += tails[0]!; gen.textContent += tails[0]!;
      status.metrics = { ttftMs: res.prefillMs, tpotMs: res.tpotMs, tps: res.tps, loadMs, warmupMs, inputTokens: res.inputTokens, outputTokens: res.outputTokens };
      $('ttft').textContent = res.prefillMs.toFixed(1);
      $('tpot').textContent = res.tpotMs.toFixed(2);
      $('tps').textContent = res.tps.toFixed(1);
      $('loadms').textContent = loadMs.toFixed(0);

      setState('profiling');
      status.kernels = await profileSteps(g, engine.decodeLaunches());
      $('kernels').innerHTML = kernelChart(status.kernels);
    } finally {
      await engine.dispose();
      releaseWeights(g, weights);
    }
    console.log(`[demo] done: ${status.tokens.length} tokens ${JSON.stringify(status.tokens)}; load ${loadMs.toFixed(0)} ms, warm-up ${status.metrics.warmupMs.toFixed(0)} ms, TTFT ${status.metrics.ttftMs.toFixed(1)} ms, TPOT ${status.metrics.tpotMs.toFixed(1)} ms`);
    finished = true;
    setState('done');
  } catch (e) {
    finished = true;
    const err = e as Error;
    showError(errorKind(e), err?.message ?? String(e));
  } finally {
    running = false;
    gpu?.destroy();
  }
}

$('run').addEventListener('click', () => void run());
// A query with a preset (the e2e test, shared links) runs at once.
if (q.has('preset') && q.get('preset') !== 'file') void run();
