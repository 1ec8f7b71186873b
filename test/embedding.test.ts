import { describe, expect, it } from 'vitest';
import { ShapeError, roundF16 } from '../src/gpu/index.js';
import { embedding } from '../src/kernels/embedding.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { embeddingRef } from './ref/misc.js';

const gpu = useGpu();
// [tokens, vocab, hidden]: 1s, primes (scalar path), multiples of 4 (vec4 path), a model-like row.
const SHAPES: [number, number, number][] = [[1, 1, 1], [5, 11, 7], [13, 100, 64], [3, 50, 1001], [7, 37, 2048]];

describe('embedding', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [tokens, vocab, hidden] of SHAPES) {
      for (const scale of [undefined, Math.sqrt(hidden)]) {
        it(`${dtype} T=${tokens} vocab=${vocab} hidden=${hidden} scale=${scale?.toFixed(2) ?? '-'}`, async () => {
          const g = await gpu();
          const r = rng();
          const table = randomArray(r, vocab * hidden, dtype, -1, 1);
          // Mostly valid ids, and some out-of-range ones (vocab, far past it, 0xFFFFFFFF) that must give zero rows.
          const ids = Array.from({ length: tokens }, (_, t) =>
            (t % 4 === 3 ? [vocab, vocab + 1000, 0xffffffff][t % 3]! : r.int(0, vocab)));
          const idT = upload(g, ids, [tokens], 'u32'), tab = upload(g, table, [vocab, hidden], dtype);
          const out = poisoned(g, [tokens, hidden], dtype);
          await g.run([embedding(g, { ids: idT, table: tab, out, scale })]);
          const round = dtype === 'f16' ? roundF16 : Math.fround;
          // One rounding of (value * scale) to the storage type.
          const want = embeddingRef(ids, table, vocab, hidden, scale ?? 1).map(round);
          expectClose(await download(g, out), want, dtype, `embedding ids=${ids.slice(0, 8)} seed=${r.seed}`);
          g.release(idT, tab, out);
        });
      }
    }
  }

  it('a prepared dispatch serves fewer tokens through the tokens uniform', async () => {
    const g = await gpu();
    const r = rng();
    const [tokens, vocab, hidden] = [9, 20, 24];
    const table = randomArray(r, vocab * hidden, 'f32');
    const ids = Array.from({ length: tokens }, () => r.int(0, vocab));
    const idT = upload(g, ids, [tokens], 'u32'), tab = upload(g, table, [vocab, hidden], 'f32');
    const out = poisoned(g, [tokens, hidden], 'f32');
    const d = embedding(g, { ids: idT, table: tab, out });
    d.set({ tokens: 4 });
    await g.run([d]);
    const got = await download(g, out);
    expectClose(got.subarray(0, 4 * hidden), embeddingRef(ids.slice(0, 4), table, vocab, hidden), 'f32', `first rows seed=${r.seed}`);
    expect(got.subarray(4 * hidden).every(Number.isNaN)).toBe(true); // rows past `tokens` untouched
    g.release(idT, tab, out);
  });

  it('rejects bad shapes and dtypes', async () => {
    const g = await gpu();
    const ids = g.tensor([4], 'u32'), table = g.tensor([10, 8], 'f32'), out = g.tensor([4, 8], 'f32');
    expect(() => embedding(g, { ids: g.tensor([4], 'f32'), table, out })).toThrow(/ids must be u32/);
    expect(() => embedding(g, { ids: g.tensor([2, 2], 'u32'), table, out })).toThrow(/ids must have rank 1/);
    expect(() => embedding(g, { ids, table, out: g.tensor([4, 9], 'f32') })).toThrow(/out must be \[4, 8\], got f32\[4, 9\]/);
    expect(() => embedding(g, { ids, table, out: g.tensor([4, 8], 'f16') })).toThrow(/out must be f32/);
    expect(() => embedding(g, { ids, table: g.tensor([80], 'f32'), out })).toThrow(ShapeError);
    expect(() => embedding(g, { ids, table: g.tensor([10, 8], 'u32'), out: g.tensor([4, 8], 'u32') })).toThrow(/unsupported activation dtype/);
  });
});
