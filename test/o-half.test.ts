// FAPOOL_GEMV_HALF_O=on: the O projection takes the attention's output as bounded x (LinearArgs.normed), so its GEMV
// of 5..8 rows forms its products in f16 pairs (an `_h` entry) as QKV's, gate/up's and the LM head's do (the
// default since session 54). Off: its f32 entry. An 8-row decode step either way: the same prefill token, logits within f16
// rounding, and the O launch named by its entry. With `split:plain=8` on a device with subgroup matrices (or `:emu`
// here) the f32 O takes a tile; bounded, it stays on the GEMV (normEpilogueApplies follows the product's path, so a
// split O's reduce would not be asked for the FFN's norm).
import { describe, expect, it } from 'vitest';
import { gemvHalfO } from '../src/kernels/gemm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import type { ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// hidden 512 = nHeads · headDim: O is a 512 × 512 product (K % 8 == 0, the subgroup GEMV's pairs apply), split in
// two on the 8-row tile (norm-epilogue.test.ts's shapes), so there its reduce writes the FFN's norm.
const cfg: ModelConfig = seedShaped({
  name: 'o-half', nLayers: 2, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 13);

describe('FAPOOL_GEMV_HALF_O: the O projection\'s GEMV in f16 pairs', () => {
  it('an 8-row step: O on an _h entry with it, the f32 one without; logits within f16 rounding', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || !g.caps.subgroups) { ctx.skip(); return; }
    const w = await weights();
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 3 + i }, () => r.int(0, cfg.vocab)));
    const run = (half: string, tiles = 'split') => withEnv('FAPOOL_DECODE_TILES', tiles, () => withEnv('FAPOOL_GEMV_HALF_O', half, () => greedyRun(g, cfg, w, 'f16', prompts, 2)));
    const off = await run('off'), on = await run('on');
    // The plain GEMVs of the step (gsg_p_: QKV, O, down, LM head); O is the second a layer.
    const plain = (ls: string[]) => ls.filter((l) => /^gsg_p_/.test(l));
    const oOf = (ls: string[]) => plain(ls).filter((_, i) => i % 3 === 1 && i < 3 * cfg.nLayers);
    const what = `seed ${r.seed}: ${on.launches.join(' ')}`;
    expect([oOf(off.launches).length, oOf(on.launches).length], what).toEqual([cfg.nLayers, cfg.nLayers]);
    expect(oOf(off.launches).every((l) => !/_h_/.test(l)), `off: ${off.launches.join(' ')}`).toBe(true);
    expect(oOf(on.launches).every((l) => /^gsg_p_m8_c\d_u\d_h_f16$/.test(l)), what).toBe(true);
    // Nothing else changes: the same launches but O's.
    expect(on.launches.length).toBe(off.launches.length);
    expect(on.launches.filter((l, i) => l !== off.launches[i]).length, what).toBe(cfg.nLayers);
    expect(on.tokens.map((t) => t[0]), 'the prefill\'s token').toEqual(off.tokens.map((t) => t[0]));
    const scale = Math.max(...off.logits.map(Math.abs));
    const worst = Math.max(...on.logits.map((x, i) => Math.abs(x - off.logits[i]!)));
    expect(worst / scale, `seed ${r.seed}`).toBeLessThan(1e-2);
    expect(worst, `seed ${r.seed}: the f16 pairs ran`).toBeGreaterThan(0);
    // With the old 8-row tile for plain products (split:plain=8; emulated here) the f32 O takes a split tile whose
    // reduce writes the FFN's norm; bounded, O stays on the GEMV's f16 pairs (the normed products' rule) and the norm
    // is a launch again (normEpilogueApplies follows the product's path: asked of a GEMV, the norm would throw).
    const emu = hasSubgroupMatrixF16(g.caps) ? '' : ':emu';
    const tiled = await run('on', `split:plain=8${emu}`), tiledOff = await run('off', `split:plain=8${emu}`);
    const both = `${tiledOff.launches.join(' ')} | ${tiled.launches.join(' ')}`;
    const count = (ls: string[], re: RegExp) => ls.filter((l) => re.test(l)).length;
    expect(count(tiledOff.launches, /^tgs_t/) - count(tiled.launches, /^tgs_t/), both).toBe(cfg.nLayers);   // O's split tiles gone
    expect(count(tiled.launches, /^rmsnorm/) - count(tiledOff.launches, /^rmsnorm/), both).toBe(cfg.nLayers);
    expect(count(tiled.launches, /^gsg_p_m8_c\d_u\d_h_f16$/) - count(tiledOff.launches, /^gsg_p_m8_c\d_u\d_h_f16$/), both).toBe(cfg.nLayers);
  }, 600_000);

  it('is on unless set off, and refuses a value other than on / off', async () => {
    expect(await withEnv('FAPOOL_GEMV_HALF_O', '', async () => gemvHalfO())).toBe(true);
    expect(await withEnv('FAPOOL_GEMV_HALF_O', 'off', async () => gemvHalfO())).toBe(false);
    await expect(withEnv('FAPOOL_GEMV_HALF_O', 'yes', async () => gemvHalfO())).rejects.toThrow(/FAPOOL_GEMV_HALF_O/);
  });
});
