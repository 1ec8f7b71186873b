// Hostile use of real-world checkpoint files (config.json, tokenizer.json variants): each case ran another model, or
// made other tokens than transformers' fast tokenizers, without a word before its fix.
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromHf } from '../src/model/config.js';
import { HfTokenizer } from '../src/model/tokenizer.js';
import { spTokenizerJson } from './sp-tokenizer.js';

const LLAMA = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 688,
  num_attention_heads: 8, num_key_value_heads: 2, num_hidden_layers: 3, vocab_size: 1000,
  max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 500000, hidden_act: 'silu',
};

describe('config.json', () => {
  it('partial_rotary_factor below 1 is refused (transformers rotates only part of each head); 1 or null is plain RoPE', () => {
    expect(() => configFromHf({ ...LLAMA, partial_rotary_factor: 0.5 })).toThrow(ConfigError);
    expect(() => configFromHf({ ...LLAMA, partial_rotary_factor: 0.5 })).toThrow(/partial_rotary_factor' 0.5/);
    expect(() => configFromHf({ ...LLAMA, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.25 } }))
      .toThrow(/rope_parameters.partial_rotary_factor' 0.25/);
    expect(configFromHf({ ...LLAMA, partial_rotary_factor: 1 }).headDim).toBe(32);
    expect(configFromHf({ ...LLAMA, partial_rotary_factor: null }).headDim).toBe(32);
    expect(configFromHf({ ...LLAMA, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 1 } }).ropeTheta).toBe(1e4);
  });
});

/** The SentencePiece test tokenizer with a Metaspace pre-tokenizer and decoder of these options, and a cross-word piece. */
function metaspace(opts: Record<string, unknown>) {
  const j = spTokenizerJson(['▁hello▁wo'], [['▁hello', '▁wo']]) as Record<string, unknown> & { model: { vocab: Record<string, number> } };
  j.normalizer = null;
  j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', ...opts };
  j.decoder = { type: 'Metaspace', replacement: '▁', ...opts };
  const tok = new HfTokenizer(j, {}, { addSpecialTokens: false });
  const names = new Map(Object.entries(j.model.vocab).map(([k, i]) => [i, k]));
  return { tok, pieces: (s: string) => tok.encode(s).map((i) => names.get(i)).join('|') };
}

describe('tokenizer.json Metaspace as the Rust library reads it', () => {
  it('split (true unless false, as in files older than prepend_scheme) keeps each word a piece of its own', () => {
    // Rust splits "▁hello▁world" into "▁hello", "▁world": no token spans two words. The JS library ignored split.
    for (const o of [{ prepend_scheme: 'first', split: true }, { add_prefix_space: true }, { prepend_scheme: 'always' }]) {
      expect(metaspace(o).pieces('hello world')).toBe('▁hello|▁wo|r|l|d');
    }
    expect(metaspace({ prepend_scheme: 'first', split: false }).pieces('hello world')).toBe('▁hello▁wo|r|l|d');
  });

  it('add_prefix_space false (no prepend_scheme) prepends nothing, and its decoder keeps the leading space', () => {
    const { tok, pieces } = metaspace({ add_prefix_space: false });
    expect(pieces('hello')).toBe('he|ll|o'); // was ▁hello: read as "always"
    expect(tok.decode(tok.encode(' hello'))).toBe(' hello'); // was 'hello'
    expect(metaspace({ add_prefix_space: true }).pieces('hello')).toBe('▁hello');
    expect(metaspace({ prepend_scheme: 'first' }).pieces('<s>hello')).toBe('<s>|he|ll|o');
    expect(() => metaspace({ add_prefix_space: false, prepend_scheme: 'always' })).toThrow(/add_prefix_space false/);
  });
});
