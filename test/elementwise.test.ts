import { describe, expect, it } from 'vitest';
import { LimitError, roundF16, type Tensor } from '../src/gpu/index.js';
import { cast } from '../src/kernels/elementwise.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu } from './helpers.js';

const gpu = useGpu();

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
    // A view larger than the device binds (a descriptor over a small buffer: rejected before any GPU use).
    const huge: Tensor = { ...x, shape: [g.caps.maxStorageBinding / 4 + 4] };
    expect(() => cast(g, { x: huge, out: { ...g.tensor([4], 'f16'), shape: huge.shape } })).toThrow(LimitError);
  });
});
