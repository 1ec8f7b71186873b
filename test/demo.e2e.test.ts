// The browser demo end to end: build it (esbuild), serve it on 127.0.0.1, run it in headless Chromium
// (WebGPU on SwiftShader), and check that its greedy tokens equal the Node runtime's (lavapipe) for the
// same random weights and prompt. Also, in Node: the browser-safe weight generator and loader agree with
// the Node ones byte for byte, the per-kernel profiler, and the loader's error paths.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemo, serveStatic } from '../demo/build.mjs';
import { launchChromium, openDemoPage, runDemoPage } from '../demo/e2e.js';
import type { DemoStatus } from '../demo/main.js';
import { profileSteps } from '../demo/kernel-profile.js';
import { hasWork, LimitError, type DType } from '../src/gpu/index.js';
import { presetConfig, type ModelConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { blobSource, bytesSource, checkModelFits, loadWeights } from '../src/model/load-weights.js';
import { randomSafetensorsBytes } from '../src/model/random-weights-mem.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { SafetensorsError } from '../src/model/safetensors.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { ByteTokenizer } from '../src/model/tokenizer.js';
import { WeightError } from '../src/model/weight-names.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { rng, useGpu } from './helpers.js';

const gpu = useGpu();
const cfg: ModelConfig = presetConfig('tiny');
const dir = mkdtempSync(join(tmpdir(), 'fapool-demo-'));
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const TOKENS = 8;

/** A random prompt (the byte tokenizer: one token per UTF-8 byte; the accented, CJK and emoji words take 2–4 each). */
function randomPrompt(r: ReturnType<typeof rng>): string {
  const words = ['pool', 'attention', 'GPU', 'token', 'the', 'rank', 'cache', 'layer', 'fast', 'web'];
  const wide = ['caf\u00e9', '\u65e5\u672c', '\u{1F642}']; // always one: multi-byte prompts through the URL and the page
  const ws = Array.from({ length: r.int(2, 6) }, () => words[r.int(0, words.length)]!);
  ws.splice(r.int(0, ws.length + 1), 0, wide[r.int(0, wide.length)]!);
  return ws.join(' ');
}

async function readAll(g: Awaited<ReturnType<typeof gpu>>, w: Weights): Promise<Float32Array[]> {
  const ts = [w.embed, w.finalNorm, w.lmHead, ...w.layers.flatMap((l) => [l.attnNorm, l.wqkv, l.wo, l.ffnNorm, l.wGate, l.wUp, l.wDown])];
  return Promise.all(ts.map(async (t) => new Float32Array((await g.read(t)).buffer)));
}

describe('browser-safe model code (Node, lavapipe)', () => {
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    it(`random weights in memory are byte-identical to writeRandomWeights (${dtype})`, async () => {
      const seed = rng().int(0, 2 ** 31);
      const path = join(dir, `w-${dtype}.safetensors`);
      await writeRandomWeights(path, cfg, { seed, dtype });
      const mem = randomSafetensorsBytes(cfg, { seed, dtype });
      const file = readFileSync(path);
      expect(mem.byteLength).toBe(file.byteLength);
      expect(Buffer.compare(Buffer.from(mem), file), `seed ${seed}`).toBe(0);
    });
  }

  for (const dtype of ['f32', 'f16'] as DType[]) {
    it(`loading from bytes and from a Blob equals the Node loader (${dtype} on the GPU)`, async () => {
      const g = await gpu();
      if (dtype === 'f16' && !g.caps.f16) { console.info('[demo] no shader-f16 here: f16 load skipped'); return; }
      const seed = rng().int(0, 2 ** 31);
      const path = join(dir, `load-${dtype}.safetensors`);
      await writeRandomWeights(path, cfg, { seed, dtype: 'bf16' }); // bf16 file: the converting path
      const f = await openSafetensors(path);
      const ref = await loadWeights(g, f.source(), cfg, dtype);
      await f.close();
      const bytes = new Uint8Array(readFileSync(path));
      const progress: number[] = [];
      const a = await loadWeights(g, bytesSource(bytes), cfg, dtype, (d) => progress.push(d));
      const b = await loadWeights(g, blobSource(new Blob([bytes]), 'blob'), cfg, dtype);
      const [rv, av, bv] = await Promise.all([readAll(g, ref.weights), readAll(g, a.weights), readAll(g, b.weights)]);
      for (let i = 0; i < rv.length; i++) {
        expect(Buffer.compare(Buffer.from(av[i]!.buffer), Buffer.from(rv[i]!.buffer)), `tensor ${i} (bytes)`).toBe(0);
        expect(Buffer.compare(Buffer.from(bv[i]!.buffer), Buffer.from(rv[i]!.buffer)), `tensor ${i} (blob)`).toBe(0);
      }
      expect(progress.length).toBeGreaterThan(5);
      expect(progress.every((d, i) => i === 0 || d > progress[i - 1]!)).toBe(true);
      for (const w of [ref, a, b]) releaseWeights(g, w.weights);
    });
  }

  it('loader errors: model too big (LimitError), wrong shapes (WeightError), truncated file (SafetensorsError)', async () => {
    const g = await gpu();
    const bytes = randomSafetensorsBytes(cfg, { seed: rng().int(0, 1000), dtype: 'f32' });
    const limit = Math.min(g.caps.maxStorageBinding, g.caps.maxBufferSize);
    const huge: ModelConfig = { ...cfg, vocab: Math.floor(limit / (cfg.hidden * 4)) + 1 };
    await expect(loadWeights(g, bytesSource(bytes), huge, 'f32')).rejects.toThrow(WeightError); // shapes checked first
    expect(() => checkModelFits(g, huge, 'f32')).toThrow(LimitError);
    expect(() => checkModelFits(g, huge, 'f32')).toThrow(/tensor 'embed'.*maxStorageBufferBindingSize/);
    expect(() => checkModelFits(g, cfg, 'f32')).not.toThrow();
    await expect(loadWeights(g, bytesSource(bytes), { ...cfg, ffn: 96 }, 'f32')).rejects.toThrow(WeightError);
    await expect(loadWeights(g, bytesSource(bytes.subarray(0, bytes.byteLength - 4), 'cut'), cfg, 'f32')).rejects.toThrow(SafetensorsError);
    expect(() => randomSafetensorsBytes(presetConfig('seed-4l'), { seed: 1, dtype: 'f16' })).toThrow(/too large to generate in memory/);
  });

  it('per-kernel profile of a decode step covers every launch', async () => {
    const g = await gpu();
    const { weights } = await loadWeights(g, bytesSource(randomSafetensorsBytes(cfg, { seed: 3, dtype: 'f32' })), cfg, 'f32');
    const gen = new Generator(g, cfg, weights, 'f32');
    try {
      await gen.generate([[1, 2, 3]], { maxNewTokens: 3, sampling: GREEDY });
      const all = gen.decodeLaunches();
      expect(all.length).toBeGreaterThan(10);
      const ks = await profileSteps(g, all, 2);
      const launches = all.filter(hasWork).length;
      if (!g.caps.timestampQuery) { expect(ks).toBeNull(); console.info('[demo] no timestamp-query on this adapter'); return; }
      expect(ks!.reduce((a, k) => a + k.launches, 0)).toBe(launches);
      expect(ks!.every((k) => Number.isFinite(k.ms) && k.ms >= 0 && k.label.length > 0)).toBe(true);
      expect(ks!.reduce((a, k) => a + k.ms, 0)).toBeGreaterThan(0);
    } finally {
      gen.dispose();
      releaseWeights(g, weights);
    }
  });
});

describe('browser demo in headless Chromium', () => {
  it('the page code type-checks (demo/tsconfig.json: strict, DOM)', async () => {
    // npm test's tsc covers src/ only; the demo's browser entry is checked here.
    const r = await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'demo/tsconfig.json'])
      .catch((e: { stdout?: string; message: string }) => ({ stdout: e.stdout ?? e.message }));
    expect(r.stdout.trim()).toBe('');
  });

  let launched: Promise<Browser> | null = null;
  let server: { url: string; close: () => Promise<void> } | null = null;
  // Launched inside the tests, not in a hook: a missing /usr/bin/chromium then fails each browser test
  // with the install hint (a failing hook would only mark them skipped).
  const browser = () => (launched ??= launchChromium());

  beforeAll(async () => {
    const t0 = performance.now();
    await buildDemo();
    server = await serveStatic(undefined, 0);
    console.info(`[demo] built and serving ${server.url} in ${(performance.now() - t0).toFixed(0)} ms`);
  });
  afterAll(async () => { await (await launched?.catch(() => null))?.close(); await server?.close(); });

  it(`greedy tokens in the page equal the Node runtime's (tiny, ${TOKENS} tokens), metrics and kernel times shown`, async () => {
    const r = rng();
    const seed = r.int(1, 100000);
    const text = randomPrompt(r);
    // Node reference run: the same weights (file written by the Node generator), same prompt, lavapipe.
    const g = await gpu();
    const path = join(dir, 'e2e.safetensors');
    await writeRandomWeights(path, cfg, { seed, dtype: 'f32' });
    const f = await openSafetensors(path);
    const { weights } = await loadWeights(g, f.source(), cfg, 'f32');
    await f.close();
    const prompt = new ByteTokenizer().encode(text);
    const gen = new Generator(g, cfg, weights, 'f32');
    const node = await gen.generate([prompt], { maxNewTokens: TOKENS, sampling: GREEDY });
    gen.dispose();
    releaseWeights(g, weights);

    const url = `${server!.url}?preset=tiny&seed=${seed}&prompt=${encodeURIComponent(text)}&tokens=${TOKENS}&greedy=1`;
    // SwiftShader compiles pipelines slowly (10–30 s when the CPUs are shared with other test files).
    const { status, page } = await runDemoPage(await browser(), url, 150_000, (l) => console.info(l));
    try {
      expect(status.error, JSON.stringify(status.error)).toBeUndefined();
      expect(status.state).toBe('done');
      expect(status.dtype).toBe('f32'); // SwiftShader: no shader-f16
      expect(status.prompt).toEqual(prompt);
      expect(status.tokens, `seed ${seed}, prompt ${JSON.stringify(text)}`).toEqual(node.tokens[0]);
      expect(status.adapter).toMatch(/\S/);
      for (const id of ['ttft', 'tpot', 'tps', 'warmms']) {
        const v = Number(await page.textContent(`#${id}`));
        expect(v, `#${id} shown`).toBeGreaterThan(0);
      }
      expect(await page.textContent('#path')).toMatch(/path: f32 .*single GPU/);
      expect(await page.textContent('#out')).toBe(text + status.text);
      if (status.features?.['timestamp-query']) {
        expect(status.kernels!.length).toBeGreaterThan(3);
        expect(await page.locator('#kernels svg rect').count()).toBe(status.kernels!.length);
      }
      mkdirSync('out', { recursive: true });
      await page.screenshot({ path: 'out/demo-screenshot.png', fullPage: true });
    } finally {
      await page.close();
    }
  }, 200_000);

  it('the default model (fortune-4l, trained weights served beside the page) gives PyTorch\'s greedy tokens', async () => {
    // src/model/default/golden.json: torch_reference.py's Model in float32 on the shipped f16 weights.
    const golden = JSON.parse(readFileSync(new URL('../src/model/default/golden.json', import.meta.url), 'utf8')) as
      { golden: { text: string; prompt: number[]; tokens: number[] }[] };
    const g = golden.golden[1]!;
    const n = Math.min(16, g.tokens.length);
    const url = `${server!.url}?preset=fortune-4l&prompt=${encodeURIComponent(g.text)}&tokens=${n}&greedy=1&dtype=f32`;
    const { status, page } = await runDemoPage(await browser(), url, 150_000, (l) => console.info(l));
    try {
      expect(status.error, JSON.stringify(status.error)).toBeUndefined();
      expect(status.state).toBe('done');
      expect(status.prompt).toEqual(g.prompt);
      expect(status.tokens).toEqual(g.tokens.slice(0, n));
      expect(await page.textContent('#loadtext')).toMatch(/fortune-4l: 4 layers, hidden 256/);
    } finally {
      await page.close();
    }
  }, 200_000);

  it('Stop ends a run at its next token (Run disabled meanwhile); the next run clears the stopped one\'s results', async () => {
    const { page } = await openDemoPage(await browser(), `${server!.url}?preset=tiny&seed=3&prompt=ab&tokens=500`, (l) => console.info(l));
    try {
      // 500 tokens take seconds on SwiftShader: Stop as soon as two have arrived.
      await page.waitForFunction(() => (window as unknown as { __fapoolDemo: DemoStatus }).__fapoolDemo.tokens.length >= 2, undefined, { timeout: 150_000, polling: 50 });
      expect(await page.isDisabled('#run')).toBe(true);
      await page.click('#stop');
      await page.waitForFunction(() => (window as unknown as { __fapoolDemo: DemoStatus }).__fapoolDemo.state !== 'running', undefined, { timeout: 30_000, polling: 50 });
      const s = await page.evaluate(() => (window as unknown as { __fapoolDemo: DemoStatus }).__fapoolDemo);
      expect(s.state).toBe('stopped');
      expect(s.error).toBeUndefined();
      expect(s.tokens.length).toBeGreaterThanOrEqual(2);
      expect(s.tokens.length).toBeLessThan(500);
      expect(await page.textContent('#out')).toBe('ab' + s.text);
      expect(await page.textContent('#ids')).toBe(`token ids: ${s.tokens.join(' ')}`);
      expect(await page.textContent('#tpot')).toBe('—'); // a stopped run has no metrics
      expect(Number(await page.textContent('#warmms'))).toBeGreaterThan(0);
      expect(await page.isDisabled('#run')).toBe(false);
      expect(await page.isDisabled('#stop')).toBe(true);
      // The same model again: kept from the stopped run (it loaded and compiled everything again), the same greedy tokens.
      type S = { __fapoolDemo: DemoStatus };
      const runAgain = async () => {
        await page.click('#run');
        await page.waitForFunction(() => ['done', 'error'].includes((window as unknown as S).__fapoolDemo.state), undefined, { timeout: 150_000, polling: 50 });
        return page.evaluate(() => (window as unknown as S).__fapoolDemo);
      };
      await page.fill('#tokens', '2');
      const again = await runAgain();
      expect(again.error, JSON.stringify(again.error)).toBeUndefined();
      expect(again.reused).toBe(true);
      expect(again.tokens).toEqual(s.tokens.slice(0, 2));
      expect(await page.textContent('#warmms')).toBe('kept');
      expect(await page.textContent('#loadtext')).toMatch(/\(kept from the last run\)$/);
      // Another seed is other random weights: loaded anew, never the kept ones.
      await page.fill('#seed', '4');
      const other = await runAgain();
      expect(other.error, JSON.stringify(other.error)).toBeUndefined();
      expect(other.reused).toBe(false);
      expect(Number(await page.textContent('#warmms'))).toBeGreaterThan(0);
      // The next run fails at once (tokens 0): nothing of the last run may stay on the page.
      await page.fill('#tokens', '0');
      await page.click('#run');
      await page.waitForFunction(() => (window as unknown as { __fapoolDemo: DemoStatus }).__fapoolDemo.state === 'error', undefined, { timeout: 30_000 });
      expect(await page.textContent('#error')).toBe('Invalid input: tokens must be a positive integer, got "0"');
      for (const id of ['warmms', 'ttft', 'tpot', 'tps', 'loadms', 'kernels', 'adapter']) expect(await page.textContent(`#${id}`), `#${id}`).toBe('—');
      for (const id of ['ids', 'out', 'path']) expect(await page.textContent(`#${id}`), `#${id}`).toBe('');
    } finally {
      await page.close();
    }
  }, 200_000);

  it('refuses bad form values before opening a device or compiling, naming the form\'s values', async () => {
    const cases: [string, RegExp][] = [
      // A sampled run with a negative temperature failed only after the warm-up; with none ('abc' leaves a number input empty) it ran greedy.
      ['greedy=0&temperature=-1&tokens=2', /^Invalid input: temperature must be a number >= 0 \(0 samples greedily\), got "-1"$/],
      ['greedy=0&temperature=abc&tokens=2', /^Invalid input: temperature must be a number >= 0 \(0 samples greedily\), got an empty field \(or text that is not a number\)$/],
      // Reached createBuffer as a NaN size.
      ['dtype=bf16&tokens=2', /^Invalid input: dtype must be auto, f32 or f16, got "bf16"$/],
      ['seed=-1&tokens=2', /^Invalid input: seed must be an integer in 0\.\.4294967295, got "-1"$/],
      // Over the context: failed after the warm-up, and a long prompt was reported with the warm-up's 2 tokens.
      ['prompt=ab&tokens=600', /^Invalid input: prompt 0 has 2 tokens; with 600 new tokens that exceeds the model's context of 512$/],
      [`prompt=${'x'.repeat(600)}&tokens=4`, /^Invalid input: prompt 0 has 600 tokens; with 4 new tokens that exceeds the model's context of 512$/],
    ];
    for (const [query, message] of cases) {
      const { status, page } = await runDemoPage(await browser(), `${server!.url}?preset=tiny&${query}`, 30_000, (l) => console.info(l));
      try {
        expect(status.state, query).toBe('error');
        expect(await page.textContent('#error'), query).toMatch(message);
        expect(await page.textContent('#warmms'), query).toBe('—'); // no pipeline was compiled
      } finally {
        await page.close();
      }
    }
  });

  it('shows clear in-page errors: no WebGPU, no adapter, f16 without shader-f16, unknown preset', async () => {
    // No WebGPU: hide navigator.gpu before the page runs.
    const ctx = await (await browser()).newContext();
    await ctx.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }); });
    const noGpu = await ctx.newPage();
    await noGpu.goto(`${server!.url}?preset=tiny&tokens=2`);
    await noGpu.waitForFunction(() => (window as unknown as { __fapoolDemo: { state: string } }).__fapoolDemo.state === 'error', undefined, { timeout: 20_000 });
    expect(await noGpu.textContent('#error')).toMatch(/No WebGPU adapter: this browser has no WebGPU/);
    await ctx.close();

    // WebGPU but no adapter (a blocklisted GPU): requestAdapter() answers null.
    const noAdapterCtx = await (await browser()).newContext();
    await noAdapterCtx.addInitScript(() => { GPU.prototype.requestAdapter = () => Promise.resolve(null); });
    const noAdapter = await noAdapterCtx.newPage();
    await noAdapter.goto(`${server!.url}?preset=tiny&tokens=2`);
    await noAdapter.waitForFunction(() => (window as unknown as { __fapoolDemo: { state: string } }).__fapoolDemo.state === 'error', undefined, { timeout: 20_000 });
    expect(await noAdapter.textContent('#error')).toMatch(/^No WebGPU adapter: This browser exposes no WebGPU adapter/);
    await noAdapterCtx.close();

    const f16 = await runDemoPage(await browser(), `${server!.url}?preset=tiny&tokens=2&dtype=f16`, 30_000, (l) => console.info(l));
    if (f16.status.features?.f16) {
      expect(f16.status.state).toBe('done'); // an adapter with f16 runs the f16 path
    } else {
      expect(f16.status.error?.kind).toBe("Beyond this GPU's limits");
      expect(await f16.page.textContent('#error')).toMatch(/needs shader-f16, which this adapter lacks/);
    }
    await f16.page.close();

    const bad = await runDemoPage(await browser(), `${server!.url}?preset=huge&tokens=2`, 30_000, (l) => console.info(l));
    expect(bad.status.state).toBe('error');
    expect(await bad.page.textContent('#error')).toMatch(/unknown model preset 'huge'/);
    await bad.page.close();
  });
});
