// RoPE and the K/V append in the QKV product's epilogue (LinearArgs.rope, shaders/rope_epilogue.wgsl): the product's
// GEMV computes output slots whose weight rows put each rotation pair side by side, and stores what the product and
// then the RoPE launch (ropeQkv, writeBack and writeQ) would have stored. Checked bit for bit against that pair of
// launches (ropeQkv itself is checked against float64 in rope.test.ts) on every GEMV entry that has the epilogue:
// the per-column kernel (scalar, vec4 and 16-byte f16 loads, with and without the RMSNorm prologue) and the
// subgroup kernel's two-column entries (f32 and f16-pair products). A wrong slot → column map, a pair split across
// workgroups or a stray cache write shows as a differing value.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LimitError, ShapeError, type DType, type Gpu, type Tensor } from '../src/gpu/index.js';
import { linear, ropeEpilogueApplies, ROPE_EPILOGUE_STORAGE_BUFFERS, type GemmPath, type GemmTuning } from '../src/kernels/gemm.js';
import { checkedTwin, SGM_TILE_GEN_ROPE, sgmTileGenFits, tileGenGeometry } from '../src/kernels/gemm-sgm.js';
import { hasSubgroupMatrixF16 } from '../src/kernels/gemm-sgm-common.js';
import { gemvRopeKernel, gemvSgApplies, gemvSgChoice } from '../src/kernels/gemv.js';
import { ropeQkv, type RopeEpilogue, type RopeStyle } from '../src/kernels/rope.js';
import { stored } from './check-linear.js';
import type { ModelConfig } from '../src/model/config.js';
import { loadWeights } from '../src/model/load-weights.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { openSafetensors } from '../src/model/safetensors-node.js';
import { releaseWeights, type Weights } from '../src/model/weights.js';
import { download, greedyRun, poisoned, randomArray, rng, seedShaped, upload, useGpu, withEnv, type Rng } from './helpers.js';

const gpu = useGpu();

interface Case { H: number; KV: number; D: number; ropeDim?: number; style: RopeStyle; K: number; bias?: boolean }
const CASES: Case[] = [
  { H: 4, KV: 2, D: 16, style: 'neox', K: 64 },                      // GQA
  { H: 2, KV: 2, D: 32, ropeDim: 16, style: 'neox', K: 128, bias: true }, // partial rotary, a QKV bias
  { H: 3, KV: 1, D: 8, style: 'gptj', K: 40 },                       // GPT-J pairs (already adjacent); K % 16 != 0
  { H: 2, KV: 1, D: 64, style: 'neox', K: 36 },                      // K % 8 != 0: the scalar / vec4 entries
];

/**
 * (slot, position) rows: in the group, in the group past capacity, below and past the group's slots; an in-range
 * pair at most once (each cache entry has one writer), so M must stay under the group's slots × capacity / 2.
 */
function makeRows(r: Rng, M: number, slotBase: number, slots: number, capacity: number): number[] {
  const used = new Set<string>();
  const out: number[] = [];
  for (let m = 0; m < M; m++) {
    const kind = m % 4;
    if (kind === 1) { out.push(slotBase + r.int(0, slots), capacity + r.int(0, 1000)); continue; }
    if (kind === 3) { out.push(slotBase > 0 && r.int(0, 2) === 0 ? r.int(0, slotBase) : slotBase + slots + r.int(0, 100), r.int(0, capacity)); continue; }
    for (;;) {
      const row = [slotBase + r.int(0, slots), r.int(0, capacity)];
      const key = row.join();
      if (!used.has(key)) { used.add(key); out.push(...row); break; }
    }
  }
  return out;
}

interface Run { qkv: Float64Array; q: Float64Array; k: Float64Array; v: Float64Array; label: string }

/** The product then the RoPE launch (fused = false), or the product with the RoPE in its epilogue. */
async function runQkv(g: Gpu, c: Case, M: number, dtype: DType, tune: GemmTuning | undefined, norm: boolean, fused: boolean, seed: number, path?: GemmPath): Promise<Run> {
  const rr = rng(seed); // the same inputs for both runs
  const { H, KV, D, K } = c, N = (H + 2 * KV) * D, slots = 3, capacity = 16, slotBase = 2;
  const x = upload(g, randomArray(rr, M * K, dtype), [M, K], dtype, 'x');
  const w = upload(g, stored(randomArray(rr, N * K, dtype, -0.5, 0.5), N, K, tune), [N, K], dtype, 'w');   // blocked where the tile reads blocks
  const bias = c.bias ? upload(g, randomArray(rr, N, dtype), [N], dtype, 'bias') : undefined;
  const nw = norm ? upload(g, randomArray(rr, K, dtype, 0.5, 1.5), [K], dtype, 'norm_w') : undefined;
  const rows = upload(g, makeRows(rr, M, slotBase, slots, capacity), [M, 2], 'u32', 'rows');
  const cacheInit = [randomArray(rr, slots * KV * capacity * D, dtype), randomArray(rr, slots * KV * capacity * D, dtype)];
  const kCache = upload(g, cacheInit[0]!, [slots, KV, capacity, D], dtype, 'k'), vCache = upload(g, cacheInit[1]!, [slots, KV, capacity, D], dtype, 'v');
  const qkv = poisoned(g, [M, N], dtype, 'qkv'), q = poisoned(g, [M, H, D], dtype, 'q');
  const rope: RopeEpilogue = { rows, q, kCache, vCache, slotBase, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000, style: c.style, ropeDim: c.ropeDim };
  const norm_ = nw ? { weight: nw, eps: 1e-5 } : undefined;
  const product = linear(g, { x, w, out: qkv, bias, norm: norm_, normed: true, rope: fused ? rope : undefined }, { tune, path });
  const steps = fused ? [product] : [product, ropeQkv(g, { ...rope, qkv, writeBack: true })];
  await g.run(steps);
  const out = { qkv: await download(g, qkv), q: await download(g, q), k: await download(g, kCache), v: await download(g, vCache), label: product.label };
  for (const t of [x, w, bias, nw, rows, kCache, vCache, qkv, q] as (Tensor | undefined)[]) if (t) g.release(t);
  return out;
}

async function expectSameBits(g: Gpu, c: Case, M: number, dtype: DType, tune: GemmTuning | undefined, norm: boolean, entry: RegExp): Promise<void> {
  const r = rng(), seed = r.int(0, 2 ** 31);
  const want = await runQkv(g, c, M, dtype, tune, norm, false, seed);
  const got = await runQkv(g, c, M, dtype, tune, norm, true, seed);
  expect(got.label, 'the entry that ran').toMatch(entry);
  const what = `seed ${seed} M=${M} ${dtype} ${JSON.stringify(c)}`;
  expect(want.q.every(Number.isFinite), `the reference wrote every q: ${what}`).toBe(true);
  for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} ${what}`).toEqual(Array.from(want[k]));
}

describe('RoPE in the QKV product epilogue: the same bits as the product and then the RoPE launch', () => {
  for (const c of CASES) {
    const name = `H=${c.H} KV=${c.KV} D=${c.D} rd=${c.ropeDim ?? c.D} ${c.style} K=${c.K}${c.bias ? ' bias' : ''}`;
    for (const dtype of ['f32', 'f16'] as const) {
      it(`per-column GEMV, ${dtype}, 1, 2 and 5 rows, with and without the norm prologue: ${name}`, async (ctx) => {
        const g = await gpu();
        if (dtype === 'f16' && !g.caps.f16) { ctx.skip(); return; }
        const h8 = dtype === 'f16' && c.K % 8 === 0, vec4 = c.K % 4 === 0;
        const entry = h8 ? /gemv_h8_rope/ : vec4 ? /gemv_vec4_rope/ : /gemv_rope/;
        // 5 rows: every kind of row (makeRows), rows outside the cache group too.
        for (const M of [1, 2, 5]) for (const norm of [false, true]) {
          await expectSameBits(g, c, M, dtype, { gemv: { lanes: 4 } }, norm, entry);
        }
      }, 120_000);
    }
    it(`subgroup GEMV, two columns a subgroup, 2..8 rows (f32 and f16-pair products): ${name}`, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16 || c.K % 8 !== 0) { ctx.skip(); return; }
      const shapes: [number, number, boolean][] = [[2, 1, false], [3, 2, false], [5, 2, true], [8, 1, true], [8, 2, false]];
      let ran = 0;
      for (const [M, u, half] of shapes) {
        const l = { M, N: (c.H + 2 * c.KV) * c.D, K: c.K, dtype: 'f16' as const, kind: 'linear' as const };
        if (!gemvSgApplies(g.caps, l, 2, u, half)) continue;
        await expectSameBits(g, c, M, 'f16', { gemv: { cpt: 2, u, half } }, false, new RegExp(`gsg_p_m${M}_c2_u${u}${half ? '_h' : ''}_r`));
        ran++;
      }
      if (ran === 0) ctx.skip();
    }, 120_000);
  }
});

// Sums at f16's edges: 65504 (the largest finite), the 65520 tie and past it (±inf, and NaN where the rotation meets
// inf · 0), the subnormals. The epilogue rounds with round_f16, not a conversion: it must give what the stored f16
// gives the RoPE launch (a first version returned finite 65536 for the tie and past it).
describe('RoPE epilogue at f16\'s edges: the same bits as the product and then the RoPE launch', () => {
  it('overflow to ±inf, the 65520 tie, 65504, subnormal sums; rotated at position 0 and 11', async (ctx) => {
    const g = await gpu();
    if (!g.caps.f16) { ctx.skip(); return; }
    const H = 1, KV = 1, D = 4, K = 8, N = (H + 2 * KV) * D;
    const xRow = [2, 2, 0.001, 0.0003, 1, 0, 0, 0];
    const kinds = [[32752, 8], [32752, 0], [30000, 10000], [-30000, -10000], [0, 0, 0.001, 0.002], [0, 0, 0, 0, 0.5]];
    const w = Array.from({ length: N }, (_, n) => { const r = [...kinds[n % kinds.length]!]; while (r.length < K) r.push(0); return r; }).flat();
    for (const [M, tune] of [[1, { gemv: { lanes: 4 } }], [4, { gemv: { cpt: 2, u: 1 } }]] as [number, GemmTuning][]) {
      if (M === 4 && !gemvSgApplies(g.caps, { M, K, dtype: 'f16', kind: 'linear' }, 2, 1)) continue;
      const runs: string[][] = [];
      for (const fused of [false, true]) {
        const x = upload(g, Array.from({ length: M }, () => xRow).flat(), [M, K], 'f16', 'x'), wt = upload(g, w, [N, K], 'f16', 'w');
        const rows = upload(g, Array.from({ length: M }, (_, m) => [m % 2, m % 2 ? 11 : 0]).flat(), [M, 2], 'u32', 'rows');
        const qkv = poisoned(g, [M, N], 'f16'), q = poisoned(g, [M, H, D], 'f16');
        const kCache = upload(g, new Array(2 * KV * 16 * D).fill(0.25), [2, KV, 16, D], 'f16', 'k'), vCache = upload(g, new Array(2 * KV * 16 * D).fill(0.5), [2, KV, 16, D], 'f16', 'v');
        const rope: RopeEpilogue = { rows, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000 };
        const product = linear(g, { x, w: wt, out: qkv, rope: fused ? rope : undefined }, { tune });
        await g.run(fused ? [product] : [product, ropeQkv(g, { ...rope, qkv, writeBack: true })]);
        const all = [...await download(g, qkv), ...await download(g, q), ...await download(g, kCache), ...await download(g, vCache)];
        runs.push(all.map((v) => Object.is(v, -0) ? '-0' : String(v)));
        g.release(x, wt, rows, qkv, q, kCache, vCache);
      }
      expect(runs[0]!.filter((v) => v === 'Infinity' || v === '-Infinity').length, 'the reference overflows').toBeGreaterThan(0);
      expect(runs[1], `M=${M}`).toEqual(runs[0]);
    }
  });
});

describe('RoPE epilogue: where it applies, and what it refuses', () => {
  it('applies on the GEMV path of a decode step, not on a prefill chunk, a 4-column subgroup choice, or where FAPOOL_ROPE_EPILOGUE=off', async () => {
    const g = await gpu();
    expect(ropeEpilogueApplies(g.caps, 1, 384, 256, 'f32')).toBe(true);
    expect(ropeEpilogueApplies(g.caps, 1, 384, 256, 'f32', true)).toBe(true);
    expect(ropeEpilogueApplies(g.caps, 64, 384, 256, 'f32')).toBe(false); // a tiled product
    await withEnv('FAPOOL_ROPE_EPILOGUE', 'off', async () => { expect(ropeEpilogueApplies(g.caps, 1, 384, 256, 'f32')).toBe(false); });
    await withEnv('FAPOOL_ROPE_EPILOGUE', 'maybe', async () => { expect(() => ropeEpilogueApplies(g.caps, 1, 384, 256, 'f32')).toThrow(LimitError); });
    // A device that binds fewer storage buffers than the largest entry needs keeps the RoPE launch.
    expect(ropeEpilogueApplies({ ...g.caps, maxStorageBuffersPerStage: ROPE_EPILOGUE_STORAGE_BUFFERS - 1 }, 1, 384, 256, 'f32')).toBe(false);
    // The subgroup kernel's choice of 4 columns a subgroup has no RoPE entry; its pairs have one.
    if (g.caps.f16 && gemvSgChoice(g.caps, { M: 4, N: 384, K: 256, dtype: 'f16', normed: true })) {
      await withEnv('FAPOOL_GEMV_CPT', '4', async () => {
        expect(gemvRopeKernel(g.caps, { M: 4, N: 384, K: 256, dtype: 'f16', normed: true })).toBe(null);
        expect(ropeEpilogueApplies(g.caps, 4, 384, 256, 'f16')).toBe(false);
      });
      await withEnv('FAPOOL_GEMV_CPT', '2', async () => {
        expect(gemvRopeKernel(g.caps, { M: 4, N: 384, K: 256, dtype: 'f16', normed: true })).toBe('subgroup');
        expect(ropeEpilogueApplies(g.caps, 4, 384, 256, 'f16')).toBe(true);
      });
    }
  });

  it('refuses an epilogue besides the bias, another path, a subgroup choice without pairs, and wrong shapes', async () => {
    const g = await gpu();
    const H = 2, KV = 1, D = 8, K = 32, N = (H + 2 * KV) * D, M = 1;
    const x = g.tensor([M, K], 'f32', 'x'), w = g.tensor([N, K], 'f32', 'w'), out = g.tensor([M, N], 'f32', 'qkv');
    const rows = g.tensor([M, 2], 'u32', 'rows'), q = g.tensor([M, H, D], 'f32', 'q');
    const kCache = g.tensor([2, KV, 4, D], 'f32', 'k'), vCache = g.tensor([2, KV, 4, D], 'f32', 'v');
    const rope: RopeEpilogue = { rows, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000 };
    try {
      expect(() => linear(g, { x, w, out, rope, accumulate: true })).toThrow(ShapeError);
      expect(() => linear(g, { x, w, out, rope, act: 'gelu_tanh' })).toThrow(ShapeError);
      expect(() => linear(g, { x, w, out, rope }, { path: 'tiled' })).toThrow(LimitError);
      expect(() => linear(g, { x, w, out, rope: { ...rope, q: g.tensor([M, H + 1, D], 'f32', 'q2') } })).toThrow(ShapeError);
      expect(() => linear(g, { x, w, out, rope: { ...rope, nKvHeads: 2 } })).toThrow(ShapeError);
      expect(() => linear(g, { x, w, out, rope: { ...rope, q: out as Tensor } })).toThrow(ShapeError); // q aliases qkv
      expect(() => linear(g, { x, w, out, rope: { ...rope, kCache: x } })).toThrow(ShapeError);
      if (g.caps.f16 && g.caps.subgroups) {
        const xh = g.tensor([4, K], 'f16', 'xh'), wh = g.tensor([N, K], 'f16', 'wh'), oh = g.tensor([4, N], 'f16', 'oh');
        const rh: RopeEpilogue = { ...rope, rows: g.tensor([4, 2], 'u32', 'rows4'), q: g.tensor([4, H, D], 'f16', 'qh'), kCache: g.tensor([2, KV, 4, D], 'f16', 'kh'), vCache: g.tensor([2, KV, 4, D], 'f16', 'vh') };
        const sg = { M: 4, K, dtype: 'f16' as const, kind: 'linear' as const };
        if (gemvSgApplies(g.caps, sg, 4, 1)) expect(() => linear(g, { x: xh, w: wh, out: oh, rope: rh }, { tune: { gemv: { cpt: 4 } } })).toThrow(LimitError);
      }
    } finally {
      g.release(x, w, out, rows, q, kCache, vCache);
    }
  });
});

// ---- the model: a decode step without its RoPE launches -------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'fapool-rope-epi-'));
const modelCfg: ModelConfig = seedShaped({
  name: 'rope-epilogue', nLayers: 2, hidden: 256, nHeads: 4, nKvHeads: 2, headDim: 64, ffn: 512, vocab: 256, maxSeq: 48,
});
const loaded = new Map<'f32' | 'f16', Weights>();
afterAll(async () => {
  const g = await gpu();
  for (const w of loaded.values()) releaseWeights(g, w);
  rmSync(dir, { recursive: true, force: true });
});

async function modelWeights(g: Gpu, dtype: 'f32' | 'f16'): Promise<Weights> {
  let w = loaded.get(dtype);
  if (!w) {
    const path = join(dir, `m-${dtype}.safetensors`);
    await writeRandomWeights(path, modelCfg, { seed: 5, dtype });
    const f = await openSafetensors(path);
    w = (await loadWeights(g, f.source(), modelCfg, dtype)).weights;
    await f.close();
    loaded.set(dtype, w);
  }
  return w;
}

describe('the model with RoPE in the QKV epilogue (FAPOOL_ROPE_EPILOGUE)', () => {
  // f32 at 1 row: the per-column GEMV with the norm prologue; f16 at 1, 2, 4, 8 rows: the per-column kernel, then the
  // subgroup kernel's pairs (the norm a launch of its own); f16 at 8 rows appending after the attention (no cache in
  // the epilogue: the merge appends). From 5 rows a QKV product of N <= 4096 (this model's 512) takes one column a
  // subgroup by default, which has no RoPE entry: FAPOOL_GEMV_CPT=2 gives it the pairs (f16-pair products), as
  // seed-4l's N = 12288 has by default.
  // 16 rows: the decode tiles (here their emulated twins, FAPOOL_DECODE_TILES=split:emu; the QKV product unsplit).
  const cases: { dtype: 'f32' | 'f16'; rows: number; append?: string; cpt?: string; tiles?: string }[] = [
    { dtype: 'f32', rows: 1 }, { dtype: 'f16', rows: 1 }, { dtype: 'f16', rows: 2 }, { dtype: 'f16', rows: 4 },
    { dtype: 'f16', rows: 8, cpt: '2' }, { dtype: 'f16', rows: 8, append: 'after', cpt: '2' }, { dtype: 'f16', rows: 16, tiles: 'split:emu' },
  ];
  for (const c of cases) {
    it(`${c.dtype}, ${c.rows} rows a step, FAPOOL_ROPE_EPILOGUE=on${c.append ? `, FAPOOL_DECODE_APPEND=${c.append}` : ''}${c.cpt ? `, FAPOOL_GEMV_CPT=${c.cpt}` : ''}${c.tiles ? `, FAPOOL_DECODE_TILES=${c.tiles}` : ''}: the same tokens and logits bit for bit, no RoPE launch`, async (ctx) => {
      const g = await gpu();
      if (c.dtype === 'f16' && !g.caps.f16) { ctx.skip(); return; }
      const weights = await modelWeights(g, c.dtype);
      const r = rng();
      const prompts = Array.from({ length: c.rows }, (_, i) => Array.from({ length: 2 + ((i * 5) % 11) }, () => r.int(0, modelCfg.vocab)));
      const run = (on: string) => withEnv('FAPOOL_DECODE_TILES', c.tiles, () => withEnv('FAPOOL_GEMV_CPT', c.cpt, () => withEnv('FAPOOL_DECODE_APPEND', c.append, () => withEnv('FAPOOL_ROPE_EPILOGUE', on, () =>
        greedyRun(g, modelCfg, weights, c.dtype, prompts, 4)))));
      const off = await run('off'), on = await run('on');
      const count = (ls: string[], re: RegExp) => ls.filter((l) => re.test(l)).length;
      expect([count(off.launches, /^rope_qkv/), count(on.launches, /^rope_qkv/)], 'RoPE launches off / on').toEqual([modelCfg.nLayers, 0]);
      expect(count(on.launches, /_rope_|_r_f16/), 'QKV products with the epilogue').toBe(modelCfg.nLayers);
      expect(on.launches.length).toBe(off.launches.length - modelCfg.nLayers);
      expect(on.tokens, `seed ${r.seed}`).toEqual(off.tokens);
      expect(on.logits).toEqual(off.logits);
    }, 300_000);
  }
});

// The decode tiles of 9..64 rows (tg_{id}_r, shaders/gemm_sgm_tile_gen.gen.mjs): on a CPU adapter their scalar-emulated
// twins, a few small ones (the emulation compiles for seconds a pipeline); every one on tensor cores.
describe('RoPE in the decode tiles\' epilogue: the same bits as the (checked) tile and then the RoPE launch', () => {
  const CPU_TILES = ['t32x32_sg2x2_k32_b1', 't32x32_sg2x2_k32_b1_un8', 't16x32_sg1x2_k128_b1_u8', 't32x32_sg2x2_k32_b1_u8p2'];
  for (const id of SGM_TILE_GEN_ROPE) {
    it(`${id}: ragged rows and columns, GQA and partial rotary, a bias`, async (ctx) => {
      const g = await gpu();
      const real = hasSubgroupMatrixF16(g.caps);
      if (!g.caps.f16 || (!real && !CPU_TILES.includes(id) && process.env.FAPOOL_TEST_ALL_TILES !== '1')) { ctx.skip(); return; }
      const geo = tileGenGeometry(id), sgm = { kind: 'tile-gen' as const, id, emulate: !real };
      if (!sgmTileGenFits(g.caps, sgm)) { ctx.skip(); return; }
      // Unchecked tiles take whole slices; five of them (the _u8p2 loop's later passes). The reference product runs on
      // the checked twin (its own loop: a fault of the unchecked one's loop shows as a difference here).
      const K = geo.unchecked ? 5 * geo.bk : 2 * geo.bk + 8;
      const tune: GemmTuning = { sgm }, ref: GemmTuning = { sgm: { ...sgm, id: checkedTwin(id) } };
      const cases: [Case, number][] = [
        [{ H: 4, KV: 2, D: 16, style: 'neox', K }, geo.bm],                              // N = 128, M: whole tiles
        [{ H: 3, KV: 1, D: 32, ropeDim: 16, style: 'neox', K, bias: true }, 9],          // N = 160: a ragged one
      ];
      for (const [i, [c, M]] of cases.entries()) {
        const seed = rng().int(0, 2 ** 31);
        const want = await runQkv(g, c, M, 'f16', ref, false, false, seed, 'subgroup-matrix');
        const got = await runQkv(g, c, M, 'f16', tune, false, true, seed, 'subgroup-matrix');
        // Without robust buffer access a ragged launch of an unchecked tile takes its checked twin (tileWithinBuffers).
        // Whole tiles keep the asked one (its unchecked staging tested too).
        expect(i === 0 ? [`tg_${id}_r_f16`] : [`tg_${id}_r_f16`, `tg_${checkedTwin(id)}_r_f16`]).toContain(got.label);
        const what = `seed ${seed} M=${M} ${JSON.stringify(c)}`;
        expect(want.q.every(Number.isFinite), `the reference wrote every q: ${what}`).toBe(true);
        for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} ${what}`).toEqual(Array.from(want[k]));
      }
    }, 300_000);
  }
});

// The RoPE entry with the epilogue scratch in turns (CS_TURNS): the subgroups' rotation pairs flushed one group after
// another, the same bits as the checked tile flushed whole.
describe('RoPE in a decode tile\'s epilogue with the scratch in turns (FAPOOL_TILE_CS)', () => {
  for (const [id, turns] of [['t32x32_sg2x2_k32_b1_un8', 2], ['t64x32_sg2x2_k64_b1_u8', 4]] as const) {
    it(`${id}, ${turns} turns`, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const real = hasSubgroupMatrixF16(g.caps), geo = tileGenGeometry(id);
      const sgm = { kind: 'tile-gen' as const, id, emulate: !real, csTurns: turns };
      if (!sgmTileGenFits(g.caps, sgm)) { ctx.skip(); return; }
      const c: Case = { H: 4, KV: 2, D: 16, style: 'neox', K: 3 * geo.bk, bias: true };
      const seed = rng().int(0, 2 ** 31);
      const want = await runQkv(g, c, geo.bm, 'f16', { sgm: { kind: 'tile-gen', id: checkedTwin(id), emulate: !real } }, false, false, seed, 'subgroup-matrix');
      const got = await runQkv(g, c, geo.bm, 'f16', { sgm }, false, true, seed, 'subgroup-matrix');
      expect(got.label).toBe(`tg_${id}_r_f16`);
      for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} seed ${seed}`).toEqual(Array.from(want[k]));
    }, 300_000);
  }
});

// A split decode tile (`:n128=all` puts an 8-row QKV product on t16x128 split twice): its partials know no rotation
// pairs, so the split-K reduce applies the RoPE (splitk_reduce_rope), summing each pair's two columns in split order —
// the same bits as the split tile's plain reduce and then the RoPE launch. Ragged rows and columns, GQA, partial
// rotary, GPT-J pairs, a bias; three splits.
describe('RoPE in the split-K reduce of a split decode tile: the same bits as the split product and then the RoPE launch', () => {
  for (const id of ['t32x32_sg2x2_k32_b1', 't16x32_sg1x2_k128_b1_u8']) {
    it(id, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const real = hasSubgroupMatrixF16(g.caps), geo = tileGenGeometry(id);
      const sgm = { kind: 'tile-gen' as const, id, emulate: !real, splits: 3 };
      if (!sgmTileGenFits(g.caps, sgm)) { ctx.skip(); return; }
      const K = geo.unchecked ? 6 * geo.bk : 3 * geo.bk + 8;
      const cases: [Case, number][] = [
        [{ H: 4, KV: 2, D: 16, style: 'neox', K, bias: true }, geo.bm],
        [{ H: 3, KV: 1, D: 32, ropeDim: 16, style: 'neox', K }, 7],
        [{ H: 2, KV: 1, D: 8, style: 'gptj', K, bias: true }, 5],
      ];
      for (const [c, M] of cases) {
        const seed = rng().int(0, 2 ** 31);
        const want = await runQkv(g, c, M, 'f16', { sgm }, false, false, seed, 'subgroup-matrix');
        const got = await runQkv(g, c, M, 'f16', { sgm }, false, true, seed, 'subgroup-matrix');
        expect(got.label).toMatch(/^tgs_/);
        const what = `seed ${seed} M=${M} ${JSON.stringify(c)}`;
        expect(want.q.every(Number.isFinite), `the reference wrote every q: ${what}`).toBe(true);
        for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} ${what}`).toEqual(Array.from(want[k]));
      }
    }, 300_000);
  }
});

// The RoPE entry on weights in 64 × 64 blocks (wblk): each rotation pair's two weight rows gathered from the blocks.
describe('RoPE in a decode tile\'s epilogue on weights in 64 × 64 blocks: the same bits as the checked tile on row-major ones', () => {
  for (const id of ['t32x32_sg2x2_k32_b1_u8p2', 't16x32_sg1x2_k128_b1_u8']) {
    it(id, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const real = hasSubgroupMatrixF16(g.caps), geo = tileGenGeometry(id);
      const sgm = { kind: 'tile-gen' as const, id, emulate: !real, wblk: true };
      const ref: GemmTuning = { sgm: { kind: 'tile-gen', id: checkedTwin(id), emulate: !real } };
      for (const c of [{ H: 4, KV: 2, D: 16, style: 'neox', K: 256 }, { H: 2, KV: 1, D: 32, ropeDim: 16, style: 'neox', K: 384, bias: true }] as Case[]) {
        const seed = rng().int(0, 2 ** 31);
        const want = await runQkv(g, c, geo.bm, 'f16', ref, false, false, seed, 'subgroup-matrix');
        const got = await runQkv(g, c, geo.bm, 'f16', { sgm }, false, true, seed, 'subgroup-matrix');
        expect(got.label).toBe(`tg_${id}_r_f16`);
        const what = `seed ${seed} ${JSON.stringify(c)}`;
        for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} ${what}`).toEqual(Array.from(want[k]));
      }
    }, 300_000);
  }
});

// The RoPE entry of the 16-byte BK-32 tiles with STS_ROWS16 (rows 4 apart a store phase, halves ordered by row: the
// default with robust buffer access, which Node's tests run without): the same bits as the checked tile.
describe('RoPE in a decode tile\'s epilogue with FAPOOL_TILE_STS=rows16: the same bits as the checked tile', () => {
  for (const [id, wblk] of [['t32x32_sg2x2_k32_b1_un8', false], ['t32x32_sg2x2_k32_b1_u8p2', true]] as const) {
    it(`${id}${wblk ? ' on blocked weights' : ''}`, async (ctx) => {
      const g = await gpu();
      if (!g.caps.f16) { ctx.skip(); return; }
      const real = hasSubgroupMatrixF16(g.caps), geo = tileGenGeometry(id);
      const sgm = { kind: 'tile-gen' as const, id, emulate: !real, wblk };
      const ref: GemmTuning = { sgm: { kind: 'tile-gen', id: checkedTwin(id), emulate: !real } };
      const c: Case = { H: 4, KV: 2, D: 16, style: 'neox', K: 6 * geo.bk, bias: true };   // K % 64 == 0 for the blocks
      const seed = rng().int(0, 2 ** 31);
      const want = await runQkv(g, c, geo.bm, 'f16', ref, false, false, seed, 'subgroup-matrix');
      const got = await withEnv('FAPOOL_TILE_STS', 'rows16', () => runQkv(g, c, geo.bm, 'f16', { sgm }, false, true, seed, 'subgroup-matrix'));
      expect(got.label).toBe(`tg_${id}_r_f16`);
      for (const k of ['qkv', 'q', 'k', 'v'] as const) expect(Array.from(got[k]), `${k} seed ${seed}`).toEqual(Array.from(want[k]));
    }, 300_000);
  }
});

// Where ropeEpilogueApplies says yes, the launch must find a RoPE entry (else the model would fail to build its step):
// every GEMV row count and tuning switch that changes the kernel's choice, f32 and f16, with and without the prologue.
describe('RoPE epilogue: where ropeEpilogueApplies says yes, the product has the entry', () => {
  it('1..8 rows × FAPOOL_GEMV_CPT × f32 / f16 × norm prologue', async () => {
    const g = await gpu();
    const H = 2, KV = 1, D = 16, K = 64, N = (H + 2 * KV) * D;
    let yes = 0;
    for (const cpt of [undefined, '0', '1', '2', '2u2', '4']) {
      await withEnv('FAPOOL_GEMV_CPT', cpt, async () => {
        for (const dtype of ['f32', 'f16'] as const) {
          if (dtype === 'f16' && !g.caps.f16) continue;
          for (let M = 1; M <= 8; M++) for (const norm of [false, true]) {
            if (!ropeEpilogueApplies(g.caps, M, N, K, dtype, norm)) continue;
            yes++;
            const x = g.tensor([M, K], dtype, 'x'), w = g.tensor([N, K], dtype, 'w'), out = g.tensor([M, N], dtype, 'qkv');
            const nw = g.tensor([K], dtype, 'nw'), rows = g.tensor([M, 2], 'u32', 'rows'), q = g.tensor([M, H, D], dtype, 'q');
            const kCache = g.tensor([2, KV, 4, D], dtype, 'k'), vCache = g.tensor([2, KV, 4, D], dtype, 'v');
            try {
              const d = linear(g, { x, w, out, normed: true, norm: norm ? { weight: nw, eps: 1e-5 } : undefined, rope: { rows, q, kCache, vCache, nHeads: H, nKvHeads: KV, headDim: D, theta: 10000 } });
              expect(d.label, `M=${M} ${dtype} cpt=${cpt} norm=${norm}`).toMatch(/_rope_|_r_f16/);
            } finally {
              g.release(x, w, out, nw, rows, q, kCache, vCache);
            }
          }
        }
      });
    }
    expect(yes, 'some shapes take it').toBeGreaterThan(10);
  }, 300_000);
});
