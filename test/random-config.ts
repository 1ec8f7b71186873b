// Random model configurations for the property tests (test/model-configs.test.ts, test/workers.test.ts) and the
// float64 weights their reference model reads.
import { validateConfig, type ModelConfig } from '../src/model/config.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { expectedWeights } from '../src/model/weight-names.js';
import type { rng } from './helpers.js';
import type { RefWeights } from './ref/model.js';

export type Rng = ReturnType<typeof rng>;
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(0, xs.length)]!;

/** A small random configuration (sizes lavapipe runs in seconds), valid by validateConfig. */
export function randomConfig(r: Rng, i: number): ModelConfig {
  const nKvHeads = r.int(1, 4), group = pick(r, [1, 1, 2, 3, 4]);
  const headDim = pick(r, [8, 8, 16, 16, 24, 32, 40, 64, 96, 128, 4, 6, 12, 20, 36]);
  const hidden = pick(r, [16, 24, 32, 40, 48, 64, 72, 96, 20, 36, 52]);
  return validateConfig({
    name: `random-${i}`, nLayers: r.int(1, 4), hidden, nHeads: nKvHeads * group, nKvHeads, headDim,
    ffn: pick(r, [16, 32, 48, 64, 96, 128, 160, 40, 72, 100]), vocab: pick(r, [64, 100, 256, 300, 97]), maxSeq: 128,
    normEps: pick(r, [1e-5, 1e-6]), ropeTheta: pick(r, [10000, 500000, 100]), act: pick(r, ['gelu_tanh', 'gelu_erf', 'silu'] as const),
    gatedFfn: true, tiedEmbeddings: r.next() < 0.3, embedScale: r.next() < 0.25 ? Math.sqrt(hidden) : 1,
  });
}

/**
 * A larger one: hidden 128–256, a vocabulary of 1,000–4,000 or, one time in three, 8,192–10,000 (the sampler's first
 * pass over several workgroups a row, `scan_part`, where a step samples other than greedily: below 65536 tokens a
 * greedy step keeps it in the row's workgroup; test/sampling.test.ts runs scan_part directly), head dims 32–128 —
 * with prompts of a few hundred tokens, several prefill tiles and decode splits a row.
 */
export function largerConfig(r: Rng, i: number): ModelConfig {
  const nKvHeads = pick(r, [1, 2, 4]), headDim = pick(r, [32, 64, 96, 128]);
  return validateConfig({
    ...randomConfig(r, i), name: `larger-${i}`, nLayers: 2, hidden: pick(r, [128, 192, 256]), nKvHeads, nHeads: nKvHeads * pick(r, [1, 2, 4]),
    headDim, ffn: pick(r, [256, 384, 512]), vocab: r.next() < 1 / 3 ? r.int(8192, 10001) : r.int(1000, 4001), maxSeq: 512,
  });
}

/** The weights file read back in float64, for the reference model. */
export async function refWeights(path: string, cfg: ModelConfig): Promise<RefWeights> {
  const f = await openSafetensors(path);
  const w: RefWeights = new Map();
  for (const { name } of expectedWeights(cfg)) w.set(name, Float64Array.from(await f.readTensorF32(name)));
  await f.close();
  return w;
}

