import { it } from 'vitest';
import { flashDecode } from '../src/kernels/attention.js';
import { download, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { decodeRef } from './ref/attention.js';
const gpu = useGpu();
for (const [d, len, ms, mc] of [[64, 200, 1, 1], [64, 128, 1, 1], [64, 129, 1, 1], [128, 64, 1, 1], [128, 65, 1, 1], [128,300,1,1], [128, 65, 1, 1]] as const) {
it(`d=${d} len=${len}`, async () => {
  const g = await gpu(); const r = rng(1);
  const B = 1, nH = 1, nKv = 1, cap = len;
  const q = randomArray(r, B*nH*d), k = randomArray(r, B*nKv*cap*d), v = randomArray(r, B*nKv*cap*d);
  const qt = upload(g, q, [B,nH,d], 'f32'), kt = upload(g, k, [B,nKv,cap,d], 'f32'), vt = upload(g, v, [B,nKv,cap,d], 'f32');
  const lt = upload(g, [len], [1], 'u32'); const out = poisoned(g, [B,nH,d], 'f32'), lse = poisoned(g, [B,nH], 'f32');
  const plan = flashDecode(g, { q: qt, out, lse, kCache: kt, vCache: vt, lengths: lt, maxSplits: ms, minChunk: mc });
  plan.update(len); await g.run(plan.dispatches);
  const ref = decodeRef(q, k, v, [len], nH, nKv, d, cap, 1/Math.sqrt(d));
  const o = await download(g, out), l = await download(g, lse);
  console.log(d, len, plan.dispatches[0]!.workgroups, 'lse', l[0], ref.lse[0], 'o', o.slice(0,3), ref.out.slice(0,3));
});
}
