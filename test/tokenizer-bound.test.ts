// The tokenizer.json lower bound (src/model/tokenizer-bound.ts): minTokens(text) <= encode(text).length for every
// configuration it accepts, on text made to hurt it (marks that compose, Hangul jamo, compatibility characters,
// controls, U+FFFD, U+2581, whitespace runs, added tokens, long merged words); 0 (no bound) where a configuration
// could drop text or fold a run of any length into one token.
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../src/model/tokenizer.js';
import { minTokensOf, tokenBound } from '../src/model/tokenizer-bound.js';
import { rng, type Rng } from './helpers.js';

type Json = Record<string, unknown>;

function bytesToUnicode(): string[] {
  const map: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return map;
}
const B2U = bytesToUnicode();
const byteLevelOf = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => B2U[b]!).join('');

/** A GPT-2-style byte-level BPE whose merges spell each of `words` as one token (prefix by prefix). */
function byteLevel(words: string[], extra: Json = {}): Json {
  const vocab: Record<string, number> = {};
  B2U.forEach((c, b) => { vocab[c] = b; });
  const merges: string[] = [];
  for (const w of words) {
    const chars = [...byteLevelOf(w)];
    let acc = chars[0]!;
    for (const c of chars.slice(1)) {
      merges.push(`${acc} ${c}`);
      acc += c;
      vocab[acc] ??= Object.keys(vocab).length;
    }
  }
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
    ...extra,
  };
}

/** A SentencePiece-style BPE with byte fallback (Llama 2 / Gemma): '▁' for spaces, pieces for a few words. */
function spBytes(extra: Json = {}, model: Json = {}): Json {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const p of ['▁', 'h', 'e', 'l', 'o', '▁h', '▁he', 'll', '▁hell', '▁hello', '각', 'ᾏ']) vocab[p] ??= Object.keys(vocab).length;
  const merges = ['▁ h', '▁h e', 'l l', '▁he ll', '▁hell o'];
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges, ...model },
    ...extra,
  };
}

const GREEK = 'ᾏ';          // U+1F8F: NFD is four code points (Α + three marks), NFC one
const GREEK2 = 'ᾢ';         // U+1FA2: likewise (ω + three marks)
const HANGUL = '각';          // NFC of the jamo ᄀ ᅡ ᆨ
const WORDS = ['hello', ' world', GREEK, HANGUL, 'ab', '¨'];

/** Text that a bound could get wrong: decomposed Greek and Hangul, marks, compatibility characters, controls, spaces. */
function hostileText(r: Rng, n: number): string {
  const pieces = [
    'hello', ' world', 'a', 'b', ' ', '   ', '\n', '\t', GREEK, GREEK.normalize('NFD'), GREEK2.repeat(16), HANGUL, HANGUL.normalize('NFD'), 'ᄀ', 'ᅡ', 'ᆨ',
    '\u0301', '\u0308\u0304', 'é', 'e\u0301', '¨', '\u1ffd', 'ﬃ', 'ﾊﾟ', 'ｈｅｌｌｏ', '\u0000', '\u0007', '\u200b', '\ufeff', '\ufffd', '\u2581',
    '😀', '\ud83d', 'İ', 'ß', '中文', '<s>', '</s>', '<|x|>', '\u00a0', '\u3000',
  ];
  // A third of the cases only from what a step may drop: whitespace, controls, format characters, marks, U+FFFD.
  const droppable = [' ', '\n', '\t', '\u00a0', '\u3000', '\u0000', '\u0007', '\u200b', '\ufeff', '\ufffd', '\u0301', '\u0308\u0304', '\ud83d'];
  const from = r.int(0, 3) === 0 ? droppable : pieces;
  let s = '';
  for (let i = 0; i < n; i++) s += from === pieces && r.int(0, 4) === 0 ? String.fromCodePoint(r.int(0x20, 0x3000)) : from[r.int(0, from.length)]!;
  return s;
}

/** minTokens never exceeds what encode makes (without special tokens), over hostile text; returns the bound's share. */
function checkSound(json: Json, config: Json, seedNote: string, r: Rng, cases = 300): number {
  const tok = new HfTokenizer(json, config, { addSpecialTokens: false });
  let boundSum = 0, tokenSum = 0;
  for (let k = 0; k < cases; k++) {
    const text = hostileText(r, r.int(0, 40));
    const got = tok.minTokens(text), ids = tok.encode(text).length;
    expect(got, `${seedNote} seed=${r.seed} text=${JSON.stringify(text)}`).toBeLessThanOrEqual(ids);
    boundSum += got; tokenSum += ids;
  }
  return boundSum / Math.max(1, tokenSum);
}

describe('tokenizer.json lower bound (minTokens)', () => {
  const accepted: [string, Json, Json][] = [
    ['byte-level BPE (GPT-2)', byteLevel(WORDS), {}],
    ['byte-level BPE, NFC', byteLevel(WORDS, { normalizer: { type: 'NFC' } }), {}],
    ['byte-level BPE, NFKC + lowercase', byteLevel(WORDS, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] } }), {}],
    ['byte-level BPE, NFD + strip accents', byteLevel(WORDS, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] } }), {}],
    ['byte-level BPE, Llama-3 split', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] } }), {}],
    ['byte-level BPE after a whitespace split', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'ByteLevel', use_regex: false }] } }), {}],
    ['byte-level BPE, BERT normaliser', byteLevel(WORDS, { normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true } }), {}],
    ['byte-level BPE, config lowercases and removes accents', byteLevel(WORDS), { do_lowercase_and_remove_accent: true }],
    ['byte-level BPE, BERT normaliser with truthy flags (1)', byteLevel(WORDS, { normalizer: { type: 'BertNormalizer', clean_text: 1, handle_chinese_chars: 1, lowercase: 1 } }), {}],
    ['byte-level BPE, NFC / Replace / NFC chained', byteLevel([GREEK2], { normalizer: { type: 'Sequence', normalizers: [
      { type: 'NFC' }, { type: 'Replace', pattern: { String: GREEK2.repeat(4) }, content: GREEK2.normalize('NFD') }, { type: 'NFC' },
      { type: 'Replace', pattern: { String: GREEK2.repeat(4) }, content: GREEK2.normalize('NFD') }, { type: 'NFC' }] } }), {}],
    ['SentencePiece BPE, byte fallback', spBytes(), {}],
    ['SentencePiece BPE, byte fallback, NFKC', spBytes({ normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] } }), {}],
    ['SentencePiece BPE, precompiled + metaspace', spBytes({ normalizer: { type: 'Precompiled', precompiled_charsmap: null }, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' } }), {}],
    ['BPE with an unknown token, not fused', spBytes({ normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: ' ' }, content: '▁' }] } }, { byte_fallback: false, fuse_unk: false }), {}],
  ];
  for (const [name, json, config] of accepted) {
    it(`never above encode().length: ${name}`, () => {
      expect(tokenBound(json, config), name).not.toBeNull();
      checkSound(json, config, name, rng());
    });
  }

  it('is tight enough to refuse huge prompts at once (31 MB of text against a 8K context)', () => {
    const tok = new HfTokenizer(byteLevel(WORDS), {}, { addSpecialTokens: false });
    const text = 'hello world, '.repeat(31_000_000 / 13);
    expect(tok.minTokens(text)).toBeGreaterThan(8192 * 100);
    const cjk = '中文字'.repeat(3_000_000);
    expect(tok.minTokens(cjk)).toBeGreaterThan(8192 * 100);
  });

  it('folds composed text: a Greek letter of four code points in NFD is one token after NFC (shrink 4)', () => {
    const json = byteLevel([GREEK], { normalizer: { type: 'NFC' } });
    const b = tokenBound(json)!;
    expect(b.shrink).toBe(4);
    const text = GREEK.normalize('NFD').repeat(30);
    const ids = new HfTokenizer(json, {}, { addSpecialTokens: false }).encode(text).length;
    expect(ids).toBe(30);
    expect(minTokensOf(b, text)).toBeLessThanOrEqual(ids);
    expect(minTokensOf({ ...b, shrink: 1 }, text)).toBeGreaterThan(ids); // the shrink is what keeps it a bound
  });

  it('compounds the fold of chained normalisations: NFC, a Replace that decomposes, NFC again (found by review)', () => {
    const chain = { type: 'Sequence', normalizers: [{ type: 'NFC' },
      { type: 'Replace', pattern: { String: GREEK2.repeat(4) }, content: GREEK2.normalize('NFD') }, { type: 'NFC' },
      { type: 'Replace', pattern: { String: GREEK2.repeat(4) }, content: GREEK2.normalize('NFD') }, { type: 'NFC' }] };
    const json = byteLevel([GREEK2], { normalizer: chain });
    const b = tokenBound(json)!, text = GREEK2.repeat(16);
    expect(new HfTokenizer(json, {}, { addSpecialTokens: false }).encode(text).length).toBe(1); // 16 → 4 → 1 character
    expect(b.shrink).toBe(64);
    expect(minTokensOf(b, text)).toBeLessThanOrEqual(1);
    expect(minTokensOf({ ...b, shrink: 4 }, text), 'one step\'s fold would not do').toBeGreaterThan(1);
  });

  it('counts a normalised added token at its normalised length (NFKC: U+FDFA is 18 code points)', () => {
    const json = byteLevel([], { normalizer: { type: 'NFKC' } });
    const id = Object.keys((json.model as Json).vocab as Json).length;
    json.added_tokens = [{ id, content: '\ufdfa', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false }];
    const tok = new HfTokenizer(json, {}, { addSpecialTokens: false });
    const text = '\ufdfa'.normalize('NFKC').repeat(20);
    expect(tok.encode(text)).toEqual(Array(20).fill(id)); // matched in the normalised text, one token each
    expect(tok.minTokens(text)).toBeLessThanOrEqual(20);
    expect(minTokensOf(tokenBound(json)!, text)).toBeGreaterThan(20); // without the normaliser, the raw length (1) would not do
  });

  const refused: [string, Json][] = [
    ['WordPiece (a long word is one [UNK])', { model: { type: 'WordPiece', vocab: { '[UNK]': 0, a: 1 }, unk_token: '[UNK]' } }],
    ['Unigram (unknowns fused)', { model: { type: 'Unigram', vocab: [['<unk>', 0], ['a', -1]], unk_id: 0 } }],
    ['BPE, unknowns fused, no byte fallback', spBytes({}, { byte_fallback: false })],
    ['BPE, byte fallback missing a byte', (() => { const j = spBytes(); delete ((j.model as Json).vocab as Json)['<0x41>']; return j; })()],
    ['truncation', byteLevel(WORDS, { truncation: { max_length: 8 } })],
    ['a regex Replace', byteLevel(WORDS, { normalizer: { type: 'Replace', pattern: { Regex: 'a+' }, content: '' } })],
    ['a Replace that deletes text', byteLevel(WORDS, { normalizer: { type: 'Replace', pattern: { String: 'ab' }, content: 'x' } })],
    ['Split that keeps only its matches', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: 'a' }, behavior: 'Isolated', invert: true }, { type: 'ByteLevel' }] } })],
    ['Split that removes its matches', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: 'a' }, behavior: 'Removed' }, { type: 'ByteLevel' }] } })],
    ['NFKC and accents stripped (U+00A8 becomes a space and a mark)', byteLevel(WORDS, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'StripAccents' }] } })],
    ['an unknown normaliser', byteLevel(WORDS, { normalizer: { type: 'Nope' } })],
    ['a merge whose result is not in the vocabulary', (() => { const j = byteLevel(WORDS); delete ((j.model as Json).vocab as Json)[byteLevelOf('he')]; return j; })()],
    // Found by review (each gave minTokens > encode().length with the library):
    ['a model without "type" (the library builds Legacy: a pre-token is one token)', (() => { const j = byteLevel(WORDS); delete (j.model as Json).type; return j; })()],
    ['a Replace after ByteLevel (its content is outside the byte alphabet: the BPE drops it)', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'ByteLevel' }, { type: 'Replace', pattern: { String: 'a' }, content: 'жж' }] } })],
    ['Metaspace after ByteLevel', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'ByteLevel' }, { type: 'Metaspace', replacement: '▁' }] } })],
    ['a byte-level BPE with an end-of-word suffix (pieces outside the alphabet)', byteLevel(WORDS, { model: { ...(byteLevel(WORDS).model as Json), end_of_word_suffix: '</w>' } })],
    ['a byte-level BPE with a continuing-subword prefix', byteLevel(WORDS, { model: { ...(byteLevel(WORDS).model as Json), continuing_subword_prefix: '##' } })],
    ['a Replace whose content has a $ (String.replaceAll: "$$" writes one "$")', byteLevel(WORDS, { normalizer: { type: 'Replace', pattern: { String: 'ab' }, content: '$$' } })],
    ['Split without a pattern (the library returns no pieces)', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', behavior: 'Isolated' }, { type: 'ByteLevel' }] } })],
    ['FixedLength without a length', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'FixedLength' }, { type: 'ByteLevel' }] } })],
    ['Split with a truthy invert (1)', byteLevel(WORDS, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: 'a' }, behavior: 'Isolated', invert: 1 }, { type: 'ByteLevel' }] } })],
    ['unknowns fused by a truthy fuse_unk (1)', spBytes({}, { byte_fallback: false, fuse_unk: 1 })],
    // Found by a second, randomised review (each gave minTokens > encode().length with the library):
    ['a string merge of three parts (read as split(" ", 2): its piece is not in the vocabulary, and dropped)', (() => {
      const j = byteLevel(WORDS), m = j.model as Json;
      (m.merges as string[]).push('x y z'); (m.vocab as Json)['xy z'] = 999; return j; // 'xy' is no token
    })()],
    ['a post-processor whose template leaves out the text', byteLevel(WORDS, { post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '!', type_id: 0 } }], pair: [] } })],
    ['a template item with both SpecialToken and Sequence (the library reads SpecialToken)', byteLevel(WORDS, { post_processor: { type: 'Sequence', processors: [{ type: 'TemplateProcessing', single: [{ SpecialToken: { id: '!', type_id: 0 }, Sequence: { id: 'A', type_id: 0 } }], pair: [] }] } })],
    ['fuse_unk with an unknown token spelt like a byte-level character', byteLevel(WORDS, { model: { ...(byteLevel(WORDS).model as Json), unk_token: '!', fuse_unk: true } })],
    ['fuse_unk with an unknown token spelt like a byte-fallback token', spBytes({}, { unk_token: '<0x41>' })],
    ['fuse_unk with an added token given the unknown token\'s id', (() => {
      const j = spBytes(); (j.added_tokens as Json[]).push({ id: 0, content: '<0x41>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }); return j;
    })()],
    ['fuse_unk with ignore_merges (a pre-token taken whole)', spBytes({}, { ignore_merges: true })],
    ['a Replace whose pattern has a Regex beside its String (the library takes the Regex)', byteLevel(WORDS, { normalizer: { type: 'Replace', pattern: { String: 'q', Regex: '\\S+' }, content: 'x' } })],
  ];
  for (const [name, json] of refused) {
    it(`gives no bound (0) where it could be wrong: ${name}`, () => {
      expect(tokenBound(json), name).toBeNull();
    });
  }

  it('the refused configurations really break a code-point bound (one each, shown by encode)', () => {
    // Split invert keeps only 'a's: 1000 'b's encode to nothing.
    const split = new HfTokenizer(refused[7]![1], {}, { addSpecialTokens: false });
    expect(split.encode('b'.repeat(1000)).length).toBe(0);
    // NFKC + strip accents: U+00A8 is gone.
    const nfkc = new HfTokenizer(refused[9]![1], {}, { addSpecialTokens: false });
    expect(nfkc.encode('¨'.repeat(1000)).filter((id) => id !== 32 /* 'Ġ' is byte 32's token */).length).toBe(0);
    // Fused unknowns: 1000 unknown characters are one token.
    const fused = new HfTokenizer(refused[2]![1], {}, { addSpecialTokens: false });
    expect(fused.encode('ж'.repeat(1000)).length).toBeLessThanOrEqual(2);
  });
});
