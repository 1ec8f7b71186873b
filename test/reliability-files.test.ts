// Files and messages (issue 17, items 4, 5, 6, 10): an interrupted weight write leaves no multi-GB temp file
// (SIGINT, SIGTERM, an app's own handler), a SIGKILLed writer's is swept once stale; what --init random may
// overwrite; a PCI address that is not a GPU here; config values that are strings; a weights/config mismatch
// summarised; a tokenizer.json whose vocab is not an object refused at load.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPciDevice, GpuBindingError } from '../src/gpu/select.js';
import { ConfigError, presetConfig, validateConfig, type ModelConfig } from '../src/model/config.js';
import { DEFAULT_PRESET, randomWeightsFileKind, resolveModel } from '../src/model/model-files.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { sweepStaleTemps, writeSafetensors } from '../src/model/safetensors-node.js';
import { parseHeaderJson, readHeaderLength } from '../src/model/safetensors.js';
import { loadTokenizer, TokenizerError } from '../src/model/tokenizer.js';
import { resolveWeights, WeightError } from '../src/model/weight-names.js';
import { privateDist } from './private-dist.js';

const { BUILD, build: buildPrivateDist } = privateDist('rel-files');
const tmp = mkdtempSync(join(tmpdir(), 'fapool-relfiles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tiny = presetConfig('tiny');

afterAll(() => rmSync(BUILD, { recursive: true, force: true }));

beforeAll(buildPrivateDist);

/** A writer in its own process, so that it can be signalled. */
function writerScript(path: string, withHandler: boolean): string {
  const script = join(tmp, `writer-${Math.random().toString(36).slice(2)}.mjs`);
  // ~390 MB of f32: long enough to be interrupted mid-write.
  writeFileSync(script, `
    import { writeRandomWeights } from ${JSON.stringify(join(BUILD, 'dist/src/model/random-weights.js'))};
    import { presetConfig } from ${JSON.stringify(join(BUILD, 'dist/src/model/config.js'))};
    const cfg = { ...presetConfig('tiny'), name: 'big', hidden: 1024, nHeads: 8, nKvHeads: 8, headDim: 128, ffn: 4096, vocab: 32000, nLayers: 2 };
    ${withHandler ? "process.on('SIGINT', () => { process.stdout.write('app handler\\\\n'); setTimeout(() => process.exit(130), 20); });" : ''}
    process.stdout.write('START\\n');
    await writeRandomWeights(${JSON.stringify(path)}, cfg, { seed: 1, dtype: 'f32' });
    process.stdout.write('DONE\\n');
  `);
  return script;
}

/** Runs a writer and signals it once its temp file has grown past 1 MB. */
async function interruptWriter(path: string, signal: NodeJS.Signals, withHandler = false): Promise<{ code: number | null; sig: NodeJS.Signals | null; out: string; temp: string }> {
  const script = writerScript(path, withHandler);
  const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  p.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((res) => p.once('close', (c, s) => res([c, s])));
  const temp = `${path}.tmp-${p.pid}-1`; // the writer's first write
  const t0 = performance.now();
  while (!(existsSync(temp) && statSync(temp).size > 2 ** 20)) {
    if (p.exitCode !== null) throw new Error(`writer exited (${p.exitCode}): ${err}`);
    if (performance.now() - t0 > 30_000) throw new Error(`no temp file: ${out} ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  p.kill(signal);
  const [code, sig] = await closed;
  return { code, sig, out, temp };
}

describe('interrupted weight writes', () => {
  it('SIGTERM and SIGINT mid-write: the temp file is removed and the process dies of the signal', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const path = join(tmp, `big-${signal}.safetensors`);
      const r = await interruptWriter(path, signal);
      expect(r.sig, r.out).toBe(signal);
      expect(r.out).not.toMatch(/DONE/);
      expect(existsSync(r.temp), `${r.temp} removed`).toBe(false);
      expect(existsSync(path)).toBe(false);
    }
  });

  it('an app with its own SIGINT handler keeps its exit; the temp file is still removed', async () => {
    const path = join(tmp, 'big-app.safetensors');
    const r = await interruptWriter(path, 'SIGINT', true);
    expect([r.code, r.sig]).toEqual([130, null]);
    expect(r.out).toMatch(/app handler/);
    expect(existsSync(r.temp)).toBe(false);
  });

  it('SIGKILL leaves it; the next write in that folder sweeps it once stale (a dead pid, 30 s old)', async () => {
    const path = join(tmp, 'big-kill.safetensors');
    const r = await interruptWriter(path, 'SIGKILL');
    expect(r.sig).toBe('SIGKILL');
    expect(existsSync(r.temp)).toBe(true);
    expect(sweepStaleTemps(tmp), 'fresh: a writer on another host may still own it').toEqual([]);
    const old = new Date(Date.now() - 60_000);
    utimesSync(r.temp, old, old);
    await writeRandomWeights(join(tmp, 'small.safetensors'), tiny, { seed: 1, dtype: 'f32' }); // sweeps its folder first
    expect(existsSync(r.temp)).toBe(false);
  });

  it('the sweep keeps temp files of live processes and files that are not ours', () => {
    const dir = join(tmp, 'sweep');
    mkdirSync(dir, { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    const live = join(dir, `m.safetensors.tmp-${process.ppid}`);            // the vitest parent: alive
    const dead = join(dir, 'm.safetensors.tmp-999999999');                  // no such pid
    const other = join(dir, 'm.bin.tmp-999999999');                        // not a safetensors temp
    for (const f of [live, dead, other]) { writeFileSync(f, 'x'); utimesSync(f, old, old); }
    expect(sweepStaleTemps(dir)).toEqual(['m.safetensors.tmp-999999999']);
    expect(readdirSync(dir).sort()).toEqual(['m.bin.tmp-999999999', `m.safetensors.tmp-${process.ppid}`].sort());
  });
});

describe('what --init random may overwrite', () => {
  it('absent, ours (fapool_generator metadata), or foreign (with the reason)', async () => {
    const ours = join(tmp, 'ours.safetensors');
    await writeRandomWeights(ours, tiny, { seed: 2, dtype: 'f32' });
    const plain = join(tmp, 'plain.safetensors');
    await writeSafetensors(plain, [{ name: 'w', dtype: 'F32', shape: [4], fill: (c) => { (c as Float32Array).fill(1); } }], { format: 'pt' });
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'hello');
    const empty = join(tmp, 'empty.safetensors');
    writeFileSync(empty, '');
    expect(randomWeightsFileKind(join(tmp, 'none.safetensors'))).toEqual({ kind: 'absent' });
    expect(randomWeightsFileKind(ours)).toMatchObject({ kind: 'ours', metadata: { fapool_generator: 'random-weights v1' } });
    expect(randomWeightsFileKind(plain)).toEqual({ kind: 'foreign', why: 'a safetensors file without fapool\'s random-weights metadata' });
    expect(randomWeightsFileKind(text)).toEqual({ kind: 'foreign', why: 'not a safetensors file' });
    expect(randomWeightsFileKind(empty)).toEqual({ kind: 'foreign', why: 'not a safetensors file' });
    expect(randomWeightsFileKind(tmp)).toEqual({ kind: 'foreign', why: 'not a regular file' });
  });

  it('the library refuses too: resolveModel never writes over a foreign file', async () => {
    const plain = join(tmp, 'theirs.safetensors');
    await writeSafetensors(plain, [{ name: 'w', dtype: 'F32', shape: [4], fill: (c) => { (c as Float32Array).fill(1); } }], {});
    const before = statSync(plain).mtimeMs;
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: plain, init: 'random' }, 'f32')).rejects.toThrow(/was not written by --init random .* never overwritten/);
    expect(statSync(plain).mtimeMs).toBe(before);
  });
});

describe('the random-weights cache', () => {
  // resolveModel without --model: random weights in FAPOOL_CACHE, named by preset (or --config's shape), seed, dtype.
  async function resolved(o: { config?: string; init?: 'random'; seed?: number }): Promise<{ path: string; layers: number; wrote: boolean }> {
    const lines: string[] = [];
    const m = await resolveModel({ preset: 'tiny', seed: o.seed ?? 0, config: o.config, init: o.init, log: (l) => lines.push(l) }, 'f32');
    await m.file.close();
    return { path: m.weightsPath, layers: m.config.nLayers, wrote: lines.some((l) => l.startsWith('wrote ')) };
  }

  it('a --config shape never takes the preset\'s file (a later plain run loaded it: 3 layers for tiny\'s 2)', async () => {
    const dir = join(tmp, 'cache-config');
    const cfg = join(tmp, 'three-layers.json');
    writeFileSync(cfg, JSON.stringify({
      num_hidden_layers: 3, hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 96,
      vocab_size: 256, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'gelu_pytorch_tanh',
    }));
    const prev = process.env.FAPOOL_CACHE;
    process.env.FAPOOL_CACHE = dir;
    try {
      const custom = await resolved({ config: cfg, init: 'random' });
      expect(custom).toMatchObject({ layers: 3, wrote: true });
      expect(custom.path).toMatch(/config-[0-9a-f]{12}-seed0-f32\.safetensors$/);
      expect(await resolved({}), 'the preset alone: its own shape, its own file').toMatchObject({ layers: tiny.nLayers, wrote: true });
      expect(await resolved({ config: cfg }), 'the same --config again: its file, kept').toEqual({ ...custom, wrote: false });
      // The default preset too: its trained weights were read as --config's model (or the load failed naming them).
      const m = await resolveModel({ preset: DEFAULT_PRESET, seed: 0, config: cfg }, 'f32');
      await m.file.close();
      expect([m.weightsPath, m.config.nLayers]).toEqual([custom.path, 3]);
    } finally {
      if (prev === undefined) delete process.env.FAPOOL_CACHE; else process.env.FAPOOL_CACHE = prev;
    }
  });

  it('--init random reuses a cached file made alike (seed, shape), and rewrites one made otherwise', async () => {
    const dir = join(tmp, 'cache-reuse');
    const prev = process.env.FAPOOL_CACHE;
    process.env.FAPOOL_CACHE = dir;
    try {
      const first = await resolved({ init: 'random', seed: 4 });
      expect(first.wrote).toBe(true);
      const made = statSync(first.path).mtimeMs;
      expect(await resolved({ init: 'random', seed: 4 }), 'the same weights: not written again').toEqual({ ...first, wrote: false });
      expect(statSync(first.path).mtimeMs).toBe(made);
      // A file under that name made with another seed (a stale cache): rewritten, not loaded.
      await writeRandomWeights(first.path, tiny, { seed: 5, dtype: 'f32' });
      expect((await resolved({ seed: 4 })).wrote).toBe(true);
      expect(randomWeightsFileKind(first.path)).toMatchObject({ metadata: { fapool_seed: '4' } });
    } finally {
      if (prev === undefined) delete process.env.FAPOOL_CACHE; else process.env.FAPOOL_CACHE = prev;
    }
  });
});

describe('a checkpoint named by its file', () => {
  // A WordLevel tokenizer over 'a'..'e' (ids 0..4) and a Llama-style config.json: the layout of a Hugging Face folder.
  const tokenizerJson = {
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: { type: 'Whitespace' },
    post_processor: null, decoder: null, model: { type: 'WordLevel', vocab: { a: 0, b: 1, c: 2, d: 3, e: 4 }, unk_token: 'a' },
  };
  const hfConfig = {
    model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16,
    num_hidden_layers: 2, vocab_size: 256, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'silu',
  };

  it('--model DIR/model.safetensors of a Hugging Face checkpoint reads DIR\'s config.json and tokenizer.json, as --model DIR does (it ran bytes and the preset)', async () => {
    const dir = join(tmp, 'hf-named');
    mkdirSync(dir, { recursive: true });
    // Weights without fapool's metadata, as a Hugging Face export has them.
    const spec = (await import('../src/model/random-weights-core.js')).randomWeightSpec({ ...tiny, act: 'silu' }, 3, 'f32');
    await writeSafetensors(join(dir, 'model.safetensors'), spec.tensors, { format: 'pt' });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    for (const model of [dir, join(dir, 'model.safetensors')]) {
      const m = await resolveModel({ preset: 'tiny', seed: 0, model }, 'f32');
      await m.file.close();
      expect([m.configSource, m.tokenizerSource, m.config.act, m.tokenizer.encode('b c')], model).toEqual([join(dir, 'config.json'), join(dir, 'tokenizer.json'), 'silu', [1, 2]]);
    }
  });

  it('a tokenizer larger than the model\'s vocabulary: a TokenizerError naming both files (exit 1), not a usage error', async () => {
    const dir = join(tmp, 'tok-too-big');
    mkdirSync(dir, { recursive: true });
    const spec = (await import('../src/model/random-weights-core.js')).randomWeightSpec({ ...tiny, act: 'silu', vocab: 4 }, 3, 'f32');
    await writeSafetensors(join(dir, 'model.safetensors'), spec.tensors, { format: 'pt' });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, vocab_size: 4 }));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson)); // 5 tokens
    const load = resolveModel({ preset: 'tiny', seed: 0, model: dir }, 'f32');
    await expect(load).rejects.toThrow(TokenizerError);
    await expect(load).rejects.toThrow(`${join(dir, 'tokenizer.json')} has 5 tokens but the model's vocabulary (${join(dir, 'config.json')}) is 4`);
  });

  it('a folder whose config.json and weights\' own config disagree is refused (the folder ran one model, the file named alone another)', async () => {
    const dir = join(tmp, 'two-configs');
    mkdirSync(dir, { recursive: true });
    await writeRandomWeights(join(dir, 'model.safetensors'), tiny, { seed: 3, dtype: 'f32' }); // gelu_tanh in its metadata
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig)); // silu
    await expect(resolveModel({ preset: 'tiny', seed: 0, model: dir }, 'f32')).rejects.toThrow(/config\.json and the fapool_config metadata of .* disagree on act \(silu against gelu_tanh\): pass --config to choose/);
    // Alike: taken.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, hidden_act: 'gelu_pytorch_tanh' }));
    const m = await resolveModel({ preset: 'tiny', seed: 0, model: dir }, 'f32');
    await m.file.close();
    expect(m.config.act).toBe('gelu_tanh');
  });

  it('fapool\'s own weights file keeps its metadata\'s config and the byte tokenizer, whatever sits beside it', async () => {
    const dir = join(tmp, 'ours-beside');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'w.safetensors');
    await writeRandomWeights(file, tiny, { seed: 3, dtype: 'f32' });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, num_hidden_layers: 5 }));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    const m = await resolveModel({ preset: 'tiny', seed: 0, model: file }, 'f32');
    await m.file.close();
    expect([m.configSource, m.tokenizerSource, m.config.nLayers]).toEqual([`${file} (metadata)`, 'bytes', tiny.nLayers]);
  });
});

describe('messages', () => {
  it('a --gpu PCI address that is missing, or not a GPU, on this host (fake sysfs)', () => {
    const sys = join(tmp, 'pci');
    for (const [addr, cls] of [['0000:00:02.0', '0x030000'], ['0000:3b:00.0', '0x030200'], ['0000:00:03.0', '0x020000']] as const) {
      mkdirSync(join(sys, addr), { recursive: true });
      writeFileSync(join(sys, addr, 'class'), `${cls}\n`);
    }
    expect(() => checkPciDevice('0000:3b:00.0', '3b:00.0', sys)).not.toThrow();
    expect(() => checkPciDevice('0000:00:07.0', '00000000:00:07.0', sys)).toThrow(GpuBindingError);
    expect(() => checkPciDevice('0000:00:07.0', '00000000:00:07.0', sys)).toThrow("--gpu 00000000:00:07.0: no PCI device at 0000:00:07.0 (this host's GPUs: 0000:00:02.0, 0000:3b:00.0)");
    expect(() => checkPciDevice('0000:00:03.0', '0000:00:03.0', sys)).toThrow(/the PCI device at 0000:00:03\.0 is not a GPU \(class 0x020000/);
    expect(() => checkPciDevice('0000:00:07.0', 'x', join(tmp, 'no-sysfs'))).not.toThrow(); // nothing to check against
  });

  it('a config value that is a string says so ("hidden": "64" is not 64)', () => {
    const c = { ...tiny, hidden: '64' } as unknown as ModelConfig;
    expect(() => validateConfig(c)).toThrow(ConfigError);
    expect(() => validateConfig(c)).toThrow("config 'tiny': hidden must be a positive integer, got the string \"64\"");
    expect(() => validateConfig({ ...tiny, normEps: '1e-5' } as unknown as ModelConfig)).toThrow(/normEps must be a finite positive number, got the string "1e-5"/);
    expect(() => validateConfig({ ...tiny, nLayers: [4] } as unknown as ModelConfig)).toThrow(/got an array \[4\]/);
  });

  it('projection biases in the file are refused (they were left unused, with a note: another model ran)', async () => {
    const path = join(tmp, 'biased.safetensors');
    await writeRandomWeights(path, tiny, { seed: 3, dtype: 'f32' });
    const bytes = readFileSync(path);
    const h = parseHeaderJson(bytes.subarray(8, 8 + readHeaderLength(bytes.subarray(0, 8), bytes.length)), bytes.length);
    const norm = h.tensors.get('layers.0.attn_norm')!;
    for (const name of ['model.layers.0.self_attn.q_proj.bias', 'layers.1.w_down.bias', 'lm_head.bias']) {
      const t = new Map(h.tensors);
      t.set(name, norm);
      expect(() => resolveWeights(tiny, { ...h, tensors: t }), name).toThrow(new RegExp(`have 1 projection bias\\(es\\) \\(${name.replace(/\./g, '\\.')}\\)`));
    }
    // Layers past the config's (a truncated model), and norms the layer lacks (QK-norm, norm biases): refused too.
    for (const [name, msg] of [['model.layers.2.mlp.up_proj.weight', /have layers past its 2 \(model\.layers\.2\.mlp\.up_proj\.weight\)/],
      ['layers.7.attn_norm', /have layers past its 2/], ['model.layers.0.self_attn.q_norm.weight', /1 normalisation tensor\(s\) its layers do not use \(model\.layers\.0\.self_attn\.q_norm\.weight\)/],
      ['model.layers.1.input_layernorm.bias', /normalisation tensor/], ['model.norm.bias', /normalisation tensor/]] as const) {
      const t = new Map(h.tensors);
      t.set(name, norm);
      expect(() => resolveWeights(tiny, { ...h, tensors: t }), name).toThrow(msg);
    }
    // Other unused tensors (a rotary cache, say) still only leave a note.
    const t = new Map(h.tensors);
    t.set('model.layers.0.self_attn.rotary_emb.inv_freq', norm);
    expect(resolveWeights(tiny, { ...h, tensors: t }).extras).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
  });

  it('1,000 layers against a 2-layer file: a short summary, not 8,982 names (641 KB)', async () => {
    const path = join(tmp, 'two-layers.safetensors');
    await writeRandomWeights(path, tiny, { seed: 3, dtype: 'f32' });
    const bytes = readFileSync(path);
    const h = parseHeaderJson(bytes.subarray(8, 8 + readHeaderLength(bytes.subarray(0, 8), bytes.length)), bytes.length);
    const err = (() => { try { resolveWeights({ ...tiny, nLayers: 1000 }, h); return null; } catch (e) { return e as Error; } })();
    expect(err).toBeInstanceOf(WeightError);
    expect(err!.message).toBe("weights do not fit config 'tiny': missing 8982: all 9 tensors of layers 2–999 (the config says 1000 layers; the file has layers 0–1)");
    // Ten million layers: counted, not listed (listing them took 75 s and 5 GB before Node ran out of heap).
    const huge = (() => { try { resolveWeights({ ...tiny, nLayers: 10_000_000 }, h); return ''; } catch (e) { return (e as Error).message; } })();
    expect(huge).toBe("weights do not fit config 'tiny': missing 89999982: all 9 tensors of layers 2–9999999 (the config says 10000000 layers; the file has layers 0–1)");
    // A file that names one far layer (junk) cannot bring the listing back: only the layers it names are listed.
    const junk = new Map(h.tensors);
    junk.set('layers.9999998.junk', h.tensors.get('layers.0.attn_norm')!);
    const far = (() => { try { resolveWeights({ ...tiny, nLayers: 10_000_000 }, { tensors: junk }); return ''; } catch (e) { return (e as Error).message; } })();
    expect(far).toBe("weights do not fit config 'tiny': missing 89999982: all 9 tensors of layers 2–9999999 (the config says 10000000 layers; the file has layers 0–1, 9999998)");
    // A gap inside the file's layers and the missing tail together.
    const gap = new Map(h.tensors);
    for (const k of [...gap.keys()]) if (k.startsWith('layers.1.')) gap.delete(k);
    gap.set('layers.3.attn_norm', h.tensors.get('layers.0.attn_norm')!);
    const both = (() => { try { resolveWeights({ ...tiny, nLayers: 6 }, { tensors: gap }); return ''; } catch (e) { return (e as Error).message; } })();
    expect(both).toMatch(/^weights do not fit config 'tiny': missing 44: all 9 tensors of layers 1–2, 4–5 \(the config says 6 layers; the file has layers 0, 3\); layers\.3\.wq /);
    // Scattered gaps are listed, eight at most.
    const holes = new Map(h.tensors);
    for (let l = 0; l < 2; l++) for (const k of ['wq', 'wk', 'wv', 'wo', 'w_up']) holes.delete(`layers.${l}.${k}`);
    const msg = (() => { try { resolveWeights(tiny, { tensors: holes }); return ''; } catch (e) { return (e as Error).message; } })();
    expect(msg).toMatch(/^weights do not fit config 'tiny': missing 10: layers\.0\.wq \(or model\.layers\.0\.self_attn\.q_proj\.weight\) \[64, 64\];/);
    expect(msg).toMatch(/; \.\.\. and 2 more$/);
    expect(msg.length).toBeLessThan(1000);
  });

  it('a BPE tokenizer.json whose vocab is not an object is refused at load (it loaded and failed later)', async () => {
    const base = { version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
    const bpe = (vocab: unknown, merges: unknown = []) => ({ ...base, model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges } });
    const cases: [unknown, RegExp][] = [
      [bpe(['a', 'b']), /model\.vocab of a BPE model must be an object \{token: id\}, got an array/],
      [bpe('abc'), /got string "abc"/],
      [bpe({ a: 'x' }), /model\.vocab: id of "a" must be a non-negative integer, got string "x"/],
      [bpe({ a: 0, b: 0 }), /id 0 is given to both "a" and "b"/],
      [bpe({}), /model\.vocab is empty/],
      [bpe({ a: 0, b: 1 }, 'a b'), /model\.merges must be an array/],
      [{ ...bpe({ a: 0 }), added_tokens: [{ content: 'x' }] }, /added_tokens\[0\] must be/],
      [{ ...base, model: { type: 'Unigram', vocab: { a: 1 } } }, /Unigram model must be an array of \[token, score\]/],
    ];
    for (const [i, [json, msg]] of cases.entries()) {
      const dir = join(tmp, `tok${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
      const err = await loadTokenizer(dir).catch((e: unknown) => e);
      expect(err, String(i)).toBeInstanceOf(TokenizerError);
      expect((err as Error).message, String(i)).toMatch(/^tokenizer\.json: /);
      expect((err as Error).message, String(i)).toMatch(msg);
    }
  });
});
