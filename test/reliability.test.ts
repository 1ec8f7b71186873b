// Reliability on the real (lavapipe) device: a device lost mid-generation, allocations that fail, a shader
// that fails validation, CLI failures that must end in one `error:` line, and a 2,000-token soak whose
// buffers, pipelines, bind groups and RSS stay flat.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeviceLostError, GpuValidationError, LimitError, defineProgram, openGpu, type DType, type Gpu,
} from '../src/gpu/index.js';
import { presetConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { rng, useGpu } from './helpers.js';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
const gpu = useGpu();
const cfg = presetConfig('tiny');
const dir = mkdtempSync(join(tmpdir(), 'fapool-rel-'));
const weightsPath = join(dir, 'tiny.safetensors');
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

beforeAll(() => writeRandomWeights(weightsPath, cfg, { seed: 5, dtype: 'f32' }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function load(g: Gpu): Promise<Weights> {
  const f = await openSafetensors(weightsPath);
  try { return (await loadWeights(g, f.source(), cfg, 'f32')).weights; } finally { await f.close(); }
}
const prompts = (r: ReturnType<typeof rng>, lens: number[]) => lens.map((n) => Array.from({ length: n }, () => r.int(0, cfg.vocab)));

describe('GPU faults', () => {
  it('device lost mid-generation → DeviceLostError naming it; a new device reloads and generates the same tokens', async () => {
    const r = rng();
    const ps = prompts(r, [7, 19]);
    const victim = await openGpu({ label: 'victim-device' });
    const gen = new Generator(victim, cfg, await load(victim), 'f32');
    const reference = (await gen.generate(ps, { maxNewTokens: 10, sampling: GREEDY })).tokens;
    let seen = 0;
    const err = await gen.generate(ps, {
      maxNewTokens: 10, sampling: GREEDY, onToken: () => { if (++seen === 5) victim.device.destroy(); },
    }).catch((e: unknown) => e);
    expect(err, String(err)).toBeInstanceOf(DeviceLostError);
    expect((err as Error).message).toMatch(/GPU device 'victim-device' was lost/);
    expect(seen, 'generation stopped soon after the loss').toBeLessThan(10);
    expect(() => victim.tensor([4], 'f32')).toThrow(DeviceLostError);
    gen.dispose(); // releasing on a lost device must not throw
    victim.destroy();

    const fresh = await openGpu({ label: 'replacement' });
    try {
      const w = await load(fresh);
      const gen2 = new Generator(fresh, cfg, w, 'f32');
      expect((await gen2.generate(ps, { maxNewTokens: 10, sampling: GREEDY })).tokens).toEqual(reference);
      gen2.dispose(); releaseWeights(fresh, w);
    } finally {
      fresh.destroy();
    }
  });

  it('allocations over maxBufferSize / the binding limit → LimitError, nothing left allocated, the Gpu keeps working', async () => {
    const g = await gpu();
    const before = g.liveBuffers, bytesBefore = g.liveBytes;
    const labelsBefore = [...(g as unknown as { live: Map<GPUBuffer, number> }).live.keys()].map((b) => b.label).filter((l) => !l.startsWith('rope_freqs'));
    // Sizes within 15 bytes of the limit used to pass the check and then fail inside Dawn (rounded up to 16): every
    // size above the limit's last multiple of 16 (lavapipe: 2^32 - 15 .. 2^32 - 1). None where the limit is itself a
    // multiple of 16 (the H200: 2^40), where such a size rounds to the limit and is a real allocation.
    const max = g.caps.maxBufferSize;
    const edge = Array.from({ length: max % 16 }, (_, i) => max - (max % 16) + 1 + i);
    for (const bytes of [max + 1, ...edge, 2 ** 53]) {
      expect(() => g.createBuffer(bytes, GPUBufferUsage.STORAGE, 'too-big'), String(bytes)).toThrow(LimitError);
    }
    expect(() => g.tensor([Math.floor(g.caps.maxStorageBinding / 4) + 4], 'f32', 'too-wide')).toThrow(/maxStorageBufferBindingSize/);
    // A batch whose KV cache / activations cannot exist on this device: nothing of the half-built run stays.
    const w = await load(g);
    const afterWeights = g.liveBuffers;
    const gen = new Generator(g, cfg, w, 'f32');
    // The KV cache splits into groups under the binding limit, but the logits [slots, vocab] f32 cannot.
    const slots = Math.floor(g.caps.maxStorageBinding / (cfg.vocab * 4)) + 1;
    const many = Array.from({ length: slots }, () => [1]);
    await expect(gen.generate(many, { maxNewTokens: 2, sampling: GREEDY })).rejects.toThrow(LimitError);
    expect(g.liveBuffers, 'the failed batch released what it had allocated').toBe(afterWeights);
    const ok = await gen.generate([[1, 2, 3]], { maxNewTokens: 3, sampling: GREEDY });
    expect(ok.tokens[0]).toHaveLength(3);
    gen.dispose(); releaseWeights(g, w);
    await g.sync();
    // Everything released but per-device caches (RoPE tables) and the reused uniform arena.
    const live = [...(g as unknown as { live: Map<GPUBuffer, number> }).live.keys()].map((b) => b.label).filter((l) => !l.startsWith('rope_freqs'));
    expect(live).toEqual(labelsBefore);
    void before; void bytesBefore;
  });

  it('an out-of-memory allocation (error scope) → GpuValidationError at sync; release it and the Gpu keeps working', async () => {
    // lavapipe allocates lazily and never reports OOM (40 × 4 GiB buffers succeed on a 23 GiB host), so the
    // driver's answer is injected at the error scope; everything after it (sync, message, recovery) is real.
    const g = await gpu();
    const before = g.liveBuffers;
    const dev = g.device as GPUDevice & { popErrorScope: GPUDevice['popErrorScope'] };
    const orig = dev.popErrorScope.bind(dev);
    let pops = 0;
    dev.popErrorScope = async () => {
      const real = await orig();
      // createBuffer pops the validation scope first, then the out-of-memory one.
      return ++pops === 2 ? new GPUOutOfMemoryError('Out of memory (injected): allocation of 17179869184 bytes failed') : real;
    };
    let b: GPUBuffer;
    try {
      b = g.createBuffer(1 << 20, GPUBufferUsage.STORAGE, 'oom-victim');
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      dev.popErrorScope = orig;
    }
    await expect(g.sync()).rejects.toThrow(GpuValidationError);
    g.release(b!);
    expect(g.liveBuffers).toBe(before);
    await g.sync(); // the error was reported once; the device goes on
    const t = g.tensor([4], 'f32', 'after-oom');
    g.write(t, new Float32Array([1, 2, 3, 4]));
    expect(Array.from(await g.read(t))).toEqual([1, 2, 3, 4]);
    g.release(t);
  });

  it('a shader that fails validation → GpuValidationError carrying the compiler message; the Gpu keeps working', async () => {
    const g = await gpu();
    const bad = defineProgram<{ dtype: DType }>({ name: 'bad', file: 'testing.wgsl', entry: 'scale_copy',
      specialize: () => ({ aliases: { T: 'f32' }, constants: { WG: 100000 } }) });
    g.program(bad, { dtype: 'f32' });
    const err = await g.sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect((err as Error).message).toMatch(/WebGPU error on 'test'.*(workgroup|invocations|limit)/is);
    await g.sync();
    const t = g.tensor([2], 'f32');
    g.write(t, new Float32Array([5, 6]));
    expect(Array.from(await g.read(t))).toEqual([5, 6]);
    g.release(t);
  });
});

// ------------------------------------------------------------------ CLI failures (compiled dist)

function cli(args: string[]): { code: number | null; errorLines: string[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'run-inference.js'), ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, FAPOOL_CACHE: dir },
  });
  return { code: r.status, stderr: r.stderr, errorLines: r.stderr.split('\n').filter((l) => l.startsWith('error:')) };
}

describe('CLI failures end in one `error:` line and a non-zero exit (dist/run-inference.js)', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    ['unknown flag', () => ['--bogus-flag', '1'], 2, /bogus-flag/],
    ['truncated weights file', () => {
      const bytes = readFileSync(weightsPath);
      const p = join(dir, 'truncated.safetensors');
      writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      return ['--model', p, '--quiet', '--dtype', 'f32'];
    }, 1, /truncated\.safetensors: safetensors: .*(truncated|beyond)/],
    ['prompt too long', () => ['--model', weightsPath, '--prompt-len', '600', '--max-new-tokens', '4', '--quiet', '--dtype', 'f32'], 2, /exceeds the model's context of 512/],
    ['malformed config.json', () => {
      const p = join(dir, 'bad-config.json');
      writeFileSync(p, '{"hidden_size": 64,');
      return ['--model', weightsPath, '--config', p, '--quiet', '--dtype', 'f32'];
    }, 1, /bad-config\.json is not valid JSON/],
  ];
  for (const [what, args, code, msg] of cases) {
    it(what, () => {
      const r = cli(args());
      expect(r.code, r.stderr).toBe(code);
      expect(r.errorLines, r.stderr).toHaveLength(1);
      expect(r.errorLines[0]).toMatch(msg);
      expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    });
  }
});

// ------------------------------------------------------------------ soak

describe('soak', () => {
  it('2,000+ sampled tokens in a mixed batch: buffers, pipelines, bind groups and RSS flat after warm-up', async () => {
    // A real collection before each RSS reading (vitest's workers run without --expose-gc).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const g = await gpu();
    const w = await load(g);
    const gen = new Generator(g, cfg, w, 'f32');
    // Count every bind group the device makes (dispatch preparation is the only place that creates them).
    const dev = g.device as GPUDevice & { createBindGroup: GPUDevice['createBindGroup'] };
    const origBG = dev.createBindGroup.bind(dev);
    let bindGroups = 0;
    dev.createBindGroup = (d) => { bindGroups++; return origBG(d); };
    const r = rng();
    const LENS = [5, 41, 17], NEW = 136, ROUNDS = 7; // 3 × 136 × 5 = 2,040 tokens after two warm-up rounds; prompts fresh each round
    const snap = () => {
      const m = process.memoryUsage();
      return { buffers: g.liveBuffers, programs: g.programCount, bindGroups, rss: m.rss, js: m.heapUsed + m.arrayBuffers };
    };
    let warm: ReturnType<typeof snap> | null = null;
    let tokens = 0;
    const rssLog: number[] = [], jsLog: number[] = [];
    const t0 = performance.now();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const res = await gen.generate(prompts(r, LENS), { maxNewTokens: NEW, sampling: { temperature: 0.8, topK: 40, topP: 0.95, seed: r.int(0, 1 << 30) } });
        expect(res.tokens.map((t) => t.length)).toEqual([NEW, NEW, NEW]);
        for (const t of res.tokens) for (const id of t) expect(id >= 0 && id < cfg.vocab).toBe(true);
        tokens += res.outputTokens;
        gc();
        const m = process.memoryUsage();
        rssLog.push(Math.round(m.rss / 2 ** 20));
        jsLog.push(Math.round((m.heapUsed + m.arrayBuffers) / 2 ** 20 * 10) / 10);
        if (round === 1) { warm = snap(); tokens = 0; } // lavapipe/glibc settle over two rounds
      }
    } finally {
      dev.createBindGroup = origBG;
    }
    gc();
    const end = snap();
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.info(`[soak] ${tokens} tokens after warm-up in ${((performance.now() - t0) / 1000).toFixed(1)} s; after warm-up → end: buffers ${warm!.buffers} → ${end.buffers}, ` +
      `pipelines ${warm!.programs} → ${end.programs}, bind groups created ${warm!.bindGroups} → ${end.bindGroups}, RSS ${mib(warm!.rss)} → ${mib(end.rss)} MiB (per round: ${rssLog.join(', ')}), JS heap + array buffers ${mib(warm!.js)} → ${mib(end.js)} MiB (per round: ${jsLog.join(', ')})`);
    expect(tokens).toBeGreaterThanOrEqual(2000);
    expect(end.buffers).toBe(warm!.buffers);
    expect(end.programs).toBe(warm!.programs);
    expect(end.bindGroups, 'no bind group is created per token or per request').toBe(warm!.bindGroups);
    // The JS side is exact after a collection: what a request leaves behind on the heap or in array buffers shows here.
    expect(end.js - warm!.js, `JS heap + array buffers within +4 MiB after warm-up (MiB per round: ${jsLog.join(', ')})`).toBeLessThan(4 * 2 ** 20);
    // The native side (Dawn, lavapipe, glibc) only through RSS, whose readings swing ±15 MiB between rounds and settle
    // over ~3 rounds; under a loaded machine a settled floor rose by 33 MiB once in eight full-suite runs (294 → 327)
    // with every counter above flat. A native leak of 50 KiB a token (40 MiB over the two rounds between the floors) fails.
    const settled = Math.min(rssLog[2]!, rssLog[3]!), endFloor = Math.min(...rssLog.slice(-2));
    expect(rssLog.length).toBeGreaterThanOrEqual(6);
    expect(endFloor - settled, `RSS within +40 MiB after warm-up (MiB per round: ${rssLog.join(', ')})`).toBeLessThan(40);
    gen.dispose(); releaseWeights(g, w);
  });
});
