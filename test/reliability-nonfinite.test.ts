// Silent garbage (issue 17, item 6): NaN / ±Inf in the weights used to give different tokens with exit 0, an
// all-NaN LM head token 0 forever. The non-finite scan (shaders/finite.wgsl) against a host count on random
// ranges of f32 / f16 tensors (ragged lengths, odd f16 starts, unaligned views, poisons of every kind, none);
// the loader's error naming the tensor and element; the sampler's NONFINITE_ID for a row with a bad logit
// (only that row), and the stream's NonFiniteError.
import { describe, expect, it } from 'vitest';
import { NonFiniteError, sliceRows, toF16Array, type Gpu, type Tensor } from '../src/gpu/index.js';
import { findNonFinite } from '../src/kernels/finite.js';
import { checkSampledIds, NONFINITE_ID, sampler } from '../src/kernels/sampling.js';
import { presetConfig } from '../src/model/config.js';
import { bytesSource, loadWeights } from '../src/model/load-weights.js';
import { randomWeightSpec } from '../src/model/random-weights-core.js';
import { encodeSafetensorsHeader } from '../src/model/safetensors.js';
import { ByteTokenizer, tolerantTokenizer } from '../src/model/tokenizer.js';
import { releaseWeights } from '../src/model/weights.js';
import { download, poisoned, rng, useGpu, type Rng } from './helpers.js';

const gpu = useGpu();

const POISONS = [NaN, Infinity, -Infinity];

/** Random finite values (some huge but finite: 3e38, 65504 for f16) with `bad` positions poisoned. */
function values(r: Rng, n: number, dtype: 'f32' | 'f16', bad: readonly number[]): Float32Array {
  const big = dtype === 'f16' ? 65504 : 3e38;
  const a = Float32Array.from({ length: n }, () => (r.next() < 0.01 ? (r.next() < 0.5 ? big : -big) : r.normal()));
  for (const i of bad) a[i] = POISONS[r.int(0, POISONS.length)]!;
  return a;
}

function host(a: Float32Array, dtype: 'f32' | 'f16'): Float32Array | Uint16Array {
  return dtype === 'f32' ? a : toF16Array(a);
}

describe('finite scan (finite.wgsl) against a host count', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: random ranges of random tensors, 0–5 poisons each, unaligned views`, async () => {
      const g = await gpu();
      const r = rng();
      for (let t = 0; t < 12; t++) {
        const rows = r.int(1, 40), cols = r.int(1, 300);
        const n = rows * cols;
        const bad = Array.from({ length: r.int(0, 6) }, () => r.int(0, n));
        const vals = values(r, n, dtype, bad);
        const full = g.tensor([rows + 4, cols], dtype, 'scanned');
        // Rows before the view hold poisons too: the scan must not see outside its range.
        const before = new Float32Array(4 * cols).fill(NaN);
        g.write(full, host(before, dtype));
        g.write(full, host(vals, dtype), 4 * cols); // writes need 4-byte offsets
        const view: Tensor = sliceRows(full, 4, rows); // offset 4·cols·el: rarely aligned to 256
        const ranges = Array.from({ length: 4 }, (_, i) => {
          const start = r.int(0, n), count = i === 0 ? n - start : r.int(0, n - start + 1);
          return { tensor: view, start: i === 0 ? 0 : start, count: i === 0 ? n : count, what: `range ${i}` };
        });
        const hits = await findNonFinite(g, ranges);
        for (const range of ranges) {
          const inRange = bad.filter((i) => i >= range.start && i < range.start + range.count);
          const distinct = [...new Set(inRange)].sort((a, b) => a - b);
          const hit = hits.find((h) => h.range === range);
          const seed = `seed ${r.seed} case ${t} ${range.what} [${range.start}, +${range.count}) of ${n}`;
          if (distinct.length === 0) { expect(hit, seed).toBeUndefined(); continue; }
          expect(hit?.count, seed).toBe(distinct.length);
          expect(hit?.first, seed).toBe(distinct[0]! - range.start);
        }
        g.release(full);
      }
    });
  }

  it('a large f16 tensor (2^22 + 1 elements, odd count): one poison at the very end is found', async () => {
    const g = await gpu();
    const n = 2 ** 22 + 1;
    const t = g.tensor([n], 'f16', 'large');
    const h = new Uint16Array(n).fill(0x3c00); // 1.0
    h[n - 1] = 0x7c00;                          // +Inf
    g.write(t, h);
    const hits = await findNonFinite(g, [{ tensor: t, start: 0, count: n, what: 'large' }]);
    expect(hits.map((x) => [x.count, x.first])).toEqual([[1, n - 1]]);
    // The buffer is rounded up past the last element: what lies there is not part of the tensor.
    expect(await findNonFinite(g, [{ tensor: t, start: 0, count: n - 1, what: 'large' }])).toEqual([]);
    g.release(t);
  });
});

describe('weights with NaN / Inf fail the load, naming the tensor', () => {
  const cfg = presetConfig('tiny');
  /** The tiny model's safetensors bytes with `poison` applied to one tensor's f32 values. */
  function fileWith(name: string, poison: (a: Float32Array) => void): Uint8Array {
    const { tensors, metadata } = randomWeightSpec(cfg, 9, 'f32');
    const header = encodeSafetensorsHeader(tensors, metadata);
    const out = new Uint8Array(header.fileSize);
    out.set(header.bytes);
    let pos = header.bytes.byteLength;
    for (const t of tensors) {
      const a = new Float32Array(t.shape.reduce((x, y) => x * y, 1));
      t.fill(a, 0);
      if (t.name === name) poison(a);
      out.set(new Uint8Array(a.buffer), pos);
      pos += a.byteLength;
    }
    return out;
  }

  const cases: [string, string, (a: Float32Array) => void, 'f32' | 'f16', RegExp][] = [
    ['one NaN in a fused q block', 'layers.0.wq', (a) => { a[130] = NaN; }, 'f32', /tensor 'layers\.0\.wq' has 1 non-finite value .* at element 130 \(row 2, column 2\)$/],
    ['-Inf in v (the third block of the fused wqkv)', 'layers.1.wv', (a) => { a[5] = -Infinity; a[31] = Infinity; }, 'f32', /tensor 'layers\.1\.wv' has 2 non-finite values .* element 5 \(row 0, column 5\)$/],
    ['a NaN norm weight', 'final_norm', (a) => { a[63] = NaN; }, 'f16', /tensor 'final_norm' has 1 non-finite value .* at element 63$/],
    ['an all-NaN LM head', 'lm_head', (a) => a.fill(NaN), 'f16', /tensor 'lm_head' has 16384 non-finite values/],
    ['1e5 loaded as f16 (overflow on the way)', 'layers.0.w_down', (a) => { a[200] = 1e5; }, 'f16', /the file holds 100000, beyond f16's range \(±65504\); load it with --dtype f32/],
  ];
  for (const [what, name, poison, dtype, msg] of cases) {
    it(`${what} (${dtype})`, async () => {
      const g = await gpu();
      if (dtype === 'f16' && !g.caps.f16) return;
      const before = g.liveBuffers;
      const err = await loadWeights(g, bytesSource(fileWith(name, poison), 'poisoned.safetensors'), cfg, dtype).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as Error).message).toMatch(/^poisoned\.safetensors: /);
      expect((err as Error).message).toMatch(msg);
      expect(g.liveBuffers, 'nothing of the failed load stays').toBe(before);
    });
  }

  it('clean weights load (f32 values up to 3e38 are finite)', async () => {
    const g = await gpu();
    const { weights } = await loadWeights(g, bytesSource(fileWith('lm_head', (a) => { a[0] = 3e38; a[1] = -3e38; })), cfg, 'f32');
    releaseWeights(g, weights);
  });
});

describe('non-finite logits', () => {
  async function sample(g: Gpu, logits: Float32Array, B: number, V: number, temperature: number): Promise<Float64Array> {
    const lt = g.tensor([B, V], 'f32', 'logits');
    g.write(lt, logits);
    const out = poisoned(g, [B], 'u32');
    const s = sampler(g, { logits: lt, out, params: { temperature, topK: temperature ? 20 : 0, topP: temperature ? 0.9 : 1, seed: 3 } });
    s.setStep(1);
    await g.run([s.dispatch]);
    const ids = await download(g, out);
    s.dispatch.release(); g.release(lt, out);
    return ids;
  }

  for (const temperature of [0, 0.8]) {
    it(`the sampler marks exactly the rows with a NaN / ±Inf logit (temperature ${temperature})`, async () => {
      const g = await gpu();
      const r = rng();
      const B = 6, V = 1000;
      const logits = Float32Array.from({ length: B * V }, () => r.normal() * 3);
      const badRows = [1, 4, 5];
      logits[1 * V + r.int(0, V)] = NaN;
      logits[4 * V + V - 1] = Infinity;
      logits.fill(-Infinity, 5 * V, 6 * V);
      const ids = await sample(g, logits, B, V, temperature);
      for (let b = 0; b < B; b++) {
        if (badRows.includes(b)) expect(ids[b], `row ${b}`).toBe(NONFINITE_ID);
        else expect(ids[b]! >= 0 && ids[b]! < V, `row ${b}: ${ids[b]}`).toBe(true);
      }
      expect(() => checkSampledIds(Uint32Array.from(ids), 7)).toThrow(/the logits of sequence 1 at step 7 are not finite/);
      expect(() => checkSampledIds(Uint32Array.from(ids), 7, (b) => b !== 1 && b !== 4 && b !== 5)).not.toThrow();
    });
  }

  it('the token stream refuses the mark with a NonFiniteError (it used to print token 0 or fail in the tokenizer)', () => {
    const tok = tolerantTokenizer(new ByteTokenizer(), 256);
    const s = tok.decodeStream();
    expect(s.push(72)).toBe('H');
    expect(() => s.push(NONFINITE_ID)).toThrow(NonFiniteError);
    expect(() => tok.decode([72, NONFINITE_ID])).toThrow(/token 1 of a sequence are not finite/);
    // An id the model has but the tokenizer cannot spell is still shown, not refused.
    expect(tolerantTokenizer(new ByteTokenizer(), 300).decodeStream().push(290)).toBe('⟦290⟧');
  });
});
