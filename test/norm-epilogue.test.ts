// The residual stream's next RMSNorm written by the launch that writes the stream (LinearArgs.thenNorm): where a
// decode step's O or down projection is a split-K tile, its reduce also writes xn = norm(x), and the norm launch
// before the next product goes; the embedding writes the first layer's (EmbeddingArgs.thenNorm). On this CPU adapter the decode tiles run their scalar-emulated twins
// (FAPOOL_DECODE_TILES=split:emu; 8 rows with plain=8, as the default chose before session 53: O and down on tiles;
// 16 rows: every product); on a GPU with subgroup
// matrices, the real tiles. The step must be the same bits either way: the reduce sums the partials and the squares
// in the separate launches' order (row_sum.wgsl, normWorkgroupSize).
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/model/config.js';
import { normEpilogueApplies } from '../src/kernels/gemm.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// O (512 × 512) and down (512 × 1024) at 8 rows: split-K tiles (×2, ×4); three layers, so all three links run (the O
// projection to its layer's FFN norm, the down projection to the next layer's attention norm, and the last layer's
// down to the head's norm, which the head then skips: DeviceModel.headRows(n, normed)).
const cfg: ModelConfig = seedShaped({
  name: 'norm-epilogue', nLayers: 3, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 64,
});
const weights = useRandomWeights(gpu, cfg, 11);

describe('the next norm in the split-K reduce (FAPOOL_NORM_EPILOGUE)', () => {
  // 8 rows: O and down on split tiles, the rest on the GEMV; 16 rows: every product on a tile (9..64 rows).
  for (const rows of [8, 16]) {
    it(`${rows} rows a step: the same tokens and logits bit for bit with and without, the fused norms' launches gone`, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const w = await weights();
      const r = rng();
      const prompts = Array.from({ length: rows }, (_, i) => Array.from({ length: 3 + (i % 9) }, () => r.int(0, cfg.vocab)));
      // plain=8: 8-row plain products on tiles (the default keeps them on the GEMV since session 53, where no reduce runs).
      const tiles = rows === 8 ? 'split:plain=8:emu' : 'split:emu';
      // FAPOOL_GEMV_HALF_O off: with it on, O stays on the GEMV and its reduce would not run (o-half.test.ts).
      const run = (on: string) => withEnv('FAPOOL_GEMV_HALF_O', 'off', () => withEnv('FAPOOL_DECODE_TILES', tiles, () => withEnv('FAPOOL_NORM_EPILOGUE', on, async () => {
        const out = await greedyRun(g, cfg, w, 'f16', prompts, 4);
        // Which products the device's choice fuses (a split tile's reduce): O, and down but the last layer's.
        const fused = [cfg.hidden, cfg.ffn].map((K) => normEpilogueApplies(g.caps, rows, cfg.hidden, K, 'f16'));
        return { ...out, fused };
      })));
      const off = await run('off'), on = await run('on');
      const [oFused, downFused] = on.fused as [boolean, boolean], L = cfg.nLayers;
      expect(off.fused, 'off: nothing fuses').toEqual([false, false]);
      expect([oFused, downFused], 'this configuration splits both products').toEqual([true, true]);
      const count = (ls: string[], re: RegExp) => ls.filter((l) => re.test(l)).length;
      // Off: an attention and an FFN norm a layer, and the head's. On: none — the first layer's attention norm is the
      // embedding's, the others and the head's the split-K reduces'.
      const fusedNorms = (oFused ? L : 0) + (downFused ? L : 0);
      expect([count(off.launches, /^rmsnorm/), count(on.launches, /^rmsnorm/)]).toEqual([2 * L + 1, 2 * L + 1 - 1 - fusedNorms]);
      expect([count(off.launches, /^splitk_reduce_norm/), count(on.launches, /^splitk_reduce_norm/)]).toEqual([0, fusedNorms]);
      expect([count(off.launches, /^embedding_vec4_norm/), count(on.launches, /^embedding_vec4_norm/)]).toEqual([0, 1]);
      expect(on.tokens, `seed ${r.seed}`).toEqual(off.tokens);
      expect(on.logits).toEqual(off.logits);
      // What a generation encodes a decode step is that list (the head without its norm launch, not only the profile's).
      const encoded = (tokens: number) => withEnv('FAPOOL_GEMV_HALF_O', 'off', () => withEnv('FAPOOL_DECODE_TILES', tiles, async () => {
        const before = g.counts.launches;
        await greedyRun(g, cfg, w, 'f16', prompts, tokens);
        return g.counts.launches - before;
      }));
      const a = await encoded(4), b = await encoded(5);
      expect(b - a, 'one more decode step').toBe(on.launches.length);
    }, 300_000);
  }
});
