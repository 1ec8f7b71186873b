// FAPOOL_GEMV_HSUM: the decode GEMV's f16-pair products of 5..8 rows on their `_h_s` twins, which add each trip's f16
// pair in f16 before converting it. Every f16-pair GEMV of an 8-row step (QKV's RoPE entry among them) takes its
// twin and nothing else changes; the logits move by f16 rounding only.
import { describe, expect, it } from 'vitest';
import { gemvHsumDefault } from '../src/kernels/gemv.js';
import type { ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// hidden 512: every product's K is a whole number of 16-byte vectors (the subgroup GEMV applies), and 512 / 8 = 64
// vectors are two trips of 32 lanes at U 1, one at U 2.
const cfg: ModelConfig = seedShaped({
  name: 'gemv-hsum', nLayers: 2, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 29);
const HALF = /^gsg_[pg]_m8_c\d_u\d_h/;

describe('FAPOOL_GEMV_HSUM: the f16-pair GEMVs with each pair summed in f16', () => {
  it('an 8-row step: every f16-pair launch on its _h_s twin, logits within f16 rounding', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || !g.caps.subgroups) { ctx.skip(); return; }
    const w = await weights();
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 2 + i }, () => r.int(0, cfg.vocab)));
    // The default paths: QKV, O, gate+up and the LM head take the f16-pair GEMV at 8 rows (down its f32 one or a tile).
    // cpt '2': every GEMV at two columns a subgroup, where QKV takes the RoPE epilogue (its _h_s_r entry).
    const run = (hsum: string, cpt = '') => withEnv('FAPOOL_GEMV_CPT', cpt, () => withEnv('FAPOOL_GEMV_HSUM', hsum, () => greedyRun(g, cfg, w, 'f16', prompts, 2)));
    for (const cpt of ['2', '']) {
      const off = await run('off', cpt), on = await run('on', cpt);
      const what = `seed ${r.seed}: ${off.launches.join(' ')} | ${on.launches.join(' ')}`;
      expect(off.launches.filter((l) => HALF.test(l)).length, what).toBeGreaterThan(0);
      expect(off.launches.some((l) => l.includes('_h_s')), what).toBe(false);
      expect(on.launches, what).toEqual(off.launches.map((l) => (HALF.test(l) ? l.replace('_h', '_h_s') : l)));
      if (cpt) expect(on.launches.some((l) => l.includes('_h_s_r')), `QKV's RoPE entry: ${what}`).toBe(true);
      const scale = Math.max(...off.logits.map(Math.abs));
      const worst = Math.max(...on.logits.map((x, i) => Math.abs(x - off.logits[i]!)));
      expect(worst / scale, what).toBeLessThan(1e-2);
      expect(worst, `${what}: the twins must differ somewhere (else the test proves nothing)`).toBeGreaterThan(0);
    }
  }, 600_000);

  it('is off unless set, and refuses a value other than off / on', () => {
    expect(gemvHsumDefault(undefined)).toBe(false);
    expect(gemvHsumDefault('off')).toBe(false);
    expect(gemvHsumDefault(' on ')).toBe(true);
    for (const bad of ['1', 'yes', 'a2']) expect(() => gemvHsumDefault(bad), bad).toThrow(/FAPOOL_GEMV_HSUM/);
  });
});
