// A lower bound on how many tokens a tokenizer.json makes of a text, found without encoding it: a server refuses a
// prompt too long for the context before it pays for encoding it (31 MB took 4.4 s of the event loop).
// Every token stands for at most `cover` code points of the normalised text (its longest vocabulary string, merge or
// added token), and the text keeps at least 1 / `shrink` of its "counted" code points through normalisation and
// pre-tokenisation, so encode(text).length >= counted(text) / (shrink · cover). That holds only where nothing can drop
// counted text or let one token stand for a run of any length, so the bound is given for the configurations checked
// below (as @huggingface/tokenizers runs them) and refused (null) for anything else.

/** Code points that a step may drop or turn into whitespace: whitespace, controls and format characters, U+FFFD (and marks, U+2581, where a step drops them). */
type Counted = { marks: boolean; metaspace: boolean };

export interface TokenBound {
  readonly cover: number;   // code points a token stands for, at most
  readonly shrink: number;  // how many counted code points normalisation may fold into one (canonical composition: ≤ 4)
  readonly counted: Counted;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null);
const codePoints = (s: string): number => { let n = 0; for (const _ of s) n++; return n; };

/** The counted code points of s (see Counted): one pass over its code units, classes cached (megabytes of text). */
export function countedCodePoints(s: string, c: Counted): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0x80) { if (u > 0x20 && u < 0x7f) n++; continue; }
    let k: number;
    if (u >= 0xd800 && u < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      k = classOf(s.codePointAt(i)!);
      i++;
    } else {
      k = BMP[u] || (BMP[u] = classOf(u));
    }
    if (k === COUNTED || (k === MARK && !c.marks) || (k === META && !c.metaspace)) n++;
  }
  return n;
}
const COUNTED = 1, DROPPED = 2, MARK = 3, META = 4;
const BMP = new Uint8Array(0x10000);   // 0: not classified yet
const ASTRAL = new Map<number, number>();
function classOf(cp: number): number {
  if (cp >= 0x10000) {
    let k = ASTRAL.get(cp);
    if (k === undefined) { k = classify(String.fromCodePoint(cp)); if (ASTRAL.size < 65536) ASTRAL.set(cp, k); }
    return k;
  }
  return classify(String.fromCharCode(cp));   // a lone surrogate is \p{Cs}
}
function classify(ch: string): number {
  if (/^[\s\p{C}\uFFFD]$/u.test(ch)) return DROPPED;
  if (/^\p{M}$/u.test(ch)) return MARK;
  return ch === '\u2581' ? META : COUNTED;
}

/** A Replace step with a literal pattern is safe when what it writes counts at least as much as what it replaces. */
function replaceIsSafe(step: Json, c: Counted): boolean {
  const pat = obj(step.pattern);
  const from = pat?.String, to = step.content ?? '';
  return typeof from === 'string' && typeof to === 'string' && countedCodePoints(to, c) >= countedCodePoints(from, c);
}

interface NormFacts { ok: boolean; compat: boolean; unicode: boolean; stripMarks: boolean; metaspace: boolean; replaces: Json[] }

function normalizerFacts(n: unknown, f: NormFacts): void {
  if (n === null || n === undefined) return;
  const step = obj(n);
  switch (step?.type) {
    case 'Sequence': for (const s of Array.isArray(step.normalizers) ? step.normalizers : [null]) normalizerFacts(s, f); return;
    case 'Prepend': case 'Lowercase': case 'Strip': return;   // add text, map case (never fewer code points), trim whitespace
    case 'NFC': case 'NFD': f.unicode = true; return;
    case 'NFKC': case 'NFKD': f.unicode = f.compat = true; return;
    case 'StripAccents': f.stripMarks = true; return;
    case 'Replace': f.replaces.push(step); return;
    case 'BertNormalizer':   // drops controls and U+FFFD, spaces around CJK, lowercases and strips accents (NFD) by default
      f.unicode = true;
      if ((step.lowercase === true && step.strip_accents !== false) || step.strip_accents === true) f.stripMarks = true;
      return;
    case 'Precompiled': f.unicode = f.compat = f.metaspace = true; return;   // the library: controls dropped, U+2581 and spaces to ' ', NFKC
    default: f.ok = false;
  }
}

function preTokenizerOk(p: unknown, replaces: Json[]): { ok: boolean; byteLevel: boolean } {
  if (p === null || p === undefined) return { ok: true, byteLevel: false };
  const step = obj(p);
  switch (step?.type) {
    case 'Sequence': {
      let byteLevel = false;
      for (const s of Array.isArray(step.pretokenizers) ? step.pretokenizers : [null]) {
        const r = preTokenizerOk(s, replaces);
        if (!r.ok) return r;
        byteLevel ||= r.byteLevel;
      }
      return { ok: true, byteLevel };
    }
    case 'ByteLevel': return { ok: true, byteLevel: true };
    // Keep every non-whitespace character (Whitespace and WhitespaceSplit drop only whitespace).
    case 'Metaspace': case 'Whitespace': case 'WhitespaceSplit': case 'BertPreTokenizer': case 'Digits': case 'Punctuation': case 'FixedLength':
      return { ok: true, byteLevel: false };
    // The library keeps only the matches when invert is set, and drops them with behavior "Removed".
    case 'Split': return { ok: step.invert !== true && String(step.behavior ?? '').toLowerCase() !== 'removed', byteLevel: false };
    case 'Replace': replaces.push(step); return { ok: true, byteLevel: false };
    default: return { ok: false, byteLevel: false };
  }
}

/** The 256 single-character tokens of GPT-2's byte-to-unicode map (what ByteLevel turns every byte into). */
function byteLevelAlphabet(): string[] {
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out.push(String.fromCodePoint(printable ? b : 256 + extra++));
  }
  return out;
}
const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/**
 * The bound's constants for a tokenizer.json (and the tokenizer_config.json options the library reads), or null
 * where the configuration could drop counted text or fold a run of any length into one token: a WordPiece word
 * over max_input_chars_per_word, fused unknowns, Unigram, a BPE piece with neither a token, a byte nor an unknown
 * to become, truncation, a regex Replace. `normalize`: the tokenizer's normaliser (its normalised added tokens).
 */
export function tokenBound(json: Json, config: Json = {}, normalize?: (text: string) => string): TokenBound | null {
  if (json.truncation !== null && json.truncation !== undefined) return null;
  const model = obj(json.model);
  if (!model || (model.type ?? 'BPE') !== 'BPE') return null;
  const vocab = obj(model.vocab);
  if (!vocab) return null;

  const f: NormFacts = { ok: true, compat: false, unicode: false, stripMarks: config.do_lowercase_and_remove_accent === true, metaspace: false, replaces: [] };
  normalizerFacts(json.normalizer, f);
  const pre = preTokenizerOk(json.pre_tokenizer, f.replaces);
  // A compatibility mapping may turn a counted character into a space and a mark (U+00A8 → ' ' + U+0308): with marks
  // stripped nothing of it is left.
  if (!f.ok || !pre.ok || (f.compat && f.stripMarks)) return null;
  const counted: Counted = { marks: f.stripMarks, metaspace: f.metaspace };
  if (!f.replaces.every((r) => replaceIsSafe(r, counted))) return null;

  // Every piece the BPE cannot spell must still become a token: bytes (ByteLevel's alphabet, or byte fallback), or one
  // unknown token each (not fused into one for a run).
  const has = (t: string) => Object.hasOwn(vocab, t);
  const merged = (m: unknown) => (typeof m === 'string' ? m.replace(' ', '') : Array.isArray(m) ? m.join('') : '');
  const merges: unknown[] = Array.isArray(model.merges) ? model.merges : [];
  const bytes = pre.byteLevel && byteLevelAlphabet().every(has) && merges.every((m) => has(merged(m)));
  const fallback = model.byte_fallback === true && Array.from({ length: 256 }, (_, b) => byteToken(b)).every(has);
  const unk = typeof model.unk_token === 'string' && has(model.unk_token) && model.fuse_unk !== true;
  if (!bytes && !fallback && !unk) return null;

  let cover = 1;
  for (const t of Object.keys(vocab)) cover = Math.max(cover, codePoints(t));
  for (const m of merges) cover = Math.max(cover, codePoints(merged(m)));
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    const t = obj(a), content = t?.content;
    if (typeof content !== 'string') continue;
    cover = Math.max(cover, codePoints(content));
    // A "normalized" added token is also matched as its normalised form, which may be longer (NFKC: 'ﬃ' → 'ffi').
    const normalized = t!.normalized ?? t!.special !== true;
    if (normalized && normalize) cover = Math.max(cover, codePoints(normalize(content)));
  }
  return { cover, shrink: f.unicode ? 4 : 1, counted };
}

/** encode(text).length is at least this (0 for an empty or all-whitespace text). */
export function minTokensOf(b: TokenBound, text: string): number {
  return Math.ceil(countedCodePoints(text, b.counted) / (b.shrink * b.cover));
}
