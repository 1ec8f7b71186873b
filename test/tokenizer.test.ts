import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteTokenizer, HfTokenizer, TokenizerError, continuationText, loadTokenizer, tolerantTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { rng, type Rng } from './helpers.js';
import { spTokenizerJson } from './sp-tokenizer.js';

const dir = await mkdtemp(join(tmpdir(), 'fapool-tok-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Random text: ASCII words, accented Latin, Greek, CJK, emoji (4-byte UTF-8), ZWJ sequences, newlines. */
function randomText(r: Rng, n: number): string {
  const ranges: [number, number][] = [[0x61, 0x7a], [0x20, 0x7e], [0xe0, 0xff], [0x3b1, 0x3c9], [0x4e00, 0x4e80], [0x1f600, 0x1f64f], [0x1f300, 0x1f5ff]];
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r.next();
    if (k < 0.1) s += ' ';
    else if (k < 0.12) s += '\n';
    else if (k < 0.13) s += '👩\u200d💻';
    else {
      const [lo, hi] = ranges[r.int(0, ranges.length)]!;
      s += String.fromCodePoint(r.int(lo, hi + 1));
    }
  }
  return s;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Push ids one by one; every emitted piece must be well-formed (no U+FFFD, no lone surrogate). */
function streamAll(tok: Tokenizer, ids: number[], what: string): string {
  const d = tok.decodeStream();
  let out = '';
  for (const id of ids) {
    const piece = d.push(id);
    if (piece.includes('\uFFFD') || LONE_SURROGATE.test(piece)) throw new Error(`${what}: broken piece ${JSON.stringify(piece)} after id ${id}`);
    out += piece;
  }
  return out + d.flush();
}

// ---- a GPT-2-style byte-level BPE tokenizer.json, built here ----------------------------------------

function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const map: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = bs.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  return map;
}

function byteLevelJson() {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[b2u[b]!] = b;
  // merges, including two that build the UTF-8 of '😀' (F0 9F 98 80) into one token
  const merges: [string, string][] = [['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'w'], ['Ġw', 'o'],
    [b2u[0xf0]!, b2u[0x9f]!], [b2u[0x98]!, b2u[0x80]!], [b2u[0xf0]! + b2u[0x9f]!, b2u[0x98]! + b2u[0x80]!]];
  let id = 256;
  for (const [a, b] of merges) vocab[a + b] = id++;
  const eos = id, bos = id + 1;
  vocab['<|endoftext|>'] = eos;
  vocab['<|startoftext|>'] = bos;
  const special = (content: string, i: number) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    json: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [special('<|endoftext|>', eos), special('<|startoftext|>', bos)],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: merges.map((m) => m.join(' ')) },
    },
    config: { eos_token: '<|endoftext|>', bos_token: { content: '<|startoftext|>' } },
    eos, bos, size: bos + 1,
  };
}

// ---- a Llama/Gemma-style SentencePiece BPE with byte fallback ---------------------------------------

function byteFallbackJson() {
  return { json: spTokenizerJson(['é']), config: { bos_token: '<s>', eos_token: '</s>' } };
}

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer();

  it('round-trips random UTF-8 text, ids are the bytes', () => {
    const r = rng();
    for (let k = 0; k < 50; k++) {
      const text = randomText(r, r.int(0, 60));
      const ids = tok.encode(text);
      expect(ids).toEqual(Array.from(Buffer.from(text, 'utf8')));
      expect(tok.decode(ids), `seed=${r.seed}`).toBe(text);
      expect(streamAll(tok, ids, `seed=${r.seed}`)).toBe(text);
    }
    expect(tok.vocabSize).toBe(256);
  });

  it('minTokens is encode().length, counted without encoding: any UTF-16 text, lone surrogates included', () => {
    const r = rng();
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xd83d, 0xde00, 0xdbff, 0xdc00, 0xdfff, 0xe000];
    for (let k = 0; k < 300; k++) {
      // Random code units, so surrogates come paired, reversed, lone, at either end.
      const text = String.fromCharCode(...Array.from({ length: r.int(0, 12) }, () => (r.int(0, 3) === 0 ? r.int(0, 0xffff) : units[r.int(0, units.length - 1)]!)));
      expect(tok.minTokens(text), JSON.stringify(text)).toBe(tok.encode(text).length);
    }
    const t = randomText(r, 200);
    expect(tok.minTokens(t)).toBe(Buffer.byteLength(t));
  });

  it('streaming decode holds incomplete multi-byte sequences', () => {
    const d = tok.decodeStream();
    expect([0xf0, 0x9f, 0x98, 0x80].map((b) => d.push(b))).toEqual(['', '', '', '😀']);
    expect([0x61, 0xc3].map((b) => d.push(b))).toEqual(['a', '']);
    expect(d.push(0xa9)).toBe('é');
    expect(d.push(0xe4)).toBe('');
    expect(d.flush()).toBe('\uFFFD'); // an unfinished sequence at the end becomes one replacement char
  });

  it('rejects ids outside 0..255', () => {
    expect(() => tok.decode([1, 256])).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(/out of range/);
    expect(() => tok.decodeStream().push(1.5)).toThrow(TokenizerError);
  });
});

describe('HfTokenizer (tokenizer.json via @huggingface/tokenizers)', () => {
  it('byte-level BPE: merges, specials, round trip and streaming on random text', () => {
    const t = byteLevelJson();
    const tok = new HfTokenizer(t.json, t.config);
    expect([tok.vocabSize, tok.eosId, tok.bosId]).toEqual([t.size, t.eos, t.bos]);
    expect(tok.encode('hello world 😀')).toEqual([259, 261, 114, 108, 100, 32, 264]); // hello, Ġwo, r, l, d, Ġ (byte 32), 😀
    expect(tok.decode([259, t.eos])).toBe('hello');
    expect(new HfTokenizer(t.json, t.config, { skipSpecialTokens: false }).decode([259, t.eos])).toBe('hello<|endoftext|>');
    expect(() => tok.decode([t.size])).toThrow(TokenizerError);
    const r = rng();
    for (let k = 0; k < 30; k++) {
      const text = randomText(r, r.int(1, 50)) + (k % 3 === 0 ? ' hello 😀😀' : '');
      const ids = tok.encode(text);
      expect(tok.decode(ids), `seed=${r.seed}`).toBe(text);
      expect(streamAll(tok, ids, `seed=${r.seed}`), `seed=${r.seed}`).toBe(text);
    }
  });

  it('streaming never splits a multi-byte character across pieces', () => {
    const t = byteLevelJson();
    const tok = new HfTokenizer(t.json, t.config);
    const d = tok.decodeStream();
    // 'é' = C3 A9 as two byte tokens; '中' = E4 B8 AD as three.
    const pieces = [0x61, 0xc3, 0xa9, 0xe4, 0xb8, 0xad, 264].map((id) => d.push(id));
    expect(pieces).toEqual(['a', '', 'é', '', '', '中', '😀']);
    expect(d.push(t.eos)).toBe('');
    expect(d.push(0xf0)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });

  it('SentencePiece-style BPE with byte fallback (Llama/Gemma): BOS, spaces, round trip, streaming', () => {
    const t = byteFallbackJson();
    const tok = new HfTokenizer(t.json, t.config);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    const ids = tok.encode('hello wor 😀');
    expect(ids[0]).toBe(1); // BOS from the post-processor
    expect(ids.slice(1, 2)).toEqual([259 + 16]); // '▁hello'
    expect(tok.decode(ids)).toBe('hello wor 😀');
    expect(streamAll(tok, ids, 'byte fallback')).toBe('hello wor 😀');
    expect(new HfTokenizer(t.json, t.config, { addSpecialTokens: false }).encode('hello')[0]).toBe(259 + 16);
    const r = rng();
    for (let k = 0; k < 20; k++) {
      const text = randomText(r, r.int(1, 40)).replace(/^ +/, '').replace(/ +/g, ' ');
      const enc = tok.encode(text);
      expect(tok.decode(enc), `seed=${r.seed}`).toBe(text);
      expect(streamAll(tok, enc, `seed=${r.seed}`), `seed=${r.seed}`).toBe(text);
    }
  });
});

describe('the text that follows a prompt (decodeStream(context), continuationText)', () => {
  it('is the whole text past the prompt\'s: a Llama-style decoder\'s stripped leading space stays; random splits', () => {
    const t = byteFallbackJson();
    const tok = new HfTokenizer(t.json, t.config);
    const prompt = tok.encode('hello'), rest = tok.encode('hello wor').slice(prompt.length);
    expect(tok.decode(rest), 'decoded alone, the space is stripped').toBe('wor');
    expect(continuationText(tok, prompt, rest)).toBe(' wor');
    expect(continuationText(tok, [], rest), 'no context: the text\'s start').toBe('wor');
    const r = rng();
    for (let k = 0; k < 30; k++) {
      const text = randomText(r, r.int(2, 40)).replace(/^ +/, '').replace(/ +/g, ' ');
      const ids = tok.encode(text), cut = r.int(1, ids.length + 1);
      const head = tok.decode(ids.slice(0, cut)), whole = tok.decode(ids);
      if (!whole.startsWith(head) || head.endsWith('\uFFFD')) continue; // the cut splits a character's bytes
      const want = whole.slice(head.length);
      expect(continuationText(tok, ids.slice(0, cut), ids.slice(cut)), `seed=${r.seed} cut=${cut}`).toBe(want);
      const d = tok.decodeStream(ids.slice(0, cut));
      expect(ids.slice(cut).map((id) => d.push(id)).join('') + d.flush(), `stream, seed=${r.seed}`).toBe(want);
    }
  });
});

describe('a prompt whose text the new tokens rewrite (a review of the primed stream: it held 7 tokens, then joined two words)', () => {
  it('an unfinished character at the prompt\'s end, completed by the first new token; a clean-up across the boundary', () => {
    const t = byteFallbackJson();
    const byte = (b: number) => 3 + b;
    for (const cleanUp of [false, true]) {
      const tok = new HfTokenizer(t.json, { ...t.config, clean_up_tokenization_spaces: cleanUp });
      const wo = tok.encode('wo').slice(1), hello = tok.encode('hello').slice(1);
      // The prompt ends in E2 82 (€ unfinished); the first new token is AC, then words.
      const prompt = [...tok.encode('hello'), byte(0xe2), byte(0x82)], gen = [byte(0xac), ...wo, ...hello, ...wo];
      const d = tok.decodeStream(prompt);
      const pieces = gen.map((id) => d.push(id));
      expect(pieces.join('') + d.flush(), `cleanUp ${cleanUp}`).toBe('\uFFFD wo hello wo');
      expect(pieces[0]! + pieces[1]!, 'the first word comes with its token (it was held 7 tokens)').toBe('\uFFFD wo');
    }
    // clean_up_tokenization_spaces: " ." becomes "." across the prompt's end.
    const tok = new HfTokenizer(t.json, { ...t.config, clean_up_tokenization_spaces: true });
    const dot = tok.encode('.').slice(1), wo = tok.encode('wo').slice(1);
    const d = tok.decodeStream(tok.encode('hello '));
    const pieces = [...dot, ...wo].map((id) => d.push(id));
    expect(pieces.filter((p) => p !== '').length, 'no 8-token hold').toBeGreaterThan(1);
    expect(pieces.join('') + d.flush()).toMatch(/^ ?\. wo$/);
  });
});

describe('tokenizer_config.json add_bos_token / add_eos_token', () => {
  it('honoured for Llama and Gemma tokenizer classes, as transformers does (the template\'s <s> was always added)', () => {
    const t = byteFallbackJson(); // its post-processor adds <s> (1); </s> is 2
    const enc = (config: Record<string, unknown>) => new HfTokenizer(t.json, { ...t.config, ...config }).encode('hello');
    const body = enc({ tokenizer_class: 'LlamaTokenizerFast', add_bos_token: false });
    expect(body[0]).not.toBe(1);
    expect(enc({})).toEqual([1, ...body]);
    expect(enc({ tokenizer_class: 'LlamaTokenizerFast', add_bos_token: true })).toEqual([1, ...body]);
    expect(enc({ tokenizer_class: 'GemmaTokenizer', add_eos_token: true })).toEqual([1, ...body, 2]);
    expect(enc({ tokenizer_class: 'LlamaTokenizerFast', add_bos_token: false, add_eos_token: true })).toEqual([...body, 2]);
    // Other classes leave the template as it is (transformers ignores the flags there).
    expect(enc({ tokenizer_class: 'PreTrainedTokenizerFast', add_bos_token: false })).toEqual([1, ...body]);
    expect(new HfTokenizer(t.json, { ...t.config, tokenizer_class: 'LlamaTokenizerFast', add_bos_token: false }, { addSpecialTokens: false }).encode('hello')).toEqual(body);
  });

  it('encodePlain (a chat template\'s text) adds neither, whatever the flags; <s> written in the text is the one BOS', () => {
    const t = byteFallbackJson();
    const body = new HfTokenizer(t.json, t.config, { addSpecialTokens: false }).encode('hello');
    for (const config of [{}, { tokenizer_class: 'LlamaTokenizerFast', add_bos_token: true, add_eos_token: true }, { tokenizer_class: 'GemmaTokenizer', add_eos_token: true }]) {
      const tok = new HfTokenizer(t.json, { ...t.config, ...config });
      expect(tok.encodePlain('hello'), JSON.stringify(config)).toEqual(body);
      expect(tok.encodePlain('<s>hello'), JSON.stringify(config)).toEqual([1, ...body]);
      expect(tok.encode('hello')[0]).toBe(1); // encode() as before
    }
  });
});

describe('what a chat template needs of the tokenizer (chat-template.ts renders it)', () => {
  it('chat_template as given, the special tokens\' text (strings or {content}), passed through tolerantTokenizer; none for bytes', () => {
    const t = byteFallbackJson();
    const list = [{ name: 'default', template: '{{ bos_token }}' }];
    const tok = new HfTokenizer(t.json, { bos_token: { content: '<s>', lstrip: false }, eos_token: '</s>', unk_token: '<unk>', pad_token: null, chat_template: list });
    expect(tok.chatTemplate).toEqual(list);
    expect(tok.specialTokens).toEqual({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
    // All of transformers' special_tokens_map: sep, cls, mask, and the additional ones as a list ({content} or text).
    const bert = new HfTokenizer(t.json, { sep_token: '[SEP]', cls_token: { content: '[CLS]' }, mask_token: '[MASK]', additional_special_tokens: ['<a>', { content: '<b>' }] });
    expect(bert.specialTokens).toEqual({ sep_token: '[SEP]', cls_token: '[CLS]', mask_token: '[MASK]', additional_special_tokens: ['<a>', '<b>'] });
    expect(new HfTokenizer(t.json, { additional_special_tokens: [] }).specialTokens, 'an empty list is left out').toEqual({});
    const tolerant = tolerantTokenizer(tok, 512);
    expect([tolerant.chatTemplate, tolerant.specialTokens]).toEqual([list, tok.specialTokens]);
    expect(tolerant.encodePlain!('<s>hello')).toEqual(tok.encodePlain('<s>hello'));
    expect(new HfTokenizer(t.json, t.config).chatTemplate).toBeUndefined();
    const bytes = tolerantTokenizer(new ByteTokenizer(), 256);
    expect([bytes.chatTemplate, bytes.specialTokens, bytes.encodePlain]).toEqual([undefined, undefined, undefined]);
  });
});

describe('stream decoding of bytes that form no character (a model can emit any token)', () => {
  // Byte ids of each tokenizer: the byte-level BPE's are the bytes, the byte-fallback BPE's <0xNN> are 3 + byte.
  const cases = [['byte-level BPE', byteLevelJson(), (b: number) => b], ['byte-fallback BPE', byteFallbackJson(), (b: number) => 3 + b]] as const;

  /** Every piece pushed, then flushed: their concatenation, and whether a piece broke a character in two. */
  function streamed(tok: Tokenizer, ids: readonly number[]): { text: string; loneSurrogate: boolean } {
    const d = tok.decodeStream();
    const pieces = [...ids.map((id) => d.push(id)), d.flush()];
    return { text: pieces.join(''), loneSurrogate: pieces.some((p) => LONE_SURROGATE.test(p)) };
  }

  it.each(cases)('%s: six stray continuation bytes, then € and text: nothing after them is lost (the decoder jammed)', (_name, t, byte) => {
    const tok = new HfTokenizer(t.json, t.config);
    const bc = tok.encode('bc').filter((id) => id !== tok.bosId);
    const ids = [...[0x80, 0x81, 0x82, 0x83, 0x84, 0x85].map(byte), ...[0xe2, 0x82, 0xac].map(byte), ...bc, ...bc, ...bc];
    const { text } = streamed(tok, ids);
    // The bytes past the eight held are emitted as U+FFFD; the € whose bytes are still held comes out whole.
    expect(text).toBe(tok.decode(ids));
    expect(text.split('€')[0], 'six U+FFFD, then €').toBe('\uFFFD'.repeat(6));
  });

  it.each(cases)('%s: eight special tokens between two words keep the space between them (a window of nothing visible lost it)', (_name, t) => {
    const tok = new HfTokenizer(t.json, t.config);
    const [hello, wo] = ['hello', ' wo'].map((w) => tok.encode(w).filter((id) => id !== tok.bosId));
    const special = tok.bosId ?? tok.eosId!;
    const ids = [...hello!, ...Array<number>(8).fill(special), ...wo!];
    expect(streamed(tok, ids).text).toBe(tok.decode(ids));
  });

  it.each(cases)('%s: random bytes and text pieces, streamed, give what decoding them at once gives, in well-formed pieces', (_name, t, byte) => {
    const tok = new HfTokenizer(t.json, t.config);
    const r = rng();
    const words = ['a', 'hello', 'é', '😀', ' wor'].map((w) => tok.encode(w).filter((id) => id !== tok.bosId));
    const specials = [tok.bosId, tok.eosId].filter((id): id is number => id !== undefined);
    for (let k = 0; k < 40; k++) {
      const ids: number[] = [];
      while (ids.length < 40) {
        const pick = r.int(0, 5);
        if (pick === 0) ids.push(...words[r.int(0, words.length)]!);
        else if (pick === 4 && specials.length) ids.push(...Array.from({ length: r.int(1, 12) }, () => specials[r.int(0, specials.length)]!)); // decode() drops them
        else if (pick === 1) ids.push(byte(r.int(0x80, 0xc0))); // a stray continuation byte
        else if (pick === 2) ids.push(byte(r.int(0xc2, 0xf5))); // a lead byte, often left unfinished
        else ids.push(...Array.from(Buffer.from(String.fromCodePoint(r.int(0x80, 0x10ffff) & ~0x800)), byte).slice(0, r.int(1, 5)));
      }
      const got = streamed(tok, ids);
      expect(got.loneSurrogate, `seed ${r.seed}: a piece with a lone surrogate`).toBe(false);
      // A run of more than 8 held tokens is emitted before all its bytes are in: its U+FFFDs may differ in number.
      expect(got.text.replace(/\uFFFD+/g, '\uFFFD'), `seed ${r.seed} case ${k}`).toBe(tok.decode(ids).replace(/\uFFFD+/g, '\uFFFD'));
    }
  });
});

describe('loadTokenizer', () => {
  it('uses tokenizer.json (+ tokenizer_config.json) next to the weights, else bytes', async () => {
    const t = byteLevelJson();
    const withTok = join(dir, 'model');
    await mkdir(withTok);
    await writeFile(join(withTok, 'tokenizer.json'), JSON.stringify(t.json));
    await writeFile(join(withTok, 'tokenizer_config.json'), JSON.stringify(t.config));
    await writeFile(join(withTok, 'model.safetensors'), '');
    for (const p of [withTok, join(withTok, 'model.safetensors'), join(withTok, 'tokenizer.json')]) {
      const tok = await loadTokenizer(p);
      expect(tok).toBeInstanceOf(HfTokenizer);
      expect(tok.eosId).toBe(t.eos);
      expect(tok.encode('hello')).toEqual([259]);
    }
    const bare = join(dir, 'bare');
    await mkdir(bare);
    await writeFile(join(bare, 'model.safetensors'), '');
    expect(await loadTokenizer(bare)).toBeInstanceOf(ByteTokenizer);
    expect(await loadTokenizer(join(bare, 'model.safetensors'))).toBeInstanceOf(ByteTokenizer);
  });

  it('reports broken tokenizer files and missing paths', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(bad)).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer(bad)).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    await writeFile(join(bad, 'tokenizer.json'), JSON.stringify({ model: { type: 'Nope' } }));
    await expect(loadTokenizer(bad)).rejects.toThrow(/could not be loaded/);
    await expect(loadTokenizer(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
  });

  it('the checkpoint\'s eos_token_id ends generations too: generation_config.json, else config.json (ignored before)', async () => {
    const t = byteLevelJson();
    const ck = join(dir, 'eos-ids');
    await mkdir(ck);
    await writeFile(join(ck, 'tokenizer.json'), JSON.stringify(t.json));
    await writeFile(join(ck, 'tokenizer_config.json'), JSON.stringify(t.config));
    expect((await loadTokenizer(ck)).endIds, 'neither file: EOS alone').toBeUndefined();
    await writeFile(join(ck, 'config.json'), JSON.stringify({ eos_token_id: 259 }));
    expect((await loadTokenizer(ck)).endIds).toEqual([t.eos, 259]);
    await writeFile(join(ck, 'generation_config.json'), JSON.stringify({ eos_token_id: [t.eos, 260, 261] }));
    expect((await loadTokenizer(ck)).endIds, 'generation_config.json first').toEqual([t.eos, 260, 261]);
    for (const [v, msg] of [['"x"', /eos_token_id must be a token id or a list/], ['[1.5]', /eos_token_id must be/], ['99999', /eos_token_id 99999 .* is not a token/]] as const) {
      await writeFile(join(ck, 'generation_config.json'), `{"eos_token_id": ${v}}`);
      await expect(loadTokenizer(ck), v).rejects.toThrow(msg);
    }
    await writeFile(join(ck, 'generation_config.json'), '{"eos_token_id": null}');
    expect((await loadTokenizer(ck)).endIds, 'null: config.json\'s').toEqual([t.eos, 259]);
  });

  it('chat_template.jinja: absent is no template; one that cannot be read is an error naming it (it gave the config\'s template instead)', async () => {
    const t = byteLevelJson();
    const ck = join(dir, 'jinja');
    await mkdir(ck);
    await writeFile(join(ck, 'tokenizer.json'), JSON.stringify(t.json));
    await writeFile(join(ck, 'tokenizer_config.json'), JSON.stringify({ ...t.config, chat_template: 'from the config' }));
    expect((await loadTokenizer(ck)).chatTemplate).toBe('from the config');
    await mkdir(join(ck, 'chat_template.jinja')); // EISDIR (EACCES is no error to root)
    await expect(loadTokenizer(ck)).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer(ck)).rejects.toThrow(`${join(ck, 'chat_template.jinja')} cannot be read: a folder, not a file`);
  });

  it('a tokenizer_config.json that is not an object is named (the message blamed tokenizer.json)', async () => {
    const t = byteLevelJson();
    const odd = join(dir, 'odd-config');
    await mkdir(odd);
    await writeFile(join(odd, 'tokenizer.json'), JSON.stringify(t.json));
    for (const cfg of ['null', '[]', '"x"']) {
      await writeFile(join(odd, 'tokenizer_config.json'), cfg);
      await expect(loadTokenizer(odd), cfg).rejects.toThrow(/tokenizer_config\.json: must be a JSON object/);
    }
  });
});
