import { describe, expect, it } from 'vitest';
import { fromF16Array, hasWork, LimitError, ShapeError, toF16Array, type Tensor } from '../src/gpu/index.js';
import { keyedUniform, NONFINITE_ID, SAMPLER_GREEDY_PARTS_VOCAB, sampler, samplerStorageBytes, samplerTuning, samplingUniform, type SamplingParams } from '../src/kernels/sampling.js';
import { download, poisoned, rng, upload, useGpu, type Rng } from './helpers.js';
import { acceptedTokens, sampleRowRef } from './ref/misc.js';

const gpu = useGpu();

/** Whether the sampler takes the argmax for these parameters (temperature 0 or top-k 1). */
const samplesGreedilyRef = (p: Omit<SamplingParams, 'seed'>) => p.temperature === 0 || p.topK === 1;

/** Whether only the temperature shapes a sampled draw (no top-k, no top-p). */
const tempOnly = (p: Omit<SamplingParams, 'seed'>, V: number) => !samplesGreedilyRef(p) && (p.topK === 0 || p.topK >= V) && p.topP === 1;

const PARAMS: Omit<SamplingParams, 'seed'>[] = [
  { temperature: 0, topK: 0, topP: 1 },       // greedy
  { temperature: 1, topK: 1, topP: 0.5 },     // greedy through topK = 1
  { temperature: 1, topK: 0, topP: 1 },       // plain temperature sampling
  { temperature: 0.7, topK: 5, topP: 1 },
  { temperature: 1.3, topK: 0, topP: 0.9 },
  { temperature: 0.8, topK: 40, topP: 0.6 },
];

/** Peaked, model-like logits; `ties` quantises them so equal logits are common. */
function makeLogits(r: Rng, n: number, ties: boolean): Float64Array {
  return Float64Array.from({ length: n }, () => {
    const v = r.normal() * 3;
    return Math.fround(ties ? Math.round(v * 2) / 2 : v);
  });
}

/** P(X ≥ c) for c above n·p, else P(X ≤ c), X ~ Binomial(n, p), 0 < p < 1: summed in log space (n·p may be ≪ 1 or ≈ n). */
function binomialTail(n: number, p: number, c: number): number {
  if (p >= 1) return c === n ? 1 : 0;
  const logPmf = new Float64Array(n + 1);
  logPmf[0] = n * Math.log1p(-p);
  for (let k = 0; k < n; k++) logPmf[k + 1] = logPmf[k]! + Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p));
  const [lo, hi] = c >= n * p ? [c, n] : [0, c];
  const top = Math.max(...logPmf.subarray(lo, hi + 1));
  let sum = 0;
  for (let k = lo; k <= hi; k++) sum += Math.exp(logPmf[k]! - top);
  return Math.exp(top) * sum;
}

/** Row b of the GPU's ids is a token the float64 reference accepts for (params, the draw of seed, step, row b). */
function expectAccepted(logits: Float64Array, V: number, b: number, params: Omit<SamplingParams, 'seed'>, seed: number, step: number, got: number, what: string): void {
  const ok = acceptedTokens(logits.subarray(b * V, (b + 1) * V), params, samplingUniform(seed, step, b));
  expect(ok.has(got), `${what} row ${b} step ${step} ${JSON.stringify(params)} got ${got} want ${[...ok]}`).toBe(true);
}

describe('sampler', () => {
  for (const [V, B] of [[1, 2], [7, 5], [1000, 3], [4099, 3], [32000, 2]] as const) {   // 4099: rows past the unrolled trips
    for (const ties of [false, true]) {
      it(`V=${V} B=${B}${ties ? ' with tied logits' : ''}: exact tokens for every parameter set and step`, async () => {
        const g = await gpu();
        const r = rng();
        const logits = makeLogits(r, B * V, ties);
        const lt = upload(g, logits, [B, V], 'f32'), out = poisoned(g, [B], 'u32');
        const seed = r.int(0, 2 ** 31);
        const s = sampler(g, { logits: lt, out, params: { ...PARAMS[0]!, seed } });
        let ambiguous = 0;
        for (const params of PARAMS) {
          s.setParams({ ...params, seed });
          for (const step of [0, 1, 7 + r.int(0, 1000)]) {
            s.setStep(step);
            await g.run([s.dispatch]);
            const got = await download(g, out);
            for (let b = 0; b < B; b++) {
              const row = logits.subarray(b * V, (b + 1) * V);
              const u = samplingUniform(seed, step, b);
              const ok = acceptedTokens(row, params, u);
              if (ok.size > 1) ambiguous++;
              expect(ok.has(got[b]!), `row ${b} step ${step} ${JSON.stringify(params)} u=${u} got ${got[b]} want ${[...ok]} seed=${r.seed}`).toBe(true);
            }
          }
        }
        if (ambiguous) console.info(`[sampling] V=${V}: ${ambiguous} draw(s) within 1e-5 of a boundary`);
        g.release(lt, out);
      });
    }
  }

  it('f16 logits (an f16 LM head\'s, sampled without a cast launch, 19-bit keys): exact tokens for every parameter set; the same ids as their f32 copy where no mass is searched', async () => {
    const g = await gpu();
    const r = rng();
    const [V, B] = [4099, 3];
    // Values an f16 holds exactly (so the f32 copy is the same numbers), with ties among them.
    const logits = Float64Array.from(makeLogits(r, B * V, false), (v) => toF16Array(Float32Array.of(v))[0]!).map((h) => fromF16Array(Uint16Array.of(h))[0]!);
    const l16 = upload(g, logits, [B, V], 'f16'), l32 = upload(g, logits, [B, V], 'f32');
    const o16 = poisoned(g, [B], 'u32'), o32 = poisoned(g, [B], 'u32');
    const seed = r.int(0, 2 ** 31);
    const s16 = sampler(g, { logits: l16, out: o16, params: { ...PARAMS[0]!, seed } });
    const s32 = sampler(g, { logits: l32, out: o32, params: { ...PARAMS[0]!, seed } });
    for (const params of PARAMS) {
      for (const step of [0, 5]) {
        for (const s of [s16, s32]) { s.setParams({ ...params, seed }); s.setStep(step); }
        await g.run([s16.dispatch, s32.dispatch]);
        const got = Array.from(await download(g, o16)), want = Array.from(await download(g, o32));
        for (let b = 0; b < B; b++) expectAccepted(logits, V, b, params, seed, step, got[b]!, `seed=${r.seed}`);
        // Counts (top-k) and the draw are exact in any grouping; a top-p search groups its masses by the key's buckets,
        // which differ between 19- and 32-bit keys (a draw within rounding of a boundary may differ there).
        if (params.topP === 1) expect(got, `${JSON.stringify(params)} step ${step} seed=${r.seed}`).toEqual(want);
      }
    }
    g.release(l16, l32, o16, o32);
  });

  it('f16 logits one f16 step apart at the top-k and top-p boundaries: never one past the kept set (keys exact to the last bit)', async () => {
    const g = await gpu();
    const r = rng();
    const V = 600, B = 4;
    // Row b: 8 leading logits on adjacent f16 values below `top` (row 3 negative), the rest far below; top-k 3 keeps exactly
    // the 3 largest, top-p the smallest nucleus of the ladder. (No subnormals: a device may flush them on conversion.)
    const logits = new Float64Array(B * V);
    const f16 = (v: number) => fromF16Array(toF16Array(Float32Array.of(v)))[0]!;
    for (let b = 0; b < B; b++) {
      const top = [2, 3, 1000, -1.5][b]!;
      const ulp = 2 ** (Math.ceil(Math.log2(Math.abs(top))) - 11);   // the f16 spacing just below |top|
      for (let i = 0; i < V; i++) logits[b * V + i] = f16(-12 - 4 * r.uniform(0, 1));
      for (let j = 0; j < 8; j++) logits[b * V + ((j * 37 + b) % V)] = f16(top - j * ulp);
    }
    const lt = upload(g, logits, [B, V], 'f16'), out = poisoned(g, [B], 'u32');
    const seed = r.int(0, 2 ** 31);
    const s = sampler(g, { logits: lt, out, params: { ...PARAMS[0]!, seed } });
    for (const params of [{ temperature: 1, topK: 3, topP: 1 }, { temperature: 1, topK: 0, topP: 0.5 }, { temperature: 0.01, topK: 6, topP: 0.99 }]) {
      s.setParams({ ...params, seed });
      for (let step = 0; step < 24; step++) {
        s.setStep(step);
        await g.run([s.dispatch]);
        const got = await download(g, out);
        for (let b = 0; b < B; b++) expectAccepted(logits, V, b, params, seed, step, got[b]!, `seed=${r.seed}`);
      }
    }
    g.release(lt, out);
  });

  it('a vocabulary of 64K tokens or more (512 threads a row where the device has the storage): exact tokens', async () => {
    const g = await gpu();
    const r = rng();
    const [V, B] = [70001, 2];
    const logits = makeLogits(r, B * V, true);
    const lt = upload(g, logits, [B, V], 'f32'), out = poisoned(g, [B], 'u32');
    const seed = r.int(0, 2 ** 31);
    // The device's own pick, and 512 threads with 8 buckets (what fits lavapipe's 32 KiB): the wide row's reductions.
    for (const tuning of [undefined, { wg: 512, logNb: 3 }]) {
      const s = sampler(g, { logits: lt, out, params: { ...PARAMS[0]!, seed }, tuning });
      for (const params of PARAMS) {
        s.setParams({ ...params, seed });
        for (const step of [0, 3]) {
          s.setStep(step);
          await g.run([s.dispatch]);
          const got = await download(g, out);
          for (let b = 0; b < B; b++) expectAccepted(logits, V, b, params, seed, step, got[b]!, `${JSON.stringify(tuning)} seed=${r.seed}`);
        }
      }
    }
    g.release(lt, out);
  });

  it('the first pass over several workgroups a row (scan_part): the same ids as the row\'s own workgroup (temperature alone: exact tokens, its draw located by the parts\' masses), for ties, empty parts and non-finite logits in one part', async () => {
    const g = await gpu();
    const r = rng();
    for (const [V, dtype] of [[1000, 'f32'], [4099, 'f16'], [9001, 'f32']] as const) {
      const B = 4;
      const f16 = (v: number) => (dtype === 'f16' ? fromF16Array(toF16Array(Float32Array.of(v)))[0]! : Math.fround(v));
      const logits = Float64Array.from(makeLogits(r, B * V, true), f16);
      // Row 1: its maximum tied at three indices in different parts (the lowest must win); row 2: a NaN as its last logit
      // (the last part's tail); row 3: +Inf as its first.
      const top = 40;
      for (const i of [V - 3, Math.floor(V / 2), 17 + r.int(0, 50)]) logits[V + i] = top;
      logits[2 * V + V - 1] = NaN;
      logits[3 * V] = Infinity;
      const lt = upload(g, logits, [B, V], dtype);
      const { wg, logNb } = samplerTuning(g, V);   // the device's pick (its sample pipelines already built by the tests above)
      const arms = [0, 3, 7, wg].map((parts) => ({ parts, out: poisoned(g, [B], 'u32') }));   // wg parts: the last ones empty
      const seed = r.int(0, 2 ** 31);
      const ss = arms.map((a) => sampler(g, { logits: lt, out: a.out, params: { ...PARAMS[0]!, seed }, tuning: { wg, logNb, parts: a.parts } }));
      for (const params of PARAMS) {
        for (const step of [0, 9]) {
          for (const s of ss) { s.setParams({ ...params, seed }); s.setStep(step); }
          await g.run(ss.map((s) => s.dispatch));
          const [want, ...got] = await Promise.all(arms.map((a) => download(g, a.out)));
          for (const [k, ids] of got.entries()) {
            const what = `V=${V} ${dtype} parts ${arms[k + 1]!.parts} ${JSON.stringify(params)} step ${step} seed=${r.seed}`;
            if (!tempOnly(params, V)) {
              expect(Array.from(ids!), what).toEqual(Array.from(want!));
              continue;
            }
            // Temperature alone: the draw sums the parts' masses (grouped otherwise than one chunk a thread): exact against
            // the float64 reference, which may differ from the one-workgroup draw within rounding of a boundary.
            for (const b of [0, 1]) expectAccepted(logits, V, b, params, seed, step, ids![b]!, what);
            expect(Array.from(ids!.slice(2)), what).toEqual(Array.from(want!.slice(2)));
          }
          expect(Array.from(want!.slice(2)), 'the non-finite rows').toEqual([NONFINITE_ID, NONFINITE_ID]);
          if (samplesGreedilyRef(params)) expect(want![1], 'the lowest tied index').toBe(Math.min(...[...Array(V).keys()].filter((i) => logits[V + i] === top)));
        }
      }
      for (const s of ss) s.dispatch.release();
      g.release(lt, ...arms.map((a) => a.out));
    }
  });

  it('a greedy step below SAMPLER_GREEDY_PARTS_VOCAB keeps its first pass in the row (the scan launch emptied) and gives the ids a scanning sampler gives; the other modes scan', async () => {
    const g = await gpu();
    const r = rng();
    for (const [V, dtype] of [[9001, 'f16'], [20000, 'f32']] as const) {
      const B = 3;
      const f16 = (v: number) => (dtype === 'f16' ? fromF16Array(toF16Array(Float32Array.of(v)))[0]! : Math.fround(v));
      const logits = Float64Array.from(makeLogits(r, B * V, true), f16);
      for (const i of [V - 2, Math.floor(V / 3), 5 + r.int(0, 40)]) logits[V + i] = 40;   // row 1: a tie across parts
      logits[2 * V + r.int(0, V)] = NaN;                                                  // row 2: non-finite
      const lt = upload(g, logits, [B, V], dtype);
      const pick = samplerTuning(g, V);
      expect(pick.parts, 'the pick scans this vocabulary in parts').toBeGreaterThan(0);
      expect(pick.greedyOwnRow).toBe(true);
      const seed = r.int(0, 2 ** 31);
      const outA = poisoned(g, [B], 'u32'), outB = poisoned(g, [B], 'u32');
      const a = sampler(g, { logits: lt, out: outA, params: { ...PARAMS[0]!, seed } });   // the device's pick
      const b = sampler(g, { logits: lt, out: outB, params: { ...PARAMS[0]!, seed }, tuning: { ...pick, greedyOwnRow: false } });
      expect(a.dispatch.launches[0]!.workgroups[0], 'greedy from the start: the scan emptied').toBe(0);
      expect(hasWork(a.dispatch)).toBe(true);
      for (const params of [...PARAMS, PARAMS[0]!]) {
        for (const s of [a, b]) { s.setParams({ ...params, seed }); s.setStep(3); }
        const greedy = samplesGreedilyRef(params), what = `V=${V} ${dtype} ${JSON.stringify(params)} seed=${r.seed}`;
        expect(a.dispatch.launches.map((l) => l.workgroups[0]), what).toEqual([greedy ? 0 : pick.parts, B]);
        expect(b.dispatch.launches.map((l) => l.workgroups[0]), what).toEqual([pick.parts, B]);
        const before = g.counts.launches;
        await g.run([a.dispatch]);
        expect(g.counts.launches - before, `${what}: launches encoded`).toBe(greedy ? 1 : 2);
        await g.run([b.dispatch]);
        const [ia, ib] = await Promise.all([download(g, outA), download(g, outB)]);
        expect(Array.from(ia!), what).toEqual(Array.from(ib!));
        expect(ia![2], what).toBe(NONFINITE_ID);
        if (greedy) expect(ia![1], `${what}: the lowest tied index`).toBe(Math.min(...[...Array(V).keys()].filter((i) => logits[V + i] === 40)));
      }
      a.dispatch.release(); b.dispatch.release();
      g.release(lt, outA, outB);
    }
    // From SAMPLER_GREEDY_PARTS_VOCAB a greedy step scans in parts as the other modes do.
    const wide = samplerTuning(g, SAMPLER_GREEDY_PARTS_VOCAB);
    expect(wide.greedyOwnRow).toBe(false);
    const lw = upload(g, Float64Array.from(makeLogits(r, SAMPLER_GREEDY_PARTS_VOCAB, false)), [1, SAMPLER_GREEDY_PARTS_VOCAB], 'f32'), ow = poisoned(g, [1], 'u32');
    const w = sampler(g, { logits: lw, out: ow, params: { ...PARAMS[0]!, seed: 1 } });
    expect(w.dispatch.launches.map((l) => l.workgroups[0])).toEqual([wide.parts, 1]);
    w.dispatch.release();
    g.release(lw, ow);
  });

  it('a tuning that is not a power of two, or over the device\'s workgroup storage, is refused', async () => {
    const g = await gpu();
    const logits = g.tensor([1, 10], 'f32'), out = g.tensor([1], 'u32'), params = { temperature: 1, topK: 0, topP: 1, seed: 1 };
    expect(() => sampler(g, { logits, out, params, tuning: { wg: 48, logNb: 4 } })).toThrow(/48 threads a row is not a power of two/);
    expect(() => sampler(g, { logits, out, params, tuning: { wg: 64, logNb: 0 } })).toThrow(/logNb must be an integer in \[1, 6\]/);
    for (const parts of [-1, 65, 1.5]) expect(() => sampler(g, { logits, out, params, tuning: { wg: 64, logNb: 4, parts } })).toThrow(/parts must be an integer in \[0, 64\]/);
    const wg = Math.min(g.caps.maxInvocations, g.caps.maxWorkgroupSizeX, 1024);
    if (samplerStorageBytes(wg, 6) > g.caps.maxWorkgroupStorage) {
      expect(() => sampler(g, { logits, out, params, tuning: { wg, logNb: 6 } })).toThrow(/bytes of workgroup storage, over this device's/);
    }
  });

  it('f16 logits with ±Inf or NaN give the non-finite id for every parameter set; 65504 (the largest f16) does not', async () => {
    const g = await gpu();
    const r = rng();
    const V = 300, specials = [Infinity, -Infinity, NaN, 65504];
    const logits = new Float64Array(specials.length * V);
    specials.forEach((x, b) => {
      for (let i = 0; i < V; i++) logits[b * V + i] = Math.fround(r.normal());
      logits[b * V + r.int(0, V - 1)] = x;
    });
    const lt = upload(g, logits, [specials.length, V], 'f16'), out = poisoned(g, [specials.length], 'u32');
    const s = sampler(g, { logits: lt, out, params: { ...PARAMS[0]!, seed: 1 } });
    for (const params of PARAMS) {
      s.setParams({ ...params, seed: 1 });
      await g.run([s.dispatch]);
      const got = Array.from(await download(g, out));
      expect(got.slice(0, 3), JSON.stringify(params)).toEqual([NONFINITE_ID, NONFINITE_ID, NONFINITE_ID]);
      expect(got[3], JSON.stringify(params)).not.toBe(NONFINITE_ID);
    }
    g.release(lt, out);
  });

  it('keyed rows (drawAt ≠ 0) draw by (seed, drawAt) whatever their row and step; rows with 0 by (seed, step, row)', async () => {
    const g = await gpu();
    const r = rng();
    const [V, B] = [1000, 6];
    const logits = makeLogits(r, B * V, false);
    const lt = upload(g, logits, [B, V], 'f32'), out = poisoned(g, [B], 'u32'), drawAt = g.tensor([B], 'u32', 'draw_at');
    const seed = r.int(0, 2 ** 31), params = PARAMS[4]!;
    const s = sampler(g, { logits: lt, out, drawAt, params: { ...params, seed } });
    for (const step of [0, 3, 1 + r.int(0, 1000)]) {
      const at = Uint32Array.from({ length: B }, (_, b) => (b % 3 === 1 ? 0 : r.int(1, 1 << 20)));
      g.write(drawAt, at);
      s.setStep(step);
      await g.run([s.dispatch]);
      const got = await download(g, out);
      for (let b = 0; b < B; b++) {
        const u = at[b] ? keyedUniform(seed, at[b]!) : samplingUniform(seed, step, b);
        const ok = acceptedTokens(logits.subarray(b * V, (b + 1) * V), params, u);
        expect(ok.has(got[b]!), `row ${b} step ${step} at ${at[b]} u=${u} got ${got[b]} want ${[...ok]} seed=${r.seed}`).toBe(true);
      }
    }
    g.release(lt, out, drawAt);
  });

  it('drawAt of the wrong shape or dtype is refused', async () => {
    const g = await gpu();
    const logits = g.tensor([3, 10], 'f32'), out = g.tensor([3], 'u32'), params = { temperature: 1, topK: 0, topP: 1, seed: 1 };
    expect(() => sampler(g, { logits, out, drawAt: g.tensor([4], 'u32'), params })).toThrow(/drawAt must be \[3\]/);
    expect(() => sampler(g, { logits, out, drawAt: g.tensor([3], 'f32'), params })).toThrow(/drawAt must be u32/);
    expect(() => sampler(g, { logits, out, drawAt: out, params })).toThrow(ShapeError);
  });

  it('greedy ties: the lowest index of the maximum, whatever thread and load slot each tied index falls in', async () => {
    const g = await gpu();
    const r = rng();
    const V = 4101, starts = [0, 1, 300, 2047, 4100];   // every logit from start on equals the row maximum
    const logits = new Float64Array(starts.length * V);
    starts.forEach((st, b) => {
      // Below the tie value 5 everywhere else (a free normal passes 5 once in 3.5 million draws: 1 run in ~540 flaked).
      for (let i = 0; i < V; i++) logits[b * V + i] = i >= st ? 5 : Math.fround(Math.min(r.normal(), 4));
    });
    const lt = upload(g, logits, [starts.length, V], 'f32'), out = poisoned(g, [starts.length], 'u32');
    const s = sampler(g, { logits: lt, out, params: { temperature: 0, topK: 0, topP: 1, seed: 1 } });
    await g.run([s.dispatch]);
    expect(Array.from(await download(g, out))).toEqual(starts);
    g.release(lt, out);
  });

  it('greedy: the maximum is found in each of the scan\'s load slots (rows with it at 64 spread positions)', async () => {
    const g = await gpu();
    const r = rng();
    const [V, B] = [4099, 64];
    // Row b's maximum at 64·b + b % 7 (the last row's at V − 1): for any workgroup of ≤ 512 threads these positions
    // fall in every one of the eight loads of a trip, and the last in the tail loop after the trips.
    const want = Array.from({ length: B }, (_, b) => (b === B - 1 ? V - 1 : 64 * b + (b % 7)));
    const logits = new Float64Array(B * V);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < V; i++) logits[b * V + i] = Math.fround(Math.min(r.normal(), 4));
      logits[b * V + want[b]!] = 5;
    }
    const lt = upload(g, logits, [B, V], 'f32'), out = poisoned(g, [B], 'u32');
    const s = sampler(g, { logits: lt, out, params: { temperature: 0, topK: 0, topP: 1, seed: 1 } });
    await g.run([s.dispatch]);
    expect(Array.from(await download(g, out)), `seed=${r.seed}`).toEqual(want);
    g.release(lt, out);
  });

  it('distribution: frequencies match the probabilities; top-k and top-p never leave their sets', async () => {
    const g = await gpu();
    const r = rng();
    const [V, B] = [7, 2048];
    const row = makeLogits(r, V, false).map((v) => Math.fround(v / 2)); // flatter: every token has mass
    const logits = new Float64Array(B * V);
    for (let b = 0; b < B; b++) logits.set(row, b * V);
    const lt = upload(g, logits, [B, V], 'f32'), out = poisoned(g, [B], 'u32');
    const seed = r.int(0, 2 ** 31);
    const s = sampler(g, { logits: lt, out, params: { temperature: 1, topK: 0, topP: 1, seed } });
    const cases: Omit<SamplingParams, 'seed'>[] = [
      { temperature: 1, topK: 0, topP: 1 }, { temperature: 0.5, topK: 3, topP: 1 }, { temperature: 1, topK: 0, topP: 0.6 },
    ];
    for (const params of cases) {
      s.setParams({ ...params, seed });
      const { kept } = sampleRowRef(row, params, 0); // the kept set does not depend on u
      const w = kept.map((i) => Math.exp((row[i]! - Math.max(...row)) / params.temperature));
      const z = w.reduce((a, b) => a + b, 0);
      // Two steps can draw the same B tokens by chance: each row with probability Σ p²; a peaked row (one token
      // near p = 1) makes that likely. Checked only where the chance is below 1e-9.
      const sameRow = w.reduce((a, x) => a + (x / z) ** 2, 0);
      const checkAnew = B * Math.log(sameRow) < Math.log(1e-9);
      const counts = new Array<number>(V).fill(0);
      const steps = 2;
      let previous: Float64Array | null = null;
      for (let step = 0; step < steps; step++) {
        s.setStep(step);
        await g.run([s.dispatch]);
        const got = await download(g, out);
        for (const id of got) counts[id]!++;
        if (previous && checkAnew) expect(got.some((v, i) => v !== previous![i]), `a new step draws anew (seed=${r.seed})`).toBe(true);
        previous = got;
      }
      const n = B * steps;
      for (let i = 0; i < V; i++) {
        const k = kept.indexOf(i);
        const pr = k < 0 ? 0 : w[k]! / z;
        if (pr === 0) { expect(counts[i], `token ${i} outside the kept set ${kept} ${JSON.stringify(params)}`).toBe(0); continue; }
        // The exact binomial tail on the count's side of its mean, not a normal bound (which a token with n·p ≪ 1
        // broke: a count of 2 against 0.12 expected); a false alarm once in 10⁹ tokens checked.
        expect(binomialTail(n, pr, counts[i]!), `token ${i}: count ${counts[i]} of ${n} vs p ${pr} ${JSON.stringify(params)} seed=${r.seed}`).toBeGreaterThan(1e-9);
      }
    }
    g.release(lt, out);
  });

  it('acceptedTokens: a token lighter than the slack, between u - slack and u + slack, is accepted; far ones are not', () => {
    const l = [0, -30, 0, 0]; // token 1 weighs e^-30 ≈ 1e-13: its slice of the CDF sits at 1/3
    const p = { temperature: 1, topK: 0, topP: 1 };
    expect([...acceptedTokens(l, p, 1 / 3)].sort()).toEqual([0, 1, 2]);
    expect([...acceptedTokens(l, p, 0.1)]).toEqual([0]);
    expect([...acceptedTokens(l, p, 0.9)]).toEqual([3]);
  });

  it('samplingUniform is a 24-bit uniform that depends on seed, step and row', () => {
    const seen = new Set<number>();
    let sum = 0;
    for (let i = 0; i < 3000; i++) {
      const u = samplingUniform(i % 3, Math.floor(i / 3) % 10, Math.floor(i / 30));
      expect(u >= 0 && u < 1 && Number.isInteger(u * 2 ** 24)).toBe(true);
      seen.add(u);
      sum += u;
    }
    expect(seen.size).toBeGreaterThan(2990);
    expect(Math.abs(sum / 3000 - 0.5)).toBeLessThan(0.03);
  });

  it('rejects bad shapes, dtypes, parameters and over-limit vocabularies', async () => {
    const g = await gpu();
    const params = { temperature: 1, topK: 0, topP: 1, seed: 1 };
    const logits = g.tensor([3, 10], 'f32'), out = g.tensor([3], 'u32');
    expect(() => sampler(g, { logits: g.tensor([3, 10], 'u32'), out, params })).toThrow(/logits must be f32 or f16, got u32\[3, 10\]/);
    expect(() => sampler(g, { logits: g.tensor([30], 'f32'), out, params })).toThrow(ShapeError);
    expect(() => sampler(g, { logits, out: g.tensor([4], 'u32'), params })).toThrow(/out must be \[3\], got u32\[4\]/);
    expect(() => sampler(g, { logits, out: g.tensor([3], 'f32'), params })).toThrow(/out must be u32/);
    expect(() => sampler(g, { logits, out, params: { ...params, topP: 0 } })).toThrow(RangeError);
    expect(() => sampler(g, { logits, out, params: { ...params, temperature: -1 } })).toThrow(RangeError);
    expect(() => sampler(g, { logits, out, params: { ...params, topK: 2.5 } })).toThrow(RangeError);
    const s = sampler(g, { logits, out, params });
    expect(() => s.setStep(-1)).toThrow(RangeError);
    expect(() => s.setParams({ ...params, seed: 2 ** 32 })).toThrow(RangeError);
    const huge: Tensor = { ...logits, shape: [1, 2 ** 24 + 1] };
    expect(() => sampler(g, { logits: huge, out: g.tensor([1], 'u32'), params })).toThrow(LimitError);
  });
});
