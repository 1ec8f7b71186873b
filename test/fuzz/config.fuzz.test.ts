// Fuzzes model-config parsing: configFromHf on mutated config.json texts (parsed as the loader does) and
// validateConfig on mutated ModelConfig objects. Every case yields a config that passes validation and
// agrees with its input, or throws ConfigError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, PRESETS, configFromHf, validateConfig, type ModelConfig } from '../../src/model/config.js';
import { CASE_HANG_MS, fuzz, newStats, runCase, summary } from './harness.js';

// 1 s per case: a hang bound, loose enough for a 2-core machine shared with GPU tests (cases take ≤ 25 ms alone).
const LIMITS = { allowed: [ConfigError], maxMs: CASE_HANG_MS };

const BASES: Record<string, unknown>[] = [
  { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, intermediate_size: 128,
    vocab_size: 256, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'gelu_pytorch_tanh', tie_word_embeddings: false },
  { model_type: 'gemma', hidden_size: 2048, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, num_hidden_layers: 18, intermediate_size: 16384,
    vocab_size: 256000, max_position_embeddings: 8192, rms_norm_eps: 1e-6, rope_theta: 10000, hidden_act: 'gelu', hidden_activation: 'gelu_pytorch_tanh' },
  { model_type: 'mistral', hidden_size: 96, num_attention_heads: 6, num_hidden_layers: 1, intermediate_size: 200, vocab_size: 1000,
    max_position_embeddings: 64, rms_norm_eps: 1e-5, hidden_act: 'gelu_new', rope_parameters: { rope_type: 'default', rope_theta: 5e5 }, _name_or_path: 'x/y' },
];
const KEYS = [...new Set(BASES.flatMap((b) => Object.keys(b))), 'rope_scaling', '__proto__', 'constructor', 'toString', 'hasOwnProperty'];

const value = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 3, 1.5, 2 ** 53, 2 ** 31, 1e308, -0, 1e-300, '64', '', null, true, false, [], {}, [64], { rope_type: 'linear', factor: 2 },
    { rope_type: 'default' }, 'gelu', 'silu', 'gelu_fast', 'llama', 'gemma', 'gpt2', '__proto__'),
  fc.integer(), fc.double(), fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }),
);
type Mut = { k: 'set'; key: string; v: unknown } | { k: 'del'; key: string } | { k: 'dup'; key: string; v: unknown };
const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), v: value }),
  fc.record({ k: fc.constant('del' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ k: fc.constant('dup' as const), key: fc.constantFrom(...KEYS), v: value }),
);

/** The config.json text (entries written by hand so a "__proto__" key is an own key, as in a real file). */
function text(base: Record<string, unknown>, muts: Mut[]): string {
  const entries = Object.entries(base);
  for (const m of muts) {
    const i = entries.findIndex(([k]) => k === m.key);
    if (m.k === 'del') { if (i >= 0) entries.splice(i, 1); }
    else if (m.k === 'set' && i >= 0) entries[i] = [m.key, m.v];
    else entries.push([m.key, m.v]);
  }
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
}

describe('config fuzz', () => {
  it('configFromHf: mutated config.json loads consistently or throws ConfigError', async () => {
    const stats = newStats();
    const arb = fc.oneof(
      { weight: 9, arbitrary: fc.tuple(fc.integer({ min: 0, max: BASES.length - 1 }), fc.array(mutArb, { maxLength: 4 })).map(([b, m]) => text(BASES[b]!, m)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
    );
    await fuzz('configFromHf', arb, async (t) => {
      const j = JSON.parse(t) as Record<string, unknown>;
      await runCase(stats, LIMITS, t.length, () => {
        const c = configFromHf(j);
        expect(validateConfig({ ...c })).toEqual(c);
        // The result agrees with the file (what a wrong default or a prototype lookup would break).
        expect(c.hidden).toBe(j.hidden_size);
        expect(c.nHeads).toBe(j.num_attention_heads);
        expect(c.nLayers).toBe(j.num_hidden_layers);
        expect(c.vocab).toBe(j.vocab_size);
        expect(c.nKvHeads).toBe(j.num_key_value_heads ?? j.num_attention_heads);
        expect(c.headDim).toBe(j.head_dim ?? (j.hidden_size as number) / (j.num_attention_heads as number));
        expect(c.nHeads % c.nKvHeads).toBe(0);
        expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
      });
    });
    summary('configFromHf', stats);
    expect(stats.ok).toBeGreaterThan(0);
    expect(stats.errors.get('ConfigError') ?? 0).toBeGreaterThan(0);
  });

  it('validateConfig: mutated ModelConfig objects pass unchanged or throw ConfigError', async () => {
    const stats = newStats();
    const fields = Object.keys(PRESETS.tiny) as (keyof ModelConfig)[];
    const arb = fc.tuple(fc.constantFrom(...Object.keys(PRESETS) as (keyof typeof PRESETS)[]),
      fc.array(fc.tuple(fc.constantFrom(...fields, 'modelType' as const), fc.oneof(value, fc.constantFrom(NaN, Infinity, -Infinity, undefined))), { maxLength: 3 }),
      fc.oneof({ weight: 19, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom(null, undefined, 5, 'tiny', []), fc.jsonValue()) }));
    await fuzz('validateConfig', arb, async ([preset, muts, replace]) => {
      const c = { ...PRESETS[preset] } as Record<string, unknown>;
      for (const [k, v] of muts) c[k] = v;
      const input = replace === null ? c : replace;
      await runCase(stats, LIMITS, 1024, () => {
        const out = validateConfig(input as unknown as ModelConfig);
        expect(out).toBe(input);
        for (const k of ['nLayers', 'hidden', 'nHeads', 'nKvHeads', 'headDim', 'ffn', 'vocab', 'maxSeq'] as const) expect(Number.isSafeInteger(out[k]) && out[k] > 0).toBe(true);
        expect(Number.isFinite(out.normEps) && out.normEps > 0).toBe(true);
      });
    });
    summary('validateConfig', stats);
    expect(stats.ok).toBeGreaterThan(0);
  });
});
