import { it } from 'vitest';
import { flashDecode } from '../src/kernels/attention.js';
import { useGpu } from './helpers.js';
const gpu = useGpu();
it('compile times', async () => {
  const g = await gpu();
  for (const dtype of ['f32', 'f16'] as const)
  for (const [nH, nKv, d] of [[4, 2, 64], [4, 1, 64], [8, 1, 128], [6, 2, 36], [2, 2, 128]] as const) {
    const t0 = performance.now();
    const q = g.tensor([1, nH, d], dtype), kc = g.tensor([1, nKv, 8, d], dtype), vc = g.tensor([1, nKv, 8, d], dtype), lengths = g.tensor([1], 'u32'), out = g.tensor([1, nH, d], dtype);
    const plan = flashDecode(g, { q, kCache: kc, vCache: vc, lengths, out });
    await g.sync();
    console.log(dtype, nH, nKv, d, (performance.now() - t0).toFixed(0), 'ms');
    plan.release();
  }
});
