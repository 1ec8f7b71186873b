// The decoder end to end on the real (software) GPU: the tiny preset's random weights written to a
// safetensors file, loaded, and run; checked against the float64 reference model (test/ref/model.ts),
// in batches of different lengths, with chunked prefill, and for a flat buffer count over many tokens.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DType, Gpu } from '../src/gpu/index.js';
import { presetConfig, type ModelConfig } from '../src/model/config.js';
import { batchShape, prefillChunks } from '../src/model/generation.js';
import { chooseDecodeKernel, decodePairApplies } from '../src/kernels/attention.js';
import { ropeEpilogueApplies } from '../src/kernels/gemm.js';
import { Generator } from '../src/model/generator.js';
import { APPEND_AFTER_MIN_CACHE_BYTES, appendAfter } from '../src/model/device-model.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { NO_POSITION } from '../src/model/run-state.js';
import { expectedWeights } from '../src/model/weight-names.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { compare, expectGreedyAgree, NEAR_TIE, rng, useGpu, withEnv } from './helpers.js';
import { RefModel, type RefWeights } from './ref/model.js';

const gpu = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'fapool-model-'));
const path = join(dir, 'tiny.safetensors');
const cfg: ModelConfig = presetConfig('tiny');
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
let refWeights: RefWeights;
const loaded = new Map<DType, { gen: Generator; weights: Weights }>();

async function generator(g: Gpu, dtype: DType): Promise<Generator> {
  let e = loaded.get(dtype);
  if (!e) {
    const f = await openSafetensors(path);
    const { weights } = await loadWeights(g, f.source(), cfg, dtype);
    await f.close();
    e = { gen: new Generator(g, cfg, weights, dtype), weights };
    loaded.set(dtype, e);
  }
  return e.gen;
}

/** `steps` decode steps of slot 0 alone (every other slot idle) after its prompt of `len` tokens: its tokens. */
async function decodeSlot0(gen: Generator, len: number, steps: number): Promise<number[]> {
  const B = gen.model.slots, out: number[] = [];
  for (let step = 1; step <= steps; step++, len++) {
    const rows = new Uint32Array(2 * B), lengths = new Uint32Array(B);
    for (let b = 0; b < B; b++) { rows[2 * b] = b; rows[2 * b + 1] = NO_POSITION; }
    rows[1] = len;
    lengths[0] = len + 1;
    await gen.decode({ step, rows, lengths, history: () => [] }, step % 2);
    out.push((await gen.readTokens(step % 2))[0]!);
  }
  return out;
}

/** `prompts` prefilled as one batch, then slot 0's first token and 5 decode steps with every other slot idle. */
async function slot0Alone(gen: Generator, prompts: number[][]): Promise<number[]> {
  const shape = batchShape(cfg, prompts, { maxNewTokens: 6 });
  gen.prepare(shape, GREEDY);
  for (const c of prefillChunks(prompts, shape.chunk)) await gen.prefill(c);
  await gen.sampleFirst(0);
  return [(await gen.readTokens(0))[0]!, ...await decodeSlot0(gen, prompts[0]!.length, 5)];
}

function prompt(r: ReturnType<typeof rng>, n: number): number[] {
  return Array.from({ length: n }, () => r.int(0, cfg.vocab));
}

beforeAll(async () => {
  await writeRandomWeights(path, cfg, { seed: 7, dtype: 'f32' });
  const f = await openSafetensors(path);
  refWeights = new Map();
  for (const { name } of expectedWeights(cfg)) refWeights.set(name, Float64Array.from(await f.readTensorF32(name)));
  await f.close();
});
afterAll(() => { for (const e of loaded.values()) e.gen.dispose(); });

describe('a SwiGLU model (Llama, Mistral: SiLU in the gated FFN) vs float64 reference', () => {
  const silu: ModelConfig = { ...cfg, name: 'tiny-silu', act: 'silu' };
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: first-token logits and 8 greedy tokens`, async () => {
      const g = await gpu();
      const file = join(dir, 'tiny-silu.safetensors');
      await writeRandomWeights(file, silu, { seed: 8, dtype: 'f32' });
      const f = await openSafetensors(file);
      const w64: RefWeights = new Map();
      for (const { name } of expectedWeights(silu)) w64.set(name, Float64Array.from(await f.readTensorF32(name)));
      const { weights } = await loadWeights(g, f.source(), silu, dtype);
      await f.close();
      const gen = new Generator(g, silu, weights, dtype);
      try {
        const r = rng();
        const p = prompt(r, r.int(5, 40));
        const ref = new RefModel(silu, w64).greedy(p, 8);
        const res = await gen.generate([p], { maxNewTokens: 8, sampling: GREEDY, captureLogits: true });
        expect(compare(res.firstLogits![0]!, ref.logits[0]!).rel, `logits rel error (seed ${r.seed})`).toBeLessThan(dtype === 'f32' ? 1e-5 : 1e-2);
        // The same model with GELU gives other logits: the activation is the one asked for.
        const gelu = new RefModel(cfg, w64).greedy(p, 1);
        expect(compare(res.firstLogits![0]!, gelu.logits[0]!).rel, 'against the GELU model').toBeGreaterThan(1e-3);
        if (dtype === 'f32') expectGreedyAgree(silu, w64, [p], res.tokens, [ref.tokens], `seed ${r.seed}`);
      } finally {
        gen.dispose();
        releaseWeights(g, weights);
      }
    });
  }
});

describe('tiny decoder vs float64 reference', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: first-token logits and 12 greedy tokens`, async () => {
      const g = await gpu();
      const gen = await generator(g, dtype);
      const r = rng();
      const p = prompt(r, r.int(5, 40));
      const ref = new RefModel(cfg, refWeights).greedy(p, 12);
      const res = await gen.generate([p], { maxNewTokens: 12, sampling: GREEDY, captureLogits: true });
      const c = compare(res.firstLogits![0]!, ref.logits[0]!);
      // f32: accumulated rounding of 2 layers; f16 storage of activations/weights: ~1e-3 relative.
      expect(c.rel, `logits rel error (seed ${r.seed})`).toBeLessThan(dtype === 'f32' ? 1e-5 : 1e-2);
      // f32: the reference's tokens, or a parting at a near-tie of its logits (f32 rounding may take either).
      if (dtype === 'f32') { expectGreedyAgree(cfg, refWeights, [p], res.tokens, [ref.tokens], `seed ${r.seed}`); return; }
      // f16: the first 3 tokens follow the float64 path unless it parts at a near-tie (two logits within f16
      // rounding of each other in the float64 reference at that step): then the GPU's pick must be one of them.
      const got = res.tokens[0]!, k = got.slice(0, 3).findIndex((t, i) => t !== ref.tokens[i]);
      if (k < 0) return;
      const logits = ref.logits[k]!, top = Math.max(...logits), scale = Math.max(...logits.map(Math.abs));
      expect((top - logits[got[k]!]!) / scale, `seed ${r.seed}: step ${k} took ${got[k]} against the reference's ${ref.tokens[k]}, not a near-tie`).toBeLessThan(5e-3);
    });
  }

  it('a batch of different lengths decodes as each sequence alone', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const r = rng();
    const prompts = [prompt(r, 33), prompt(r, 1), prompt(r, 17)];
    const batch = await gen.generate(prompts, { maxNewTokens: 10, sampling: GREEDY });
    expectGreedyAgree(cfg, refWeights, prompts, batch.tokens, prompts.map((p) => new RefModel(cfg, refWeights).greedy(p, 10).tokens), `seed ${r.seed}`);
    expect(batch.inputTokens).toBe(51);
    expect(batch.outputTokens).toBe(30);
  });

  it('a seeded draw does not depend on whether its row class was built before the step (a fresh generator vs a compiled one)', async () => {
    const g = await gpu();
    const r = rng();
    const prompts = [prompt(r, 9), prompt(r, 5), prompt(r, 7), prompt(r, 3)];
    const sampling = { temperature: 1.5, topK: 0, topP: 1, seed: 1234 };
    const f = await openSafetensors(path);
    const { weights } = await loadWeights(g, f.source(), cfg, 'f32');
    await f.close();
    const runs: number[][] = [];
    for (const compiled of [false, true]) {
      const gen = new Generator(g, cfg, weights, 'f32');
      try {
        const shape = batchShape(cfg, prompts, { maxNewTokens: 6 });
        if (compiled) await gen.precompile(shape, sampling, [shape.chunk]);
        gen.prepare(shape, sampling);
        for (const c of prefillChunks(prompts, shape.chunk)) await gen.prefill(c);
        await gen.sampleFirst(0);
        // Slot 0 alone: a one-row step, built mid-generation when not compiled.
        runs.push([(await gen.readTokens(0))[0]!, ...await decodeSlot0(gen, prompts[0]!.length, 5)]);
      } finally {
        gen.model.dispose();
      }
    }
    releaseWeights(g, weights);
    expect(runs[0], `seed ${r.seed}`).toEqual(runs[1]);
  });

  it('a step over the busy rows only: the rows a step runs, the same tokens, idle slots\' ids left as they are', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const m = gen.model;
    const r = rng();
    const prompts = [prompt(r, 9), prompt(r, 5), prompt(r, 7), prompt(r, 3), prompt(r, 4), prompt(r, 6)];
    const shape = batchShape(cfg, prompts, { maxNewTokens: 6 });
    gen.prepare(shape, GREEDY);
    expect(m.rowClasses()).toEqual([1, 2, 4, 6]);
    const busy = (...at: number[]) => m.busyRows(Uint32Array.from({ length: 6 }, (_, b) => (at.includes(b) ? 9 : 0)));
    expect([busy(), busy(0), busy(1), busy(0, 2), busy(3), busy(5), busy(0, 4)]).toEqual([1, 1, 2, 4, 4, 6, 6]);
    for (const c of prefillChunks(prompts, shape.chunk)) await gen.prefill(c);
    await gen.sampleFirst(0);
    const first = (await gen.readTokens(0))[0]!;
    const idle = Array.from(await g.read(m.state.nextIds) as Uint32Array).slice(1);
    const tokens = [first, ...await decodeSlot0(gen, prompts[0]!.length, 5)]; // slot 0 alone: one row a step
    expectGreedyAgree(cfg, refWeights, [prompts[0]!], [tokens], [new RefModel(cfg, refWeights).greedy(prompts[0]!, 6).tokens], `seed ${r.seed}`);
    expect(Array.from(await g.read(m.state.nextIds) as Uint32Array).slice(1)).toEqual(idle);
  });

  it('sequences of very different lengths get separate cache groups and decode as each alone (f32 and f16)', async () => {
    const g = await gpu();
    const r = rng();
    // Capacities 16, 224, 16, 240: the long ones and the short ones do not share a cache tensor.
    const prompts = [prompt(r, 2), prompt(r, 200), prompt(r, 5), prompt(r, 220)];
    for (const dtype of (g.caps.f16 ? ['f32', 'f16'] : ['f32']) as DType[]) {
      const gen = await generator(g, dtype);
      const batch = await gen.generate(prompts, { maxNewTokens: 8, sampling: GREEDY });
      expect(gen.model.kv.groups.length, 'cache groups').toBeGreaterThan(1);
      const alone: number[][] = [];
      for (const p of prompts) alone.push((await gen.generate([p], { maxNewTokens: 8, sampling: GREEDY })).tokens[0]!);
      // Four rows take other kernels than one (the norm apart from the products past NORM_PROLOGUE_MAX_M rows) and, in
      // f16, split attention over KV differently (the group's longest length sets the split), so the sums round
      // differently; greedy paths may part only where two logits tie within that rounding, judged on the float64
      // reference fed the common prefix.
      expectGreedyAgree(cfg, refWeights, prompts, batch.tokens, alone, `${dtype} in the batch against alone (seed ${r.seed})`, dtype === 'f32' ? NEAR_TIE.f32 : 5e-3);
    }
  });

  it('FAPOOL_DECODE_APPEND=after (K/V appended after the attention, which reads them from qkv): the same tokens and logits, several cache groups, idle slots', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || chooseDecodeKernel(g.caps, 'f16', cfg.headDim) !== 'subgroup') { ctx.skip(); return; }
    const r = rng();
    const prompts = [prompt(r, 2), prompt(r, 200), prompt(r, 5), prompt(r, 220)];
    await generator(g, 'f16');
    const weights = loaded.get('f16')!.weights;
    const run = (mode: string | undefined, merge?: string) => withEnv('FAPOOL_DECODE_MERGE', merge, () => withEnv('FAPOOL_DECODE_APPEND', mode, async () => {
      const gen = new Generator(g, cfg, weights, 'f16');
      try {
        const batch = await gen.generate(prompts, { maxNewTokens: 8, sampling: GREEDY });
        expect(gen.model.kv.groups.length, 'cache groups').toBeGreaterThan(1);
        const alone = await gen.generate([prompts[1]!, prompts[3]!], { maxNewTokens: 6, sampling: GREEDY });
        const appended = (gen.model as unknown as { appendAfter: boolean }).appendAfter;
        const copyLaunch = gen.model.decode().layers[0]!.oProj.length > 1; // else the attention's merge appends
        const logits = Array.from(await gen.readLogits());
        // Slot 0 alone, the other slots idle (no position, length 0): steps over the busy rows only.
        const slot0 = await slot0Alone(gen, prompts);
        return { tokens: [...batch.tokens, ...alone.tokens, slot0], logits, appended, copyLaunch };
      } finally {
        gen.dispose();
      }
    }));
    const base = await run('rope'), after = await run('after'), auto = await run(undefined), copied = await run('after', 'plain');
    expect([base.appended, after.appended, auto.appended, copied.appended], 'auto: rope for a cache this small').toEqual([false, true, false, true]);
    expect([after.copyLaunch, copied.copyLaunch], 'the subgroup merge appends; the plain one needs the copy launch').toEqual([false, true]);
    expect(auto.tokens).toEqual(base.tokens);
    expect(after.tokens, `seed ${r.seed}`).toEqual(base.tokens);
    expect(after.logits).toEqual(base.logits);
    expect(copied.tokens, `seed ${r.seed}`).toEqual(base.tokens);
    await expect(run('later')).rejects.toThrow(/FAPOOL_DECODE_APPEND=later/);
  });

  it('FAPOOL_DECODE_PAIR=on / merge (two neighbouring cache groups\' decode attention in one launch or one a group, merged once): the same tokens and logits bit for bit, with the K/V appended by the RoPE or by the merges, idle slots', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || chooseDecodeKernel(g.caps, 'f16', cfg.headDim) !== 'subgroup' || !decodePairApplies(g.caps, 'f16', cfg.headDim)) { ctx.skip(); return; }
    const r = rng();
    // Two slots a capacity (a group starts at an even slot here: q's rows bind at 256-byte offsets), short and long
    // in turn: five cache groups, paired (0, 1) and (2, 3), the last alone.
    const prompts = [2, 3, 200, 210, 5, 7, 220, 230, 9].map((n) => prompt(r, n));
    await generator(g, 'f16');
    const weights = loaded.get('f16')!.weights;
    const run = (pair: string, append: string) => withEnv('FAPOOL_DECODE_PAIR', pair, () => withEnv('FAPOOL_DECODE_APPEND', append, async () => {
      const gen = new Generator(g, cfg, weights, 'f16');
      try {
        const batch = await gen.generate(prompts, { maxNewTokens: 8, sampling: GREEDY });
        expect(gen.model.kv.groups.length, 'cache groups').toBe(5);
        const launches = gen.model.decode().plans.map((layer) => layer.map((p) => p.dispatches.length));
        const logits = Array.from(await gen.readLogits());
        // The first slots alone, the others idle: steps over the busy rows only (row classes 1, 2 and 4).
        const slot0 = await slot0Alone(gen, prompts);
        return { tokens: [...batch.tokens, slot0], logits, launches };
      } finally {
        gen.dispose();
      }
    }));
    for (const append of ['rope', 'after']) {
      const off = await run('off', append), on = await run('on', append), merge = await run('merge', append);
      expect(off.launches[0], append).toEqual([2, 2, 2, 2, 2]);
      expect(on.launches[0], `${append}: groups 0+1 and 2+3 in one launch and merge each`).toEqual([2, 0, 2, 0, 2]);
      expect(merge.launches[0], `${append}: groups 0+1 and 2+3 in two launches and one merge each`).toEqual([3, 0, 3, 0, 2]);
      for (const [name, x] of [['on', on], ['merge', merge]] as const) {
        expect(x.tokens, `${name} ${append} seed ${r.seed}`).toEqual(off.tokens);
        expect(x.logits, `${name} ${append}`).toEqual(off.logits);
      }
    }
    await expect(run('yes', 'rope')).rejects.toThrow(/FAPOOL_DECODE_PAIR=yes/);
  });

  it('FAPOOL_DECODE_APPEND auto: after from APPEND_AFTER_MIN_CACHE_BYTES a layer on the subgroup kernel where every qkv row binds, rope otherwise; a forced after without the kernel is refused', () => {
    const n = APPEND_AFTER_MIN_CACHE_BYTES;
    const f = (subgroupKernel: boolean, cacheBytes: number, qkvRowsAligned = true) => ({ subgroupKernel, cacheBytes, qkvRowsAligned });
    expect([appendAfter('auto', f(true, n - 1), 'm'), appendAfter('auto', f(true, n), 'm'), appendAfter('auto', f(false, 4 * n), 'm'),
      appendAfter('auto', f(true, 4 * n, false), 'm')]).toEqual([false, true, false, false]);
    expect([appendAfter('rope', f(true, 4 * n), 'm'), appendAfter('after', f(true, 1), 'm')]).toEqual([false, true]);
    expect(() => appendAfter('after', f(false, n), 'f32 D=64')).toThrow(/needs the subgroup decode kernel.*f32 D=64/);
    // seed-4l (32 KV heads of 128, f16): 32 slots of 4K are the threshold, 8 are below it.
    expect(2 * 32 * 4096 * 32 * 128 * 2).toBe(n);
  });

  it('chunked prefill gives the same logits as one launch', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const r = rng();
    const p = prompt(r, 45);
    const whole = await gen.generate([p], { maxNewTokens: 1, sampling: GREEDY, captureLogits: true });
    const chunked = await gen.generate([p], { maxNewTokens: 1, sampling: GREEDY, captureLogits: true, prefillChunk: 7 });
    expect(compare(chunked.firstLogits![0]!, whole.firstLogits![0]!).rel).toBeLessThan(1e-5);
  });

  it("the prefill's last layer runs past its K/V only for the last row (widened to a bindable row), and in no chunk but the last", async () => {
    const g = await gpu();
    const gen = await generator(g, 'f16'); // tiny f16: a 64-wide row is 128 bytes, so rows bind in steps of 2
    const r = rng();
    for (const n of [21, 22]) {
      const p = prompt(r, n);
      const recorded = new Set<unknown>();
      const encode = g.commandBuffer.bind(g);
      g.commandBuffer = (steps) => { for (const st of steps) recorded.add(st); return encode(steps); };
      let res;
      const submits = g.counts.submits;
      try {
        res = await gen.generate([p], { maxNewTokens: 1, sampling: GREEDY, captureLogits: true });
      } finally {
        g.commandBuffer = encode;
      }
      // The prefill goes to the GPU in pieces (the GPU starts while the rest encode), then the first token's head.
      expect(g.counts.submits - submits, 'submissions of a prefill and its first token').toBeGreaterThanOrEqual(3);
      const prog = gen.model.prefill(n, 0), last = prog.layers[cfg.nLayers - 1]!;
      expect(prog.tail?.rows, `prompt of ${n}`).toBe(n % 2 === 0 ? 2 : 1);
      expect([...prog.tail!.oProj, ...prog.tail!.ffn, ...prog.tail!.attn.steps].every((st) => recorded.has(st))).toBe(true);
      expect([...last.oProj, ...last.ffn, ...prog.attn[cfg.nLayers - 1]!.steps].some((st) => recorded.has(st)), 'the whole chunk past the last K/V').toBe(false);
      expect(last.pre.every((st) => recorded.has(st)), "the last layer's K/V for every row").toBe(true);
      const ref = new RefModel(cfg, refWeights).greedy(p, 1);
      expect(compare(res.firstLogits![0]!, ref.logits[0]!).rel, `logits rel error, prompt of ${n} (seed ${r.seed})`).toBeLessThan(1e-2);
    }
    // A chunk that is not the prompt's last records nothing past the last layer's K/V; the last one (with p0 > 0, of
    // 14 rows and of 1) its tail, and the logits match the reference.
    for (const n of [30, 17]) {
      const p = prompt(r, n), recorded = new Set<unknown>();
      const encode = g.commandBuffer.bind(g);
      g.commandBuffer = (steps) => { for (const st of steps) recorded.add(st); return encode(steps); };
      let res;
      try {
        res = await gen.generate([p], { maxNewTokens: 1, sampling: GREEDY, captureLogits: true, prefillChunk: 16 });
      } finally {
        g.commandBuffer = encode;
      }
      const first = gen.model.prefill(16, 0), lastL = cfg.nLayers - 1, tail = gen.model.prefill(n - 16, 0).tail!;
      const full = [...first.layers[lastL]!.oProj, ...first.layers[lastL]!.ffn, ...first.attn[lastL]!.steps, ...first.tail!.oProj, ...first.tail!.ffn];
      expect(full.some((st) => recorded.has(st)), `prompt of ${n}: the first chunk ran its last layer past the K/V`).toBe(false);
      expect([...tail.oProj, ...tail.ffn, ...tail.attn.steps].every((st) => recorded.has(st)), `prompt of ${n}: the last chunk ran its tail`).toBe(true);
      const ref = new RefModel(cfg, refWeights).greedy(p, 1);
      expect(compare(res.firstLogits![0]!, ref.logits[0]!).rel, `logits rel error, prompt of ${n} in chunks of 16 (seed ${r.seed})`).toBeLessThan(1e-2);
    }
  });

  it('allocates nothing per token: the live buffer count stays flat over 300 tokens', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const r = rng();
    const counts: number[] = [];
    const programs: number[] = [];
    const p = [prompt(r, 9), prompt(r, 4)];
    await gen.generate(p, { maxNewTokens: 300, sampling: { ...GREEDY, temperature: 0.9, topK: 40 } }); // warm-up: same shapes
    const res = await gen.generate(p, {
      maxNewTokens: 300, sampling: { temperature: 0.9, topK: 40, topP: 0.95, seed: 3 },
      onToken: (seq, _t, step) => { if (seq === 0 && step % 50 === 1) { counts.push(g.liveBuffers); programs.push(g.programCount); } },
    });
    expect(res.outputTokens).toBe(600);
    expect(counts.length).toBeGreaterThanOrEqual(5);
    expect(new Set(counts).size, `buffer counts ${counts}`).toBe(1);
    expect(new Set(programs).size).toBe(1);
  });

  it('a decode step is one command buffer with a fixed number of launches (counted per layer)', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const r = rng();
    const p = [prompt(r, 9), prompt(r, 4)];
    const per: { launches: number; copies: number; submits: number }[] = [];
    let last = { ...g.counts };
    await gen.generate(p, {
      maxNewTokens: 8, sampling: GREEDY,
      onToken: (seq) => {
        if (seq !== 1) return;
        const c = { ...g.counts };
        per.push({ launches: c.launches - last.launches, copies: c.copies - last.copies, submits: c.submits - last.submits });
        last = c;
      },
    });
    // After the prefill and the first token; the last token has no step after it (steps are pipelined).
    const steady = per.slice(2, -1);
    expect(steady.length).toBeGreaterThanOrEqual(4);
    for (const s of steady) expect(s).toEqual(steady[0]);
    // One submission per step (the whole step is recorded once), the token read-back its only copy.
    expect(steady[0]!.submits).toBe(1);
    expect(steady[0]!.copies).toBe(1);
    // Embedding; per layer qkv GEMV (RMSNorm prologue; RoPE + KV append in its epilogue where ropeEpilogueApplies,
    // else a launch of its own), split-KV attention + merge, O GEMV (+= x), gate/up GEMV (RMSNorm prologue), down GEMV
    // (+= x); head GEMV (RMSNorm prologue), sampling. Before the norms were fused into the GEMVs: 22
    // (kernels-bench/NOTES.md, "Decode launches"); before the RoPE rode in the QKV product: 7 a layer.
    const rope = ropeEpilogueApplies(g.caps, 2, (cfg.nHeads + 2 * cfg.nKvHeads) * cfg.headDim, cfg.hidden, 'f32', true) ? 0 : 1;
    expect(steady[0]!.launches).toBe(1 + (6 + rope) * cfg.nLayers + 2);
    console.info(`[model] decode step of ${cfg.nLayers} layers, batch 2: ${steady[0]!.launches} launches, 1 submit, 1 copy`);
  });

  it('keeps a bounded cache of prefill launches when prompt lengths vary', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    const r = rng();
    // Longest first: buffers are sized once, and each shorter length is a new prefill launch list.
    for (let n = 40; n > 32; n--) await gen.generate([prompt(r, n)], { maxNewTokens: 1, sampling: GREEDY });
    const before = { buffers: g.liveBuffers, dispatches: g.liveDispatches };
    // Then 1…32: the cache ends holding 25…32, chunks of as many launches as 33…40 (a chunk of at most 8 rows
    // takes the GEMV path, whose norms are fused: fewer launches).
    for (let n = 1; n <= 32; n++) await gen.generate([prompt(r, n)], { maxNewTokens: 1, sampling: GREEDY });
    expect({ buffers: g.liveBuffers, dispatches: g.liveDispatches }, 'prepared launches stay bounded with 32 more prompt lengths').toEqual(before);
  });

  it('rejects prompts beyond the context and tokens outside the vocabulary', async () => {
    const g = await gpu();
    const gen = await generator(g, 'f32');
    await expect(gen.generate([[1, 2, 3]], { maxNewTokens: cfg.maxSeq, sampling: GREEDY })).rejects.toThrow(/exceeds the model's context/);
    await expect(gen.generate([[1, cfg.vocab]], { maxNewTokens: 2, sampling: GREEDY })).rejects.toThrow(/outside the vocabulary/);
    await expect(gen.generate([[]], { maxNewTokens: 2, sampling: GREEDY })).rejects.toThrow(/empty/);
  });
});
