import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/gpu/index.js';
import { ropeFrequencyWords, ropeQkv, type RopeStyle } from '../src/kernels/rope.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu, type Rng } from './helpers.js';
import { ropeQkvRef, type RopeRefCfg } from './ref/misc.js';

const gpu = useGpu();

interface Case { H: number; KV: number; D: number; ropeDim?: number; style: RopeStyle; T: number; slots: number; capacity: number; theta: number }
const CASES: Case[] = [
  { H: 4, KV: 2, D: 64, style: 'neox', T: 5, slots: 3, capacity: 37, theta: 10000 },      // GQA
  { H: 4, KV: 2, D: 128, style: 'neox', T: 13, slots: 2, capacity: 29, theta: 500000 },   // GQA, Llama-3 theta
  { H: 2, KV: 1, D: 8, style: 'gptj', T: 7, slots: 2, capacity: 65537, theta: 10000 },    // cache write at large positions
  { H: 3, KV: 3, D: 8, style: 'neox', T: 1, slots: 1, capacity: 5, theta: 10000 },        // MHA, single decode row
  { H: 4, KV: 2, D: 64, ropeDim: 32, style: 'neox', T: 6, slots: 2, capacity: 33, theta: 10000 }, // partial rotary
  { H: 2, KV: 2, D: 64, ropeDim: 16, style: 'gptj', T: 3, slots: 2, capacity: 11, theta: 10000 },
];

/**
 * Rows (slot, position): distinct in-range pairs, plus large positions and slots past the cache (q only). Row 4 is
 * the first slot past the cache (slot == slots): a guard off by one writes past the cache there — dropped by
 * lavapipe's bounds checks, so test/gpu-av.sh is what sees it (row 4 used to take the big-position branch, and the
 * slot-out-of-range rows came only from T >= 10, one in three at slot == slots).
 */
/** The write-back tests' model: 4 heads, 2 KV heads of 16, NeoX RoPE, a cache of 8 positions; T random qkv rows. */
function writeBackCase(r: Rng, T: number) {
  const H = 4, KV = 2, D = 16, capacity = 8;
  const cfg: RopeRefCfg = { nHeads: H, nKvHeads: KV, headDim: D, theta: 10000, style: 'neox', ropeDim: D };
  return { H, KV, D, capacity, cfg, qkv: randomArray(r, T * (H + 2 * KV) * D, 'f32', -2, 2) };
}

/** What writeBack leaves in qkv: each row's rotated q and k, then its v. */
function writtenBack(ref: ReturnType<typeof ropeQkvRef>, T: number, c: RopeRefCfg): number[] {
  const [H, KV, D] = [c.nHeads, c.nKvHeads, c.headDim];
  const want: number[] = [];
  for (let t = 0; t < T; t++) {
    want.push(...ref.q.subarray(t * H * D, (t + 1) * H * D), ...ref.k.subarray(t * KV * D, (t + 1) * KV * D), ...ref.v.subarray(t * KV * D, (t + 1) * KV * D));
  }
  return want;
}

function makeRows(r: Rng, c: Case): [number, number][] {
  const used = new Set<string>();
  const big = [40000, 65535, 65536, 1_000_003];
  return Array.from({ length: c.T }, (_, t) => {
    for (;;) {
      let row: [number, number] = [r.int(0, c.slots), r.int(0, Math.min(c.capacity, 70000))];
      if (t === 0) row[1] = Math.min(c.capacity - 1, 40000);                        // a large in-range position where possible
      else if (t % 5 === 4) row = [c.slots + (t === 4 ? 0 : r.int(0, 3)), r.int(0, c.capacity)];   // slot out of range
      else if (t % 3 === 1) row[1] = big[r.int(0, big.length)]!;                    // past capacity unless it is huge
      const key = row.join(); // in-range (slot, pos) pairs must be distinct: each cache entry has one writer
      if (!used.has(key)) { used.add(key); return row; }
    }
  });
}

describe('ropeQkv', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const c of CASES) {
      it(`${dtype} H=${c.H} KV=${c.KV} D=${c.D} rd=${c.ropeDim ?? c.D} ${c.style} T=${c.T}`, async () => {
        const g = await gpu();
        const r = rng();
        const { H, KV, D, T, slots, capacity } = c;
        const cfg: RopeRefCfg = { nHeads: H, nKvHeads: KV, headDim: D, theta: c.theta, style: c.style, ropeDim: c.ropeDim ?? D };
        const qkv = randomArray(r, T * (H + 2 * KV) * D, dtype, -2, 2);
        const rows = makeRows(r, c);
        const qkvT = upload(g, qkv, [T, (H + 2 * KV) * D], dtype), rowsT = upload(g, rows.flat(), [T, 2], 'u32');
        const q = poisoned(g, [T, H, D], dtype);
        const kCache = poisoned(g, [slots, KV, capacity, D], dtype), vCache = poisoned(g, [slots, KV, capacity, D], dtype);
        await g.run([ropeQkv(g, { qkv: qkvT, rows: rowsT, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: c.theta, style: c.style, ropeDim: c.ropeDim })]);

        const ref = ropeQkvRef(qkv, rows.map((x) => x[1]), cfg);
        // Angles come from 64-bit fixed-point turns (error ~4e-7 rad at any position), so the default
        // per-dtype tolerance holds even at position 1e6: no loosening for large positions.
        const what = `seed=${r.seed} rows=${JSON.stringify(rows)}`;
        expectClose(await download(g, q), ref.q, dtype, `q ${what}`);
        for (const [name, cache, want] of [['k', kCache, ref.k], ['v', vCache, ref.v]] as const) {
          const got = await download(g, cache);
          const written = new Set<number>();
          const gotW: number[] = [], wantW: number[] = [];
          rows.forEach(([slot, pos], t) => {
            if (slot >= slots || pos >= capacity) return; // guarded: nothing written
            for (let h = 0; h < KV; h++) for (let d = 0; d < D; d++) {
              const at = ((slot * KV + h) * capacity + pos) * D + d;
              written.add(at);
              gotW.push(got[at]!);
              wantW.push(want[(t * KV + h) * D + d]!);
            }
          });
          if (gotW.length) expectClose(gotW, wantW, dtype, `${name} cache ${what}`);
          let touched = 0;
          got.forEach((v, i) => { if (!written.has(i) && !Number.isNaN(v)) touched++; });
          expect(touched, `${name} cache entries written outside the rows' (slot, pos) ${what}`).toBe(0);
        }
        g.release(qkvT, rowsT, q, kCache, vCache);
      });
    }
  }

  it('writeBack: each qkv row then holds its rotated q and k and its v (what the pool is sent)', async () => {
    const g = await gpu();
    const r = rng();
    const T = 5, { H, KV, D, capacity, cfg, qkv } = writeBackCase(r, T);
    const rows = Array.from({ length: T }, (_, t) => [0, t === 2 ? capacity : r.int(0, 100_000)]); // row 2: no cache write
    const qkvT = upload(g, qkv, [T, (H + 2 * KV) * D], 'f32'), rowsT = upload(g, rows.flat(), [T, 2], 'u32');
    const q = poisoned(g, [T, H, D], 'f32'), kCache = poisoned(g, [1, KV, capacity, D], 'f32'), vCache = poisoned(g, [1, KV, capacity, D], 'f32');
    await g.run([ropeQkv(g, { qkv: qkvT, rows: rowsT, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000, writeBack: true })]);
    const ref = ropeQkvRef(qkv, rows.map((x) => x[1]!), cfg);
    expectClose(await download(g, qkvT), writtenBack(ref, T, cfg), 'f32', `qkv written back seed=${r.seed}`);
    expectClose(await download(g, q), ref.q, 'f32', `q seed=${r.seed}`);
    g.release(qkvT, rowsT, q, kCache, vCache);
  });

  it('writeBack over two cache groups (the forward pass\'s dispatches): only the last (writeQ) writes back, so each rotates qkv once', async () => {
    // forward.ts runs one dispatch per cache group, all with writeBack, writeQ on the last only: the earlier ones
    // must leave qkv unrotated, else the later ones rotate q and k twice.
    const g = await gpu();
    const r = rng();
    const T = 6, { H, KV, D, capacity, cfg, qkv } = writeBackCase(r, T);
    // Slots 0..2: group A holds slots [0, 2), group B slot 2; row 3 has no cache position.
    const rows = [[0, 1], [2, 5], [1, 7], [2, capacity], [1, 0], [2, 2]];
    const groups = [{ slotBase: 0, slots: 2 }, { slotBase: 2, slots: 1 }];
    const qkvT = upload(g, qkv, [T, (H + 2 * KV) * D], 'f32'), rowsT = upload(g, rows.flat(), [T, 2], 'u32');
    const q = poisoned(g, [T, H, D], 'f32');
    const caches = groups.map((gr) => ({ ...gr, k: poisoned(g, [gr.slots, KV, capacity, D], 'f32'), v: poisoned(g, [gr.slots, KV, capacity, D], 'f32') }));
    await g.run(caches.map((c, i) => ropeQkv(g, {
      qkv: qkvT, rows: rowsT, q, kCache: c.k, vCache: c.v, slotBase: c.slotBase, writeQ: i === caches.length - 1, writeBack: true,
      nHeads: H, nKvHeads: KV, headDim: D, theta: 10000,
    })));
    const ref = ropeQkvRef(qkv, rows.map((x) => x[1]!), cfg);
    const what = `seed=${r.seed}`;
    expectClose(await download(g, qkvT), writtenBack(ref, T, cfg), 'f32', `qkv written back ${what}`);
    expectClose(await download(g, q), ref.q, 'f32', `q ${what}`);
    for (const c of caches) {
      for (const [name, t, src] of [['k', c.k, ref.k], ['v', c.v, ref.v]] as const) {
        const got = await download(g, t);
        const wantC = new Float64Array(got.length).fill(NaN);
        rows.forEach(([slot, pos], i) => {
          const s = slot! - c.slotBase;
          if (s < 0 || s >= c.slots || pos! >= capacity) return;
          for (let h = 0; h < KV; h++) wantC.set(src.subarray((i * KV + h) * D, (i * KV + h + 1) * D), ((s * KV + h) * capacity + pos!) * D);
        });
        const at = Array.from(wantC.keys()).filter((i) => !Number.isNaN(wantC[i]!));
        expectClose(at.map((i) => got[i]!), at.map((i) => wantC[i]!), 'f32', `${name} cache of group ${c.slotBase} ${what}`);
        expect(got.filter((x, i) => Number.isNaN(wantC[i]!) && !Number.isNaN(x)).length, `${name} cache of group ${c.slotBase}: written outside the rows ${what}`).toBe(0);
      }
    }
    g.release(qkvT, rowsT, q, ...caches.flatMap((c) => [c.k, c.v]));
  });

  it('rotate: false copies each row\'s k and v into the cache at its position as qkv holds them, and writes no q', async () => {
    const g = await gpu();
    const r = rng();
    const H = 4, KV = 2, D = 16, T = 4, capacity = 8, slots = 3;
    const qkv = randomArray(r, T * (H + 2 * KV) * D, 'f32', -2, 2);
    // (slot, position): row 2 has no cache position, row 3 another group's slot (slotBase 1 holds slots 1..3).
    const rows = [[1, 5], [3, 0], [2, capacity], [0, 4]];
    const qkvT = upload(g, qkv, [T, (H + 2 * KV) * D], 'f32'), rowsT = upload(g, rows.flat(), [T, 2], 'u32');
    const q = poisoned(g, [T, H, D], 'f32'), kCache = poisoned(g, [slots, KV, capacity, D], 'f32'), vCache = poisoned(g, [slots, KV, capacity, D], 'f32');
    const qBefore = await download(g, q), kBefore = await download(g, kCache), vBefore = await download(g, vCache);
    await g.run([ropeQkv(g, { qkv: qkvT, rows: rowsT, q, kCache, vCache, slotBase: 1, writeQ: false, rotate: false, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000 })]);
    const kWant = kBefore.slice(), vWant = vBefore.slice();
    rows.forEach(([slot, pos], t) => {
      const s = slot! - 1;
      if (s < 0 || s >= slots || pos! >= capacity) return;
      for (let h = 0; h < KV; h++) {
        const at = ((s * KV + h) * capacity + pos!) * D, src = t * (H + 2 * KV) * D + (H + h) * D;
        kWant.set(qkv.subarray(src, src + D), at);
        vWant.set(qkv.subarray(src + KV * D, src + KV * D + D), at);
      }
    });
    expect(Array.from(await download(g, kCache))).toEqual(Array.from(kWant));
    expect(Array.from(await download(g, vCache))).toEqual(Array.from(vWant));
    expect(Array.from(await download(g, q))).toEqual(Array.from(qBefore));
    expect(Array.from(await download(g, qkvT))).toEqual(Array.from(qkv));
    g.release(qkvT, rowsT, q, kCache, vCache);
  });

  it('frequency words encode inv_freq / 2π to ~2^-53', () => {
    const w = ropeFrequencyWords(10000, 64);
    for (let i = 0; i < 32; i++) {
      const turns = (w[2 * i]! * 2 ** 32 + w[2 * i + 1]!) / 2 ** 64;
      const want = 10000 ** (-(2 * i) / 64) / (2 * Math.PI);
      expect(Math.abs(turns - want) / want).toBeLessThan(1e-15);
    }
  });

  it('tokens uniform limits the rows processed', async () => {
    const g = await gpu();
    const r = rng();
    const [T, H, KV, D] = [4, 2, 1, 8];
    const qkv = randomArray(r, T * (H + 2 * KV) * D, 'f32');
    const qkvT = upload(g, qkv, [T, (H + 2 * KV) * D], 'f32'), rowsT = upload(g, [0, 0, 0, 1, 0, 2, 0, 3], [T, 2], 'u32');
    const q = poisoned(g, [T, H, D], 'f32'), kCache = poisoned(g, [1, KV, 4, D], 'f32'), vCache = poisoned(g, [1, KV, 4, D], 'f32');
    const d = ropeQkv(g, { qkv: qkvT, rows: rowsT, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000 });
    await g.run([d.set({ tokens: 2 })]);
    const gotQ = await download(g, q);
    expectClose(gotQ.subarray(0, 2 * H * D), ropeQkvRef(qkv, [0, 1, 2, 3], { nHeads: H, nKvHeads: KV, headDim: D, theta: 10000, style: 'neox', ropeDim: D }).q.subarray(0, 2 * H * D), 'f32', `seed=${r.seed}`);
    expect(gotQ.subarray(2 * H * D).every(Number.isNaN)).toBe(true);
    expect((await download(g, kCache)).subarray(2 * D).every(Number.isNaN)).toBe(true);
    g.release(qkvT, rowsT, q, kCache, vCache);
  });

  it('rejects bad shapes, dtypes and parameters', async () => {
    const g = await gpu();
    const [T, H, KV, D] = [3, 4, 2, 8];
    const base = {
      qkv: g.tensor([T, (H + 2 * KV) * D], 'f32'), rows: g.tensor([T, 2], 'u32'), q: g.tensor([T, H, D], 'f32'),
      kCache: g.tensor([2, KV, 16, D], 'f32'), vCache: g.tensor([2, KV, 16, D], 'f32'),
      nHeads: H, nKvHeads: KV, headDim: D, theta: 10000,
    };
    expect(() => ropeQkv(g, base)).not.toThrow();
    expect(() => ropeQkv(g, { ...base, qkv: g.tensor([T, (H + KV) * D], 'f32') })).toThrow(/qkv must be \[3, 64\]/);
    expect(() => ropeQkv(g, { ...base, rows: g.tensor([T], 'u32') })).toThrow(/rows must be \[3, 2\]/);
    expect(() => ropeQkv(g, { ...base, rows: g.tensor([T, 2], 'i32') })).toThrow(/rows must be u32/);
    expect(() => ropeQkv(g, { ...base, q: g.tensor([T, H, D], 'f16') })).toThrow(/q must be f32/);
    expect(() => ropeQkv(g, { ...base, vCache: g.tensor([2, KV, 15, D], 'f32') })).toThrow(/vCache must be \[2, 2, 16, 8\]/);
    expect(() => ropeQkv(g, { ...base, kCache: g.tensor([2, 1, 16, D], 'f32') })).toThrow(ShapeError);
    expect(() => ropeQkv(g, { ...base, ropeDim: 10 })).toThrow(/ropeDim/);
    expect(() => ropeQkv(g, { ...base, ropeDim: 3 })).toThrow(/ropeDim/);
    expect(() => ropeQkv(g, { ...base, kCache: base.vCache })).toThrow(/must not alias/);
  });
});
