// A "chain" model in the tiny preset's shape whose greedy next token depends only on the last one (next[t]): its
// attention and FFN write nothing (wo and w_down are zero), so the last row's hidden state is its token's embedding,
// a one-hot row, and the LM head scores next[t] highest. Tests use it to force exact token sequences: a byte
// stream that splits an emoji, stray UTF-8 continuation bytes, a stop string at a chosen place.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { presetConfig, type ModelConfig } from '../src/model/config.js';
import { writeSafetensors } from '../src/model/safetensors-node.js';
import { expectedWeights } from '../src/model/weight-names.js';

/**
 * Writes `dir/model.safetensors` (f32, the config in its metadata) and, when given, `dir/tokenizer.json`.
 * next: token → the token greedy decoding picks after it (every token named, as key or value, gets an embedding).
 */
export async function writeChainModel(dir: string, next: ReadonlyMap<number, number>, tokenizerJson?: unknown, vocab = 256): Promise<ModelConfig> {
  const cfg: ModelConfig = { ...presetConfig('tiny'), name: 'chain', vocab };
  const tokens = [...new Set([...next.keys(), ...next.values()])].sort((a, b) => a - b);
  if (tokens.length > cfg.hidden) throw new RangeError(`a chain model holds at most ${cfg.hidden} tokens, got ${tokens.length}`);
  const slot = new Map(tokens.map((t, i) => [t, i]));
  const H = cfg.hidden;
  const value = (name: string, i: number): number => {
    if (name === 'embed') { const t = Math.floor(i / H); return slot.get(t) === i % H ? 1 : 0; } // [vocab, hidden]: one-hot rows
    if (name === 'lm_head') {                                                                   // [vocab, hidden]
      const t = Math.floor(i / H), col = i % H;
      for (const [a, b] of next) if (b === t && slot.get(a) === col) return 10;
      return 0;
    }
    return /norm$/.test(name) ? 1 : 0; // norms 1, every projection 0
  };
  mkdirSync(dir, { recursive: true });
  await writeSafetensors(join(dir, 'model.safetensors'), expectedWeights(cfg).map(({ name, shape }) => ({
    name, shape, dtype: 'F32' as const,
    fill: (chunk, start) => { for (let i = 0; i < chunk.length; i++) chunk[i] = value(name, start + i); },
  })), { format: 'pt', fapool_config: JSON.stringify(cfg) });
  if (tokenizerJson !== undefined) writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  return cfg;
}

/** next for a cycle through `tokens` (the last leads back to the first). */
export function cycle(tokens: readonly number[]): Map<number, number> {
  return new Map(tokens.map((t, i) => [t, tokens[(i + 1) % tokens.length]!]));
}
