// KV append from rows (shaders/kv_cache.wgsl), as a pool rank uses it: a decode item (its q heads, then one
// new k and v row per kv head), an item without a new token (q only), and prompt chunks (token-major rows of
// q, k, v) that start before, inside or across the cache's block of positions. Checked against a float64 model
// of the copy, with poisoned outputs: nothing outside the rows' positions may be written.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/index.js';
import { appendKv } from '../src/kernels/kv-cache.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';

const gpu = useGpu();

interface Case { kvHeads: number; qRows: number; D: number; capacity: number; tokens: number; q: boolean; kv: boolean; pos0: number; what: string }
const CASES: Case[] = [
  { kvHeads: 2, qRows: 8, D: 16, capacity: 24, tokens: 1, q: true, kv: true, pos0: 13, what: 'decode item (q + one token)' },
  { kvHeads: 2, qRows: 4, D: 8, capacity: 10, tokens: 1, q: true, kv: false, pos0: -1, what: 'q only (the token is in another block)' },
  { kvHeads: 3, qRows: 6, D: 8, capacity: 40, tokens: 17, q: true, kv: true, pos0: 0, what: 'prompt chunk from the block start' },
  { kvHeads: 1, qRows: 2, D: 12, capacity: 16, tokens: 9, q: true, kv: true, pos0: -5, what: 'chunk starting before the block' },
  { kvHeads: 2, qRows: 2, D: 8, capacity: 10, tokens: 9, q: true, kv: true, pos0: 6, what: 'chunk running past the block' },
];

describe('appendKv', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const c of CASES) {
      it(`${dtype} ${c.what}`, async () => {
        const g = await gpu();
        const r = rng();
        const { kvHeads: KV, qRows, D, capacity, tokens, pos0 } = c;
        const perToken = qRows + (c.kv ? 2 * KV : 0);
        // Token rows packed (stride = rows per token) or padded; f32 chunks always padded, so a kernel that steps
        // by the rows per token instead of the stride fails every run (at random it passed 1 run in 64).
        const stride = perToken + (dtype === 'f32' && tokens > 1 ? 1 + r.int(0, 2) : r.int(0, 2)), srcRow = r.int(0, 3);
        const rows = srcRow + tokens * stride + r.int(0, 2);
        const src = randomArray(r, rows * D, dtype, -3, 3);
        const srcT = upload(g, src, [rows, D], dtype);
        const q = poisoned(g, [tokens * qRows, D], dtype);
        const k = poisoned(g, [1, KV, capacity, D], dtype), v = poisoned(g, [1, KV, capacity, D], dtype);
        const a = appendKv(g, { src: srcT, q, kCache: k, vCache: v, maxElems: tokens * perToken * D });
        a.set({ srcRow, stride, qRows, qTokens: c.q ? tokens : 0, kvTokens: c.kv ? tokens : 0, pos0 });
        await g.run([a.dispatch]);
        const gotQ = await download(g, q);
        const wantQ = new Float64Array(tokens * qRows * D);
        for (let t = 0; t < tokens; t++) for (let x = 0; x < qRows * D; x++) wantQ[t * qRows * D + x] = src[(srcRow + t * stride) * D + x]!;
        expectClose(gotQ, wantQ, dtype, `q seed=${r.seed}`, { rel: 0, maxAbs: 0 });
        for (const [name, cache, off] of [['k', k, qRows], ['v', v, qRows + KV]] as const) {
          const got = await download(g, cache);
          const want = new Float64Array(got.length).fill(NaN);
          for (let t = 0; c.kv && t < tokens; t++) {
            const pos = pos0 + t;
            if (pos < 0 || pos >= capacity) continue;
            for (let h = 0; h < KV; h++) for (let d = 0; d < D; d++) want[(h * capacity + pos) * D + d] = src[(srcRow + t * stride + off + h) * D + d]!;
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

  it('rejects rows past src, too many q rows, tokens past the prepared grid, overlapping strides and wrong shapes', async () => {
    const g = await gpu();
    const src = g.tensor([12, 8], 'f32'), q = g.tensor([4, 8], 'f32'), k = g.tensor([1, 2, 16, 8], 'f32'), v = g.tensor([1, 2, 16, 8], 'f32');
    const a = appendKv(g, { src, q, kCache: k, vCache: v, maxElems: 8 * 8 });
    expect(() => a.set({ srcRow: 0, stride: 6, qRows: 2, qTokens: 2, kvTokens: 2, pos0: 0 })).toThrow(/past src|prepared grid/);
    expect(() => a.set({ srcRow: 0, stride: 6, qRows: 2, qTokens: 1, kvTokens: 1, pos0: 0 })).not.toThrow();
    expect(() => a.set({ srcRow: 7, stride: 6, qRows: 2, qTokens: 1, kvTokens: 1, pos0: 0 })).toThrow(/past src/);
    expect(() => a.set({ srcRow: 0, stride: 1, qRows: 5, qTokens: 1, kvTokens: 0, pos0: 0 })).toThrow(/q rows/);
    expect(() => a.set({ srcRow: 0, stride: 3, qRows: 1, qTokens: 2, kvTokens: 2, pos0: 0 })).toThrow(/overlaps/);
    expect(() => a.set({ srcRow: 0, stride: 5, qRows: 1, qTokens: 0, kvTokens: 2, pos0: 0 })).not.toThrow();
    expect(() => a.set({ srcRow: 0, stride: 5, qRows: 1, qTokens: 2, kvTokens: 2, pos0: 0 })).toThrow(/prepared grid/);
    expect(() => appendKv(g, { src, q, kCache: g.tensor([2, 2, 16, 8], 'f32'), vCache: v, maxElems: 4 })).toThrow(ShapeError);
    expect(() => appendKv(g, { src: g.tensor([10, 4], 'f32'), q, kCache: k, vCache: v, maxElems: 4 })).toThrow(/headDim 8/);
    expect(() => appendKv(g, { src, q, kCache: k, vCache: g.tensor([1, 2, 16, 8], 'f16'), maxElems: 4 })).toThrow(/vCache must be f32/);
    a.dispatch.release();
    g.release(src, q, k, v);
  });
});
