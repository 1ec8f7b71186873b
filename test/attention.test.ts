// Flash attention on the real device against float64 references: causal prefill (cached prefix, GQA,
// pool-rank KV blocks), split-KV decode with ragged lengths, and the exact (O, LSE) merge.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LimitError, ShapeError, type DType, type Gpu, type Tensor } from '../src/gpu/index.js';
import {
  SGM_PREFILL_CONFIGS, SGM_PROBE_SLOTS, appendsInMerge, chooseSgmPrefill, decodePairApplies, decodePairMode, decodePairing, flashDecode, flashDecodePair, flashPrefill, hasSgmPrefill, mergeAttention, prefillTiles, runSgmProbe, sgDecodeApplies,
  sgmConfigOf, sgmDebugLayout, sgmEntryName, sgmPrefillStorageBytes, type DecodeArgs, type PrefillArgs, type PrefillTiles, type SgmPrefillConfig,
} from '../src/kernels/attention.js';
import { download, expectClose, poisoned, randomArray, rng, upload, useGpu, restoringEnv, withEnv, type Rng } from './helpers.js';
import { roundF16, toF16Array } from '../src/gpu/index.js';
import { attentionRef, decodeRef, mergeRef } from './ref/attention.js';

const gpu = useGpu();
const DTYPES = ['f32', 'f16'] as const;

/** LSE: -inf exactly where the reference has no keys, else |err| ≤ 1e-4·(1 + |ref|) (f32 statistics for both dtypes). */
function expectLse(out: Float64Array, ref: Float64Array, what: string): void {
  for (let i = 0; i < ref.length; i++) {
    const o = out[i]!, r = ref[i]!;
    const ok = r === -Infinity ? o === -Infinity : Math.abs(o - r) <= 1e-4 * (1 + Math.abs(r));
    if (!ok) throw new Error(`${what}: lse[${i}] = ${o}, want ${r}`);
  }
}

/** Rows with no visible key must be exactly 0 (expectClose alone would accept tiny values). */
function expectZeroRows(out: Float64Array, lseRef: Float64Array, d: number, what: string): void {
  lseRef.forEach((l, r) => {
    if (l !== -Infinity) return;
    for (let c = 0; c < d; c++) if (out[r * d + c] !== 0) throw new Error(`${what}: empty row ${r} has out[${c}] = ${out[r * d + c]}`);
  });
}

interface Cache { k: Float64Array; v: Float64Array; kt: Tensor; vt: Tensor }

/** Random K/V cache [slots, nKv, cap, d]; entries at or past `valid[slot]` are NaN (must never be read). */
function makeCache(g: Gpu, r: Rng, dtype: DType, slots: number, nKv: number, cap: number, d: number, valid: readonly number[]): Cache {
  const n = slots * nKv * cap * d;
  const k = randomArray(r, n, dtype), v = randomArray(r, n, dtype);
  for (let s = 0; s < slots; s++) for (let h = 0; h < nKv; h++) {
    for (let j = valid[s] ?? cap; j < cap; j++) {
      const o = ((s * nKv + h) * cap + j) * d;
      k.fill(NaN, o, o + d);
      v.fill(NaN, o, o + d);
    }
  }
  return { k, v, kt: upload(g, k, [slots, nKv, cap, d], dtype, 'k'), vt: upload(g, v, [slots, nKv, cap, d], dtype, 'v') };
}

interface PrefillCase {
  T: number; nHeads: number; nKv: number; d: number; qPos0: number; kvBase: number; kvLen: number; cap: number;
  slots?: number; slot?: number; causal?: boolean; scale?: number; what: string;
  /** Key j scaled by 1 + j/grow: scores keep growing along the keys (forces rescales of O mid-row). */
  grow?: number;
}

const PREFILL: PrefillCase[] = [
  { T: 1, nHeads: 4, nKv: 2, d: 64, qPos0: 0, kvBase: 0, kvLen: 1, cap: 8, what: 'single token' },
  { T: 7, nHeads: 4, nKv: 1, d: 128, qPos0: 5, kvBase: 0, kvLen: 12, cap: 16, slots: 2, slot: 1, what: 'cached prefix, MQA' },
  { T: 64, nHeads: 4, nKv: 2, d: 64, qPos0: 0, kvBase: 0, kvLen: 64, cap: 70, what: 'one full block' },
  { T: 100, nHeads: 4, nKv: 1, d: 128, qPos0: 37, kvBase: 0, kvLen: 137, cap: 140, slots: 3, slot: 2, what: 'ragged, prefix' },
  { T: 257, nHeads: 4, nKv: 2, d: 64, qPos0: 3, kvBase: 0, kvLen: 260, cap: 261, what: 'prime-ish T' },
  { T: 19, nHeads: 2, nKv: 1, d: 36, qPos0: 0, kvBase: 0, kvLen: 23, cap: 23, causal: false, what: 'non-causal, D=36' },
  { T: 40, nHeads: 2, nKv: 2, d: 64, qPos0: 10, kvBase: 30, kvLen: 25, cap: 32, what: 'KV block of a pool rank (early rows see nothing)' },
  { T: 9, nHeads: 2, nKv: 2, d: 256, qPos0: 4, kvBase: 0, kvLen: 13, cap: 13, what: 'D=256' },
  { T: 33, nHeads: 6, nKv: 3, d: 64, qPos0: 0, kvBase: 0, kvLen: 33, cap: 40, scale: 2, what: 'peaked softmax (scale 2)' },
  { T: 5, nHeads: 2, nKv: 1, d: 64, qPos0: 0, kvBase: 0, kvLen: 0, cap: 4, what: 'empty cache' },
];

async function runPrefill(g: Gpu, c: PrefillCase, dtype: 'f32' | 'f16', tiles?: PrefillTiles, sgm?: SgmPrefillConfig): Promise<void> {
  const r = rng();
  const slots = c.slots ?? 1, slot = c.slot ?? 0;
  const valid = Array.from({ length: slots }, (_, s) => (s === slot ? c.kvLen : c.cap));
  const q = randomArray(r, c.T * c.nHeads * c.d, dtype);
  let cache = makeCache(g, r, dtype, slots, c.nKv, c.cap, c.d, valid);
  if (c.grow) {
    const f = (x: number, i: number) => {
      const y = x * (1 + (Math.floor(i / c.d) % c.cap) / c.grow!);
      return dtype === 'f16' ? roundF16(y) : Math.fround(y);
    };
    const k = cache.k.map(f);
    g.release(cache.kt);
    cache = { ...cache, k, kt: upload(g, k, [slots, c.nKv, c.cap, c.d], dtype, 'k') };
  }
  const qt = upload(g, q, [c.T, c.nHeads, c.d], dtype, 'q');
  const out = poisoned(g, [c.T, c.nHeads, c.d], dtype), lse = poisoned(g, [c.T, c.nHeads], 'f32', 'lse');
  const scale = c.scale ?? 1 / Math.sqrt(c.d);
  await g.run([flashPrefill(g, {
    q: qt, out, lse, kCache: cache.kt, vCache: cache.vt, slot, qPos0: c.qPos0, kvBase: c.kvBase, kvLen: c.kvLen,
    causal: c.causal, scale: c.scale, tiles, sgm,
  })]);
  const ref = attentionRef(q, cache.k, cache.v, { ...c, capacity: c.cap, slots, slot, causal: c.causal ?? true, scale });
  const what = `prefill ${c.what} T=${c.T} ${sgm ? `sgm=${JSON.stringify(sgm)}` : `tiles=${JSON.stringify(tiles ?? prefillTiles(g.caps, dtype, c.d))}`} seed=${r.seed}`;
  const o = await download(g, out);
  if (ref.out.some((x) => x !== 0)) expectClose(o, ref.out, dtype, what);
  expectZeroRows(o, ref.lse, c.d, what);
  expectLse(await download(g, lse), ref.lse, what);
  g.release(qt, out, lse, cache.kt, cache.vt);
}

describe('flashPrefill', () => {
  for (const dtype of DTYPES) {
    for (const c of PREFILL) {
      it(`${dtype} ${c.what}: T=${c.T} H=${c.nHeads}/${c.nKv} D=${c.d} qPos0=${c.qPos0} kvBase=${c.kvBase} kvLen=${c.kvLen}`, async () => {
        await runPrefill(await gpu(), c, dtype);
      });
    }

    it(`${dtype} every tile config that fits this device`, async () => {
      const g = await gpu();
      const c: PrefillCase = { T: 70, nHeads: 2, nKv: 1, d: 64, qPos0: 9, kvBase: 0, kvLen: 79, cap: 80, what: 'tiles' };
      const all: PrefillTiles[] = [{ br: 64, bc: 64 }, { br: 64, bc: 32 }, { br: 32, bc: 32 }, { br: 32, bc: 16 }, { br: 16, bc: 16 }, { br: 8, bc: 16 }, { br: 4, bc: 16 }, { br: 4, bc: 8 }];
      const ran: string[] = [];
      for (const tiles of all) {
        try {
          await runPrefill(g, c, dtype, tiles);
          ran.push(`${tiles.br}x${tiles.bc}`);
        } catch (e) {
          if (!(e instanceof LimitError)) throw e; // too big for this device's workgroup storage
        }
      }
      console.info(`[attention] ${dtype} prefill tiles checked: ${ran.join(', ')}`);
      expect(ran.length).toBeGreaterThanOrEqual(4);
    }, 300_000);   // 3 s alone on lavapipe; eight pipelines to compile when the suite's other files share two cores
  }

  it('f32 dispatch.set: the same dispatch re-run at a later chunk (qPos0, kvLen)', async () => {
    const g = await gpu();
    const r = rng();
    const T = 12, nHeads = 2, nKv = 1, d = 64, cap = 40;
    const cache = makeCache(g, r, 'f32', 1, nKv, cap, d, [cap]);
    const q = randomArray(r, T * nHeads * d);
    const qt = upload(g, q, [T, nHeads, d], 'f32');
    const out = poisoned(g, [T, nHeads, d], 'f32');
    const disp = flashPrefill(g, { q: qt, out, kCache: cache.kt, vCache: cache.vt, slot: 0, qPos0: 0, kvBase: 0, kvLen: T });
    await g.run([disp]);
    const base = { T, nHeads, nKv, d, slots: 1, capacity: cap, slot: 0, kvBase: 0, causal: true, scale: 1 / 8 };
    expectClose(await download(g, out), attentionRef(q, cache.k, cache.v, { ...base, qPos0: 0, kvLen: T }).out, 'f32', `chunk 0 seed=${r.seed}`);
    disp.set({ qPos0: 25, kvLen: 25 + T });
    await g.run([disp]);
    expectClose(await download(g, out), attentionRef(q, cache.k, cache.v, { ...base, qPos0: 25, kvLen: 25 + T }).out, 'f32', `chunk at 25 seed=${r.seed}`);
    disp.release();
    g.release(qt, out, cache.kt, cache.vt);
  });

  for (const dtype of DTYPES) {
    it(`${dtype} KV range split over separate caches (kvBase) and merged equals the unsplit result`, async () => {
      const g = await gpu();
      const r = rng();
      const T = 50, nHeads = 4, nKv = 2, d = 64, qPos0 = 30, total = 80;
      const blocks = [[0, 33], [33, 61], [61, 80]] as const; // [kvBase, end): rows t < 31 see nothing of the last
      const P = blocks.length;
      const q = randomArray(r, T * nHeads * d, dtype);
      const qt = upload(g, q, [T, nHeads, d], dtype, 'q');
      const full = makeCache(g, r, dtype, 1, nKv, total, d, [total]);
      const pO = new Float64Array(T * nHeads * P * d), pL = new Float64Array(T * nHeads * P);
      for (const [i, [base, end]] of blocks.entries()) {
        // The block's own cache: positions [base, end) of the full one, capacity with spare room.
        const len = end - base, cap = len + 3;
        const k = new Float64Array(nKv * cap * d).fill(NaN), v = new Float64Array(nKv * cap * d).fill(NaN);
        for (let h = 0; h < nKv; h++) {
          k.set(full.k.subarray((h * total + base) * d, (h * total + end) * d), h * cap * d);
          v.set(full.v.subarray((h * total + base) * d, (h * total + end) * d), h * cap * d);
        }
        const kt = upload(g, k, [1, nKv, cap, d], dtype), vt = upload(g, v, [1, nKv, cap, d], dtype);
        const out = poisoned(g, [T, nHeads, d], dtype), lse = poisoned(g, [T, nHeads], 'f32');
        await g.run([flashPrefill(g, { q: qt, out, lse, kCache: kt, vCache: vt, slot: 0, qPos0, kvBase: base, kvLen: len })]);
        const o = await download(g, out), l = await download(g, lse);
        for (let row = 0; row < T * nHeads; row++) {
          pL[row * P + i] = l[row]!;
          pO.set(o.subarray(row * d, (row + 1) * d), (row * P + i) * d);
        }
        g.release(kt, vt, out, lse);
      }
      const pOt = upload(g, pO, [T, nHeads, P, d], 'f32'), pLt = upload(g, pL, [T, nHeads, P], 'f32');
      const out = poisoned(g, [T, nHeads, d], dtype), lse = poisoned(g, [T, nHeads], 'f32');
      await g.run([mergeAttention(g, { partialO: pOt, partialLse: pLt, out, lse })]);
      const ref = attentionRef(q, full.k, full.v, { T, nHeads, nKv, d, slots: 1, capacity: total, slot: 0, qPos0, kvBase: 0, kvLen: total, causal: true, scale: 1 / 8 });
      const what = `split prefill merged seed=${r.seed}`;
      expectClose(await download(g, out), ref.out, dtype, what);
      expectLse(await download(g, lse), ref.lse, what);
      // Against the unsplit kernel too (the pool must match a single device).
      const one = poisoned(g, [T, nHeads, d], dtype);
      await g.run([flashPrefill(g, { q: qt, out: one, kCache: full.kt, vCache: full.vt, slot: 0, qPos0, kvBase: 0, kvLen: total })]);
      expectClose(await download(g, out), await download(g, one), dtype, `${what} vs unsplit`);
      g.release(qt, full.kt, full.vt, pOt, pLt, out, lse, one);
    });
  }
});

// The tensor-core prefill: every generated config that fits the device (the H200 in device rounds), and the
// same generated code with emulated matrix operations on f16 devices without them (lavapipe in CI: control logic).
const SGM_CASES: PrefillCase[] = [
  ...PREFILL.filter((c) => c.d === 64 || c.d === 128),
  { T: 70, nHeads: 2, nKv: 1, d: 64, qPos0: 9, kvBase: 0, kvLen: 79, cap: 80, scale: 1, grow: 8, what: 'growing scores (rescales mid-row)' },
  { T: 33, nHeads: 2, nKv: 2, d: 128, qPos0: 0, kvBase: 0, kvLen: 150, cap: 150, causal: false, scale: 0.5, grow: 10, what: 'non-causal, growing scores' },
];
// Only entries within lavapipe's 32 KiB of workgroup memory (emulated: + 1 KiB) run here; the 8-subgroup and BC-64
// entries (128_32_8…, 64_64_4…) run on tensor-core devices only, where every entry is tested.
const EMU_CONFIGS = new Set(['128_32_4_pf', '64_16_4_pf_il_db', '64_16_4_qs_vt', '64_32_4_pf_s8', '64_32_4_pf_s8_sc']);
const EMU_CASES = new Set(['cached prefix, MQA', 'one full block', 'KV block of a pool rank (early rows see nothing)', 'empty cache',
  'growing scores (rescales mid-row)', 'non-causal, growing scores']);

describe('generated WGSL', () => {
  it('shaders/flash_attn_prefill_sgm{,_emu}.wgsl are exactly what their generator writes', async () => {
    const gen = await import(new URL('../shaders/flash_attn_prefill_sgm.gen.mjs', import.meta.url).href) as { file(emu: boolean): string };
    for (const [emu, name] of [[false, 'flash_attn_prefill_sgm.wgsl'], [true, 'flash_attn_prefill_sgm_emu.wgsl']] as const) {
      expect(gen.file(emu) === readFileSync(new URL(`../shaders/${name}`, import.meta.url), 'utf8'), `${name}: run node shaders/flash_attn_prefill_sgm.gen.mjs`).toBe(true);
    }
  });

  it('SGM_PREFILL_CONFIGS and sgmPrefillStorageBytes mirror the generator\'s CONFIGS and layout()', async () => {
    const gen = await import(new URL('../shaders/flash_attn_prefill_sgm.gen.mjs', import.meta.url).href) as {
      CONFIGS: object[]; configName(c: object): string; layout(c: object): { bytes: number };
    };
    expect(SGM_PREFILL_CONFIGS.map(sgmEntryName)).toEqual(gen.CONFIGS.map((c) => gen.configName(c)));
    expect(SGM_PREFILL_CONFIGS.map((e) => sgmPrefillStorageBytes(e))).toEqual(gen.CONFIGS.map((c) => gen.layout(c).bytes));
  });

  it('every emulated test entry is generated and fits lavapipe (32 KiB of workgroup memory), so none is skipped there', () => {
    const fits = SGM_PREFILL_CONFIGS.filter((e) => EMU_CONFIGS.has(sgmEntryName(e)) && sgmPrefillStorageBytes(e, true) <= 32768);
    expect(fits.map(sgmEntryName).sort()).toEqual([...EMU_CONFIGS].sort());
  });

  it('every workgroup variable of the tensor-core attention shaders is a multiple of 16 bytes', async () => {
    // Session 43: NVIDIA's driver lowers a literal-stride matrix load to LDSM (16-byte rows) and packs workgroup
    // variables so that a 4-byte one shifts every array after it off 16 bytes: the loads then read wrong bytes.
    // Nothing on lavapipe can see that, so the declarations are checked; an unknown type fails (extend SIZES).
    const gen = await import(new URL('../shaders/flash_attn_prefill_sgm.gen.mjs', import.meta.url).href) as { file(emu: boolean): string };
    const SIZES: Record<string, number> = { f16: 2, f32: 4, u32: 4, i32: 4, 'vec4<u32>': 16, 'vec4f': 16, 'vec4<f32>': 16 };
    const texts = [gen.file(false), gen.file(true), readFileSync(new URL('../shaders/flash_attn_sgm_probe.wgsl', import.meta.url), 'utf8')];
    const decls = texts.flatMap((t) => [...t.matchAll(/var<workgroup>\s+(\w+)\s*:\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()] as const));
    expect(decls.length).toBeGreaterThan(50);
    const bytes = (type: string): number => {
      const a = /^array<(\w+(?:<\w+>)?),\s*(\d+)>$/.exec(type);
      const n = a ? SIZES[a[1]!]! * Number(a[2]) : SIZES[type];
      if (n === undefined || Number.isNaN(n)) throw new Error(`unknown workgroup type ${type}`);
      return n;
    };
    expect(decls.filter(([, type]) => bytes(type) % 16 !== 0).map(([name, type]) => `${name}: ${type}`)).toEqual([]);
  });
});

describe('flashPrefill on subgroup matrices', () => {
  it('device probe: each subgroup-matrix operation the kernel uses', async (ctx) => {
    const g = await gpu();
    if (!hasSgmPrefill(g.caps)) { ctx.skip(); return; }
    const r = rng();
    const q4 = () => Float64Array.from({ length: 256 }, () => Math.round(r.uniform(-8, 8)) / 4); // exact in f16, sums exact in f32
    const A = q4(), B = q4();
    for (const shuffle of [true, false]) {
      const errs = await runSgmProbe(g, A, B, (v) => toF16Array(v), (t) => download(g, t), shuffle);
      const bad = errs.map((e, i) => `${SGM_PROBE_SLOTS[i]}: ${e}`).filter((_, i) => errs[i] !== 0);
      expect(bad, shuffle ? 'with a subgroup shuffle in the module' : 'without subgroup operations').toEqual([]);
    }
  });

  // The kernel's intermediate values (S after the first tile, P, row max and sum, O after the first tile) for
  // one block of 64 rows over 32 keys, each against float64: names the stage that goes wrong on a device
  // (emulated on adapters without subgroup matrices, which checks this analysis itself).
  for (const entry of SGM_PREFILL_CONFIGS.filter((e) => e.dbg)) {
    it(`stage dump of ${sgmEntryName(entry)} (staged Q and K, S, P, m, l, O after the first tile)`, async () => {
      const g = await gpu();
      const emulate = !hasSgmPrefill(g.caps);
      if (!g.caps.f16 || sgmPrefillStorageBytes(entry, emulate) > g.caps.maxWorkgroupStorage) return;
      // On tensor-core hardware this named the bug of session 2 (S wrong from the first tile: loads hoisted out
      // of the tile loop, kernels-bench/notes/attn.md); emulated, it checks the analysis itself.
      const r = rng();
      const T = 64, D = entry.d, n = 32, scale = 1 / Math.sqrt(D), scale2 = scale * Math.LOG2E;
      const q = randomArray(r, T * D, 'f16'), k = randomArray(r, n * D, 'f16'), v = randomArray(r, n * D, 'f16');
      const L = sgmDebugLayout(entry);
      const qt = upload(g, q, [T, 1, D], 'f16'), kt = upload(g, k, [1, 1, n, D], 'f16'), vt = upload(g, v, [1, 1, n, D], 'f16');
      const out = poisoned(g, [T, 1, D], 'f16'), dbg = poisoned(g, [L.size], 'f32');
      await g.run([flashPrefill(g, {
        q: qt, out, kCache: kt, vCache: vt, slot: 0, qPos0: 0, kvBase: 0, kvLen: n, causal: false,
        sgm: sgmConfigOf(entry, { emulate }), debugOut: dbg,
      })]);
      const d = await download(g, dbg);
      const rel = (got: (i: number) => number, want: (i: number) => number, count: number) => {
        let e = 0, mx = 0;
        for (let i = 0; i < count; i++) {
          const x = got(i);
          e = Math.max(e, Number.isFinite(x) ? Math.abs(x - want(i)) : Infinity);
          mx = Math.max(mx, Math.abs(want(i)));
        }
        return e / Math.max(mx, 1e-30);
      };
      const S = new Float64Array(T * n), m = new Float64Array(T), l = new Float64Array(T), P = new Float64Array(T * n);
      for (let t = 0; t < T; t++) {
        m[t] = -Infinity;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let c = 0; c < D; c++) s += q[t * D + c]! * k[j * D + c]!;
          S[t * n + j] = s;
          m[t] = Math.max(m[t]!, s * scale2);
        }
        for (let j = 0; j < n; j++) { P[t * n + j] = 2 ** (S[t * n + j]! * scale2 - m[t]!); l[t]! += P[t * n + j]!; }
      }
      const pDump = (t: number, j: number) => d[L.p + t * L.lp + j]!;
      const oDump = (t: number, c: number) => d[L.o + Math.floor(c / entry.bc) * entry.sg * L.ssPer + L.s(t, c % entry.bc)]!;
      const errs = {
        Qstaged: rel((i) => d[L.q + Math.floor(i / D) * L.lk + (i % D)]!, (i) => q[i]!, L.qRows * D),
        Kstaged: rel((i) => d[L.k + Math.floor(i / D) * L.lk + (i % D)]!, (i) => k[i]!, n * D),
        S: rel((i) => d[L.s(Math.floor(i / n), i % n)]!, (i) => S[i]!, T * n),
        P: rel((i) => pDump(Math.floor(i / n), i % n), (i) => P[i]!, T * n),
        m: rel((i) => d[L.ml + 2 * i]!, (i) => m[i]!, T),
        l: rel((i) => d[L.ml + 2 * i + 1]!, (i) => l[i]!, T),
        // O after the first tile from the dumped P (isolates the P·V product from the softmax).
        O: rel((i) => oDump(Math.floor(i / D), i % D), (i) => {
          const t = Math.floor(i / D), c = i % D;
          let o = 0;
          for (let j = 0; j < n; j++) o += pDump(t, j) * v[j * D + c]!;
          return o;
        }, T * D),
      };
      console.info(`[attention] ${emulate ? 'emulated ' : ''}${sgmEntryName(entry)} stage errors: ${JSON.stringify(errs)} seed=${r.seed}`);
      if (errs.S > 1e-2 || emulate) console.info(`[attention] ${sgmEntryName(entry)} what S is: ${explainS((t, j) => d[L.s(t, j)]!, q, k, v, T, n, D)}`);
      for (const [stage, e] of Object.entries(errs)) expect(e, `stage ${stage}`).toBeLessThan(1e-2);
      g.release(qt, kt, vt, out, dbg);
    });
  }

  for (const cfg of SGM_PREFILL_CONFIGS.filter((e) => !e.dbg && !e.x)) {
    const name = sgmEntryName(cfg);
    for (const emulate of [false, true]) {
      // Emulation compiles slowly on lavapipe (~30 s a config): these cover every switch.
      if (emulate && !EMU_CONFIGS.has(name)) continue;
      for (const th of !emulate && name === '128_32_4' ? [8, 0] : [8]) {
        const sgm = sgmConfigOf(cfg, { lazyThreshold: th, emulate });
        for (const c of SGM_CASES.filter((x) => x.d === cfg.d && (!emulate || EMU_CASES.has(x.what)))) {
          it(`${emulate ? 'emulated ' : ''}${name} TH=${th}: ${c.what}`, async (ctx) => {
            const g = await gpu();
            const fits = g.caps.f16 && sgmPrefillStorageBytes(cfg, emulate) <= g.caps.maxWorkgroupStorage
              && 32 * cfg.sg <= g.caps.maxInvocations && (emulate ? !hasSgmPrefill(g.caps) : hasSgmPrefill(g.caps));
            if (!fits) { ctx.skip(); return; }
            await runPrefill(g, c, 'f16', undefined, sgm);
          });
        }
      }
    }
  }
});

/**
 * What a dumped S (T × n) is made of, for a device whose S is wrong: its error against candidate products
 * (the truth Q·Kᵀ, stale staging read instead of K or Q, zero, transposed 16×16 blocks) and, per 16×16 block,
 * a least-squares fit on the 64 partial products Q[:, 16a..]·K[:, 16b..]ᵀ (which head-dim slices got paired).
 */
function explainS(S: (t: number, j: number) => number, q: Float64Array, k: Float64Array, v: Float64Array, T: number, n: number, D: number): string {
  const dot = (a: Float64Array, ia: number, b: Float64Array, ib: number, c0 = 0, c1 = D) => {
    let s = 0;
    for (let c = c0; c < c1; c++) s += a[ia * D + c]! * b[ib * D + c]!;
    return s;
  };
  // Rows of the unified staging after K/V staging: 0..n-1 K, n..2n-1 V (what stale Q registers would hold).
  const staged = (t: number) => (t < n ? [k, t] : t < 2 * n ? [v, t - n] : [q, t]) as [Float64Array, number];
  const hyp: Record<string, (t: number, j: number) => number> = {
    'Q·Kᵀ (truth)': (t, j) => dot(q, t, k, j),
    'Q·Q[0..n)ᵀ (K read the Q staging)': (t, j) => dot(q, t, q, j),
    'staged K/V rows·Kᵀ (Q read after K/V staging)': (t, j) => { const [a, i] = staged(t); return dot(a, i, k, j); },
    'Q·Vᵀ': (t, j) => dot(q, t, v, j),
    'zero': () => 0,
    'blocks transposed': (t, j) => dot(q, (t & ~15) + (j & 15), k, (j & ~15) + (t & 15)),
    'Q of subgroup 0 for every row block': (t, j) => dot(q, t & 15, k, j),
  };
  const err = (f: (t: number, j: number) => number) => {
    let e = 0, mx = 0;
    for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) { const w = f(t, j); e = Math.max(e, Math.abs(S(t, j) - w)); mx = Math.max(mx, Math.abs(w)); }
    return mx > 0 ? e / mx : e;
  };
  const parts = Object.entries(hyp).map(([name, f]) => `${name} ${err(f).toPrecision(3)}`);
  // Per block: S ≈ Σ c[a][b] · Q[rows, 16a..16a+16)·K[keys, 16b..16b+16)ᵀ (normal equations, 64 unknowns).
  const nd = D / 16, nu = nd * nd;
  for (let rb = 0; rb < T / 16; rb++) {
    for (let kb = 0; kb < n / 16; kb++) {
      const X: number[][] = [], y: number[] = [];
      for (let t = rb * 16; t < rb * 16 + 16; t++) {
        for (let j = kb * 16; j < kb * 16 + 16; j++) {
          const row: number[] = [];
          for (let a = 0; a < nd; a++) for (let b = 0; b < nd; b++) row.push(dotSlices(q, t, 16 * a, k, j, 16 * b, D));
          X.push(row); y.push(S(t, j));
        }
      }
      const c = leastSquares(X, y, nu);
      const terms = c.map((x, i) => [x, i] as const).filter(([x]) => Math.abs(x) > 0.05)
        .map(([x, i]) => `${x.toFixed(2)}·q${Math.floor(i / nd)}k${i % nd}`);
      let res = 0, tot = 0;
      X.forEach((row, i) => { const f = row.reduce((s, x, u) => s + x * c[u]!, 0); res += (y[i]! - f) ** 2; tot += y[i]! ** 2; });
      parts.push(`block r${rb}k${kb}: ${terms.slice(0, 12).join(' + ') || '0'}${terms.length > 12 ? ` (+${terms.length - 12} terms)` : ''}, residual ${Math.sqrt(res / Math.max(tot, 1e-30)).toPrecision(2)}`);
    }
  }
  return parts.join('; ');
}

/** Σ_c a[ia, ca + c] · b[ib, cb + c] over 16 columns. */
function dotSlices(a: Float64Array, ia: number, ca: number, b: Float64Array, ib: number, cb: number, D: number): number {
  let s = 0;
  for (let c = 0; c < 16; c++) s += a[ia * D + ca + c]! * b[ib * D + cb + c]!;
  return s;
}

/** Least squares min |X c − y| by the normal equations and Gaussian elimination (small, well-conditioned systems). */
function leastSquares(X: number[][], y: number[], nu: number): number[] {
  const A = Array.from({ length: nu }, () => new Float64Array(nu + 1));
  X.forEach((row, i) => { for (let u = 0; u < nu; u++) { for (let w = 0; w < nu; w++) A[u]![w]! += row[u]! * row[w]!; A[u]![nu]! += row[u]! * y[i]!; } });
  for (let c = 0; c < nu; c++) {
    let piv = c;
    for (let r2 = c + 1; r2 < nu; r2++) if (Math.abs(A[r2]![c]!) > Math.abs(A[piv]![c]!)) piv = r2;
    [A[c], A[piv]] = [A[piv]!, A[c]!];
    const d = A[c]![c]!;
    if (Math.abs(d) < 1e-12) continue;
    for (let r2 = 0; r2 < nu; r2++) {
      if (r2 === c) continue;
      const f = A[r2]![c]! / d;
      if (f !== 0) for (let w = c; w <= nu; w++) A[r2]![w]! -= f * A[c]![w]!;
    }
  }
  return Array.from({ length: nu }, (_, u) => (Math.abs(A[u]![u]!) < 1e-12 ? 0 : A[u]![nu]! / A[u]![u]!));
}

interface DecodeCase { lengths: number[]; cap: number; nHeads: number; nKv: number; d: number; maxSplits?: number; minChunk?: number; what: string }

const DECODE: DecodeCase[] = [
  { lengths: [0, 1, 17, 200, 129], cap: 200, nHeads: 4, nKv: 2, d: 64, maxSplits: 16, minChunk: 8, what: 'ragged, many splits' },
  { lengths: [1, 45, 96], cap: 100, nHeads: 8, nKv: 1, d: 128, what: 'MQA (8 heads per workgroup), default splits' },
  { lengths: [33, 7], cap: 40, nHeads: 6, nKv: 2, d: 36, maxSplits: 5, minChunk: 1, what: 'group of 3, D=36' },
  { lengths: [50, 0], cap: 64, nHeads: 16, nKv: 1, d: 8, maxSplits: 7, minChunk: 3, what: 'group of 16 (two workgroups per kv head), D=8' },
  { lengths: [300], cap: 300, nHeads: 2, nKv: 2, d: 128, maxSplits: 1, what: 'one split, long' },
];

async function runDecode(g: Gpu, c: DecodeCase, dtype: 'f32' | 'f16', opt: Partial<DecodeArgs> = {}): Promise<void> {
  const r = rng();
  const B = c.lengths.length;
  const q = randomArray(r, B * c.nHeads * c.d, dtype);
  const cache = makeCache(g, r, dtype, B, c.nKv, c.cap, c.d, c.lengths);
  const qt = upload(g, q, [B, c.nHeads, c.d], dtype, 'q');
  const lt = upload(g, c.lengths, [B], 'u32', 'lengths');
  const out = poisoned(g, [B, c.nHeads, c.d], dtype), lse = poisoned(g, [B, c.nHeads], 'f32');
  const plan = flashDecode(g, { q: qt, out, lse, kCache: cache.kt, vCache: cache.vt, lengths: lt, maxSplits: c.maxSplits, minChunk: c.minChunk, ...opt });
  plan.update(Math.max(...c.lengths));
  await g.run(plan.dispatches);
  const splits = plan.dispatches[0]!.workgroups[0];
  const ref = decodeRef(q, cache.k, cache.v, c.lengths, c.nHeads, c.nKv, c.d, c.cap, 1 / Math.sqrt(c.d));
  const what = `decode ${c.what} ${JSON.stringify(opt)} (${splits} splits) seed=${r.seed}`;
  const o = await download(g, out);
  expectClose(o, ref.out, dtype, what);
  expectZeroRows(o, ref.lse, c.d, what);
  expectLse(await download(g, lse), ref.lse, what);
  if (c.minChunk !== undefined && c.maxSplits !== undefined && c.maxSplits > 1) expect(splits).toBeGreaterThan(1);
  plan.release();
  g.release(qt, lt, out, lse, cache.kt, cache.vt);
}

describe('flashDecode', () => {
  for (const dtype of DTYPES) {
    for (const c of DECODE) {
      it(`${dtype} ${c.what}: lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async () => {
        await runDecode(await gpu(), c, dtype, { kernel: 'split' });
      });
    }
  }

  // The subgroup kernel (subgroup size 8 on lavapipe, 32 on the H200): f16, head dim % 8 == 0.
  const SG_DECODE: DecodeCase[] = [
    ...DECODE.filter((c) => c.d % 8 === 0),
    { lengths: [1000, 3, 0, 517, 64, 999, 1, 250], cap: 1000, nHeads: 8, nKv: 2, d: 128, maxSplits: 6, what: 'batch of 8 ragged, GQA 4' },
    { lengths: [700], cap: 704, nHeads: 4, nKv: 4, d: 64, maxSplits: 3, minChunk: 1, what: 'chunks not whole steps' },
  ];
  for (const c of SG_DECODE) {
    for (const unroll of c.lengths.length === 8 ? [1, 2, 4] : [2]) {
      it(`f16 subgroup kernel unroll ${unroll}: ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
        const g = await gpu();
        if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
        await runDecode(g, c, 'f16', { kernel: 'subgroup', unroll });
      });
    }
    // Several query heads of a GQA group per workgroup (one K/V read for all of them; the default is one head).
    const group = c.nHeads / c.nKv;
    if (group > 1) {
      const heads = Math.max(...[1, 2, 4, 8].filter((h) => group % h === 0));
      it(`f16 subgroup kernel, ${heads} heads per workgroup: ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
        const g = await gpu();
        if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
        await runDecode(g, c, 'f16', { kernel: 'subgroup', headsPerWorkgroup: heads, prefetch: heads === 8 });
      });
    }
    // Fewer lanes a key than the default (the most): more 8-half chunks a lane, each key's softmax on fewer lanes.
    it(`f16 subgroup kernel, every lanes-per-key: ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
      const g = await gpu();
      if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
      const ch = c.d / 8, sgs = g.caps.subgroupMaxSize;
      const lanes = [1, 2, 4, 8, 16, 32].filter((l) => l <= sgs && ch % l === 0 && ch / l <= 4);
      expect(lanes.length).toBeGreaterThan(0);
      for (const lanesPerKey of lanes) await runDecode(g, c, 'f16', { kernel: 'subgroup', lanesPerKey, prefetch: lanesPerKey % 2 === 0 });
    });
    // Prefetch (the next step's rows loaded ahead) and a workgroup of other than the default subgroup count.
    it(`f16 subgroup kernel prefetch, 2 subgroups: ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
      const g = await gpu();
      if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
      await runDecode(g, c, 'f16', { kernel: 'subgroup', unroll: c.lengths.length === 8 ? 1 : 2, prefetch: true, subgroups: 2 });
    });
  }

  // fitArrays only resizes the kernel's register arrays: the same sums in the same order, so the same bits (out and LSE).
  it('f16 subgroup kernel: register arrays sized to the launch give the bits of the maxima-sized ones', async (ctx) => {
    const g = await gpu();
    const lengths = [300, 7, 0, 129], B = lengths.length, nHeads = 4, nKv = 2, d = 128, cap = 300;
    if (!sgDecodeApplies(g.caps, 'f16', d)) { ctx.skip(); return; }
    const r = rng();
    const cache = makeCache(g, r, 'f16', B, nKv, cap, d, lengths);
    const qt = upload(g, randomArray(r, B * nHeads * d, 'f16'), [B, nHeads, d], 'f16', 'q'), lt = upload(g, lengths, [B], 'u32', 'lengths');
    const run = async (opt: Partial<DecodeArgs>): Promise<[Float64Array, Float64Array]> => {
      const out = poisoned(g, [B, nHeads, d], 'f16'), lse = poisoned(g, [B, nHeads], 'f32');
      const plan = flashDecode(g, { q: qt, out, lse, kCache: cache.kt, vCache: cache.vt, lengths: lt, kernel: 'subgroup', maxSplits: 3, minChunk: 1, ...opt });
      plan.update(cap);
      await g.run(plan.dispatches);
      const got: [Float64Array, Float64Array] = [await download(g, out), await download(g, lse)];
      plan.release(); g.release(out, lse);
      return got;
    };
    for (const opt of [{ unroll: 1 }, { unroll: 2, prefetch: true }, { unroll: 4, prefetch: true }, { unroll: 2, headsPerWorkgroup: 2 }, { unroll: 3, lanesPerKey: 4 }] as Partial<DecodeArgs>[]) {
      const [o0, l0] = await run({ ...opt, fitArrays: false }), [o1, l1] = await run({ ...opt, fitArrays: true });
      expect(Array.from(o1), JSON.stringify(opt)).toEqual(Array.from(o0));
      expect(Array.from(l1), JSON.stringify(opt)).toEqual(Array.from(l0));
      expect(l0.some((x) => Number.isFinite(x)), JSON.stringify(opt)).toBe(true);
    }
    g.release(qt, lt, cache.kt, cache.vt);
  });

  // lastFrom: each row's last key and value come from the step's q/k/v rows, not from the cache (whose entry there
  // holds other random values: a kernel that read the cache would fail against the reference).
  for (const [c, opt] of [
    [SG_DECODE[4]!, { unroll: 1 }], [SG_DECODE[4]!, { unroll: 2, prefetch: true }], [SG_DECODE[5]!, {}], [SG_DECODE[0]!, { prefetch: true, subgroups: 2 }],
  ] as [DecodeCase, Partial<DecodeArgs>][]) {
    it(`f16 subgroup kernel, last key from the step's rows ${JSON.stringify(opt)}: ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
      const g = await gpu();
      if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
      const r = rng(), dtype = 'f16', B = c.lengths.length, { nHeads, nKv, d, cap } = c, rowElems = (nHeads + 2 * nKv) * d;
      const q = randomArray(r, B * nHeads * d, dtype), rows = randomArray(r, B * rowElems, dtype);
      const cache = makeCache(g, r, dtype, B, nKv, cap, d, c.lengths);
      const kRef = cache.k.slice(), vRef = cache.v.slice();
      c.lengths.forEach((len, b) => {
        if (len === 0) return;
        for (let h = 0; h < nKv; h++) {
          const at = ((b * nKv + h) * cap + len - 1) * d, src = b * rowElems + (nHeads + h) * d;
          kRef.set(rows.subarray(src, src + d), at);
          vRef.set(rows.subarray(src + nKv * d, src + nKv * d + d), at);
        }
      });
      const qt = upload(g, q, [B, nHeads, d], dtype, 'q'), rt = upload(g, rows, [B, rowElems], dtype, 'rows');
      const lt = upload(g, c.lengths, [B], 'u32', 'lengths');
      const out = poisoned(g, [B, nHeads, d], dtype), lse = poisoned(g, [B, nHeads], 'f32');
      const plan = flashDecode(g, { q: qt, out, lse, kCache: cache.kt, vCache: cache.vt, lengths: lt, lastFrom: rt, kernel: 'subgroup', maxSplits: c.maxSplits, minChunk: c.minChunk, ...opt });
      plan.update(Math.max(...c.lengths));
      await g.run(plan.dispatches);
      const ref = decodeRef(q, kRef, vRef, c.lengths, nHeads, nKv, d, cap, 1 / Math.sqrt(d));
      const what = `decode lastFrom ${c.what} ${JSON.stringify(opt)} seed=${r.seed}`;
      const o = await download(g, out);
      expectClose(o, ref.out, dtype, what);
      expectZeroRows(o, ref.lse, d, what);
      expectLse(await download(g, lse), ref.lse, what);
      plan.release();
      g.release(qt, rt, lt, out, lse, cache.kt, cache.vt);
    });
  }

  // append: the merge also writes each row's new K/V (from lastFrom) into the caches at rows[rowBase + b] = (slot +
  // slotBase, position): the entries at len − 1 start as NaN and must hold the rows' values after; rows whose slot is
  // past or below the caches', one whose position is the capacity and an empty row (no position) write nothing. The
  // attention itself still reads them from the rows.
  for (const c of [SG_DECODE[4]!, SG_DECODE[0]!]) {
    it(`f16 subgroup merge appends the step's K/V (FAPOOL_DECODE_APPEND=after in one launch): ${c.what} lengths=[${c.lengths}] H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
      const g = await gpu();
      if (!appendsInMerge(g.caps, 'f16', c.d)) { ctx.skip(); return; }
      const r = rng(), dtype = 'f16', B = c.lengths.length, { nHeads, nKv, d, cap } = c, rowElems = (nHeads + 2 * nKv) * d;
      const rowBase = 2, slotBase = 5;
      const active = c.lengths.flatMap((len, b) => (len > 0 ? [b] : []));
      const [past, below, capped] = active as [number, number, number]; // rows whose table entry writes nothing
      const q = randomArray(r, B * nHeads * d, dtype), src = randomArray(r, B * rowElems, dtype);
      const cache = makeCache(g, r, dtype, B, nKv, cap, d, c.lengths.map((len) => Math.max(0, len - 1)));
      const kRef = cache.k.slice(), vRef = cache.v.slice(), kWant = cache.k.slice(), vWant = cache.v.slice();
      const table = new Uint32Array(2 * (rowBase + B + 1)).fill(7);
      c.lengths.forEach((len, b) => {
        table[2 * (rowBase + b)] = b === past ? slotBase + B + 3 : b === below ? slotBase - 1 : slotBase + b;
        table[2 * (rowBase + b) + 1] = len === 0 ? 0xffffffff : b === capped ? cap : len - 1;
        if (len === 0) return;
        for (let h = 0; h < nKv; h++) {
          const at = ((b * nKv + h) * cap + len - 1) * d, from = b * rowElems + (nHeads + h) * d;
          const kNew = src.subarray(from, from + d), vNew = src.subarray(from + nKv * d, from + nKv * d + d);
          kRef.set(kNew, at);
          vRef.set(vNew, at);
          if (b !== past && b !== below && b !== capped) { kWant.set(kNew, at); vWant.set(vNew, at); }
        }
      });
      const qt = upload(g, q, [B, nHeads, d], dtype, 'q'), st = upload(g, src, [B, rowElems], dtype, 'src');
      const lt = upload(g, c.lengths, [B], 'u32', 'lengths'), rt = upload(g, table, [rowBase + B + 1, 2], 'u32', 'rows');
      const out = poisoned(g, [B, nHeads, d], dtype);
      const plan = flashDecode(g, {
        q: qt, out, kCache: cache.kt, vCache: cache.vt, lengths: lt, lastFrom: st, kernel: 'subgroup', maxSplits: c.maxSplits, minChunk: c.minChunk,
        append: { rows: rt, rowBase, slotBase },
      });
      expect(plan.dispatches[1]!.program.key).toContain('#merge_sg_append'); // the merge appends: no copy launch
      plan.update(Math.max(...c.lengths));
      await g.run(plan.dispatches);
      const what = `decode append ${c.what} seed=${r.seed}`;
      const ref = decodeRef(q, kRef, vRef, c.lengths, nHeads, nKv, d, cap, 1 / Math.sqrt(d));
      const o = await download(g, out);
      expectClose(o, ref.out, dtype, what);
      expectZeroRows(o, ref.lse, d, what);
      const same = (got: Float64Array, want: Float64Array, name: string) => {
        const bad = want.findIndex((w, i) => !Object.is(w, got[i]) && !(Number.isNaN(w) && Number.isNaN(got[i]!)));
        if (bad >= 0) throw new Error(`${what}: ${name}[${bad}] = ${got[bad]}, want ${want[bad]}`);
      };
      same(await download(g, cache.kt), kWant, 'kCache');
      same(await download(g, cache.vt), vWant, 'vCache');
      plan.release();
      g.release(qt, st, lt, rt, out, cache.kt, cache.vt);
    });
  }

  it('FAPOOL_DECODE_MERGE: plain gives the same outputs within rounding; append is refused there and without lastFrom; bad values refused', async (ctx) => {
    const g = await gpu();
    const c = SG_DECODE[0]!;
    if (!sgDecodeApplies(g.caps, 'f16', c.d)) { ctx.skip(); return; }
    await withEnv('FAPOOL_DECODE_MERGE', 'plain', () => runDecode(g, c, 'f16', { kernel: 'subgroup' }));
    const q = g.tensor([1, 4, 16], 'f16'), out = g.tensor([1, 4, 16], 'f16'), lt = g.tensor([1], 'u32'), rows = g.tensor([1, 2], 'u32');
    const kc = g.tensor([1, 2, 8, 16], 'f16'), vc = g.tensor([1, 2, 8, 16], 'f16'), last = g.tensor([1, 8 * 16], 'f16');
    const args = { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup' as const, append: { rows, rowBase: 0, slotBase: 0 } };
    expect(() => flashDecode(g, args)).toThrow(/append copies the rows of lastFrom/);
    const lse = g.tensor([1, 4], 'f32');
    expect(() => flashDecode(g, { ...args, lastFrom: last, lse })).toThrow(/append or lse, not both/);
    g.release(lse);
    await withEnv('FAPOOL_DECODE_MERGE', 'plain', async () => {
      expect(() => flashDecode(g, { ...args, lastFrom: last })).toThrow(/append needs the subgroup merge/);
    });
    await withEnv('FAPOOL_DECODE_MERGE', 'fast', async () => {
      expect(() => flashDecode(g, { ...args, append: undefined })).toThrow(/FAPOOL_DECODE_MERGE=fast/);
    });
    g.release(q, out, lt, rows, kc, vc, last);
  });

  it('lastFrom: refused off the subgroup kernel and for rows of the wrong shape', async () => {
    const g = await gpu();
    const nHeads = 4, nKv = 2, d = 16, cap = 8;
    const q = g.tensor([2, nHeads, d], 'f16'), out = g.tensor([2, nHeads, d], 'f16'), lt = g.tensor([2], 'u32');
    const kc = g.tensor([2, nKv, cap, d], 'f16'), vc = g.tensor([2, nKv, cap, d], 'f16');
    const good = g.tensor([2, (nHeads + 2 * nKv) * d], 'f16'), bad = g.tensor([2, nHeads * d], 'f16');
    expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'split', lastFrom: good })).toThrow(/lastFrom needs the subgroup kernel/);
    if (sgDecodeApplies(g.caps, 'f16', d)) {
      expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup', lastFrom: bad })).toThrow(/lastFrom/);
    }
    g.release(q, out, lt, kc, vc, good, bad);
  });

  it('f16 subgroup kernel, default splits: a row alone and the same row in a batch of 8 give the same bits (FA Pool ranks vs one device)', async (ctx) => {
    const g = await gpu();
    const nHeads = 8, nKv = 8, d = 128, cap = 2048, len = 2000, B = 8, at = 3, dtype = 'f16';
    if (!sgDecodeApplies(g.caps, dtype, d)) { ctx.skip(); return; }
    const r = rng();
    const cache = makeCache(g, r, dtype, B, nKv, cap, d, Array(B).fill(len));
    const q = randomArray(r, B * nHeads * d, dtype);
    const row = (t: Float64Array, n: number) => t.slice(at * n, (at + 1) * n);
    const run = async (rows: number, qv: Float64Array, k: Float64Array, v: Float64Array) => {
      const kt = upload(g, k, [rows, nKv, cap, d], dtype), vt = upload(g, v, [rows, nKv, cap, d], dtype);
      const qt = upload(g, qv, [rows, nHeads, d], dtype), lt = upload(g, Array(rows).fill(len), [rows], 'u32');
      const out = poisoned(g, [rows, nHeads, d], dtype), lse = poisoned(g, [rows, nHeads], 'f32');
      const plan = flashDecode(g, { q: qt, out, lse, kCache: kt, vCache: vt, lengths: lt });
      plan.update(len);
      await g.run(plan.dispatches);
      const o = await download(g, out), l = await download(g, lse);
      plan.release();
      g.release(kt, vt, qt, lt, out, lse);
      return { o, l };
    };
    const kv = nKv * cap * d;
    const batch = await run(B, q, cache.k, cache.v);
    const alone = await run(1, row(q, nHeads * d), row(cache.k, kv), row(cache.v, kv));
    g.release(cache.kt, cache.vt);
    expect(Array.from(alone.o)).toEqual(Array.from(row(batch.o, nHeads * d)));
    expect(Array.from(alone.l)).toEqual(Array.from(row(batch.l, nHeads)));
  });

  it('FAPOOL_DECODE_SG sets the subgroup kernel\'s workgroups per row (splits = wgs ÷ head groups, 4..64) and prefetch; bad values are refused', async (ctx) => {
    const g = await gpu();
    const nHeads = 8, d = 128, cap = 1024;
    if (!sgDecodeApplies(g.caps, 'f16', d)) { ctx.skip(); return; }
    const q = g.tensor([1, nHeads, d], 'f16'), out = g.tensor([1, nHeads, d], 'f16'), lt = g.tensor([1], 'u32');
    const kc = g.tensor([1, nHeads, cap, d], 'f16'), vc = g.tensor([1, nHeads, cap, d], 'f16');
    const splits = (env: string | undefined): number => {
      let n = 0;
      restoringEnv('FAPOOL_DECODE_SG', () => {
        if (env === undefined) delete process.env.FAPOOL_DECODE_SG; else process.env.FAPOOL_DECODE_SG = env;
        const plan = flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup', minChunk: 1 });
        n = plan.dispatches[0]!.workgroups[0]!;
        plan.release();
      });
      return n;
    };
    expect(splits('wgs=64')).toBe(8);
    expect(splits('wgs=64,pf=0')).toBe(8);
    expect(splits('pf=1,wgs=16')).toBe(4);   // never fewer than 4
    expect(splits(undefined)).toBe(32);      // DECODE_SG_DEFAULT: 256 workgroups
    expect(splits('sg=2,wgs=64')).toBe(8);
    expect(splits('splits=1,wgs=64')).toBe(1);   // splits= sets the count, below the floor of 4 too
    expect(splits('splits=64')).toBe(64);
    expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup', headsPerWorkgroup: 2 })).toThrow(/headsPerWorkgroup 2 must divide the GQA group \(1\)/);
    for (const bad of ['wgs=0', 'pf=2', 'sg=0', 'splits=0', 'splits=65', 'split=8', 'wgs=64;pf=1', 'lpk=0', 'fit=2', 'u=0', 'u=5']) expect(() => splits(bad)).toThrow(/FAPOOL_DECODE_SG/);
    expect(splits('fit=1,wgs=64')).toBe(8);
    expect(splits('u=4,fit=1,wgs=64')).toBe(8);
    // lanes a key: a power of 2 dividing D/8 = 16, at most the subgroup, at most 4 chunks a lane (so ≥ 4 lanes)
    const sgs = g.caps.subgroupMaxSize;
    for (const bad of [3, 2, 32, 0.5]) {
      expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup', lanesPerKey: bad })).toThrow(/lanesPerKey/);
    }
    expect(splits(`lpk=${Math.min(4, sgs)},wgs=64`)).toBe(8);
    restoringEnv('FAPOOL_DECODE_SG', () => {
      process.env.FAPOOL_DECODE_SG = 'lpk=6';
      expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup' })).toThrow(/lanesPerKey 6/);
    });
    restoringEnv('FAPOOL_DECODE_SG', () => {   // a subgroup count the device cannot hold is refused by the kernel
      process.env.FAPOOL_DECODE_SG = 'sg=99';
      expect(() => flashDecode(g, { q, out, kCache: kc, vCache: vc, lengths: lt, kernel: 'subgroup' })).toThrow(/subgroups 99/);
    });
    g.release(q, out, lt, kc, vc);
  });

  it('f16 plan reused across steps: new lengths, update(maxLen) changes splits, no new buffers', async () => {
    const g = await gpu();
    const r = rng();
    const B = 3, nHeads = 4, nKv = 2, d = 64, cap = 150, dtype = 'f16';
    const cache = makeCache(g, r, dtype, B, nKv, cap, d, [cap, cap, cap]);
    const q = randomArray(r, B * nHeads * d, dtype);
    const qt = upload(g, q, [B, nHeads, d], dtype), lt = g.tensor([B], 'u32');
    const out = poisoned(g, [B, nHeads, d], dtype);
    const plan = flashDecode(g, { q: qt, out, kCache: cache.kt, vCache: cache.vt, lengths: lt, maxSplits: 8, minChunk: 4 });
    const live = g.liveBuffers;
    const seen = new Set<number>();
    for (const lengths of [[5, 150, 77], [3, 0, 20], [1, 2, 3], [150, 149, 148]]) {
      g.write(lt, Uint32Array.from(lengths));
      plan.update(Math.max(...lengths));
      seen.add(plan.dispatches[0]!.workgroups[0]);
      await g.run(plan.dispatches);
      const ref = decodeRef(q, cache.k, cache.v, lengths, nHeads, nKv, d, cap, 1 / 8);
      expectClose(await download(g, out), ref.out, dtype, `step lengths=[${lengths}] seed=${r.seed}`);
    }
    expect(g.liveBuffers).toBe(live);
    expect(seen.size).toBeGreaterThan(1);
    plan.release();
    g.release(qt, lt, out, cache.kt, cache.vt);
  });

  for (const dtype of DTYPES) {
    it(`${dtype} decode over two separate caches, merged, equals one decode over the whole cache`, async () => {
      const g = await gpu();
      const r = rng();
      const B = 4, nHeads = 4, nKv = 1, d = 64, cap = 90;
      const lengths = [90, 30, 31, 0], cut = 31; // rank 0 holds positions [0, 31), rank 1 the rest
      const lenA = lengths.map((l) => Math.min(l, cut)), lenB = lengths.map((l) => Math.max(0, l - cut));
      const q = randomArray(r, B * nHeads * d, dtype);
      const qt = upload(g, q, [B, nHeads, d], dtype);
      const full = makeCache(g, r, dtype, B, nKv, cap, d, lengths);
      const P = 2;
      const pO = new Float64Array(B * nHeads * P * d), pL = new Float64Array(B * nHeads * P);
      for (const [i, [lo, lens]] of ([[0, lenA], [cut, lenB]] as const).entries()) {
        const part = cap - cut;
        const k = new Float64Array(B * nKv * part * d).fill(NaN), v = new Float64Array(B * nKv * part * d).fill(NaN);
        for (let b = 0; b < B; b++) {
          const src = (b * cap + lo) * d, n = lens[b]! * d;
          k.set(full.k.subarray(src, src + n), b * part * d);
          v.set(full.v.subarray(src, src + n), b * part * d);
        }
        const kt = upload(g, k, [B, nKv, part, d], dtype), vt = upload(g, v, [B, nKv, part, d], dtype);
        const lt = upload(g, lens, [B], 'u32');
        const out = poisoned(g, [B, nHeads, d], dtype), lse = poisoned(g, [B, nHeads], 'f32');
        const plan = flashDecode(g, { q: qt, out, lse, kCache: kt, vCache: vt, lengths: lt, maxSplits: 4, minChunk: 8 });
        plan.update(Math.max(...lens));
        await g.run(plan.dispatches);
        const o = await download(g, out), l = await download(g, lse);
        for (let row = 0; row < B * nHeads; row++) {
          pL[row * P + i] = l[row]!;
          pO.set(o.subarray(row * d, (row + 1) * d), (row * P + i) * d);
        }
        plan.release();
        g.release(kt, vt, lt, out, lse);
      }
      const pOt = upload(g, pO, [B, nHeads, P, d], 'f32'), pLt = upload(g, pL, [B, nHeads, P], 'f32');
      const out = poisoned(g, [B, nHeads, d], dtype), lse = poisoned(g, [B, nHeads], 'f32');
      await g.run([mergeAttention(g, { partialO: pOt, partialLse: pLt, out, lse })]);
      const ref = decodeRef(q, full.k, full.v, lengths, nHeads, nKv, d, cap, 1 / 8);
      const what = `decode merged across caches seed=${r.seed}`;
      const o = await download(g, out);
      expectClose(o, ref.out, dtype, what);
      expectZeroRows(o, ref.lse, d, what);
      expectLse(await download(g, lse), ref.lse, what);
      g.release(qt, full.kt, full.vt, pOt, pLt, out, lse);
    });
  }
});

// Two cache groups in one attention launch and one merge (a KV cache cut past a storage binding's 2 GiB, or
// sequences of very different lengths): each row's output, and each appended K/V row, must be the bits one plan per
// group gives (the same splits), which the flashDecode tests hold to the float64 reference. Groups with different
// capacities, split counts and longest rows; positions past a row's length are NaN, so a read from the wrong group,
// slot or capacity fails.
describe('flashDecodePair', () => {
  interface PairCase {
    a: number[]; capA: number; b: number[]; capB: number; nHeads: number; nKv: number; d: number;
    maxSplits?: number; minChunk?: number; last?: boolean; append?: boolean; opt?: Partial<DecodeArgs>; what: string;
  }
  const PAIRS: PairCase[] = [
    { a: [1000, 3, 0, 517, 64, 999, 1], capA: 1000, b: [250], capB: 256, nHeads: 8, nKv: 2, d: 128, maxSplits: 6, what: '7 + 1 rows, fewer splits in the second' },
    { a: [17, 0], capA: 40, b: [33, 1, 300], capB: 320, nHeads: 4, nKv: 2, d: 64, maxSplits: 5, minChunk: 8, last: true, what: 'the second group longer, last keys from the rows' },
    { a: [90, 45, 7], capA: 96, b: [0, 12], capB: 16, nHeads: 4, nKv: 4, d: 64, last: true, append: true, opt: { prefetch: true, subgroups: 2 }, what: 'append into both groups, prefetch' },
    { a: [5], capA: 8, b: [700, 699], capB: 704, nHeads: 8, nKv: 1, d: 128, minChunk: 1, last: true, append: true, opt: { unroll: 1 }, what: 'MQA, append, one row then two long ones' },
  ];
  for (const c of PAIRS) for (const attention of ['joint', 'per-group'] as const) {
    it(`${c.what}, ${attention} attention: lengths [${c.a}] + [${c.b}] caps ${c.capA} / ${c.capB} H=${c.nHeads}/${c.nKv} D=${c.d}`, async (ctx) => {
      const g = await gpu();
      if (!decodePairApplies(g.caps, 'f16', c.d, attention)) { ctx.skip(); return; }
      const r = rng(), dtype = 'f16', { nHeads, nKv, d } = c, b2 = c.a.length, B = b2 + c.b.length, rowElems = (nHeads + 2 * nKv) * d;
      const lengths = [...c.a, ...c.b], fromRows = c.last === true;
      const q = randomArray(r, B * nHeads * d, dtype), src = randomArray(r, B * rowElems, dtype);
      // With the last key from the rows, the cache's entry there is NaN: only the rows may supply it.
      const host = (lens: number[], cap: number) => makeCache(g, r, dtype, lens.length, nKv, cap, d, lens.map((n) => (fromRows ? Math.max(0, n - 1) : n)));
      const ca = host(c.a, c.capA), cb = host(c.b, c.capB);
      const table = new Uint32Array(2 * B);
      lengths.forEach((len, b) => { table[2 * b] = b; table[2 * b + 1] = len === 0 ? 0xffffffff : len - 1; });
      const tt = upload(g, table, [B, 2], 'u32', 'rows');
      const made: Tensor[] = [ca.kt, ca.vt, cb.kt, cb.vt, tt];
      const up = (v: Float64Array | number[], shape: number[], dt: DType, label: string) => { const t = upload(g, v, shape, dt, label); made.push(t); return t; };
      const common = { kernel: 'subgroup' as const, maxSplits: c.maxSplits, minChunk: c.minChunk, ...c.opt };
      const maxA = Math.max(...c.a), maxB = Math.max(...c.b);

      // The pair: one launch over rows [0, B), caches of its own (the append writes into them).
      const pk = [up(ca.k, [b2, nKv, c.capA, d], dtype, 'pk'), up(ca.v, [b2, nKv, c.capA, d], dtype, 'pv'),
        up(cb.k, [B - b2, nKv, c.capB, d], dtype, 'pk2'), up(cb.v, [B - b2, nKv, c.capB, d], dtype, 'pv2')] as const;
      const pairOut = poisoned(g, [B, nHeads, d], dtype);
      made.push(pairOut);
      const pair = flashDecodePair(g, {
        q: up(q, [B, nHeads, d], dtype, 'q'), out: pairOut, kCache: pk[0], vCache: pk[1], lengths: up(c.a, [b2], 'u32', 'la'),
        lastFrom: fromRows ? up(src, [B, rowElems], dtype, 'src') : undefined, append: c.append ? { rows: tt, rowBase: 0, slotBase: 0 } : undefined, ...common,
      }, { kCache: pk[2], vCache: pk[3], lengths: up(c.b, [B - b2], 'u32', 'lb'), slotBase: b2 }, attention);
      const joint = attention === 'joint', launches = pair[0].dispatches;
      expect([launches.length, pair[1].dispatches.length]).toEqual([joint ? 2 : 3, 0]);
      for (const l of launches.slice(0, -1)) expect(l.program.key).toMatch(joint ? /#decode_sg_pair\b/ : /#decode_sg(?!_pair)\b/);
      expect(launches.at(-1)!.program.key).toContain(c.append ? '#merge_sg_append_pair' : '#merge_sg_pair');
      pair[0].update(maxA);
      pair[1].update(maxB);
      await g.run(pair[0].dispatches);

      // One plan per group over its own rows.
      const rowsOf = (x: Float64Array, per: number, first: number, n: number) => x.subarray(first * per, (first + n) * per);
      const single = async (first: number, lens: number[], cache: Cache, cap: number, maxLen: number) => {
        const n = lens.length, out = poisoned(g, [n, nHeads, d], dtype);
        const kt = up(cache.k, [n, nKv, cap, d], dtype, 'sk'), vt = up(cache.v, [n, nKv, cap, d], dtype, 'sv');
        made.push(out);
        const plan = flashDecode(g, {
          q: up(rowsOf(q, nHeads * d, first, n), [n, nHeads, d], dtype, 'sq'), out, kCache: kt, vCache: vt, lengths: up(lens, [n], 'u32', 'sl'),
          lastFrom: fromRows ? up(rowsOf(src, rowElems, first, n), [n, rowElems], dtype, 'ssrc') : undefined,
          append: c.append ? { rows: tt, rowBase: first, slotBase: first } : undefined, ...common,
        });
        plan.update(maxLen);
        await g.run(plan.dispatches);
        const res = { out: await download(g, out), k: await download(g, kt), v: await download(g, vt), splits: plan.dispatches[0]!.workgroups[0] };
        plan.release();
        return res;
      };
      const sa = await single(0, c.a, ca, c.capA, maxA), sb = await single(b2, c.b, cb, c.capB, maxB);
      const what = `pair ${c.what} seed=${r.seed}`;
      if (joint) expect(launches[0]!.workgroups[0], `${what}: the launch covers the larger split count`).toBe(Math.max(sa.splits, sb.splits));
      else expect(launches.slice(0, 2).map((l) => [l.workgroups[0], l.workgroups[2]]), `${what}: a launch a group, its splits and rows`).toEqual([[sa.splits, b2], [sb.splits, B - b2]]);
      const same = (got: Float64Array, want: Float64Array, name: string) => {
        const bad = want.findIndex((w, i) => !Object.is(w, got[i]) && !(Number.isNaN(w) && Number.isNaN(got[i]!)));
        if (bad >= 0) throw new Error(`${what}: ${name}[${bad}] = ${got[bad]}, want ${want[bad]} (one plan per group)`);
      };
      const o = await download(g, pairOut);
      same(o, Float64Array.from([...sa.out, ...sb.out]), 'out');
      for (const [t, want, name] of [[pk[0], sa.k, 'kCache'], [pk[1], sa.v, 'vCache'], [pk[2], sb.k, 'kCache2'], [pk[3], sb.v, 'vCache2']] as const) same(await download(g, t), want, name);
      if (c.append) {
        // The appended rows hold the step's K (V) and nothing else moved: the caches' NaN at len − 1 are gone.
        const kNew = (b: number, h: number) => src.subarray(b * rowElems + (nHeads + h) * d, b * rowElems + (nHeads + h) * d + d);
        const k2 = await download(g, pk[2]);
        c.b.forEach((len, s) => { if (len > 0) for (let h = 0; h < nKv; h++) expect(Array.from(k2.subarray(((s * nKv + h) * c.capB + len - 1) * d, ((s * nKv + h) * c.capB + len) * d)), `${what}: row ${b2 + s} appended`).toEqual(Array.from(kNew(b2 + s, h))); });
      }
      for (const p of pair) p.release();
      g.release(...made, ...pk);
    });
  }

  it('refuses what one launch cannot serve: lse, groups that are not the rows of q, other kv heads, an append without the second slot base', async (ctx) => {
    const g = await gpu();
    if (!decodePairApplies(g.caps, 'f16', 16)) { ctx.skip(); return; }
    const nHeads = 4, nKv = 2, d = 16;
    const t = (shape: number[], dt: DType = 'f16') => g.tensor(shape, dt);
    const q = t([3, nHeads, d]), out = t([3, nHeads, d]), la = t([2], 'u32'), lb = t([1], 'u32'), lse = t([3, nHeads], 'f32');
    const ka = t([2, nKv, 8, d]), va = t([2, nKv, 8, d]), kb = t([1, nKv, 32, d]), vb = t([1, nKv, 32, d]), kc = t([2, nKv, 32, d]), kd = t([1, 1, 32, d]);
    const src = t([3, (nHeads + 2 * nKv) * d]), rows = t([3, 2], 'u32');
    const a = { q, out, kCache: ka, vCache: va, lengths: la };
    expect(() => flashDecodePair(g, { ...a, lse }, { kCache: kb, vCache: vb, lengths: lb })).toThrow(/no lse with two cache groups/);
    expect(() => flashDecodePair(g, a, { kCache: kc, vCache: kc, lengths: lb })).toThrow(/slots 2 \+ 2 must be q's 3 rows/);
    expect(() => flashDecodePair(g, a, { kCache: kd, vCache: kd, lengths: lb })).toThrow(/must have 2 kv heads/);
    expect(() => flashDecodePair(g, { ...a, lastFrom: src, append: { rows, rowBase: 0, slotBase: 0 } }, { kCache: kb, vCache: vb, lengths: lb })).toThrow(/second group's slotBase/);
    expect(() => flashDecodePair(g, { ...a, kernel: 'split' }, { kCache: kb, vCache: vb, lengths: lb })).toThrow(LimitError);
    const ok = flashDecodePair(g, a, { kCache: kb, vCache: vb, lengths: lb });
    expect(() => ok[1].update(33)).toThrow(/maxLen = 33/);
    for (const p of ok) p.release();
    g.release(q, out, la, lb, lse, ka, va, kb, vb, kc, kd, src, rows);
  });

  it('FAPOOL_DECODE_PAIR=auto (the default): one attention launch with robust buffer access, one a group without or where the joint one does not fit; on, merge and off whatever it has', async (ctx) => {
    const g = await gpu();
    if (!decodePairApplies(g.caps, 'f16', 128)) { ctx.skip(); return; }
    const caps = (robustBufferAccess: boolean | undefined, maxStorageBuffersPerStage = 10) => ({ ...g.caps, robustBufferAccess, maxStorageBuffersPerStage });
    expect(decodePairing(caps(true), 'f16', 128, 'auto')).toBe('joint');
    expect(decodePairing(caps(undefined), 'f16', 128, 'auto')).toBe('joint');   // the browser: always robust
    expect(decodePairing(caps(false), 'f16', 128, 'auto')).toBe('per-group');
    for (const robust of [true, false]) {
      expect(decodePairing(caps(robust), 'f16', 128, 'on')).toBe('joint');
      expect(decodePairing(caps(robust), 'f16', 128, 'merge')).toBe('per-group');
      expect(decodePairing(caps(robust), 'f16', 128, 'off')).toBeNull();
    }
    // Nine storage buffers a stage: the pair merge fits, the joint launch (10) does not.
    expect(decodePairing(caps(true, 9), 'f16', 128, 'auto')).toBe('per-group');
    expect(decodePairing(caps(true, 9), 'f16', 128, 'on')).toBeNull();
    expect(decodePairing(caps(true, 8), 'f16', 128, 'auto')).toBeNull();
    expect(decodePairing(caps(true), 'f32', 128, 'on')).toBeNull();            // the split kernel: no pairs
    expect(await withEnv('FAPOOL_DECODE_PAIR', undefined, async () => decodePairMode())).toBe('auto');
    await expect(withEnv('FAPOOL_DECODE_PAIR', 'both', async () => decodePairMode())).rejects.toThrow(/FAPOOL_DECODE_PAIR=both: .*'auto'/);
  });
});

describe('mergeAttention', () => {
  // P = 7 and 19: one short trip of the merge's 8 partials, and two whole trips plus a short one.
  for (const [dtype, P] of DTYPES.flatMap((t) => [[t, 7], [t, 19]] as const)) {
    it(`${dtype} P=${P}: random partials with empty (-inf) ones, all-empty rows give 0 / -inf, no NaN`, async () => {
      const g = await gpu();
      const r = rng();
      const B = 3, nHeads = 5, d = 20, R = B * nHeads;
      const pO = randomArray(r, R * P * d), pL = randomArray(r, R * P, 'f32', -30, 30);
      for (let i = 0; i < R * P; i++) if (r.next() < 0.3) pL[i] = -Infinity;
      pL.fill(-Infinity, 2 * P, 3 * P); // row 2: every partial empty
      // An empty partial's O must not be read at all: NaN there would poison a weighted sum (0 · NaN).
      const pOdev = pO.map((x, i) => (pL[Math.floor(i / d)] === -Infinity ? NaN : x));
      const pOt = upload(g, pOdev, [B, nHeads, P, d], 'f32'), pLt = upload(g, pL, [B, nHeads, P], 'f32');
      const out = poisoned(g, [B, nHeads, d], dtype), lse = poisoned(g, [B, nHeads], 'f32');
      await g.run([mergeAttention(g, { partialO: pOt, partialLse: pLt, out, lse })]);
      const ref = mergeRef(pO, pL, R, P, d);
      const o = await download(g, out);
      expectClose(o, ref.out, dtype, `merge seed=${r.seed}`);
      expectZeroRows(o, ref.lse, d, 'merge');
      expectLse(await download(g, lse), ref.lse, `merge seed=${r.seed}`);
      expect(ref.lse[2]).toBe(-Infinity);
      g.release(pOt, pLt, out, lse);
    });
  }
});

describe('FAPOOL_FA_PREFILL', () => {
  it('names an entry that runs, or is refused: unknown, another head dim, a debug or ablation entry, one that does not fit', () => {
    const caps = { maxWorkgroupStorage: 49152, maxInvocations: 1024, maxWorkgroupSizeX: 1024 } as unknown as Parameters<typeof chooseSgmPrefill>[0];
    restoringEnv('FAPOOL_FA_PREFILL', () => {
      delete process.env.FAPOOL_FA_PREFILL;
      expect(chooseSgmPrefill(caps, 128)).toMatchObject({ bc: 32, subgroups: 8, prefetch: true, scratchPad8: true, softmaxContiguous: true });
      process.env.FAPOOL_FA_PREFILL = 'tiled';
      expect(chooseSgmPrefill(caps, 128)).toBeNull();
      process.env.FAPOOL_FA_PREFILL = '128_32_4_pf';
      expect(chooseSgmPrefill(caps, 128)).toMatchObject({ bc: 32, subgroups: 4, prefetch: true });
      for (const bad of ['fast', '64_64_4_pf', '128_32_4_dbg', '128_32_8_pf_xsm']) {
        process.env.FAPOOL_FA_PREFILL = bad;
        expect(() => chooseSgmPrefill(caps, 128), bad).toThrow(LimitError);
      }
      process.env.FAPOOL_FA_PREFILL = '128_32_8_pf';
      expect(() => chooseSgmPrefill({ ...caps, maxWorkgroupStorage: 16384 } as typeof caps, 128)).toThrow(/does not fit/);
    });
  });
});

describe('attention errors', () => {
  it('rejects wrong shapes and dtypes with ShapeError', async () => {
    const g = await gpu();
    const t = (shape: number[], dtype: DType = 'f32') => g.tensor(shape, dtype, 'e');
    const q = t([4, 4, 64]), out = t([4, 4, 64]), kc = t([2, 2, 16, 64]), vc = t([2, 2, 16, 64]);
    const ok: PrefillArgs = { q, out, kCache: kc, vCache: vc, slot: 0, qPos0: 0, kvBase: 0, kvLen: 4 };
    const bad: [Partial<PrefillArgs>, RegExp][] = [
      [{ out: t([4, 4, 32]) }, /out must be \[4, 4, 64\]/],
      [{ out: t([4, 4, 64], 'f16') }, /out must be f32/],
      [{ kCache: t([2, 2, 16, 32]) }, /kCache head dim 32/],
      [{ vCache: t([2, 2, 15, 64]) }, /vCache must be/],
      [{ kCache: t([2, 3, 16, 64]), vCache: t([2, 3, 16, 64]) }, /multiple of nKvHeads 3/],
      [{ q: t([4, 4, 62]), out: t([4, 4, 62]) }, /head dim must be a multiple of 4/],
      [{ q: t([1, 1, 260]), out: t([1, 1, 260]) }, /head dim/],
      [{ lse: t([4, 3]) }, /lse must be \[4, 4\]/],
      [{ lse: t([4, 4], 'u32') }, /lse must be f32/],
      [{ slot: 2 }, /slot = 2/],
      [{ kvLen: 17 }, /kvLen = 17/],
      [{ qPos0: -1 }, /qPos0/],
      [{ out: q }, /must not alias/],
      [{ q: t([4, 4, 64], 'u32') }, /f32 or f16/],
    ];
    for (const [patch, msg] of bad) {
      expect(() => flashPrefill(g, { ...ok, ...patch }), msg.source).toThrow(ShapeError);
      expect(() => flashPrefill(g, { ...ok, ...patch })).toThrow(msg);
    }
    flashPrefill(g, ok).release(); // the unpatched arguments are fine

    const dq = t([2, 4, 64]), dout = t([2, 4, 64]), lengths = t([2], 'u32');
    const dec = { q: dq, out: dout, kCache: kc, vCache: vc, lengths };
    expect(() => flashDecode(g, { ...dec, lengths: t([2], 'i32') })).toThrow(/lengths must be u32/);
    expect(() => flashDecode(g, { ...dec, lengths: t([3], 'u32') })).toThrow(/lengths must be \[2\]/);
    expect(() => flashDecode(g, { ...dec, q: t([3, 4, 64]), out: t([3, 4, 64]) })).toThrow(/2 slots but q has 3 rows/);
    expect(() => flashDecode(g, { ...dec, lse: t([2, 4], 'f16') })).toThrow(ShapeError);
    expect(() => flashDecode(g, { ...dec, maxSplits: 0 })).toThrow(ShapeError);
    const plan = flashDecode(g, dec);
    expect(() => plan.update(17)).toThrow(ShapeError);
    plan.release();

    const po = t([2, 4, 3, 64]), pl = t([2, 4, 3]);
    expect(() => mergeAttention(g, { partialO: po, partialLse: t([2, 4, 2]), out: dout })).toThrow(/partialLse must be \[2, 4, 3\]/);
    expect(() => mergeAttention(g, { partialO: t([2, 4, 3, 64], 'f16'), partialLse: pl, out: dout })).toThrow(/partialO must be f32/);
    expect(() => mergeAttention(g, { partialO: po, partialLse: pl, out: t([2, 4, 32]) })).toThrow(/out must be/);
    expect(() => mergeAttention(g, { partialO: po, partialLse: pl, out: dout, lse: t([4, 2]) })).toThrow(ShapeError);
  });

  it('over-limit grids and tiles raise LimitError', async () => {
    const g = await gpu();
    const heads = g.caps.maxWorkgroupsPerDim + 1;
    const q = g.tensor([1, heads, 4], 'f32'), out = g.tensor([1, heads, 4], 'f32');
    const kc = g.tensor([1, 1, 4, 4], 'f32'), vc = g.tensor([1, 1, 4, 4], 'f32');
    expect(() => flashPrefill(g, { q, out, kCache: kc, vCache: vc, slot: 0, qPos0: 0, kvBase: 0, kvLen: 4 })).toThrow(LimitError);
    const B = g.caps.maxWorkgroupsPerDim + 1;
    const dq = g.tensor([B, 1, 4], 'f32'), dout = g.tensor([B, 1, 4], 'f32');
    const dk = g.tensor([B, 1, 2, 4], 'f32'), dv = g.tensor([B, 1, 2, 4], 'f32'), lengths = g.tensor([B], 'u32');
    expect(() => flashDecode(g, { q: dq, out: dout, kCache: dk, vCache: dv, lengths, maxSplits: 1 })).toThrow(LimitError);
    // Tiles larger than the device's workgroup storage (f32 D=256 needs > 64 KiB for 64×64).
    const bq = g.tensor([8, 1, 256], 'f32'), bo = g.tensor([8, 1, 256], 'f32');
    const bk = g.tensor([1, 1, 8, 256], 'f32'), bv = g.tensor([1, 1, 8, 256], 'f32');
    expect(() => flashPrefill(g, { q: bq, out: bo, kCache: bk, vCache: bv, slot: 0, qPos0: 0, kvBase: 0, kvLen: 8, tiles: { br: 64, bc: 64 } })).toThrow(LimitError);
    g.release(q, out, kc, vc, dq, dout, dk, dv, lengths, bq, bo, bk, bv);
  });
});

