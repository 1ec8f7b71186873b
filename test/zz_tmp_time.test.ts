import { it } from 'vitest';
import { sampler } from '../src/kernels/sampling.js';
import { poisoned, rng, upload, useGpu } from './helpers.js';
const gpu = useGpu();
it('time', async () => {
  const g = await gpu();
  const r = rng();
  for (const V of [1, 7, 1000, 32000]) {
    const lt = upload(g, Array.from({ length: 2 * V }, () => r.normal() * 3), [2, V], 'f32'), out = poisoned(g, [2], 'u32');
    let t0 = performance.now();
    const s = sampler(g, { logits: lt, out, params: { temperature: 1, topK: 0, topP: 1, seed: 1 } });
    console.log('prepare', V, performance.now() - t0);
    for (const p of [{ temperature: 0, topK: 0, topP: 1 }, { temperature: 1, topK: 0, topP: 1 }, { temperature: 1, topK: 40, topP: 1 }, { temperature: 1, topK: 0, topP: 0.9 }]) {
      s.setParams({ ...p, seed: 1 });
      t0 = performance.now();
      await g.run([s.dispatch]);
      console.log(V, JSON.stringify(p), (performance.now() - t0).toFixed(1), 'ms');
    }
  }
});
