// Activation and weight buffers hold whole tiles (activationRows, weightRows): a decode step of 40 rows, the prompts
// shorter than that, binds x widened to whole 64-row tiles, and the LM head of a 250-token vocabulary its weights to
// whole 64-row blocks, and runs the unchecked decode tiles. With buffers of exactly 40 rows and 250 (before session 48)
// every product fell back to its checked twin (8-byte staging behind bounds checks), which the launch labels show.
// On this CPU adapter the tiles run their scalar-emulated twins (`:emu`); on a GPU with subgroup matrices, the real ones.
import { describe, expect, it } from 'vitest';
import { GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS, SGM_TILE_MAX_COLS, SGM_TILE_MAX_ROWS, gemmPrefillOverride, tileWithinBuffers } from '../src/kernels/gemm-sgm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { validateConfig, type ModelConfig } from '../src/model/config.js';
import { activationRows, allocRunState, releaseRunState, stepViews } from '../src/model/run-state.js';
import { allocWeights, qkvRows, releaseWeights, weightRows } from '../src/model/weights.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// K of 256 and 512: whole slices of every decode tile, so their 16-byte (unchecked) twins apply; a vocabulary of 250
// rows, not whole 64-row blocks.
const cfg: ModelConfig = seedShaped({
  name: 'activation-rows', nLayers: 1, hidden: 256, nHeads: 2, nKvHeads: 1, headDim: 128, ffn: 512, vocab: 250, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 7);
const ROWS = 40;
// A generated tile's entry on 16-byte unchecked staging (its checked twin's id ends at _b1 / _b2).
const UNCHECKED = /^tgs?_[tg]\d+x\d+_sg\dx\d_k\d+_b[12]_(u8|un8|u8p2)(_ks2)?(_r)?_f16/;

describe('activation and weight buffers of whole tiles (activationRows, weightRows)', () => {
  it('round up to the tallest / widest tile, never below the rows asked, and within what a binding holds', () => {
    expect([activationRows(1), activationRows(SGM_TILE_MAX_ROWS), activationRows(SGM_TILE_MAX_ROWS + 1), activationRows(40, 100), activationRows(300, 200)])
      .toEqual([SGM_TILE_MAX_ROWS, SGM_TILE_MAX_ROWS, 2 * SGM_TILE_MAX_ROWS, 100, 300]);
    expect([weightRows(50257), weightRows(4096), weightRows(250, 251), weightRows(250, 100)])
      .toEqual([Math.ceil(50257 / SGM_TILE_MAX_COLS) * SGM_TILE_MAX_COLS, 4096, 251, 250]);
    expect(SGM_TILE_MAX_ROWS).toBeGreaterThanOrEqual(128);
    expect(SGM_TILE_MAX_COLS).toBeGreaterThanOrEqual(128);
  });

  it('a one-chunk prefill of a ragged length keeps the unchecked prefill tiles on the run state\'s views (no launch)', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const big = validateConfig({ ...cfg, name: 'prefill-rows', vocab: 1000, maxSeq: 2048 });
    const { plain, gated } = gemmPrefillOverride(GEMM_PREFILL_DEFAULT_NO_ROBUSTNESS);
    const M = 1000;   // chunk = the prompt: 1000 rows, the 128-row tiles need 1024
    const st = allocRunState(g, big, 'f16', activationRows(M), 1), w = allocWeights(g, big, 'f16');
    try {
      const v = stepViews(st, M), l = w.layers[0]!, noRobust = { robustBufferAccess: false };
      const qkv = { M, N: qkvRows(big), K: big.hidden, dtype: 'f16' as const, x: v.xn, w: l.wqkv, out: v.qkv };
      const gateUp = { M, N: big.ffn, K: big.hidden, dtype: 'f16' as const, x: v.xn, wGate: l.wGate, wUp: l.wUp, out: v.ffnH };
      const head = { M, N: big.vocab, K: big.hidden, dtype: 'f16' as const, x: v.xn, w: w.lmHead!, out: v.ffnH };
      expect([tileWithinBuffers(noRobust, qkv, plain!).id, tileWithinBuffers(noRobust, gateUp, gated!).id, tileWithinBuffers(noRobust, head, plain!).id])
        .toEqual([plain!.id, gated!.id, plain!.id]);
      // Exact-size buffers (before session 48) take the checked twin.
      const exact = allocRunState(g, big, 'f16', M, 1);
      try {
        expect(tileWithinBuffers(noRobust, { ...qkv, x: stepViews(exact, M).xn }, plain!).id).not.toBe(plain!.id);
      } finally { releaseRunState(g, exact); }
    } finally { releaseRunState(g, st); releaseWeights(g, w); }
  });

  it(`a ${ROWS}-row decode step with shorter prompts runs the unchecked tiles, with the checked tiles' tokens (emulated: their logits bit for bit)`, async (ctx) => {
    const g = await gpu();
    // With robust buffer access the unchecked tiles run unwidened anyway: nothing to see.
    if (!g.caps.f16 || g.caps.robustBufferAccess !== false) { ctx.skip(); return; }
    const w = await weights();
    const emulated = !hasSubgroupMatrixF16(g.caps), emu = emulated ? ':emu' : '';
    const r = rng();
    const prompts = Array.from({ length: ROWS }, (_, i) => Array.from({ length: 2 + (i % 7) }, () => r.int(0, cfg.vocab)));
    const run = (mode: string) => withEnv('FAPOOL_DECODE_TILES', `split${mode}${emu}`, () => greedyRun(g, cfg, w, 'f16', prompts, 3));
    const got = await run('');
    const tiles = got.launches.filter((l) => /^tgs?_/.test(l));
    expect(tiles.length, `seed ${r.seed}: the step's products are on tiles (${got.launches.join(' ')})`).toBeGreaterThan(0);
    expect(tiles.filter((l) => !UNCHECKED.test(l)), `seed ${r.seed}: no checked twin stands in`).toEqual([]);
    // The checked 8-byte tiles (:u4): the same products in the same order.
    const checked = await run(':u4');
    expect(got.tokens, `seed ${r.seed}`).toEqual(checked.tokens);
    if (emulated) expect(got.logits, `seed ${r.seed}`).toEqual(checked.logits);
  }, 600_000);
});
