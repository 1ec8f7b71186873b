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

/**
 * A Replace step with a literal pattern is safe when what it writes counts at least as much as what it replaces. The
 * library writes its content through String.replaceAll, where '$' is special ('$$' writes one '$'): none allowed.
 */
function replaceIsSafe(step: Json, c: Counted): boolean {
  const pat = obj(step.pattern);
  const from = pat?.String, to = step.content ?? '';
  // The library takes pattern.Regex whenever there is one, even beside a String.
  return pat?.Regex === undefined && typeof from === 'string' && typeof to === 'string' && !to.includes('$')
    && countedCodePoints(to, c) >= countedCodePoints(from, c);
}

/** What the normalisers may do; `unicode`: Unicode normalisation steps (each may fold up to 4 counted code points into one). */
interface NormFacts { ok: boolean; compat: boolean; unicode: number; stripMarks: boolean; metaspace: boolean; replaces: Json[] }

function normalizerFacts(n: unknown, f: NormFacts): void {
  if (n === null || n === undefined) return;
  const step = obj(n);
  switch (step?.type) {
    case 'Sequence': for (const s of Array.isArray(step.normalizers) ? step.normalizers : [null]) normalizerFacts(s, f); return;
    case 'Prepend': case 'Lowercase': case 'Strip': return;   // add text, map case (never fewer code points), trim whitespace
    case 'NFC': case 'NFD': f.unicode++; return;
    case 'NFKC': case 'NFKD': f.unicode++; f.compat = true; return;
    case 'StripAccents': f.stripMarks = true; return;
    case 'Replace': f.replaces.push(step); return;
    case 'BertNormalizer':   // drops controls and U+FFFD, spaces around CJK; lowercase (truthy) strips accents (NFD) unless strip_accents is false
      f.unicode++;
      if ((step.lowercase && step.strip_accents !== false) || step.strip_accents) f.stripMarks = true;
      return;
    case 'Precompiled': f.unicode++; f.compat = f.metaspace = true; return;   // the library: controls dropped, U+2581 and spaces to ' ', NFKC
    default: f.ok = false;
  }
}

/**
 * Whether the pre-tokenisers keep every counted character; `byteLevel`: ByteLevel maps the text to its byte alphabet,
 * and nothing after it writes characters outside that alphabet (a Replace's content, Metaspace's '▁').
 */
function preTokenizerOk(p: unknown, replaces: Json[]): { ok: boolean; byteLevel: boolean } {
  const steps: Json[] = [];
  const flat = (q: unknown): boolean => {
    if (q === null || q === undefined) return true;
    const step = obj(q);
    if (step?.type !== 'Sequence') { if (step) steps.push(step); return step !== null; }
    return (Array.isArray(step.pretokenizers) ? step.pretokenizers : [null]).every(flat);
  };
  if (!flat(p)) return { ok: false, byteLevel: false };
  let byteLevel = false;
  for (const step of steps) {
    switch (step.type) {
      case 'ByteLevel': byteLevel = true; break;
      // Keep every non-whitespace character (Whitespace and WhitespaceSplit drop only whitespace).
      case 'Whitespace': case 'WhitespaceSplit': case 'BertPreTokenizer': case 'Digits': case 'Punctuation': break;
      case 'Metaspace': case 'Replace':
        if (byteLevel) return { ok: false, byteLevel: false };
        if (step.type === 'Replace') replaces.push(step);
        break;
      // The library splits a text of length L into pieces of `length` (a missing or bad one gives [''], dropping the text).
      case 'FixedLength': if (!(Number.isInteger(step.length) && (step.length as number) >= 1)) return { ok: false, byteLevel: false }; break;
      // Without a pattern the library returns []; it keeps only the matches when invert is truthy, and drops them with behavior "Removed".
      case 'Split': {
        const pat = obj(step.pattern);
        const hasPattern = typeof pat?.String === 'string' || typeof pat?.Regex === 'string';
        if (!hasPattern || step.invert || String(step.behavior ?? '').toLowerCase() === 'removed') return { ok: false, byteLevel: false };
        break;
      }
      default: return { ok: false, byteLevel: false };
    }
  }
  return { ok: true, byteLevel };
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
  if (!model || model.type !== 'BPE') return null;   // without "type" the library builds another model (Legacy, WordPiece)
  const vocab = obj(model.vocab);
  if (!vocab) return null;

  const f: NormFacts = { ok: true, compat: false, unicode: 0, stripMarks: Boolean(config.do_lowercase_and_remove_accent), metaspace: false, replaces: [] };
  normalizerFacts(json.normalizer, f);
  const pre = preTokenizerOk(json.pre_tokenizer, f.replaces);
  // A compatibility mapping may turn a counted character into a space and a mark (U+00A8 → ' ' + U+0308): with marks
  // stripped nothing of it is left.
  if (!f.ok || !pre.ok || (f.compat && f.stripMarks)) return null;
  const counted: Counted = { marks: f.stripMarks, metaspace: f.metaspace };
  if (!f.replaces.every((r) => replaceIsSafe(r, counted))) return null;

  // Every piece the BPE cannot spell must still become a token: bytes (ByteLevel's alphabet, or byte fallback), or one
  // unknown token each (not fused into one for a run). With a subword prefix or suffix the BPE spells pieces that are
  // not the alphabet's ('##a', 'a</w>'): the alphabet no longer covers them.
  const has = (t: string) => Object.hasOwn(vocab, t);
  // The library reads a string merge as split(' ', 2): 'a b c' merges 'a' and 'b'.
  const merged = (m: unknown) => (typeof m === 'string' ? m.split(' ', 2).join('') : Array.isArray(m) ? m.join('') : '');
  const pieces = (Array.isArray(model.merges) ? model.merges as unknown[] : []).map(merged);   // what each merge makes
  const affixed = Boolean(model.continuing_subword_prefix || model.continuing_subword_suffix || model.end_of_word_suffix);
  const bytes = pre.byteLevel && !affixed && byteLevelAlphabet().every(has) && pieces.every(has);
  const fallback = model.byte_fallback === true && Array.from({ length: 256 }, (_, b) => byteToken(b)).every(has);
  const unk = typeof model.unk_token === 'string' && has(model.unk_token) && !model.fuse_unk;
  if (!bytes && !fallback && !unk) return null;
  if (model.fuse_unk && !unknownsStayApart(model, vocab, pieces, json.added_tokens)) return null;
  if (!postProcessorKeepsText(json.post_processor)) return null;

  let cover = 1;
  for (const t of Object.keys(vocab)) cover = Math.max(cover, codePoints(t));
  for (const m of pieces) cover = Math.max(cover, codePoints(m));
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    const t = obj(a), content = t?.content;
    if (typeof content !== 'string') continue;
    cover = Math.max(cover, codePoints(content));
    // A "normalized" added token is also matched as its normalised form, which may be longer (NFKC: 'ﬃ' → 'ffi').
    const normalized = t!.normalized ?? !t!.special;
    if (normalized && normalize) cover = Math.max(cover, codePoints(normalize(content)));
  }
  // Each Unicode normalisation step may fold up to 4 counted code points into one (a Replace between two can undo one).
  return { cover, shrink: 4 ** f.unicode, counted };
}

/**
 * With fuse_unk the library folds every run of tokens whose final id is the unknown token's into one, whatever made
 * them: a token spelt like the unknown one (a byte, a one-character piece, a merge), an added token given its id, or a
 * pre-token taken whole (ignore_merges). Safe only where nothing but a real unknown can have that id.
 */
function unknownsStayApart(model: Json, vocab: Json, mergedPieces: string[], added: unknown): boolean {
  const name = model.unk_token, id = typeof name === 'string' ? vocab[name] : undefined;
  if (id === undefined) return true;   // no unknown token: nothing is fused
  if (typeof name !== 'string' || model.ignore_merges || codePoints(name) <= 1 || /^<0x[0-9A-Fa-f]{2}>$/.test(name)) return false;
  if (mergedPieces.includes(name)) return false;
  return (Array.isArray(added) ? added : []).every((a) => obj(a)?.id !== id || obj(a)?.content === name);
}

/**
 * The post-processor keeps the text's tokens: TemplateProcessing only where its `single` template holds the sequence
 * (an item {Sequence: {id: 'A'}} without a SpecialToken, which the library reads first); Sequence of such; the others.
 */
function postProcessorKeepsText(p: unknown): boolean {
  if (p === null || p === undefined) return true;
  const step = obj(p);
  switch (step?.type) {
    case 'ByteLevel': case 'BertProcessing': case 'RobertaProcessing': return true;
    case 'Sequence': return Array.isArray(step.processors) && step.processors.every(postProcessorKeepsText);
    case 'TemplateProcessing':
      return Array.isArray(step.single) && step.single.some((item) => {
        const it = obj(item);
        return it !== null && it.SpecialToken === undefined && obj(it.Sequence)?.id === 'A';
      });
    default: return false;
  }
}

/** encode(text).length is at least this (0 for an empty or all-whitespace text). */
export function minTokensOf(b: TokenBound, text: string): number {
  return Math.ceil(countedCodePoints(text, b.counted) / (b.shrink * b.cover));
}
