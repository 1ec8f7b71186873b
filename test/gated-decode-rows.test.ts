// FAPOOL_DECODE_TILES=split:gated=N: an 8-row decode step runs gate+up on the 16-row gated tile (g16x64, two slices
// prefetched with :u8p2) while QKV and the LM head keep the GEMV's f16-pair products and their norm prologue — a mix
// no default took before (session 49: the tile 0.0784 ms against the GEMV's 0.1085 on an H200; rounds/s51a.sh timed
// the step: slower on an H100, session 51). The norm the tile's x needs then comes from its own launch after the O
// projection's GEMV (from the O projection's split-K reduce with `plain=8`). On this CPU adapter the tiles run their scalar-emulated twins (`:emu`); on a GPU with subgroup matrices,
// the real ones. `:n128` moves the 8-row o and down projections onto the 16 × 128 tile (the plain twin of g16x64's
// 16 KB of weights a slice); `:n128=all` with `rows=8` every plain one, QKV split over K with its RoPE in the split-K
// reduce.
import { describe, expect, it } from 'vitest';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { validateConfig, type ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// K of 256 and 512: whole slices of the 16-byte tiles.
const cfg: ModelConfig = seedShaped({
  name: 'gated-rows', nLayers: 2, hidden: 256, nHeads: 2, nKvHeads: 1, headDim: 128, ffn: 512, vocab: 256, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 11);
// K of 1024: 16 slices of 64, so the 8-row QKV product on t16x128 splits twice (splitKCount).
const wideCfg: ModelConfig = validateConfig({ ...cfg, name: 'rows-all', nLayers: 1, hidden: 1024 });
const wideWeights = useRandomWeights(gpu, wideCfg, 12);

describe('gated products on tiles from 8 rows (FAPOOL_DECODE_TILES=split:gated=8), o and down on 16 × 128 tiles (:n128)', () => {
  it('an 8-row step: gate+up on g16x64, QKV and the LM head on the GEMV; its logits within f16 rounding of the GEMV step\'s', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const w = await weights();
    const emu = hasSubgroupMatrixF16(g.caps) ? '' : ':emu';
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 3 + i }, () => r.int(0, cfg.vocab)));
    // The default's choice spelled out (`split`), so that on a CPU adapter its tiles are emulated too (`:emu`).
    // Two new tokens: the first from the prefill (the same path either way), the second from one decode step.
    const run = (mode: string) => withEnv('FAPOOL_DECODE_TILES', `${mode}${emu}`, () => greedyRun(g, cfg, w, 'f16', prompts, 2));
    const base = await run('split:u8p2'), gated = await run('split:gated=8:u8p2');
    const gateUp = (ls: string[]) => ls.filter((l) => /^gsg_g_|^tgs?_g\d/.test(l));   // the gated GEMV's or tile's entries
    expect(gateUp(gated.launches).every((l) => l.startsWith('tg_g16x64_sg1x4_k64_b1_u8p2')), `seed ${r.seed}: ${gated.launches.join(' ')}`).toBe(true);
    expect(gateUp(gated.launches).length).toBe(cfg.nLayers);
    expect(gateUp(base.launches).some((l) => l.startsWith('tg_')), `the default keeps gate+up on the GEMV: ${base.launches.join(' ')}`).toBe(false);
    // QKV and the LM head: the same kernels as the default's.
    const notGated = (ls: string[]) => ls.filter((l) => !gateUp([l]).length);
    expect(notGated(gated.launches), `seed ${r.seed}`).toEqual(notGated(base.launches));
    expect(gated.tokens.map((t) => t[0]), 'the prefill\'s token').toEqual(base.tokens.map((t) => t[0]));
    // One decode step from the same inputs: f16 products summed in another order, so close, not equal.
    const scale = Math.max(...base.logits.map(Math.abs));
    const worst = Math.max(...gated.logits.map((x, i) => Math.abs(x - base.logits[i]!)));
    expect(worst / scale, `seed ${r.seed}`).toBeLessThan(1e-2);   // measured ≈ 1e-3
    expect(worst, `seed ${r.seed}: the tile ran`).toBeGreaterThan(0);
    // :n128: down on the 16 × 128 tile besides; o too once FAPOOL_GEMV_HALF_O=off (by default its f16-pair GEMV wins
    // over `:n128`, as QKV's and the LM head's do); QKV and the LM head still as the default's.
    const wideOf = (ls: string[]) => ls.filter((l) => /^tgs?_t16x128_sg1x4_k64_b1_u8p2/.test(l));   // o unsplit at this width, down split
    const others = (ls: string[]) => ls.filter((l) => /^gsg_p_\w*_h_/.test(l));   // the f16-pair GEMVs: QKV, LM head (and o by default)
    const n128 = await run('split:gated=8:u8p2:n128');
    expect(wideOf(n128.launches).length, `seed ${r.seed}: ${n128.launches.join(' ')}`).toBe(cfg.nLayers);
    expect(others(n128.launches)).toEqual(others(base.launches));
    const n128f32 = await withEnv('FAPOOL_GEMV_HALF_O', 'off', () => run('split:gated=8:u8p2:n128'));
    expect(wideOf(n128f32.launches).length, `seed ${r.seed}: ${n128f32.launches.join(' ')}`).toBe(2 * cfg.nLayers);
    expect(others(n128f32.launches).length).toBe(others(base.launches).length - cfg.nLayers);
    for (const t of [n128, n128f32]) {
      const worstN = Math.max(...t.logits.map((x, i) => Math.abs(x - base.logits[i]!)));
      expect(worstN / scale, `seed ${r.seed}`).toBeLessThan(1e-2);
    }
  }, 600_000);

  it('`split:rows=8:u8p2:n128=all`: every product on a tile, QKV split with the RoPE in its reduce (no RoPE launch); logits within f16 rounding', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const w = await wideWeights();
    const emu = hasSubgroupMatrixF16(g.caps) ? '' : ':emu';
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 2 + i }, () => r.int(0, wideCfg.vocab)));
    const run = (mode: string) => withEnv('FAPOOL_DECODE_TILES', `${mode}${emu}`, () => greedyRun(g, wideCfg, w, 'f16', prompts, 2));
    const base = await run('split:u8p2'), all = await run('split:rows=8:u8p2:n128=all');
    const what = `seed ${r.seed}: ${all.launches.join(' ')}`;
    expect(all.launches.filter((l) => /^gsg_|^gemv/.test(l)), what).toEqual([]);   // no GEMV left in the decode step
    expect(all.launches.filter((l) => /^tgs_t16x128_sg1x4_k64_b1_u8p2/.test(l)).length, what).toBeGreaterThanOrEqual(2);   // QKV and down split
    expect(all.launches.filter((l) => /^splitk_reduce_rope/.test(l)).length, what).toBe(wideCfg.nLayers);
    expect(all.launches.filter((l) => /^rope_qkv/.test(l)), what).toEqual([]);   // (the base's QKV GEMV, one column a subgroup at N 512, has one)
    expect(all.tokens.map((t) => t[0]), 'the prefill\'s token').toEqual(base.tokens.map((t) => t[0]));
    const scale = Math.max(...base.logits.map(Math.abs));
    const worst = Math.max(...all.logits.map((x, i) => Math.abs(x - base.logits[i]!)));
    expect(worst / scale, `seed ${r.seed}`).toBeLessThan(1e-2);
    expect(worst, `seed ${r.seed}: the tiles ran`).toBeGreaterThan(0);
  }, 600_000);
});
