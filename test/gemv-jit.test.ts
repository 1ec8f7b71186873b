// FAPOOL_GEMV_JIT: the decode GEMV's f16-pair products of 5..8 rows on the `_h_j` entries (a trip's weight loads
// first, then each row's x just before its products). The sums are the same and in the same order, so an 8-row
// decode step gives the same logits bit for bit, with every f16-pair GEMV (QKV's RoPE entry among them) on a `_j`
// entry and nothing else changed; `u4` also changes the vectors a trip (other partial sums: logits within f16
// rounding, not equal).
import { describe, expect, it } from 'vitest';
import { gemvJitMode } from '../src/kernels/gemv.js';
import type { ModelConfig } from '../src/model/config.js';
import { greedyRun, rng, seedShaped, useGpu, useRandomWeights, withEnv } from './helpers.js';

const gpu = useGpu();
// hidden 512: every product's K is a whole number of 16-byte vectors (the subgroup GEMV applies), and 512 / 8 = 64
// vectors are two trips of 32 lanes at U 1, one at U 2, and a short tail at U 4.
const cfg: ModelConfig = seedShaped({
  name: 'gemv-jit', nLayers: 2, hidden: 512, nHeads: 4, nKvHeads: 2, headDim: 128, ffn: 1024, vocab: 256, maxSeq: 32,
});
const weights = useRandomWeights(gpu, cfg, 29);

describe('FAPOOL_GEMV_JIT: the f16-pair GEMVs with x loaded just in time', () => {
  it('an 8-row step: the same logits bit for bit on the _j entries; u4 within f16 rounding', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16 || !g.caps.subgroups) { ctx.skip(); return; }
    const w = await weights();
    const r = rng();
    const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 2 + i }, () => r.int(0, cfg.vocab)));
    // The default paths: QKV, O, gate+up and the LM head take the f16-pair GEMV at 8 rows (down its f32 one or a tile).
    // cpt '2': every GEMV at two columns a subgroup, where QKV takes the RoPE epilogue (its _h_j_r entry with jit).
    const run = (jit: string, cpt = '') => withEnv('FAPOOL_GEMV_CPT', cpt, () => withEnv('FAPOOL_GEMV_JIT', jit, () => greedyRun(g, cfg, w, 'f16', prompts, 2)));
    const halfs = (ls: string[]) => ls.filter((l) => /^gsg_[pg]_m8_c\d_u\d_h_/.test(l));
    const same = (off: Awaited<ReturnType<typeof run>>, on: Awaited<ReturnType<typeof run>>) => {
      const what = `seed ${r.seed}: ${off.launches.join(' ')} | ${on.launches.join(' ')}`;
      // Off: f16 pairs but no _j; on: every f16-pair launch is its _j twin, the rest unchanged.
      expect(halfs(off.launches).length, what).toBeGreaterThan(0);
      expect(halfs(off.launches).some((l) => /_h_j/.test(l)), what).toBe(false);
      expect(on.launches.length, what).toBe(off.launches.length);
      on.launches.forEach((l, i) => {
        const o = off.launches[i]!;
        expect(l, what).toBe(/^gsg_[pg]_m8_c\d_u\d_h_/.test(o) ? o.replace('_h_', '_h_j_') : o);
      });
      expect(on.tokens, what).toEqual(off.tokens);
      expect(on.logits, what).toEqual(off.logits);
      return what;
    };
    const off = await run('off');
    same(off, await run('on'));
    const on2 = await run('on', '2');
    const what = same(await run('off', '2'), on2);
    expect(on2.launches.some((l) => /^gsg_p_m8_c2_u1_h_j_r/.test(l)), `QKV's RoPE entry: ${what}`).toBe(true);
    const u4 = await run('u4');
    // u4: every f16-pair GEMV at 4 vectors a trip.
    expect(halfs(u4.launches).every((l) => /_u4_h_j/.test(l)), u4.launches.join(' ')).toBe(true);
    const scale = Math.max(...off.logits.map(Math.abs));
    const worst = Math.max(...u4.logits.map((x, i) => Math.abs(x - off.logits[i]!)));
    expect(worst / scale, `seed ${r.seed}`).toBeLessThan(1e-2);
  }, 600_000);

  it('is off unless set, and refuses a value other than off / on / u2 / u4', () => {
    expect(gemvJitMode(undefined)).toBeNull();
    expect(gemvJitMode('off')).toBeNull();
    expect(gemvJitMode(' on ')).toEqual({});
    expect(gemvJitMode('u4')).toEqual({ u: 4 });
    expect(() => gemvJitMode('u3')).toThrow(/FAPOOL_GEMV_JIT/);
  });
});
