import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/index.js';
import { softmax } from '../src/kernels/softmax.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { softmaxRef } from './ref/misc.js';

const gpu = useGpu();
const SHAPES: [number, number][] = [[1, 1], [3, 7], [5, 256], [17, 1000], [2, 4099]];

describe('softmax', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [rows, cols] of SHAPES) {
      it(`${dtype} [${rows}, ${cols}]`, async () => {
        const g = await gpu();
        const r = rng();
        const x = randomArray(r, rows * cols, dtype, -8, 8);
        const scale = r.uniform(0.1, 2);
        const xs = upload(g, x, [rows, cols], dtype), out = poisoned(g, [rows, cols], dtype);
        await g.run([softmax(g, { x: xs, out, scale })]);
        expectClose(await download(g, out), softmaxRef(x, rows, cols, scale), dtype, `softmax scale=${scale} seed=${r.seed}`);
        g.release(xs, out);
      });
    }

    it(`${dtype} masked entries (-inf) and fully masked rows`, async () => {
      const g = await gpu();
      const r = rng();
      const [rows, cols] = [4, 300];
      const x = randomArray(r, rows * cols, dtype, -4, 4);
      for (let c = 0; c < cols; c++) {
        if (c % 3 === 0) x[c] = -Infinity;     // row 0: every third entry masked
        x[2 * cols + c] = -Infinity;           // row 2: fully masked -> zeros
      }
      const xs = upload(g, x, [rows, cols], dtype), out = poisoned(g, [rows, cols], dtype);
      await g.run([softmax(g, { x: xs, out })]);
      const got = await download(g, out);
      expectClose(got, softmaxRef(x, rows, cols), dtype, `masked softmax seed=${r.seed}`);
      expect(got.subarray(2 * cols, 3 * cols).every((v) => v === 0)).toBe(true);
      g.release(xs, out);
    });
  }

  it('f32 large logits do not overflow', async () => {
    const g = await gpu();
    const r = rng();
    const [rows, cols] = [3, 513];
    const x = randomArray(r, rows * cols, 'f32', -1000, 1000);
    const xs = upload(g, x, [rows, cols], 'f32'), out = poisoned(g, [rows, cols], 'f32');
    await g.run([softmax(g, { x: xs, out })]);
    // exp of f32 arguments up to ~1e3 apart: relative error grows with |x| ulp (6e-5 at 1000); loosen.
    expectClose(await download(g, out), softmaxRef(x, rows, cols), 'f32', `large softmax seed=${r.seed}`, { rel: 2e-4, maxAbs: 2e-4 });
    g.release(xs, out);
  });

  it('rejects bad shapes and dtypes', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32');
    expect(() => softmax(g, { x, out: g.tensor([4, 9], 'f32') })).toThrow(/out must be \[4, 8\], got f32\[4, 9\]/);
    expect(() => softmax(g, { x, out: g.tensor([4, 8], 'f16') })).toThrow(/out must be f32/);
    expect(() => softmax(g, { x: g.tensor([32], 'f32'), out: g.tensor([32], 'f32') })).toThrow(ShapeError);
    expect(() => softmax(g, { x, out: x })).toThrow(/must not alias/);
  });
});
