import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/index.js';
import { rmsnorm } from '../src/kernels/rmsnorm.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { rmsnormRef } from './ref/rmsnorm.js';

const gpu = useGpu();
// cols % 4 == 0 takes the vec4 entry (1000: not a multiple of the 256 threads; 4100: tails on both paths).
const SHAPES: [number, number][] = [[1, 1], [3, 7], [5, 256], [17, 1000], [2, 4096], [3, 4100], [4, 1022]];

describe('rmsnorm', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [rows, cols] of SHAPES) {
      it(`${dtype} [${rows}, ${cols}]`, async () => {
        const g = await gpu();
        const r = rng();
        const x = randomArray(r, rows * cols, dtype, -2, 2);
        const w = randomArray(r, cols, dtype, 0.5, 1.5);
        const out = poisoned(g, [rows, cols], dtype);
        const xs = upload(g, x, [rows, cols], dtype), ws = upload(g, w, [cols], dtype);
        await g.run([rmsnorm(g, { x: xs, weight: ws, out, eps: 1e-5 })]);
        expectClose(await download(g, out), rmsnormRef(x, w, rows, cols, 1e-5), dtype, `rmsnorm seed=${r.seed}`);
        g.release(out, xs, ws);
      });
    }
  }

  it('rejects mismatched shapes and dtypes', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32'), w = g.tensor([7], 'f32'), out = g.tensor([4, 8], 'f32');
    expect(() => rmsnorm(g, { x, weight: w, out, eps: 1e-5 })).toThrow(ShapeError);
    expect(() => rmsnorm(g, { x, weight: g.tensor([8], 'f16'), out, eps: 1e-5 })).toThrow(/weight must be f32/);
    expect(() => rmsnorm(g, { x, weight: g.tensor([8], 'f32'), out: x, eps: 1e-5 })).toThrow(/must not alias/);
  });
});
