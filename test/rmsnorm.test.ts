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

  // eps must sit inside the root: rows at scales 2⁻¹²…2⁵, so eps (1e-5 against a mean square of ~6e-9 on the
  // smallest row; 0.1 against all but the largest) sets the small rows' scale. With eps dropped or added after the
  // root, the small rows are off by up to 10⁴× (the shapes above, eps 1e-5 at scale ~1, cannot see eps at all).
  const ROW_SCALES = [1, 2 ** -12, 8, 2 ** -10, 0.25, 32, 1 / 16, 2 ** -7];
  for (const dtype of ['f32', 'f16'] as const) {
    for (const cols of [256, 250]) {   // vec4 entry, scalar entry
      it(`${dtype} [8, ${cols}] rows of very different scales, eps 1e-5 and 0.1`, async () => {
        const g = await gpu();
        const r = rng();
        const rows = ROW_SCALES.length;
        const x = new Float64Array(rows * cols);
        ROW_SCALES.forEach((s, m) => x.set(randomArray(r, cols, dtype, -s, s), m * cols));
        const w = randomArray(r, cols, dtype, 0.5, 1.5);
        const xs = upload(g, x, [rows, cols], dtype), ws = upload(g, w, [cols], dtype);
        for (const eps of [1e-5, 0.1]) {
          const out = poisoned(g, [rows, cols], dtype);
          await g.run([rmsnorm(g, { x: xs, weight: ws, out, eps })]);
          const got = await download(g, out), want = rmsnormRef(x, w, rows, cols, eps);
          // Row by row: a row's error is measured against its own scale (the small rows' outputs are small).
          for (let m = 0; m < rows; m++) {
            expectClose(got.subarray(m * cols, (m + 1) * cols), want.subarray(m * cols, (m + 1) * cols), dtype,
              `rmsnorm row ${m} (scale ${ROW_SCALES[m]}) eps=${eps} seed=${r.seed}`);
          }
          g.release(out);
        }
        g.release(xs, ws);
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
