// Tokenizers: byte-level (ids 0..255 are bytes) and Hugging Face tokenizer.json through
// @huggingface/tokenizers (pure JS, no dependencies, no network; ~650 KB). Streaming decoders never emit
// a broken UTF-8 sequence: they hold tokens until the text they complete is whole.
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { FapoolError, NonFiniteError } from '../gpu/errors.js';
import { NONFINITE_ID } from '../kernels/sampling.js';
import { notAFile, openErrorWhy } from './file-why.js';
import { minTokensOf, tokenBound, type TokenBound } from './tokenizer-bound.js';

export class TokenizerError extends FapoolError {}

/** Incremental detokeniser: push ids one by one, get text as soon as it is complete. */
export interface StreamDecoder {
  push(id: number): string;
  /** Emit whatever is held (a trailing incomplete sequence becomes U+FFFD). */
  flush(): string;
}

export interface Tokenizer {
  encode(text: string): number[];
  /**
   * A lower bound on encode(text).length found without encoding it (where the tokenizer has a cheap one): a server
   * refuses a prompt too long for the context before it pays for encoding megabytes of text.
   */
  minTokens?(text: string): number;
  decode(ids: readonly number[]): string;
  /**
   * A stream of the text that follows `context` (the prompt's ids): its pieces keep what a decoder drops at a
   * text's start (Llama's and Mistral's decoders strip the first token's leading space), as transformers'
   * TextStreamer and vLLM do. Without a context, the text starts with the first id.
   */
  decodeStream(context?: readonly number[]): StreamDecoder;
  /** Ids are in [0, vocabSize). */
  readonly vocabSize: number;
  readonly eosId?: number;
  /**
   * Every id that ends a generation where it differs from [eosId]: EOS and the eos_token_id of the checkpoint's
   * generation_config.json or config.json (Llama 3 Instruct's <|eot_id|> is named only there).
   */
  readonly endIds?: readonly number[];
  readonly bosId?: number;
  /**
   * tokenizer_config.json's chat_template as the file gives it (a string, or a list of {name, template}), or
   * chat_template.jinja beside it, which transformers prefers; undefined without one. chat-template.ts reads it.
   */
  readonly chatTemplate?: unknown;
  /**
   * The special tokens tokenizer_config.json names, as transformers' special_tokens_map gives them to a chat template:
   * bos_token, eos_token, ... as text, additional_special_tokens as a list of texts.
   */
  readonly specialTokens?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * encode() without the special tokens the post-processor adds (BOS, EOS): for text a chat template made, which
   * holds its own, as transformers encodes it (add_special_tokens=False). Absent where encode() adds none.
   */
  encodePlain?(text: string): number[];
}

/** The ids that end a generation: the tokenizer's endIds, else its EOS. */
export function endIds(t: Tokenizer): readonly number[] {
  return t.endIds ?? (t.eosId === undefined ? [] : [t.eosId]);
}

export class ByteTokenizer implements Tokenizer {
  readonly vocabSize = 256;
  readonly eosId = undefined;
  readonly bosId = undefined;

  encode(text: string): number[] {
    return Array.from(new TextEncoder().encode(text));
  }

  /** Exactly encode(text).length: the text's UTF-8 bytes (a lone surrogate is U+FFFD's three), counted, not made. */
  minTokens(text: string): number {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }

  decode(ids: readonly number[]): string {
    return new TextDecoder().decode(toBytes(ids));
  }

  decodeStream(): StreamDecoder {
    // Bytes decode the same whatever precedes them (a prompt's unfinished character stays U+FFFD in its own text).
    // TextDecoder's stream mode holds an incomplete multi-byte sequence until its last byte arrives.
    const dec = new TextDecoder();
    const one = new Uint8Array(1);
    return {
      push: (id) => { one[0] = checkByte(id); return dec.decode(one, { stream: true }); },
      flush: () => dec.decode(),
    };
  }
}

function checkByte(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new TokenizerError(`byte tokenizer: id ${id} out of range [0, 256)`);
  return id;
}
function toBytes(ids: readonly number[]): Uint8Array {
  const b = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) b[i] = checkByte(ids[i]!);
  return b;
}

export interface HfTokenizerOptions {
  /** Add BOS etc. as the tokenizer's post-processor says (default true). */
  addSpecialTokens?: boolean;
  /** Drop special tokens (EOS, BOS) from decoded text (default true). */
  skipSpecialTokens?: boolean;
  /** More ids that end a generation besides EOS: the checkpoint's eos_token_id (checkpointEndIds). */
  endIds?: readonly number[];
}

/** Ids of a prompt that open a stream decoder's window: enough for a decoder's joins across the boundary (vLLM: 5). */
const CONTEXT_TOKENS = 5;

/** The last CONTEXT_TOKENS ids of `context` that decode() keeps (the special tokens it drops give no text). */
function contextTail(context: readonly number[], skipped: ReadonlySet<number>): number[] {
  const tail: number[] = [];
  for (let i = context.length - 1; i >= 0 && tail.length < CONTEXT_TOKENS; i--) if (!skipped.has(context[i]!)) tail.unshift(context[i]!);
  return tail;
}

/**
 * The text of `ids` as it follows `context` (a prompt), made by the stream decoder, so a generation's whole text is
 * what its streamed pieces add up to (a leading space a decoder strips at a text's start stays).
 */
export function continuationText(tok: Tokenizer, context: readonly number[], ids: readonly number[]): string {
  const stream = tok.decodeStream(context);
  let out = '';
  for (const id of ids) out += stream.push(id);
  return out + stream.flush();
}

/** Longest run of held tokens before a stream decoder gives up waiting for a complete character. */
const MAX_HELD_TOKENS = 8;
/** Tokens still held when a stream decoder gives up: enough for the bytes of any unfinished UTF-8 sequence. */
const INCOMPLETE_TAIL_TOKENS = 3;

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId?: number;
  readonly endIds?: readonly number[];
  readonly bosId?: number;
  readonly chatTemplate?: unknown;
  readonly specialTokens: Readonly<Record<string, string | readonly string[]>>;
  private readonly impl: HfTokenizerImpl;
  private readonly cleanUpSpaces: boolean;
  private readonly bound: TokenBound | null;
  /** Ids decode() drops (added tokens marked special) when it skips special tokens: the stream never holds them. */
  private readonly skipped: ReadonlySet<number>;
  /** BOS / EOS as tokenizer_config.json's add_bos_token / add_eos_token say, where transformers honours them; else null. */
  private readonly ends: { bos: boolean; eos: boolean } | null;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown> = {}, private readonly opts: HfTokenizerOptions = {}) {
    validateTokenizerJson(tokenizerJson);
    try {
      this.impl = new HfTokenizerImpl(asRustReads(tokenizerJson as Record<string, unknown>), tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
    // The library defaults to transformers' old "clean up" (' .' → '.'), which is not what tokenizer.json
    // decodes to and breaks round trips; honour the config, default off as current transformers does.
    this.cleanUpSpaces = tokenizerConfig.clean_up_tokenization_spaces === true;
    const norm = this.impl.normalizer;
    this.bound = tokenBound(tokenizerJson as Record<string, unknown>, tokenizerConfig, norm ? (t) => norm.normalize(t) : undefined);
    let max = -1;
    for (const id of this.impl.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const added = (tokenizerJson as { added_tokens?: { id: number; special?: boolean }[] }).added_tokens ?? [];
    this.skipped = new Set((opts.skipSpecialTokens ?? true) ? added.filter((t) => t.special === true).map((t) => t.id) : []);
    this.eosId = this.specialId(tokenizerConfig.eos_token, ['</s>', '<eos>', '<|endoftext|>', '<|end_of_text|>']);
    this.bosId = this.specialId(tokenizerConfig.bos_token, ['<s>', '<bos>', '<|begin_of_text|>']);
    for (const id of opts.endIds ?? []) {
      if (!isId(id) || id >= this.vocabSize) throw new TokenizerError(`eos_token_id ${String(id)} (generation_config.json or config.json) is not a token of tokenizer.json (ids 0..${this.vocabSize - 1})`);
    }
    if (opts.endIds?.length) this.endIds = [...new Set([...(this.eosId === undefined ? [] : [this.eosId]), ...opts.endIds])];
    // transformers' Llama and Gemma tokenizers rebuild the post-processor from these flags (add_bos_token: false drops
    // the <s> that tokenizer.json's template adds); other classes ignore them, as the library does.
    const { tokenizer_class: cls, add_bos_token: bos, add_eos_token: eos } = tokenizerConfig;
    const honours = typeof cls === 'string' && /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/.test(cls);
    this.ends = honours && (typeof bos === 'boolean' || typeof eos === 'boolean') ? { bos: bos !== false, eos: eos === true } : null;
    if (tokenizerConfig.chat_template !== undefined && tokenizerConfig.chat_template !== null) this.chatTemplate = tokenizerConfig.chat_template;
    // transformers' SPECIAL_TOKENS_ATTRIBUTES, those set (an empty list is left out, as special_tokens_map does).
    const specials: Record<string, string | string[]> = {};
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
      const text = tokenText(tokenizerConfig[k]);
      if (text !== undefined) specials[k] = text;
    }
    const more = tokenizerConfig.additional_special_tokens;
    const texts = Array.isArray(more) ? more.map(tokenText).filter((t): t is string => t !== undefined) : [];
    if (texts.length) specials.additional_special_tokens = texts;
    this.specialTokens = specials;
  }

  private specialId(configured: unknown, fallbacks: string[]): number | undefined {
    const name = tokenText(configured);
    for (const t of name !== undefined ? [name] : fallbacks) {
      const id = this.impl.token_to_id(t);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  encode(text: string): number[] {
    const specials = this.opts.addSpecialTokens ?? true;
    if (!this.ends || !specials) return this.impl.encode(text, { add_special_tokens: specials }).ids;
    const ids = this.impl.encode(text, { add_special_tokens: false }).ids;
    if (this.ends.bos && this.bosId !== undefined) ids.unshift(this.bosId);
    if (this.ends.eos && this.eosId !== undefined) ids.push(this.eosId);
    return ids;
  }

  encodePlain(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false }).ids;
  }

  /** A lower bound from the vocabulary's longest token (tokenizer-bound.ts); 0 where the configuration gives none. */
  minTokens(text: string): number {
    return this.bound ? minTokensOf(this.bound, text) : 0;
  }

  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError(`token id ${id} out of range [0, ${this.vocabSize})`);
    }
    if (ids.length === 0) return ''; // the library refuses empty input
    return this.impl.decode([...ids], {
      skip_special_tokens: this.opts.skipSpecialTokens ?? true, clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /**
   * Decode a window that starts a few tokens back (so decoders that strip a leading space or join
   * pieces see context), emit only the new suffix, and hold it while it ends in U+FFFD (an incomplete
   * byte sequence from byte-level or byte-fallback tokens) or while the decoder rewrites the context.
   * Past MAX_HELD_TOKENS held, or at flush, it emits anyway and never stays stuck: all but the last few tokens (an
   * unfinished character's bytes), else everything held (decoded on its own where the context was rewritten) and the
   * window restarts after it: bytes emitted as U+FFFD stay so, whatever comes after them.
   */
  decodeStream(context: readonly number[] = []): StreamDecoder {
    // The context's last CONTEXT_TOKENS ids (those decode() keeps) open the window, as already-emitted text.
    let ids: number[] = contextTail(context, this.skipped);
    let prefix = 0, read = ids.length; // ids[prefix, read) already emitted context; ids[read, ..) held
    let primed = read > 0; // the window still opens with the prompt's tail: nothing of the new text emitted yet
    const commit = (upTo: number, out: string, restart = false): string => {
      primed = false;
      prefix = restart ? upTo : read;
      read = upTo;
      if (prefix > 64) { ids = ids.slice(prefix); read -= prefix; prefix = 0; }
      return out;
    };
    const step = (final: boolean): string => {
      const before = this.decode(ids.slice(prefix, read));
      const now = this.decode(ids.slice(prefix));
      const forced = final || ids.length - read >= MAX_HELD_TOKENS;
      const extends_ = now.startsWith(before);
      // The new tokens rewrite the prompt's text (they complete its unfinished character; a clean-up joins " ." across
      // the boundary): waiting would hold them 8 tokens, then restart without context. Drop the context at once and
      // decode the new text alone, as a stream without one does.
      if (primed && (!extends_ || before.endsWith('\uFFFD'))) {
        ids = ids.slice(read); prefix = 0; read = 0; primed = false;
        return step(final);
      }
      if (extends_ && (final || !now.endsWith('\uFFFD'))) {
        if (now.length === before.length && !forced) return ''; // nothing visible yet
        return commit(ids.length, now.slice(before.length));
      }
      if (!forced) return ''; // an incomplete character, or the context rewritten: wait for more tokens
      if (extends_) {
        // Held too long and still ending in U+FFFD: emit all but the last INCOMPLETE_TAIL_TOKENS (an unfinished UTF-8
        // sequence is at most 3 bytes, a token at least one), cut where the text so far is a prefix of the whole.
        for (let c = ids.length - INCOMPLETE_TAIL_TOKENS; c > read; c--) {
          const t = this.decode(ids.slice(prefix, c));
          if (t.length > before.length && t.startsWith(before) && now.startsWith(t)) return commit(c, t.slice(before.length));
        }
        return commit(ids.length, now.slice(before.length), true); // bytes that form no character
      }
      return commit(ids.length, this.decode(ids.slice(read)), true); // the context rewritten for good
    };
    return {
      // A special token decode() drops is text of nothing: held, it counted toward MAX_HELD_TOKENS and could leave a
      // window of nothing visible, where the next word lost its leading space.
      push: (id) => { if (this.skipped.has(id)) return ''; ids.push(id); return step(false); },
      flush: () => step(true),
    };
  }
}

/**
 * tokenizer.json as the Rust library (transformers' fast tokenizers) reads it, in the terms @huggingface/tokenizers
 * follows. Its Metaspace ignores `split` and `add_prefix_space`: Rust splits the text before each '▁' unless `split` is
 * false (absent means true: files older than prepend_scheme), so no token spans two words ("▁▁" never merges across a
 * double space), and `add_prefix_space: false` without a prepend_scheme means "never", not "always"; a Metaspace
 * decoder of scheme "never" keeps the first token's leading space. Each becomes explicit here (a Split after a
 * Metaspace of `split: false`; a Replace decoder); every other part is passed unchanged.
 */
export function asRustReads(json: Record<string, unknown>): Record<string, unknown> {
  const scheme = (m: Record<string, unknown>): string => {
    const given = m.prepend_scheme;
    if (m.add_prefix_space === false && given !== undefined && given !== null && given !== 'never') {
      throw new TokenizerError(`tokenizer.json: a Metaspace with add_prefix_space false and prepend_scheme ${JSON.stringify(given)} (Rust refuses it)`);
    }
    return m.add_prefix_space === false ? 'never' : typeof given === 'string' ? given : 'always';
  };
  const isMeta = (p: unknown): p is Record<string, unknown> => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'Metaspace';
  const replacementOf = (m: Record<string, unknown>) => (typeof m.replacement === 'string' ? m.replacement : '\u2581');
  const pre = (p: unknown): unknown => {
    if (typeof p !== 'object' || p === null) return p;
    const o = p as Record<string, unknown>;
    if (o.type === 'Sequence' && Array.isArray(o.pretokenizers)) return { ...o, pretokenizers: o.pretokenizers.flatMap((x) => { const r = pre(x); return Array.isArray(r) ? r : [r]; }) };
    if (!isMeta(o)) return o;
    const r = replacementOf(o);
    const meta = { ...o, replacement: r, str_rep: r, prepend_scheme: scheme(o), split: false };
    if (o.split === false) return meta;
    // Rust: split on the replacement, each piece starting at one (MergedWithNext); the text before the first is a piece.
    const e = r.replace(/[.*+?^${}()|[\]\\\/-]/g, '\\$&');
    if ([...r].length !== 1) throw new TokenizerError(`tokenizer.json: Metaspace replacement ${JSON.stringify(r)} must be one character`);
    return [meta, { type: 'Split', pattern: { Regex: `${e}[^${e}]*|[^${e}]+` }, behavior: 'MergedWithNext', invert: true }];
  };
  const dec = (d: unknown): unknown => {
    if (typeof d !== 'object' || d === null) return d;
    const o = d as Record<string, unknown>;
    if (o.type === 'Sequence' && Array.isArray(o.decoders)) return { ...o, decoders: o.decoders.map(dec) };
    if (!isMeta(o) || scheme(o) !== 'never') return o;
    return { type: 'Replace', pattern: { String: replacementOf(o) }, content: ' ' };
  };
  const out: Record<string, unknown> = { ...json };
  if (json.pre_tokenizer !== undefined) {
    const p = pre(json.pre_tokenizer);
    out.pre_tokenizer = Array.isArray(p) ? { type: 'Sequence', pretokenizers: p } : p;
  }
  if (json.decoder !== undefined) out.decoder = dec(json.decoder);
  return out;
}

/** A special token of tokenizer_config.json as text: a plain string or an AddedToken's {content}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const content = typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : undefined;
  return typeof content === 'string' ? content : undefined;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const kindOf = (v: unknown): string => (Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 40));

/**
 * The parts of tokenizer.json the library trusts without checking (it loads a BPE whose vocab is a string or an
 * array and then encodes to undefined or to ids that do not exist): checked here, so a bad file fails at load.
 */
export function validateTokenizerJson(json: unknown): void {
  const fail = (msg: string): never => { throw new TokenizerError(`tokenizer.json: ${msg}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(`must be a JSON object, got ${kindOf(json)}`);
  const model = (json as Record<string, unknown>).model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) fail(`"model" must be an object, got ${kindOf(model)}`);
  const m = model as Record<string, unknown>;
  const type = m.type ?? 'BPE';
  const ids = new Map<number, string>();
  const addId = (token: string, id: unknown, where: string) => {
    if (!isId(id)) fail(`${where}: id of ${JSON.stringify(token).slice(0, 40)} must be a non-negative integer, got ${kindOf(id)}`);
    const other = ids.get(id as number);
    if (other !== undefined && other !== token) fail(`${where}: id ${id} is given to both ${JSON.stringify(other).slice(0, 40)} and ${JSON.stringify(token).slice(0, 40)}`);
    ids.set(id as number, token);
  };
  if (type === 'BPE' || type === 'WordPiece' || type === 'WordLevel') {
    const vocab = m.vocab;
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) fail(`model.vocab of a ${type} model must be an object {token: id}, got ${kindOf(vocab)}`);
    for (const [token, id] of Object.entries(vocab as object)) addId(token, id, 'model.vocab');
    if (type === 'BPE') {
      const merges = m.merges ?? [];
      if (!Array.isArray(merges)) fail(`model.merges must be an array, got ${kindOf(merges)}`);
      (merges as unknown[]).forEach((x, i) => {
        const ok = typeof x === 'string' ? x.includes(' ') : Array.isArray(x) && x.length === 2 && x.every((p) => typeof p === 'string');
        if (!ok) fail(`model.merges[${i}] must be "a b" or ["a", "b"], got ${kindOf(x)}`);
      });
    }
  } else if (type === 'Unigram') {
    const vocab = m.vocab;
    if (!Array.isArray(vocab)) fail(`model.vocab of a Unigram model must be an array of [token, score], got ${kindOf(vocab)}`);
    (vocab as unknown[]).forEach((x, i) => {
      if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || typeof x[1] !== 'number') fail(`model.vocab[${i}] must be [token, score], got ${kindOf(x)}`);
      addId((x as [string, number])[0], i, 'model.vocab');
    });
  } else {
    return; // a type the library does not know: it says so itself
  }
  if (ids.size === 0) fail('model.vocab is empty');
  const added = (json as Record<string, unknown>).added_tokens ?? [];
  if (!Array.isArray(added)) fail(`"added_tokens" must be an array, got ${kindOf(added)}`);
  (added as unknown[]).forEach((t, i) => {
    const o = t as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || typeof o.content !== 'string' || !isId(o.id)) fail(`added_tokens[${i}] must be {"id": integer, "content": string, ...}, got ${kindOf(t)}`);
  });
}

/**
 * The eos_token_id (an id or a list) that the checkpoint's generation_config.json names, else its config.json: what
 * transformers' generate() stops on. A malformed value is refused; a file that is absent or names none gives [].
 */
async function checkpointEndIds(dir: string): Promise<number[]> {
  const path = await import('node:path');
  for (const name of ['generation_config.json', 'config.json']) {
    const file = path.join(dir, name);
    const text = await readCheckpointText(file);
    if (text === null) continue;
    let v: unknown;
    try {
      v = (JSON.parse(text) as { eos_token_id?: unknown } | null)?.eos_token_id;
    } catch (e) {
      throw new TokenizerError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (v === undefined || v === null) continue;
    const ids = Array.isArray(v) ? v : [v];
    if (!ids.every(isId)) throw new TokenizerError(`${file}: eos_token_id must be a token id or a list of them, got ${kindOf(v)}`);
    return ids;
  }
  return [];
}

/**
 * A checkpoint file's text, or null where its folder has no such entry. An entry that cannot be read is a
 * TokenizerError naming it: a link to nothing (a Hub cache whose blob never arrived), a folder or no permission was
 * taken as no file (the byte tokenizer ran instead of tokenizer.json; no chat template, no end ids), and a FIFO's
 * read blocked the process for good (opened here without blocking, then only a regular file is read).
 */
async function readCheckpointText(file: string): Promise<string | null> {
  const fs = await import('node:fs/promises');
  const fail = async (why: string): Promise<never> => { throw new TokenizerError(`${file} cannot be read: ${why}`); };
  let fh;
  try {
    fh = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const entry = await fs.lstat(file).catch(() => null);
    if (!entry) return null;
    return fail(openErrorWhy(e, entry.isSymbolicLink() ? await fs.readlink(file).catch(() => null) : null));
  }
  try {
    const kind = notAFile(await fh.stat());
    if (kind) return await fail(`${kind}, not a file`);
    return await fh.readFile('utf8').catch((e: unknown) => fail((e as Error).message));
  } finally {
    await fh.close();
  }
}

/**
 * The tokenizer next to the weights: tokenizer.json (+ tokenizer_config.json) in the directory, or the
 * file itself when given a .json path; byte-level when there is none.
 */
export async function loadTokenizer(dirOrFile: string, opts: HfTokenizerOptions = {}): Promise<Tokenizer> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let dir = dirOrFile, file = path.join(dirOrFile, 'tokenizer.json');
  const st = await fs.stat(dirOrFile).catch(() => null);
  if (!st) throw new TokenizerError(`tokenizer: ${dirOrFile} does not exist`);
  if (st.isFile()) {
    dir = path.dirname(dirOrFile);
    file = dirOrFile.endsWith('.json') ? dirOrFile : path.join(dir, 'tokenizer.json');
  }
  const text = await readCheckpointText(file);
  if (text === null) return new ByteTokenizer();
  const parse = (s: string, what: string): Record<string, unknown> => {
    try {
      return JSON.parse(s) as Record<string, unknown>;
    } catch (e) {
      throw new TokenizerError(`${what}: not valid JSON (${(e as Error).message})`);
    }
  };
  const json = parse(text, file);
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfgText = await readCheckpointText(cfgFile);
  const cfg = cfgText === null ? {} : parse(cfgText, cfgFile);
  // Else the library's "Config must be a valid object" came out as tokenizer.json's fault.
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new TokenizerError(`${cfgFile}: must be a JSON object, got ${kindOf(cfg)}`);
  // Checkpoints saved by recent transformers keep the chat template in its own file, which wins over the config's.
  // Only a missing file is no template: one that cannot be read (EACCES, EISDIR, a link to nothing) must not give the
  // config's instead.
  const jinja = await readCheckpointText(path.join(dir, 'chat_template.jinja'));
  return new HfTokenizer(json, jinja === null ? cfg : { ...cfg, chat_template: jinja }, { endIds: await checkpointEndIds(dir), ...opts });
}

/**
 * A model whose vocabulary is larger than its tokenizer's (random-weight presets with the byte tokenizer)
 * can emit ids the tokenizer cannot spell: show those as ⟦id⟧ instead of failing mid-stream. The sampler's
 * mark for non-finite logits (NONFINITE_ID) is no token: it fails the stream with a NonFiniteError.
 */
export function tolerantTokenizer(t: Tokenizer, modelVocab: number): Tokenizer {
  // Ids the tokenizer cannot spell, shown in place; others (out of the model's vocabulary) fail in the tokenizer.
  const known = (id: number) => (id >= 0 && id < t.vocabSize) || (modelVocab <= t.vocabSize && id !== NONFINITE_ID);
  const spell = (id: number, n: number): string => {
    if (id === NONFINITE_ID) {
      throw new NonFiniteError(`the logits that chose token ${n} of a sequence are not finite (NaN or ±Inf): ` +
        'the activations overflowed (an f16 model: try --dtype f32) or the weights are broken');
    }
    return `⟦${id}⟧`;
  };
  return {
    vocabSize: t.vocabSize, eosId: t.eosId, endIds: t.endIds, bosId: t.bosId, chatTemplate: t.chatTemplate, specialTokens: t.specialTokens,
    encode: (text) => t.encode(text),
    ...(t.encodePlain ? { encodePlain: (text: string) => t.encodePlain!(text) } : {}),
    decode(ids) {
      let out = '', run: number[] = [];
      ids.forEach((id, n) => {
        if (known(id)) { run.push(id); return; }
        out += (run.length ? t.decode(run) : '') + spell(id, n);
        run = [];
      });
      return out + (run.length ? t.decode(run) : '');
    },
    decodeStream(context = []) {
      const inner = t.decodeStream(context.filter(known));
      let n = 0;
      return {
        push: (id) => { const i = n++; return known(id) ? inner.push(id) : `${inner.flush()}${spell(id, i)}`; },
        flush: () => inner.flush(),
      };
    },
  };
}
