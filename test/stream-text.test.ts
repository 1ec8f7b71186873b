// What a stream of tokens becomes as text, with models made to emit chosen tokens (test/chain-model.ts): stop
// strings never cut a character in half (the matcher holds back UTF-16 units, and an emoji is two), and a
// tokenizer.json model that emits stray bytes keeps streaming what comes after them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, InputError, type CompletionEvent, type Engine } from '../src/index.js';
import { cycle, writeChainModel } from './chain-model.js';

const tmp = mkdtempSync(join(tmpdir(), 'fapool-stream-text-'));
const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.dispose(); rmSync(tmp, { recursive: true, force: true }); });

const LONE_SURROGATE = /\p{Cs}/u;

async function pieces(events: AsyncIterable<CompletionEvent>): Promise<{ pieces: string[]; text: string; reason: string }> {
  const out: string[] = [];
  for await (const e of events) {
    if (e.type === 'token') out.push(e.text);
    else return { pieces: out, text: e.text, reason: e.reason };
  }
  throw new Error('no done event');
}

describe('stop strings against characters of two UTF-16 units', () => {
  // '!' then 😀 (F0 9F 98 80) for ever, through the byte tokenizer.
  const emoji = [0xf0, 0x9f, 0x98, 0x80];
  let engine: Engine;
  const open = async () => {
    if (!engine) {
      const dir = join(tmp, 'emoji');
      await writeChainModel(dir, new Map([[0x21, 0xf0], ...cycle(emoji)]));
      engine = await createEngine({ model: dir, dtype: 'f32' });
      engines.push(engine);
    }
    return engine;
  };

  it.each([[undefined], [['zz']], [['xyz!']], [['😀😀']]])('stop %j: every piece is well-formed text, and the pieces make the text', async (stop) => {
    const got = await pieces((await open()).submit({ prompt: '!', maxTokens: 16, stop }));
    expect(got.pieces.filter((p) => LONE_SURROGATE.test(p)), 'pieces with a lone surrogate').toEqual([]);
    expect(got.pieces.join('')).toBe(got.text);
    expect(got.text).toBe('😀'.repeat(stop?.[0] === '😀😀' ? 0 : 4));
  });

  it('a long stop string holds back only a text end that begins it: the rest streams as it comes (it arrived all at the end)', async () => {
    const e = await open();
    const far = await pieces(e.submit({ prompt: '!', maxTokens: 16, stop: ['Q'.repeat(100)] }));
    expect(far.pieces.filter((p) => p !== ''), 'one piece an emoji, as it completes').toEqual(Array(4).fill('😀'));
    const near = await pieces(e.submit({ prompt: '!', maxTokens: 16, stop: ['😀x'.repeat(30)] }));
    expect(near.pieces.filter((p) => p !== ''), 'a 😀 that could begin the stop string waits for the next').toEqual([...Array(3).fill('😀'), '😀']);
    expect(near.text).toBe('😀'.repeat(4));
  });

  it('a stop string that is half a character is refused (it matched inside 😀 and left its other half)', async () => {
    const e = await open();
    expect(() => e.submit({ prompt: '!', maxTokens: 8, stop: ['\ude00'] })).toThrow(InputError);
    expect(() => e.submit({ prompt: '!', maxTokens: 8, stop: ['a\ud83d'] })).toThrow(/stop\[0\] holds a lone UTF-16 surrogate/);
  });
});

describe('a tokenizer.json model that emits stray bytes', () => {
  it('the text after them still streams, and equals the whole decode (the stream decoder jammed for good)', async () => {
    // Byte-fallback vocabulary: <0xNN> = 3 + NN, then 'b' and 'c'. Six stray continuation bytes, € (E2 82 AC), then bc….
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
    vocab.b = 259; vocab.c = 260;
    const tokenizer = {
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null,
      decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: [] },
    };
    const bytes = [0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0xe2, 0x82, 0xac].map((b) => 3 + b);
    const path = [...bytes, 259];
    const dir = join(tmp, 'stray');
    await writeChainModel(dir, new Map([[4, bytes[0]!], ...path.slice(0, -1).map((t, i) => [t, path[i + 1]!] as [number, number]), [259, 260], [260, 259]]), tokenizer, 261);
    const engine = await createEngine({ model: dir, dtype: 'f32' });
    engines.push(engine);
    const got = await pieces(engine.submit({ prompt: [4], maxTokens: 20 }));
    expect(got.reason).toBe('length');
    expect(got.pieces.join('')).toBe(got.text);
    expect(got.text).toBe(`${'\uFFFD'.repeat(6)}€${'bc'.repeat(5)}b`);
    const run = await engine.run({ prompts: [[4]], maxNewTokens: 20 });
    expect(run.texts[0], 'generate()\'s text, decoded at once').toBe(got.text);
  });
});

describe('a Llama-2-style tokenizer, whose decoder strips the leading space of a text', () => {
  // BPE merges spell ▁hello (3) and ▁world (4) from characters (ids 5 on).
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2, '▁hello': 3, '▁world': 4 };
  const merges: string[] = [];
  for (const word of ['▁hello', '▁world']) {
    for (const ch of word) vocab[ch] ??= Object.keys(vocab).length;
    for (let n = 2; n <= word.length; n++) { vocab[word.slice(0, n)] ??= Object.keys(vocab).length; merges.push(`${word.slice(0, n - 1)} ${word[n - 1]}`); }
  }
  const tokenizer = {
    version: '1.0', truncation: null, padding: null, added_tokens: [0, 1, 2].map((id) => ({
      id, content: ['<unk>', '<s>', '</s>'][id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null, post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: false, vocab, merges },
  };

  it('the completion keeps the space before its first word: streamed, submit()\'s and generate()\'s text (it read "Helloworld")', async () => {
    const dir = join(tmp, 'strip');
    await writeChainModel(dir, new Map([[1, 3], ...cycle([3, 4])]), tokenizer, Object.keys(vocab).length);
    const engine = await createEngine({ model: dir, dtype: 'f32' });
    engines.push(engine);
    expect(engine.tokenizer.encode('hello')).toEqual([3]);
    const got = await pieces(engine.submit({ prompt: 'hello', maxTokens: 3 }));
    expect(got.pieces).toEqual([' world', ' hello', ' world']);
    expect(got.text).toBe(' world hello world');
    const run = await engine.run({ prompts: ['hello', [1]], maxNewTokens: 3 });
    expect(run.texts).toEqual([' world hello world', 'hello world hello']); // after BOS alone, the text's start: stripped, as transformers decodes it
  });

  it('an eos_token_id of generation_config.json ends the text (Llama 3 Instruct\'s <|eot_id|>; it ran on)', async () => {
    const dir = join(tmp, 'eot');
    await writeChainModel(dir, new Map([[1, 3], ...cycle([3, 4])]), tokenizer, Object.keys(vocab).length);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 4] }));
    const engine = await createEngine({ model: dir, dtype: 'f32' });
    engines.push(engine);
    const run = await engine.run({ prompts: [[1]], maxNewTokens: 5 });
    expect(run.result.tokens).toEqual([[3]]);
    expect(run.texts).toEqual(['hello']);
    const got = await pieces(engine.submit({ prompt: [1], maxTokens: 5 }));
    expect([got.text, got.reason]).toEqual(['hello', 'eos']);
    const on = await engine.run({ prompts: [[1]], maxNewTokens: 3, stopAtEos: false });
    expect(on.result.tokens, 'stopAtEos: false').toEqual([[3, 4, 3]]);
  });
});
