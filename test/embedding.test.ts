import { describe, expect, it } from 'vitest';
import { ShapeError, roundF16, sliceRows } from '../src/gpu/index.js';
import { embedding } from '../src/kernels/embedding.js';
import { normWorkgroupSize, rmsnorm } from '../src/kernels/rmsnorm.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { embeddingRef } from './ref/misc.js';
import { rmsnormRef } from './ref/rmsnorm.js';

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

  // The first layer's norm written by the embedding (thenNorm): out as without, xn the same bits as an rmsnorm launch
  // on the stored rows (zero rows of out-of-range ids included), f32 and f16; rows past `tokens` untouched.
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: the rows' RMSNorm written too, the same bits as a separate rmsnorm launch`, async () => {
      const g = await gpu();
      const r = rng();
      const wg = normWorkgroupSize(g);
      for (const [tokens, vocab, hidden, used] of [[7, 37, 8 * wg + 12, 7], [9, 20, 24, 4], [300, 50, 64, 300]] as const) {
        const table = randomArray(r, vocab * hidden, dtype, -2, 2), nw = randomArray(r, hidden, dtype, 0.5, 1.5);
        const ids = Array.from({ length: tokens }, (_, t) => (t % 5 === 4 ? vocab + t : r.int(0, vocab)));
        const idT = upload(g, ids, [tokens], 'u32'), tab = upload(g, table, [vocab, hidden], dtype), nws = upload(g, nw, [hidden], dtype);
        const out = poisoned(g, [tokens, hidden], dtype), xn = poisoned(g, [tokens, hidden], dtype, 'xn'), xn2 = poisoned(g, [tokens, hidden], dtype, 'xn2');
        const scale = Math.sqrt(hidden), eps = 1e-5;
        const d = embedding(g, { ids: idT, table: tab, out, scale, thenNorm: { weight: nws, eps, out: xn } });
        expect(d.launches.map((l) => l.label)).toEqual([expect.stringMatching(/^embedding_vec4_norm/)]);
        d.set({ tokens: used });
        await g.run([d]);
        const what = `${tokens}×${hidden} (${used} used) seed=${r.seed}`;
        const y = await download(g, out), n = used * hidden;
        const round = dtype === 'f16' ? roundF16 : Math.fround;
        expectClose(y.subarray(0, n), embeddingRef(ids.slice(0, used), table, vocab, hidden, scale).map(round), dtype, `out ${what}`);
        const got = await download(g, xn);
        expectClose(got.subarray(0, n), rmsnormRef(Float64Array.from(y.subarray(0, n)), nw, used, hidden, eps), dtype, `xn ${what}`);
        expect(got.subarray(n).every(Number.isNaN), `xn rows past tokens untouched ${what}`).toBe(true);
        const norm = rmsnorm(g, { x: sliceRows(out, 0, used), weight: nws, out: sliceRows(xn2, 0, used), eps });
        await g.run([norm]);
        expect(Array.from(got.subarray(0, n)), `xn as rmsnorm's ${what}`).toEqual(Array.from((await download(g, xn2)).subarray(0, n)));
        d.release(); norm.release();
        g.release(idT, tab, nws, out, xn, xn2);
      }
    });
  }

  it('the norm after the embedding: hidden % 4 == 0, its weight and out checked, out and xn apart', async () => {
    const g = await gpu();
    const ids = g.tensor([4], 'u32'), table = g.tensor([10, 8], 'f32'), out = g.tensor([4, 8], 'f32');
    const thenNorm = { weight: g.tensor([8], 'f32'), eps: 1e-5, out: g.tensor([4, 8], 'f32') };
    expect(() => embedding(g, { ids, table: g.tensor([10, 7], 'f32'), out: g.tensor([4, 7], 'f32'), thenNorm: { ...thenNorm, weight: g.tensor([7], 'f32'), out: g.tensor([4, 7], 'f32') } })).toThrow(/hidden % 4/);
    expect(() => embedding(g, { ids, table, out, thenNorm: { ...thenNorm, weight: g.tensor([9], 'f32') } })).toThrow(ShapeError);
    expect(() => embedding(g, { ids, table, out, thenNorm: { ...thenNorm, out: g.tensor([4, 8], 'f16') } })).toThrow(/thenNorm.out must be f32/);
    expect(() => embedding(g, { ids, table, out, thenNorm: { ...thenNorm, eps: -1 } })).toThrow(ShapeError);
    expect(() => embedding(g, { ids, table, out, thenNorm: { ...thenNorm, out } })).toThrow(ShapeError);
    const both = g.tensor([8, 8], 'f32');
    expect(() => embedding(g, { ids, table, out: sliceRows(both, 0, 4), thenNorm: { ...thenNorm, out: sliceRows(both, 4, 4) } })).toThrow(/share a buffer/);
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
