// The decode tiles' variants in a whole decode step (FAPOOL_DECODE_TILES): `:gbn32` and `:gbn32=k32` (the gated 64 × 32
// tiles). 64 sequences, so every
// product has 64 rows and x fills whole 64-row tiles: the variants' own entries run (no checked twin stands in). On
// this CPU adapter the tiles run their scalar-emulated twins (`:emu`); on a GPU with subgroup matrices, the real ones.
// Each must give the default tiles' tokens; emulated, the logits too, bit for bit (the same K order: the default gated
// tile's _ks2 twin does not fit lavapipe's workgroup memory, so the default is g64x64 on one K pass as well).
import { describe, expect, it } from 'vitest';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { validateConfig, type ModelConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generator.js';
import { expectClose, launchLabels, rng, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// K of 256 and 512: whole slices of every variant (64 and 32 deep), so the 16-byte (_u8) tiles and their twins apply.
const cfg: ModelConfig = validateConfig({
  name: 'tile-variants', nLayers: 1, hidden: 256, nHeads: 2, nKvHeads: 1, headDim: 128, ffn: 512, vocab: 256, maxSeq: 32,
  normEps: 1e-5, ropeTheta: 10000, act: 'gelu_tanh', gatedFfn: true, tiedEmbeddings: false, embedScale: 1,
});
const weights = useRandomWeights(gpu, cfg, 5);
const ROWS = 64;
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

describe('a 64-row decode step on the prepared decode-tile variants (FAPOOL_DECODE_TILES)', () => {
  it(':gbn32 and :gbn32=k32 give the default tiles\' tokens (emulated: the logits bit for bit), on their own entries', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const w = await weights();
    const emulated = !hasSubgroupMatrixF16(g.caps), emu = emulated ? ':emu' : '';
    const r = rng();
    const prompts = Array.from({ length: ROWS }, (_, i) => Array.from({ length: 2 + (i % 7) }, () => r.int(0, cfg.vocab)));
    const run = (mode: string) => withEnv('FAPOOL_DECODE_TILES', `split${mode}${emu}`, async () => {
      const gen = new Generator(g, cfg, w, 'f16');
      try {
        const out = await gen.generate(prompts, { maxNewTokens: 3, sampling: GREEDY });
        return { tokens: out.tokens, logits: Array.from(await gen.readLogits()), launches: launchLabels(gen.decodeLaunches()) };
      } finally {
        gen.dispose();
      }
    });
    const base = await run('');
    expect(base.launches.some((l) => /g64x32/.test(l)), 'the default runs none of the variants').toBe(false);
    for (const [mode, entry] of [[':gbn32', /^tg_g64x32_sg2x2_k64_b1_un?8_f16/], [':gbn32=k32', /^tg_g64x32_sg2x2_k32_b1_un?8_f16/]] as const) {
      const got = await run(mode);
      const what = `${mode} seed ${r.seed}`;
      expect(got.launches.filter((l) => entry.test(l)).length, `${what}: its entries ran (${got.launches.join(' ')})`).toBeGreaterThan(0);
      expect(got.tokens, what).toEqual(base.tokens);
      if (emulated) expect(got.logits, what).toEqual(base.logits);
      else expectClose(got.logits, base.logits, 'f16', what);
    }
  }, 600_000);
});
