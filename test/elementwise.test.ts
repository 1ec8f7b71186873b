import { describe, expect, it } from 'vitest';
import { LimitError, roundF16, type Tensor } from '../src/gpu/index.js';
import { cast, sumParts } from '../src/kernels/elementwise.js';
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

describe('sumParts (a tensor-parallel all-reduce on one rank)', () => {
  for (const dt of ['f32', 'f16'] as const) {
    for (const [ranks, cap, n] of [[2, 64, 64], [2, 1000, 777], [3, 300, 129], [4, 4096, 4096]] as const) {
      it(`${dt} ${ranks} ranks, n=${n} of ${cap}: every rank gets the same rank-ordered f32 sum`, async () => {
        const g = await gpu();
        const r = rng();
        const parts = Array.from({ length: ranks }, () => randomArray(r, n, dt, -8, 8));
        // The reference: f32 accumulation in rank order (exactly what the host all-reduce did), then the dtype.
        const want = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (const p of parts) acc = Math.fround(acc + p[i]!);
          want[i] = acc;
        }
        const results: number[][] = [];
        for (let own = 0; own < ranks; own++) {
          const pad = (a: Float64Array) => { const x = new Float64Array(cap).fill(1e3); x.set(a); return x; };
          const mine = upload(g, pad(parts[own]!), [cap], dt);
          const othersHost = new Float64Array((ranks - 1) * cap).fill(1e3); // stride n: the tail stays poison
          parts.filter((_, i) => i !== own).forEach((p, j) => othersHost.set(p, j * n));
          const others = upload(g, othersHost, [(ranks - 1) * cap], dt);
          const out = poisoned(g, [cap], dt);
          const s = sumParts(g, { mine, others, out, ranks });
          s.set(n, own);
          await g.run([s.dispatch]);
          const got = Array.from(await download(g, out));
          expectClose(got.slice(0, n), Array.from(want, (v) => (dt === 'f16' ? roundF16(v) : v)), dt, `sumParts own=${own} seed=${r.seed}`);
          results.push(got.slice(0, n));
          s.dispatch.release();
          g.release(mine, others, out);
        }
        for (const x of results) expect(x).toEqual(results[0]); // bit-identical on every rank
      });
    }
  }

  it('rejects bad arguments', async () => {
    const g = await gpu();
    const mine = g.tensor([16], 'f16'), others = g.tensor([16], 'f16'), out = g.tensor([16], 'f16');
    expect(() => sumParts(g, { mine, others, out, ranks: 1 })).toThrow(/at least 2 ranks/);
    expect(() => sumParts(g, { mine, others, out, ranks: 3 })).toThrow(/cannot hold 2 partials/);
    expect(() => sumParts(g, { mine, others: g.tensor([16], 'f32'), out, ranks: 2 })).toThrow(/others must be f16/);
    expect(() => sumParts(g, { mine, others, out: mine, ranks: 2 })).toThrow(/must not alias/);
    const s = sumParts(g, { mine, others, out, ranks: 2 });
    expect(() => s.set(17, 0)).toThrow(/n = 17 outside/);
    expect(() => s.set(4, 2)).toThrow(/own = 2 outside/);
    s.dispatch.release();
  });
});
