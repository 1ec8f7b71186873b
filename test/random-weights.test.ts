import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { roundF16 } from '../src/gpu/index.js';
import { PRESETS, configFromHf, paramCount, presetConfig, type ModelConfig } from '../src/model/config.js';
import { writeRandomWeights, type WeightDType } from '../src/model/random-weights.js';
import { parseSafetensors, type StDType } from '../src/model/safetensors.js';
import { openSafetensors, type SafetensorsFile } from '../src/model/safetensors-node.js';
import { WeightError, expectedWeights, fromHfName, resolveWeights, toHfName } from '../src/model/weight-names.js';
import { rng } from './helpers.js';

const dir = await mkdtemp(join(tmpdir(), 'fapool-rw-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// A little bigger than 'tiny' so statistics over one tensor are tight; ragged sizes on purpose.
const CFG: ModelConfig = { ...PRESETS.tiny, name: 'rw-test', hidden: 96, ffn: 200, vocab: 301, nLayers: 2 };

async function all(f: SafetensorsFile): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const name of f.tensors.keys()) out.set(name, await f.readTensorF32(name));
  return out;
}

describe('random weights', () => {
  it('same seed → byte-identical file whatever the chunk size; different seed → different bytes', async () => {
    const seed = rng().int(0, 2 ** 31);
    const a = join(dir, 'a.safetensors'), b = join(dir, 'b.safetensors'), c = join(dir, 'c.safetensors');
    const progress: [number, number][] = [];
    const res = await writeRandomWeights(a, CFG, { seed, dtype: 'f16', onProgress: (d, t) => progress.push([d, t]) });
    await writeRandomWeights(b, CFG, { seed, dtype: 'f16', chunkBytes: 1000 }); // many ragged chunks
    await writeRandomWeights(c, CFG, { seed: seed + 1, dtype: 'f16' });
    const [ba, bb, bc] = await Promise.all([readFile(a), readFile(b), readFile(c)]);
    expect(ba.equals(bb), `seed=${seed}`).toBe(true);
    expect(ba.length).toBe(bc.length);
    expect(ba.equals(bc)).toBe(false);
    // the data differ almost everywhere, not in a few bytes
    const h = parseSafetensors(ba);
    let same = 0;
    for (let i = h.headerSize; i < ba.length; i++) same += ba[i] === bc[i] ? 1 : 0;
    expect(same / (ba.length - h.headerSize)).toBeLessThan(0.2);
    expect(res).toMatchObject({ bytes: ba.length, params: paramCount(CFG) });
    expect(progress.at(-1)).toEqual([ba.length, ba.length]);
    expect(progress.every(([d], i) => i === 0 || d > progress[i - 1]![0])).toBe(true);
    expect((await readdir(dir)).some((n) => n.includes('.tmp-'))).toBe(false);
  });

  it('f32 / f16 / bf16 files hold the same values, rounded per dtype, with sensible statistics', async () => {
    const seed = rng().int(0, 2 ** 31);
    const files = new Map<WeightDType, Map<string, Float32Array>>();
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const path = join(dir, `s-${dtype}.safetensors`);
      await writeRandomWeights(path, CFG, { seed, dtype });
      const f = await openSafetensors(path);
      const want: StDType = dtype === 'f32' ? 'F32' : dtype === 'f16' ? 'F16' : 'BF16';
      expect([...f.tensors.values()].every((t) => t.dtype === want)).toBe(true);
      expect(JSON.parse(f.metadata.fapool_config!)).toEqual(CFG);
      expect(f.metadata.fapool_seed).toBe(String(seed));
      expect(resolveWeights(CFG, f.header).extras).toEqual([]);
      files.set(dtype, await all(f));
      await f.close();
    }
    const f32 = files.get('f32')!, f16 = files.get('f16')!, bf16 = files.get('bf16')!;
    for (const { name, shape } of expectedWeights(CFG)) {
      const x = f32.get(name)!;
      expect(x.length).toBe(shape.reduce((p, d) => p * d, 1));
      let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        s += v; s2 += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v);
        // f16 may round the float64 level differently from fround → f16, but stays within 1 f16 ulp.
        const e16 = Math.abs(f16.get(name)![i]! - roundF16(v)), e16tol = Math.abs(v) * 2 ** -10 + 2 ** -24;
        const e32 = Math.abs(bf16.get(name)![i]! - v), ebtol = Math.abs(v) * 2 ** -8;
        if (e16 > e16tol || e32 > ebtol) throw new Error(`${name}[${i}] seed=${seed}: f32 ${v} f16 ${f16.get(name)![i]} bf16 ${bf16.get(name)![i]}`);
      }
      const mean = s / x.length, std = Math.sqrt(s2 / x.length - mean * mean);
      const what = `${name} seed=${seed}: mean ${mean} std ${std} range [${lo}, ${hi}]`;
      if (shape.length === 1) { // norms: 1 ± ~0.1
        expect(Math.abs(mean - 1), what).toBeLessThan(0.02);
        expect(lo, what).toBeGreaterThan(0.89);
        expect(hi, what).toBeLessThan(1.11);
      } else {
        const want = name === 'embed' ? 1 : 1 / Math.sqrt(shape[1]!);
        // The sample std's relative standard error is ≈ 1/√(2n): six of them where that passes 5 % (a [32, 96] head
        // projection at 0.05 flaked, 4.2σ: 1 run in ~11,000).
        expect(Math.abs(std / want - 1), what).toBeLessThan(Math.max(0.05, 6 / Math.sqrt(2 * x.length)));
        // The sample mean's standard error is want/√n: five of them (a 0.05 bound flaked on 64×64 at ~3σ).
        expect(Math.abs(mean) / want, what).toBeLessThan(5 / Math.sqrt(x.length));
        expect(Math.max(-lo, hi) / want, what).toBeLessThan(3.5); // bounded: nothing for f16 to overflow
      }
    }
    // A float64 pass through layer 0 stays at unit scale: embed → rmsnorm → q, gated-GELU FFN → logits.
    const matvec = (w: Float32Array, x: Float64Array, rows: number): Float64Array => {
      const y = new Float64Array(rows), cols = x.length;
      for (let r = 0; r < rows; r++) { let a = 0; for (let c = 0; c < cols; c++) a += w[r * cols + c]! * x[c]!; y[r] = a; }
      return y;
    };
    const rms = (v: Float64Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const H = CFG.hidden;
    for (const tok of [0, 17, CFG.vocab - 1]) {
      const x = Float64Array.from(f32.get('embed')!.subarray(tok * H, (tok + 1) * H));
      const w = f32.get('layers.0.attn_norm')!;
      const n = x.map((v, i) => (v / rms(x)) * w[i]!);
      const q = matvec(f32.get('layers.0.wq')!, n, CFG.nHeads * CFG.headDim);
      const g = matvec(f32.get('layers.0.w_gate')!, n, CFG.ffn), u = matvec(f32.get('layers.0.w_up')!, n, CFG.ffn);
      const d = matvec(f32.get('layers.0.w_down')!, g.map((v, i) => gelu(v) * u[i]!), H);
      const logits = matvec(f32.get('lm_head')!, n, CFG.vocab);
      for (const [what, v, lo, hi] of [['q', q, 0.5, 2], ['ffn out', d, 0.05, 2], ['logits', logits, 0.5, 2]] as const) {
        expect(rms(v), `${what} rms, token ${tok}, seed=${seed}`).toBeGreaterThan(lo);
        expect(rms(v), `${what} rms, token ${tok}, seed=${seed}`).toBeLessThan(hi);
      }
    }
  });

  it('rejects bad seeds, dtypes and configs', async () => {
    const p = join(dir, 'bad.safetensors');
    await expect(writeRandomWeights(p, CFG, { seed: 1.5, dtype: 'f16' })).rejects.toThrow(/seed/);
    await expect(writeRandomWeights(p, CFG, { seed: 1, dtype: 'f8' as WeightDType })).rejects.toThrow(/dtype/);
    await expect(writeRandomWeights(p, { ...CFG, nKvHeads: 3 }, { seed: 1, dtype: 'f16' })).rejects.toThrow(/nKvHeads/);
  });
});

describe('weight names', () => {
  it('expected names and shapes follow the config', () => {
    const c = presetConfig('tiny');
    const w = expectedWeights(c);
    const byName = new Map(w.map((x) => [x.name, x.shape]));
    expect(w.length).toBe(1 + c.nLayers * 9 + 2);
    expect(byName.get('embed')).toEqual([256, 64]);
    expect(byName.get('layers.1.wq')).toEqual([64, 64]);
    expect(byName.get('layers.1.wk')).toEqual([32, 64]); // nKvHeads 2 × headDim 16
    expect(byName.get('layers.0.wo')).toEqual([64, 64]);
    expect(byName.get('layers.0.w_down')).toEqual([64, 128]);
    expect(byName.get('lm_head')).toEqual([256, 64]);
    expect(expectedWeights({ ...c, tiedEmbeddings: true }).some((x) => x.name === 'lm_head')).toBe(false);
    expect(expectedWeights({ ...c, gatedFfn: false }).some((x) => x.name.endsWith('w_gate'))).toBe(false);
    // Gemma-like: projections are nHeads·headDim wide, not hidden
    const g = expectedWeights({ ...c, hidden: 48, nHeads: 4, headDim: 16 });
    expect(g.find((x) => x.name === 'layers.0.wq')!.shape).toEqual([64, 48]);
    expect(g.find((x) => x.name === 'layers.0.wo')!.shape).toEqual([48, 64]);
  });

  it('maps HF names both ways', () => {
    const pairs: [string, string][] = [
      ['embed', 'model.embed_tokens.weight'], ['final_norm', 'model.norm.weight'], ['lm_head', 'lm_head.weight'],
      ['layers.0.attn_norm', 'model.layers.0.input_layernorm.weight'], ['layers.12.wq', 'model.layers.12.self_attn.q_proj.weight'],
      ['layers.3.wk', 'model.layers.3.self_attn.k_proj.weight'], ['layers.3.wv', 'model.layers.3.self_attn.v_proj.weight'],
      ['layers.3.wo', 'model.layers.3.self_attn.o_proj.weight'], ['layers.1.ffn_norm', 'model.layers.1.post_attention_layernorm.weight'],
      ['layers.1.w_gate', 'model.layers.1.mlp.gate_proj.weight'], ['layers.1.w_up', 'model.layers.1.mlp.up_proj.weight'],
      ['layers.1.w_down', 'model.layers.1.mlp.down_proj.weight'],
    ];
    for (const [ours, hf] of pairs) {
      expect(toHfName(ours)).toBe(hf);
      expect(fromHfName(hf)).toBe(ours);
    }
    expect(toHfName('layers.0.nope')).toBeNull();
    expect(fromHfName('model.layers.0.self_attn.rotary_emb.inv_freq')).toBeNull();
  });

  const header = (entries: [string, number[], StDType?][]) => ({ tensors: new Map(entries.map(([n, s, d]) => [n, { dtype: d ?? 'F16', shape: s }])) });

  it('resolves HF-named Gemma files, flags normPlusOne, lists extras', () => {
    const c = configFromHf({
      model_type: 'gemma', hidden_size: 48, intermediate_size: 80, num_attention_heads: 4, num_key_value_heads: 1,
      head_dim: 16, num_hidden_layers: 2, vocab_size: 100, max_position_embeddings: 128, rms_norm_eps: 1e-6,
      hidden_activation: 'gelu_pytorch_tanh',
    });
    const entries: [string, number[], StDType?][] = expectedWeights(c).map((w) => [toHfName(w.name)!, w.shape, 'BF16']);
    entries.push(['model.layers.0.self_attn.rotary_emb.inv_freq', [8], 'F32']);
    const r = resolveWeights(c, header(entries));
    expect(r.normPlusOne).toBe(true);
    expect(r.extras).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
    expect(r.names.get('layers.1.wk')).toBe('model.layers.1.self_attn.k_proj.weight');
    expect(r.names.has('lm_head')).toBe(false); // tied
    expect(resolveWeights(presetConfig('tiny'), header(expectedWeights(presetConfig('tiny')).map((w) => [w.name, w.shape]))).normPlusOne).toBe(false);
  });

  it('reports every missing, mis-shaped and unloadable tensor at once', () => {
    const c = presetConfig('tiny');
    const entries: [string, number[], StDType?][] = expectedWeights(c)
      .filter((w) => w.name !== 'layers.1.wv' && w.name !== 'lm_head')
      .map((w) => [w.name, w.name === 'layers.0.wk' ? [64, 64] : w.shape, w.name === 'final_norm' ? 'I32' : 'F16']);
    let err: unknown;
    try { resolveWeights(c, header(entries)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(WeightError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/missing 2: layers\.1\.wv \(or model\.layers\.1\.self_attn\.v_proj\.weight\) \[32, 64\]; lm_head \(or lm_head\.weight\) \[256, 64\]/);
    expect(msg).toMatch(/layers\.0\.wk: file has \[64, 64\], model needs \[32, 64\]/);
    expect(msg).toMatch(/final_norm: dtype I32 is not loadable/);
  });
});
