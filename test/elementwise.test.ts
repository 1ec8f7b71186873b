import { describe, expect, it } from 'vitest';
import { LimitError, ShapeError, roundF16, type Tensor } from '../src/gpu/index.js';
import { add, cast } from '../src/kernels/elementwise.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';
import { addRef } from './ref/misc.js';

const gpu = useGpu();
// 1, primes, n % 4 != 0 (scalar path) and n % 4 == 0 (vec4 path), 2-D and 3-D shapes.
const SHAPES: number[][] = [[1], [7], [4, 5], [3, 1001], [2, 3, 257], [64, 64]];
const round = (dtype: 'f32' | 'f16') => (dtype === 'f16' ? roundF16 : Math.fround);

describe('add', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const shape of SHAPES) {
      it(`${dtype} [${shape}]`, async () => {
        const g = await gpu();
        const r = rng();
        const n = shape.reduce((a, b) => a * b, 1);
        const x = randomArray(r, n, dtype, -4, 4), y = randomArray(r, n, dtype, -4, 4);
        const xs = upload(g, x, shape, dtype), ys = upload(g, y, shape, dtype), out = poisoned(g, shape, dtype);
        await g.run([add(g, { x: xs, y: ys, out })]);
        // The GPU adds in f32 and rounds once to the storage type: compare against that rounding.
        expectClose(await download(g, out), addRef(x, y).map(round(dtype)), dtype, `add seed=${r.seed}`);
        g.release(xs, ys, out);
      });
    }
  }

  it('rejects bad shapes, dtypes, aliasing and over-limit bindings', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32'), y = g.tensor([4, 8], 'f32'), out = g.tensor([4, 8], 'f32');
    expect(() => add(g, { x, y: g.tensor([8, 4], 'f32'), out })).toThrow(/y f32\[8, 4\] must have the shape of x/);
    expect(() => add(g, { x, y, out: g.tensor([32], 'f32') })).toThrow(ShapeError);
    expect(() => add(g, { x, y: g.tensor([4, 8], 'f16'), out })).toThrow(/y must be f32/);
    expect(() => add(g, { x: g.tensor([4], 'u32'), y, out })).toThrow(/x must be f32 or f16/);
    expect(() => add(g, { x, y, out: x })).toThrow(/must not alias/);
    // A view larger than the device binds (a descriptor over a small buffer: rejected before any GPU use).
    const huge: Tensor = { ...x, shape: [g.caps.maxStorageBinding / 4 + 4] };
    expect(() => add(g, { x: huge, y: { ...y, shape: huge.shape }, out: { ...out, shape: huge.shape } })).toThrow(LimitError);
    g.release(x, y, out);
  });
});

describe('cast', () => {
  const pairs = [['f32', 'f16'], ['f16', 'f32'], ['f32', 'f32'], ['f16', 'f16']] as const;
  for (const [from, to] of pairs) {
    for (const shape of [[1], [3, 7], [5, 256], [1001]]) {
      it(`${from} -> ${to} [${shape}]`, async () => {
        const g = await gpu();
        const r = rng();
        const n = shape.reduce((a, b) => a * b, 1);
        const x = randomArray(r, n, from, -100, 100);
        const xs = upload(g, x, shape, from), out = poisoned(g, shape, to);
        await g.run([cast(g, { x: xs, out })]);
        const got = await download(g, out);
        if (to === 'f16' && from === 'f32') {
          // WGSL lets f32 -> f16 pick either neighbour of an unrepresentable value: allow one f16 ulp.
          expectClose(got, Array.from(x, roundF16), 'f16', `cast seed=${r.seed}`);
        } else {
          expect(Array.from(got)).toEqual(Array.from(x)); // exact: widening or copying loses nothing
        }
        g.release(xs, out);
      });
    }
  }

  it('rejects bad shapes and dtypes', async () => {
    const g = await gpu();
    const x = g.tensor([4, 8], 'f32');
    expect(() => cast(g, { x, out: g.tensor([4, 9], 'f16') })).toThrow(/out f16\[4, 9\] must have the shape of x/);
    expect(() => cast(g, { x, out: g.tensor([4, 8], 'u32') })).toThrow(/out must be f32 or f16/);
    expect(() => cast(g, { x, out: x })).toThrow(/must not alias/);
  });
});
