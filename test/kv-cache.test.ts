// KV append from packed rows (shaders/kv_cache.wgsl), as a pool rank uses it: a decode item (its q heads,
// then one new k and v row per kv head) and prompt chunks that start before, inside or across the cache's
// block of positions. Checked against a float64 model of the copy, with poisoned outputs: nothing outside
// the rows' positions may be written.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/index.js';
import { appendKv } from '../src/kernels/kv-cache.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';

const gpu = useGpu();

interface Case { kvHeads: number; qRows: number; D: number; capacity: number; count: number; pos0: number; what: string }
const CASES: Case[] = [
  { kvHeads: 2, qRows: 8, D: 16, capacity: 24, count: 1, pos0: 13, what: 'decode item (q + one token)' },
  { kvHeads: 3, qRows: 0, D: 8, capacity: 40, count: 17, pos0: 0, what: 'prompt chunk from the block start' },
  { kvHeads: 1, qRows: 0, D: 12, capacity: 16, count: 9, pos0: -5, what: 'chunk starting before the block' },
  { kvHeads: 2, qRows: 0, D: 8, capacity: 10, count: 9, pos0: 6, what: 'chunk running past the block' },
  { kvHeads: 2, qRows: 4, D: 8, capacity: 10, count: 0, pos0: -1, what: 'q only (token in another block)' },
];

describe('appendKv', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const c of CASES) {
      it(`${dtype} ${c.what}`, async () => {
        const g = await gpu();
        const r = rng();
        const { kvHeads: KV, qRows, D, capacity, count, pos0 } = c;
        // src rows: [pad][q rows][k rows count·KV][v rows count·KV]
        const pad = r.int(0, 3), qSrc = pad, kSrc = qSrc + qRows, vSrc = kSrc + count * KV, rows = vSrc + count * KV + r.int(0, 2);
        const src = randomArray(r, rows * D, dtype, -3, 3);
        const srcT = upload(g, src, [Math.max(rows, 1), D], dtype);
        const q = poisoned(g, [Math.max(qRows, 1), D], dtype);
        const k = poisoned(g, [1, KV, capacity, D], dtype), v = poisoned(g, [1, KV, capacity, D], dtype);
        const a = appendKv(g, { src: srcT, q, kCache: k, vCache: v, maxRows: qRows + count * KV });
        a.set({ qSrc, qRows, kSrc, vSrc, count, pos0 });
        await g.run([a.dispatch]);
        const gotQ = await download(g, q);
        if (qRows) expectClose(gotQ.subarray(0, qRows * D), src.subarray(qSrc * D, (qSrc + qRows) * D), dtype, `q seed=${r.seed}`, { rel: 0, maxAbs: 0 });
        for (const [name, cache, base] of [['k', k, kSrc], ['v', v, vSrc]] as const) {
          const got = await download(g, cache);
          const want = new Float64Array(got.length).fill(NaN);
          for (let t = 0; t < count; t++) {
            const pos = pos0 + t;
            if (pos < 0 || pos >= capacity) continue;
            for (let h = 0; h < KV; h++) for (let d = 0; d < D; d++) want[(h * capacity + pos) * D + d] = src[(base + t * KV + h) * D + d]!;
          }
          got.forEach((x, i) => {
            if (Number.isNaN(want[i]!)) expect(Number.isNaN(x), `${name}[${i}] written outside the rows (seed ${r.seed})`).toBe(true);
            else expect(x, `${name}[${i}] seed=${r.seed}`).toBe(want[i]);
          });
        }
        a.dispatch.release();
        g.release(srcT, q, k, v);
      });
    }
  }

  it('rejects rows past src, too many q rows, tokens past the prepared grid, and wrong shapes', async () => {
    const g = await gpu();
    const src = g.tensor([10, 8], 'f32'), q = g.tensor([2, 8], 'f32'), k = g.tensor([1, 2, 16, 8], 'f32'), v = g.tensor([1, 2, 16, 8], 'f32');
    const a = appendKv(g, { src, q, kCache: k, vCache: v, maxRows: 5 });
    expect(() => a.set({ qSrc: 0, qRows: 2, kSrc: 2, vSrc: 6, count: 3, pos0: 0 })).toThrow(/past src/);
    expect(() => a.set({ qSrc: 0, qRows: 3, kSrc: 3, vSrc: 5, count: 1, pos0: 0 })).toThrow(/q rows/);
    expect(() => a.set({ qSrc: 0, qRows: 0, kSrc: 0, vSrc: 4, count: 2, pos0: 0 })).not.toThrow();
    expect(() => a.set({ qSrc: 0, qRows: 2, kSrc: 2, vSrc: 6, count: 2, pos0: 0 })).toThrow(/prepared grid/);
    expect(() => appendKv(g, { src, q, kCache: g.tensor([2, 2, 16, 8], 'f32'), vCache: v, maxRows: 4 })).toThrow(ShapeError);
    expect(() => appendKv(g, { src: g.tensor([10, 4], 'f32'), q, kCache: k, vCache: v, maxRows: 4 })).toThrow(/headDim 8/);
    expect(() => appendKv(g, { src, q, kCache: k, vCache: g.tensor([1, 2, 16, 8], 'f16'), maxRows: 4 })).toThrow(/vCache must be f32/);
    a.dispatch.release();
    g.release(src, q, k, v);
  });
});
