// The decoder end to end over random model configurations (property test): head dims, GQA ratios, hidden and FFN
// widths that are not powers of two, one to three layers, tied or separate embeddings, Gemma's embedding scale, both
// GELU forms, f32 and f16. Each configuration's random weights are written to safetensors, loaded and run on the GPU
// against the float64 reference model (test/ref/model.ts) on a batch of prompts of different lengths. A configuration
// the runtime cannot serve must be refused before anything runs, with a typed error that names what is wrong —
// never a crash mid-run, never silently wrong tokens. FAPOOL_TEST_SEED reproduces a run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FapoolError, type DType, type Gpu } from '../src/gpu/index.js';
import { ConfigError, presetConfig, validateConfig, type ModelConfig } from '../src/model/config.js';
import { sgDecodeApplies } from '../src/kernels/attention.js';
import { Generator } from '../src/model/generator.js';
import { checkModelFits, loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { expectedWeights } from '../src/model/weight-names.js';
import { releaseWeights } from '../src/model/weights.js';
import { compare, rng, useGpu } from './helpers.js';
import { RefModel, type RefWeights } from './ref/model.js';

const gpu = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'fapool-configs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const NEW_TOKENS = 5;
/** Configurations a run draws (each compiles its own pipelines: ≈ 2–6 s on lavapipe). */
const CASES = 8;

type Rng = ReturnType<typeof rng>;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(0, xs.length)]!;

/** A small random configuration (sizes lavapipe runs in seconds), valid by validateConfig. */
function randomConfig(r: Rng, i: number): ModelConfig {
  const nKvHeads = r.int(1, 4), group = pick(r, [1, 1, 2, 3, 4]);
  const headDim = pick(r, [8, 8, 16, 16, 24, 32, 40, 64, 96, 128, 4, 6, 12, 20, 36]);
  const hidden = pick(r, [16, 24, 32, 40, 48, 64, 72, 96, 20, 36, 52]);
  return validateConfig({
    name: `random-${i}`, nLayers: r.int(1, 4), hidden, nHeads: nKvHeads * group, nKvHeads, headDim,
    ffn: pick(r, [16, 32, 48, 64, 96, 128, 160, 40, 72, 100]), vocab: pick(r, [64, 100, 256, 300, 97]), maxSeq: 128,
    normEps: pick(r, [1e-5, 1e-6]), ropeTheta: pick(r, [10000, 500000, 100]), act: pick(r, ['gelu_tanh', 'gelu_erf'] as const),
    gatedFfn: true, tiedEmbeddings: r.next() < 0.3, embedScale: r.next() < 0.25 ? Math.sqrt(hidden) : 1,
  });
}

/** Reads the weights file back in float64 for the reference (after the f16 rounding a f16 file carries). */
async function refWeights(path: string, cfg: ModelConfig): Promise<RefWeights> {
  const f = await openSafetensors(path);
  const w: RefWeights = new Map();
  for (const { name } of expectedWeights(cfg)) w.set(name, Float64Array.from(await f.readTensorF32(name)));
  await f.close();
  return w;
}

/** One configuration in one dtype: tokens and first logits against the reference, or a typed refusal at load. */
async function check(g: Gpu, cfg: ModelConfig, dtype: DType, r: Rng, what: string): Promise<'ran' | 'refused'> {
  const path = join(dir, `${cfg.name}-${dtype}.safetensors`);
  await writeRandomWeights(path, cfg, { seed: r.int(0, 2 ** 31), dtype: 'f32' });
  const ref = await refWeights(path, cfg);
  const f = await openSafetensors(path);
  let gen: Generator | null = null, weights: Awaited<ReturnType<typeof loadWeights>>['weights'] | null = null;
  try {
    try {
      weights = (await loadWeights(g, f.source(), cfg, dtype)).weights;
      gen = new Generator(g, cfg, weights, dtype);
    } catch (e) {
      // Refused before anything ran: a typed error that says why (not a TypeError or a GPU validation message).
      expect(e, `${what}: a refusal is a FapoolError`).toBeInstanceOf(FapoolError);
      expect(String((e as Error).message), what).toMatch(/head ?dim|hidden|ffn|multiple|must|support/i);
      return 'refused';
    }
    const prompts = Array.from({ length: r.int(1, 4) }, () => Array.from({ length: r.int(1, 24) }, () => r.int(0, cfg.vocab)));
    const res = await gen.generate(prompts, { maxNewTokens: NEW_TOKENS, sampling: GREEDY, captureLogits: true });
    for (const [s, p] of prompts.entries()) {
      const want = new RefModel(cfg, ref).greedy(p, NEW_TOKENS);
      const c = compare(res.firstLogits![s]!, want.logits[0]!);
      const at = `${what} seq ${s} (prompt of ${p.length})`;
      expect(c.nonFinite, at).toBe(0);
      expect(c.rel, `${at}: first-token logits' relative error`).toBeLessThan(dtype === 'f32' ? 1e-4 : 2e-2);
      // Greedy paths may part only at a near-tie of the reference fed the common prefix.
      const got = res.tokens[s]!, k = got.findIndex((t, i) => t !== want.tokens[i]);
      if (k < 0) continue;
      const model = new RefModel(cfg, ref);
      let logits = new Float64Array();
      for (const t of [...p, ...got.slice(0, k)]) logits = model.step(t) as Float64Array<ArrayBuffer>;
      const top = Math.max(...logits), scale = Math.max(...logits.map(Math.abs));
      expect((top - logits[got[k]!]!) / scale, `${at}: step ${k} took ${got[k]} against the reference's ${want.tokens[k]}, not a near-tie`)
        .toBeLessThan(dtype === 'f32' ? 1e-4 : 1e-2);
    }
    return 'ran';
  } finally {
    gen?.dispose();
    if (weights) releaseWeights(g, weights);
    await f.close();
    rmSync(path, { force: true });
  }
}

describe('random model configurations vs the float64 reference', () => {
  it(`${CASES} configurations, f32 and f16: the reference's tokens and logits, or a typed refusal before running`, async () => {
    const g = await gpu();
    const r = rng();
    const outcomes: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const cfg = randomConfig(r, i);
      for (const dtype of (g.caps.f16 ? ['f32', 'f16'] : ['f32']) as DType[]) {
        const what = `seed ${r.seed} case ${i} ${dtype} ${JSON.stringify(cfg)}`;
        outcomes.push(`${cfg.name} ${dtype} L${cfg.nLayers} h${cfg.hidden} ${cfg.nHeads}/${cfg.nKvHeads}×${cfg.headDim} ffn${cfg.ffn} v${cfg.vocab}: ${await check(g, cfg, dtype, r, what)}`);
      }
    }
    console.info(`[configs] seed ${r.seed}\n  ${outcomes.join('\n  ')}`);
    // Most draws are servable: a run that refuses everything tests nothing.
    expect(outcomes.filter((o) => o.endsWith('ran')).length, outcomes.join('; ')).toBeGreaterThanOrEqual(CASES / 2);
  }, 600_000);

  // Found by the property above: both ran into a kernel's own check mid-run (the first after loading every weight).
  it('a head dim the attention kernels do not take (not a multiple of 4, or over 256) is refused before anything is allocated', async () => {
    const g = await gpu();
    for (const headDim of [6, 2, 260]) {
      const cfg = validateConfig({ ...presetConfig('tiny'), name: `d${headDim}`, headDim });
      expect(() => checkModelFits(g, cfg, 'f32'), `D=${headDim}`).toThrow(ConfigError);
      expect(() => checkModelFits(g, cfg, 'f32'), `D=${headDim}`).toThrow(new RegExp(`head dim ${headDim} is not supported`));
      const path = join(dir, `d${headDim}.safetensors`);
      await writeRandomWeights(path, cfg, { seed: 1, dtype: 'f32' });
      const f = await openSafetensors(path);
      const live = g.liveBuffers;
      await expect(loadWeights(g, f.source(), cfg, 'f32')).rejects.toThrow(/head dim/);
      expect(g.liveBuffers, 'nothing allocated').toBe(live);
      await f.close();
    }
  });

  it('head dim 40 in f16 (five 8-half chunks: no key group of lanes holds them) decodes on the split kernel, as the reference', async () => {
    const g = await gpu();
    for (const sgs of [8, 16, 32]) {
      const caps = { ...g.caps, f16: true, subgroups: true, subgroupMinSize: sgs, subgroupMaxSize: sgs };
      expect([40, 48, 128, 72].map((d) => sgDecodeApplies(caps, 'f16', d)), `subgroups of ${sgs}`).toEqual([false, true, true, false]);
    }
    if (!g.caps.f16) return;
    const cfg = validateConfig({ ...presetConfig('tiny'), name: 'd40', nHeads: 2, nKvHeads: 1, headDim: 40 });
    expect(await check(g, cfg, 'f16', rng(), 'D=40 f16')).toBe('ran');
  });
});
