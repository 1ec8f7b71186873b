// FAPOOL_GEMV_PIPE: the decode GEMV's f16-pair products of 5..8 rows on other entries. a1 / a2: the `_h_a{D}` twins
// (x loaded D rows ahead of the products); the sums are the same and in the same order, so an 8-row decode step gives
// the same logits bit for bit, with every f16-pair GEMV (QKV's RoPE entry among them) on its twin and nothing else
// changed. w: the wide shape (plain products without RoPE at 4 columns, gated at 2, both 2 vectors a trip): other
// partial sums, so logits within f16 rounding, and QKV keeps its two-column RoPE entry.
import { describe, expect, it } from 'vitest';
import { gemvPipeMode } from '../src/kernels/gemv.js';
import type { ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// hidden 512: every product's K is a whole number of 16-byte vectors (the subgroup GEMV applies), and 512 / 8 = 64
// vectors are two trips of 32 lanes at U 1, one at U 2.
const cfg: ModelConfig = seedShaped({
  name: 'gemv-pipe', nLayers: 2, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 29);
const HALF = /^gsg_[pg]_m8_c\d_u\d_h/;

describe('FAPOOL_GEMV_PIPE: the f16-pair GEMVs with x pipelined, or wide', () => {
  it('an 8-row step: the same logits bit for bit on the _a1 / _a2 entries; wide within f16 rounding', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || !g.caps.subgroups) { ctx.skip(); return; }
    const w = await weights();
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 2 + i }, () => r.int(0, cfg.vocab)));
    // The default paths: QKV, O, gate+up and the LM head take the f16-pair GEMV at 8 rows (down its f32 one or a tile).
    // cpt '2': every GEMV at two columns a subgroup, where QKV takes the RoPE epilogue (its _h_a{D}_r entry).
    const run = (pipe: string, cpt = '') => withEnv('FAPOOL_GEMV_CPT', cpt, () => withEnv('FAPOOL_GEMV_PIPE', pipe, () => greedyRun(g, cfg, w, 'f16', prompts, 2)));
    type Run = Awaited<ReturnType<typeof run>>;
    const what = (off: Run, on: Run) => `seed ${r.seed}: ${off.launches.join(' ')} | ${on.launches.join(' ')}`;
    let off!: Run;
    for (const cpt of ['2', '']) {
      off = await run('off', cpt);
      expect(off.launches.filter((l) => HALF.test(l)).length, what(off, off)).toBeGreaterThan(0);
      expect(off.launches.some((l) => /_h_a\d/.test(l)), what(off, off)).toBe(false);
      for (const d of [1, 2]) {
        const on = await run(`a${d}`, cpt);
        // Every f16-pair launch is its _a{D} twin (QKV's _h_r as _h_a{D}_r), the rest unchanged.
        expect(on.launches, what(off, on)).toEqual(off.launches.map((l) => (HALF.test(l) ? l.replace('_h', `_h_a${d}`) : l)));
        if (cpt) expect(on.launches.some((l) => l.includes(`_h_a${d}_r`)), `QKV's RoPE entry: ${what(off, on)}`).toBe(true);
        expect(on.tokens, what(off, on)).toEqual(off.tokens);
        expect(on.logits, what(off, on)).toEqual(off.logits);
      }
    }
    // Wide, with FAPOOL_GEMV_CPT=2 so that QKV takes its RoPE entry, which keeps two columns.
    const wide = await run('a2w', '2');
    const halfs = wide.launches.filter((l) => HALF.test(l));
    expect(halfs.some((l) => /^gsg_p_m8_c4_u2_h_a2_f16$/.test(l)), what(off, wide)).toBe(true);
    expect(halfs.some((l) => /^gsg_g_m8_c2_u2_h_a2_f16$/.test(l)), what(off, wide)).toBe(true);
    expect(halfs.some((l) => /^gsg_p_m8_c2_u\d_h_a2_r_f16$/.test(l)), `QKV keeps two columns: ${what(off, wide)}`).toBe(true);
    const scale = Math.max(...off.logits.map(Math.abs));
    const worst = Math.max(...wide.logits.map((x, i) => Math.abs(x - off.logits[i]!)));
    expect(worst / scale, `seed ${r.seed}`).toBeLessThan(1e-2);
  }, 600_000);

  it('is off unless set, and refuses a value other than off / a1 / a2 / w / a1w / a2w', () => {
    expect(gemvPipeMode(undefined)).toBeNull();
    expect(gemvPipeMode('off')).toBeNull();
    expect(gemvPipeMode(' a2 ')).toEqual({ ahead: 2, wide: false });
    expect(gemvPipeMode('w')).toEqual({ ahead: 0, wide: true });
    expect(gemvPipeMode('a1w')).toEqual({ ahead: 1, wide: true });
    for (const bad of ['a3', 'on', 'wa1', 'a0']) expect(() => gemvPipeMode(bad), bad).toThrow(/FAPOOL_GEMV_PIPE/);
  });
});
