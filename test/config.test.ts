import { describe, expect, it } from 'vitest';
import {
  ConfigError, PRESETS, configFromHf, paramCount, presetConfig, validateConfig, type ModelConfig,
} from '../src/model/config.js';

// A Llama-shaped config.json (GELU instead of Llama's SiLU; the tests below try both).
const LLAMA = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 688,
  num_attention_heads: 8, num_key_value_heads: 2, num_hidden_layers: 3, vocab_size: 1000,
  max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 500000, hidden_act: 'gelu',
  tie_word_embeddings: false, torch_dtype: 'bfloat16', rope_scaling: null,
};
// Gemma-7B-like: head_dim * heads (4096) != hidden (3072), tied embeddings by default, tanh GELU via hidden_activation.
const GEMMA = {
  architectures: ['GemmaForCausalLM'], model_type: 'gemma', hidden_size: 3072, intermediate_size: 24576,
  num_attention_heads: 16, num_key_value_heads: 16, head_dim: 256, num_hidden_layers: 28, vocab_size: 256000,
  max_position_embeddings: 8192, rms_norm_eps: 1e-6, rope_theta: 10000, hidden_act: 'gelu',
  hidden_activation: 'gelu_pytorch_tanh', _name_or_path: 'google/gemma-7b',
};

describe('config', () => {
  it('presets validate and have the documented shapes', () => {
    for (const name of Object.keys(PRESETS)) expect(validateConfig(presetConfig(name))).toBeTruthy();
    const s = presetConfig('seed-4l');
    expect([s.nLayers, s.hidden, s.nHeads, s.headDim, s.nKvHeads, s.ffn, s.vocab, s.maxSeq]).toEqual([4, 4096, 32, 128, 32, 16384, 32000, 65536]);
    expect([s.act, s.gatedFfn, s.tiedEmbeddings, s.normEps, s.ropeTheta]).toEqual(['gelu_tanh', true, false, 1e-5, 10000]);
    // 4 layers × (4·4096² attention + 3·4096·16384 FFN + 2·4096 norms) + 2 × 32000·4096 + 4096
    expect(paramCount(s)).toBe(4 * (4 * 4096 ** 2 + 3 * 4096 * 16384 + 2 * 4096) + 2 * 32000 * 4096 + 4096);
    const t = presetConfig('tiny');
    expect(t.nHeads).toBeGreaterThan(t.nKvHeads); // GQA
    expect(t.vocab).toBe(256);
  });

  it('presetConfig returns a copy and lists presets for an unknown name', () => {
    const a = presetConfig('tiny');
    a.hidden = 1;
    expect(presetConfig('tiny').hidden).toBe(64);
    expect(() => presetConfig('nope')).toThrow(ConfigError);
    expect(() => presetConfig('nope')).toThrow(/seed-4l, tiny/);
    expect(() => presetConfig('toString')).toThrow(ConfigError);
  });

  const bad: [string, Partial<Record<keyof ModelConfig, unknown>>, RegExp][] = [
    ['zero layers', { nLayers: 0 }, /nLayers must be a positive integer/],
    ['fractional hidden', { hidden: 64.5 }, /hidden must be a positive integer/],
    ['negative vocab', { vocab: -3 }, /vocab must be a positive integer/],
    ['string heads', { nHeads: '4' }, /nHeads must be a positive integer/],
    ['heads not multiple of kv', { nHeads: 6, nKvHeads: 4 }, /multiple of nKvHeads/],
    ['odd headDim', { headDim: 15 }, /headDim must be even/],
    ['NaN eps', { normEps: NaN }, /normEps must be a finite positive/],
    ['infinite theta', { ropeTheta: Infinity }, /ropeTheta must be a finite positive/],
    ['zero embedScale', { embedScale: 0 }, /embedScale/],
    ['unknown act', { act: 'relu' }, /act must be one of/],
    ['non-boolean gated', { gatedFfn: 1 }, /gatedFfn must be a boolean/],
    ['empty name', { name: '' }, /name must be a non-empty string/],
    ['zero maxSeq', { maxSeq: 0 }, /maxSeq must be a positive integer/],
  ];
  for (const [what, patch, msg] of bad) {
    it(`validateConfig rejects ${what}`, () => {
      const c = { ...PRESETS.tiny, ...patch } as ModelConfig;
      expect(() => validateConfig(c)).toThrow(ConfigError);
      expect(() => validateConfig(c)).toThrow(msg);
    });
  }

  it('parses a Llama-like config.json', () => {
    const c = configFromHf(LLAMA);
    expect(c).toMatchObject({
      name: 'llama', modelType: 'llama', nLayers: 3, hidden: 256, nHeads: 8, nKvHeads: 2, headDim: 32, ffn: 688,
      vocab: 1000, maxSeq: 2048, normEps: 1e-6, ropeTheta: 500000, act: 'gelu_erf', gatedFfn: true,
      tiedEmbeddings: false, embedScale: 1,
    });
  });

  it('parses a Gemma-like config.json', () => {
    const c = configFromHf(GEMMA);
    expect(c).toMatchObject({
      name: 'google/gemma-7b', modelType: 'gemma', hidden: 3072, nHeads: 16, nKvHeads: 16, headDim: 256,
      act: 'gelu_tanh', tiedEmbeddings: true, vocab: 256000,
    });
    expect(c.embedScale).toBeCloseTo(Math.sqrt(3072), 12);
    expect(c.nHeads * c.headDim).not.toBe(c.hidden); // allowed: projections use nHeads·headDim
    // Gemma 1 with only hidden_act 'gelu' still runs the tanh form (as transformers does).
    const { hidden_activation: _, ...noAct } = GEMMA;
    expect(configFromHf(noAct).act).toBe('gelu_tanh');
  });

  it('maps activations and defaults', () => {
    expect(configFromHf({ ...LLAMA, hidden_act: 'gelu_new' }).act).toBe('gelu_tanh');
    expect(configFromHf({ ...LLAMA, hidden_act: 'gelu_pytorch_tanh' }).act).toBe('gelu_tanh');
    expect(configFromHf({ ...LLAMA, hidden_act: 'silu' }).act).toBe('silu');
    expect(configFromHf({ ...LLAMA, model_type: 'mistral', hidden_act: 'silu', attention_bias: false, mlp_bias: false }).act).toBe('silu');
    // Mistral's sliding window: full attention up to it, so the context is held there; null is none.
    expect(configFromHf({ ...LLAMA, model_type: 'mistral', sliding_window: 1024 }).maxSeq).toBe(1024);
    expect(configFromHf({ ...LLAMA, model_type: 'mistral', sliding_window: null }).maxSeq).toBe(2048);
    expect(configFromHf({ ...LLAMA, sliding_window: 4096 }).maxSeq).toBe(2048);
    const { num_key_value_heads: _, rope_theta: __, ...noKv } = LLAMA;
    const c = configFromHf(noKv);
    expect([c.nKvHeads, c.ropeTheta]).toEqual([8, 10000]);
    expect(configFromHf({ ...noKv, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }).ropeTheta).toBe(1e6);
    // rope_type (or type) 'default' in rope_scaling is plain RoPE, as transformers reads it.
    expect(configFromHf({ ...LLAMA, rope_scaling: { rope_type: 'default' } }).ropeTheta).toBe(500000);
    expect(configFromHf({ ...LLAMA, rope_scaling: { type: 'default' } }).ropeTheta).toBe(500000);
    // No activation named: the config class's default, as transformers (only where model_type is named).
    expect(configFromHf({ ...LLAMA, hidden_act: undefined }).act).toBe('silu');
    expect(configFromHf({ ...LLAMA, hidden_act: undefined, model_type: 'mistral' }).act).toBe('silu');
    const { hidden_activation: _h, hidden_act: _a, ...gemmaNoAct } = GEMMA;
    expect(configFromHf(gemmaNoAct).act).toBe('gelu_tanh');
  });

  const badHf: [string, unknown, RegExp][] = [
    ['relu', { ...LLAMA, hidden_act: 'relu' }, /unsupported activation "relu".*SiLU/],
    ['attention biases', { ...LLAMA, attention_bias: true }, /'attention_bias' true is not supported/],
    ['MLP biases', { ...LLAMA, mlp_bias: true }, /'mlp_bias' true is not supported/],
    ['a zero sliding window', { ...LLAMA, sliding_window: 0 }, /'sliding_window' must be a positive integer or null/],
    ['missing activation without a model_type', { ...LLAMA, hidden_act: undefined, model_type: undefined }, /unsupported activation/],
    ['rope scaling beside a default rope_parameters', { ...LLAMA, rope_scaling: { rope_type: 'linear', factor: 2 }, rope_parameters: { rope_type: 'default' } }, /rope scaling/],
    ['scaled rope_parameters beside a default rope_scaling', { ...LLAMA, rope_scaling: { type: 'default' }, rope_parameters: { rope_type: 'yarn', factor: 4 } }, /rope scaling/],
    // A 'default' rope_scaling with any key transformers would read: another model if taken as plain RoPE.
    ['a default rope_scaling whose type is linear', { ...LLAMA, rope_scaling: { rope_type: 'default', type: 'linear', factor: 4 } }, /rope scaling/],
    ['a default rope_scaling with its own rope_theta', { ...LLAMA, rope_scaling: { rope_type: 'default', rope_theta: 500000 } }, /rope scaling/],
    ['a default rope_scaling with a partial rotary factor', { ...LLAMA, rope_scaling: { rope_type: 'default', partial_rotary_factor: 0.5 } }, /rope scaling/],
    ['a default rope_scaling beside rope_parameters', { ...LLAMA, rope_scaling: { rope_type: 'default' }, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }, /rope scaling/],
    ['a null hidden_act', { ...LLAMA, hidden_act: null }, /unsupported activation null/],
    ['missing hidden_size', { ...LLAMA, hidden_size: undefined }, /'hidden_size' is missing/],
    ['string vocab', { ...LLAMA, vocab_size: '1000' }, /'vocab_size' must be a positive integer/],
    ['missing eps', { ...LLAMA, rms_norm_eps: undefined }, /'rms_norm_eps' is missing/],
    ['negative eps', { ...LLAMA, rms_norm_eps: -1 }, /'rms_norm_eps' must be a finite positive/],
    ['unknown model_type', { ...LLAMA, model_type: 'gpt2' }, /unsupported model_type "gpt2"/],
    ['rope scaling', { ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope scaling/],
    ['bad GQA', { ...LLAMA, num_key_value_heads: 3 }, /multiple of nKvHeads/],
    ['hidden not divisible', { ...LLAMA, hidden_size: 250 }, /not a multiple of num_attention_heads/],
    ['non-boolean tie', { ...LLAMA, tie_word_embeddings: 'yes' }, /tie_word_embeddings/],
    ['array', [1, 2], /must be a JSON object/],
    ['null', null, /must be a JSON object/],
  ];
  for (const [what, json, msg] of badHf) {
    it(`configFromHf rejects ${what}`, () => {
      expect(() => configFromHf(json)).toThrow(ConfigError);
      expect(() => configFromHf(json)).toThrow(msg);
    });
  }
});
