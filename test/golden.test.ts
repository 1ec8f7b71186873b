// Golden fixtures from the independent PyTorch implementation (test/fidelity/torch_reference.py, float64,
// run on the device machine: `bash kernels-bench/device-run.sh fixtures`, see README): the tiny preset's
// seed-0 weights, regenerated here byte for byte, must give the same greedy tokens and first-token logits
// on this machine's GPU.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { compare, useGpu } from './helpers.js';

interface Golden { results: { prompt: number[]; tokens: number[]; logits: number[][] }[] }
const golden = JSON.parse(readFileSync(new URL('./fixtures/tiny-seed0-golden.json', import.meta.url), 'utf8')) as Golden;
const sha = readFileSync(new URL('./fixtures/tiny-sha256.txt', import.meta.url), 'utf8').split(/\s+/)[0];
const gpu = useGpu();

describe('tiny preset vs PyTorch golden fixtures', () => {
  it('regenerates the same weights file, then matches tokens and logits', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fapool-golden-')), 'tiny.safetensors');
    const cfg = presetConfig('tiny');
    await writeRandomWeights(path, cfg, { seed: 0, dtype: 'f32' });
    expect(createHash('sha256').update(readFileSync(path)).digest('hex'), 'random weights are byte-identical to the fixture\'s').toBe(sha);
    const g = await gpu();
    const f = await openSafetensors(path);
    const { weights } = await loadWeights(g, f.source(), cfg, 'f32');
    await f.close();
    const gen = new Generator(g, cfg, weights, 'f32');
    for (const r of golden.results) {
      const res = await gen.generate([r.prompt], {
        maxNewTokens: r.tokens.length, sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, captureLogits: true,
      });
      const c = compare(res.firstLogits![0]!, r.logits[0]!);
      expect(c.rel, 'first-token logits vs PyTorch float64 (f32 tolerance)').toBeLessThan(1e-5);
      expect(res.tokens[0]).toEqual(r.tokens);
    }
    gen.dispose();
  });
});
