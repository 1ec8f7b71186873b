// The request bodies of POST /v1/completions and /v1/chat/completions, checked by hand so that every refusal names the parameter
// (OpenAI's error shape: {error: {message, type, param, code}}), and the errors the server answers with.
import { FapoolError } from '../gpu/errors.js';
import type { ChatMessage } from '../model/chat-template.js';
import { LONE_SURROGATE } from '../orchestrator/engine.js';

/** An answer other than 200: status, and the OpenAI-style error body. */
export class ApiError extends FapoolError {
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error',
    readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const bad = (param: string, message: string, code: string | null = 'invalid_value') => new ApiError(400, message, 'invalid_request_error', param, code);

/** Most prompts in one request (each is its own choice). */
export const MAX_PROMPTS = 64;
/** Most stop strings (OpenAI's limit). */
export const MAX_STOPS = 4;
/** max_tokens when a completions request gives none (OpenAI's default), capped by what the context has left. */
export const DEFAULT_MAX_TOKENS = 16;

/** What both routes take besides their prompt: length, sampling, stops, streaming. */
export interface GenerationParams {
  maxTokens?: number;
  /** The parameter that gave maxTokens (chat's max_completion_tokens or max_tokens): errors name it. */
  maxTokensParam: string;
  /** max_tokens when none is given, capped by what the context has left: completions' 16, chat's all of it (OpenAI's defaults). */
  defaultMaxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  /** Given seed; a sampled request without one gets a fresh seed per request. */
  seed?: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  returnTokenIds: boolean;
  model?: string;
}

export interface CompletionParams extends GenerationParams {
  /** One prompt per choice: text or token ids. */
  prompts: (string | number[])[];
}

export interface ChatParams extends GenerationParams {
  messages: ChatMessage[];
}

/** ok: the values that change nothing here; shown: them, in the refusal; why: what the server lacks. */
type Neutral = Record<string, { ok: (v: unknown) => boolean; shown: string; why?: string }>;
const emptyObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

// OpenAI parameters this server takes only at their neutral value (so clients that always send them work).
const NEUTRAL: Neutral = {
  n: { ok: (v) => v === 1, shown: '1' },
  best_of: { ok: (v) => v === 1, shown: '1' },
  echo: { ok: (v) => v === false, shown: 'false' },
  // Not 0: OpenAI's completions return the chosen tokens' log-probabilities at logprobs 0; this server has none.
  logprobs: { ok: (v) => v === false, shown: 'false' },
  suffix: { ok: (v) => v === '', shown: '""' },
  presence_penalty: { ok: (v) => v === 0, shown: '0' },
  frequency_penalty: { ok: (v) => v === 0, shown: '0' },
  logit_bias: { ok: emptyObject, shown: '{}' },
};
// Both routes' own parameters.
const COMMON = ['model', 'max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop', 'stream', 'stream_options', 'return_token_ids', 'user'];
const KNOWN = new Set([...COMMON, 'prompt', ...Object.keys(NEUTRAL)]);
const NO_TOOLS = 'this server has no tool calling';
// Chat's: n one choice as the completions route has (a list of prompts has no chat equivalent). Tool and format
// parameters at what changes nothing without tools (clients and frameworks send them so); anything else is refused, not ignored.
const CHAT_NEUTRAL: Neutral = {
  n: NEUTRAL.n!, logprobs: NEUTRAL.logprobs!, presence_penalty: NEUTRAL.presence_penalty!, frequency_penalty: NEUTRAL.frequency_penalty!,
  logit_bias: NEUTRAL.logit_bias!,
  top_logprobs: { ok: (v) => v === 0, shown: '0', why: 'this server returns no log-probabilities' },
  response_format: {
    ok: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && (v as { type?: unknown }).type === 'text',
    shown: '{"type": "text"}', why: 'this server cannot hold its output to JSON',
  },
  // An empty list is no tools: the template gets none, as without it.
  tools: { ok: (v) => Array.isArray(v) && v.length === 0, shown: '[]', why: NO_TOOLS },
  tool_choice: { ok: (v) => v === 'none' || v === 'auto', shown: '"none", "auto"', why: NO_TOOLS },
  parallel_tool_calls: { ok: (v) => typeof v === 'boolean', shown: 'true, false', why: NO_TOOLS },
};
const CHAT_KNOWN = new Set([...COMMON, 'messages', 'max_completion_tokens', ...Object.keys(CHAT_NEUTRAL)]);
/** Most messages in a conversation (a body of 32 MiB holds millions of empty ones, each a template loop turn). */
export const MAX_MESSAGES = 4096;

function isInt(v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v); }
function typeName(v: unknown): string { return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v; }

function number(body: Record<string, unknown>, key: string, lo: number, hi: number, dflt: number, loOpen = false): number {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, `'${key}' must be a finite number, got ${typeof v === 'number' ? String(v) : typeName(v)}`, 'invalid_type');
  if (v > hi || (loOpen ? v <= lo : v < lo)) throw bad(key, `'${key}' must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
  return v;
}

function prompts(v: unknown, vocab: number): (string | number[])[] {
  const tokenIds = (a: unknown[], param: string): number[] => {
    if (a.length === 0) throw bad(param, `'${param}' is empty`);
    for (const [i, t] of a.entries()) {
      if (!isInt(t)) throw bad(param, `'${param}' must hold integer token ids; item ${i} is ${typeName(t)}`, 'invalid_type');
      if (t < 0 || t >= vocab) throw bad(param, `'${param}': token ${t} (item ${i}) is outside the vocabulary [0, ${vocab})`);
    }
    return a as number[];
  };
  const one = (p: unknown, param: string): string | number[] => {
    if (typeof p === 'string') {
      if (p.length === 0) throw bad('prompt', `'${param}' is an empty string`);
      wellFormed(p, param, 'prompt');
      return p;
    }
    if (Array.isArray(p)) return tokenIds(p, param);
    throw bad('prompt', `'${param}' must be a string or an array of token ids, got ${typeName(p)}`, 'invalid_type');
  };
  if (v === undefined || v === null) throw bad('prompt', "'prompt' is required", 'missing_required_parameter');
  if (typeof v === 'string') return [one(v, 'prompt')];
  if (!Array.isArray(v)) throw bad('prompt', `'prompt' must be a string, an array of token ids, or an array of either, got ${typeName(v)}`, 'invalid_type');
  if (v.length === 0) throw bad('prompt', "'prompt' is an empty array");
  // A list of prompts (strings or id arrays) or one prompt of ids.
  if (v.every((p) => typeof p === 'string' || Array.isArray(p))) {
    if (v.length > MAX_PROMPTS) throw bad('prompt', `at most ${MAX_PROMPTS} prompts per request, got ${v.length}`);
    return v.map((p, i) => one(p, `prompt[${i}]`));
  }
  return [tokenIds(v, 'prompt')];
}

/**
 * Text as given, refused where it holds a lone UTF-16 surrogate (valid JSON: "\ud800"): it was encoded as U+FFFD, so
 * another prompt ran without a word (transformers' tokenizers refuse such text too). `param`: the error's param.
 */
function wellFormed(s: string, name: string, param = name): string {
  if (LONE_SURROGATE.test(s)) throw bad(param, `'${name}' holds a lone UTF-16 surrogate: text must be well-formed (a surrogate stands only in a pair)`);
  return s;
}

function stops(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw bad('stop', `'stop' must be a string or an array of strings, got ${typeName(v)}`, 'invalid_type');
  if (list.length > MAX_STOPS) throw bad('stop', `at most ${MAX_STOPS} stop strings, got ${list.length}`);
  return list.map((s, i) => {
    const name = typeof v === 'string' ? 'stop' : `stop[${i}]`;
    if (typeof s !== 'string') throw bad('stop', `'${name}' must be a string, got ${typeName(s)}`, 'invalid_type');
    if (s.length === 0) throw bad('stop', `'${name}' is an empty string`);
    if (LONE_SURROGATE.test(s)) throw bad('stop', `'${name}' holds a lone UTF-16 surrogate: a stop string must be well-formed text`);
    return s;
  });
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, `the request body must be a JSON object, got ${typeName(body)}`, 'invalid_request_error', null, 'invalid_body');
  }
  return body as Record<string, unknown>;
}

/**
 * An integer of any size, past 2⁵³ too (a 64-bit one such as 18446744073709551616 parses to an integral double), or
 * undefined when absent or null.
 */
function anyInt(b: Record<string, unknown>, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(key, `'${key}' must be an integer, got ${typeName(v) === 'number' ? v : typeName(v)}`, 'invalid_type');
  return v;
}

/** An integer >= 1 of any size (max_tokens 2^64 was "must be an integer"; past the context it is context_length_exceeded). */
function positiveInt(b: Record<string, unknown>, key: string): number | undefined {
  const v = anyInt(b, key);
  if (v !== undefined && v < 1) throw bad(key, `'${key}' must be >= 1, got ${v}`);
  return v;
}

/**
 * The parameters both routes share, after every key of the body is checked against `known` and `neutral`. `own`, the
 * route's own, is checked between the shape checks and the value ranges: where /v1/completions checked its prompt
 * (a body of several bad fields names the same one first: {"temperature": 5} says the prompt is missing).
 */
function generationParams<T extends object>(b: Record<string, unknown>, known: ReadonlySet<string>, neutral: Neutral, own: () => T): GenerationParams & T {
  for (const k of Object.keys(b)) {
    if (!known.has(k)) throw bad(k, `unrecognized request argument '${k}'`, 'unknown_parameter');
    const n = neutral[k];
    if (n && b[k] !== null && !n.ok(b[k])) throw bad(k, `'${k}' is not supported (only ${n.shown} or null)${n.why ? `: ${n.why}` : ''}`, 'unsupported_value');
  }
  if (b.model !== undefined && b.model !== null && typeof b.model !== 'string') throw bad('model', `'model' must be a string, got ${typeName(b.model)}`, 'invalid_type');
  const maxTokens = positiveInt(b, 'max_tokens');
  let topK = 0;
  const k = anyInt(b, 'top_k');
  if (k !== undefined) {
    // A top_k at or above the vocabulary keeps every token, as 0 does (2^64 was a 400 saying "must be an integer").
    if (k < -1) throw bad('top_k', `'top_k' must be >= 0 (0 or -1 = off), got ${k}`);
    topK = Math.max(0, k);
  }
  let seed: number | undefined;
  const sd = anyInt(b, 'seed');
  // OpenAI takes any 64-bit integer; the sampler's seed is 32 bits: the seed modulo 2³² (the same seed, the same draws).
  if (sd !== undefined) seed = ((sd % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const flag = (key: string): boolean => {
    const v = b[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw bad(key, `'${key}' must be a boolean, got ${typeName(v)}`, 'invalid_type');
    return v;
  };
  let includeUsage = false;
  const so = b.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw bad('stream_options', `'stream_options' must be an object, got ${typeName(so)}`, 'invalid_type');
    for (const [k, v] of Object.entries(so)) {
      if (k !== 'include_usage') throw bad(`stream_options.${k}`, `unrecognized argument 'stream_options.${k}'`, 'unknown_parameter');
      if (typeof v !== 'boolean') throw bad('stream_options.include_usage', `'stream_options.include_usage' must be a boolean, got ${typeName(v)}`, 'invalid_type');
      includeUsage = v;
    }
  }
  if (b.user !== undefined && b.user !== null && typeof b.user !== 'string') throw bad('user', `'user' must be a string, got ${typeName(b.user)}`, 'invalid_type');
  const stream = flag('stream');
  if (so !== undefined && so !== null && !stream) throw bad('stream_options', "'stream_options' is only allowed with 'stream': true");
  const mine = own();
  return {
    ...mine, maxTokens, maxTokensParam: 'max_tokens', defaultMaxTokens: DEFAULT_MAX_TOKENS,
    temperature: number(b, 'temperature', 0, 2, 1), topP: number(b, 'top_p', 0, 1, 1), topK, seed,
    stop: stops(b.stop), stream, includeUsage, returnTokenIds: flag('return_token_ids'),
    model: (b.model as string | null | undefined) ?? undefined,
  };
}

/** Checks a parsed JSON body; token ids must be below `vocab`. Lengths against the context are checked later. */
export function parseCompletionRequest(body: unknown, vocab: number): CompletionParams {
  const b = objectBody(body);
  return generationParams(b, KNOWN, NEUTRAL, () => ({ prompts: prompts(b.prompt, vocab) }));
}

/** The roles taken, as the template gets them: developer (current OpenAI clients' system) is system, as vLLM has it. */
const ROLES: ReadonlyMap<string, ChatMessage['role']> = new Map([['system', 'system'], ['developer', 'system'], ['user', 'user'], ['assistant', 'assistant']]);

/**
 * A message's content: a string, or text parts joined by newlines (as vLLM gives text-only templates their content).
 * An assistant's may be null (OpenAI's own answers carry it so): empty, as vLLM renders it.
 */
function content(v: unknown, at: string, role: ChatMessage['role']): string {
  if (typeof v === 'string') return wellFormed(v, `${at}.content`);
  if (v === null && role === 'assistant') return '';
  if (!Array.isArray(v)) throw bad(`${at}.content`, `'${at}.content' must be a string or an array of text parts, got ${typeName(v)}`, v === undefined ? 'missing_required_parameter' : 'invalid_type');
  return v.map((part, j) => {
    const where = `${at}.content[${j}]`;
    if (typeof part !== 'object' || part === null || Array.isArray(part)) throw bad(where, `'${where}' must be a content part object, got ${typeName(part)}`, 'invalid_type');
    const { type, text, ...rest } = part as Record<string, unknown>;
    if (type !== 'text') {
      throw bad(where, `'${where}' is a part of type ${typeof type === 'string' ? `'${type}'` : typeName(type)}: this server takes only {"type": "text", "text": ...} parts (the model reads text only)`, 'unsupported_value');
    }
    if (typeof text !== 'string') throw bad(where, `'${where}.text' must be a string, got ${typeName(text)}`, 'invalid_type');
    wellFormed(text, `${where}.text`, where);
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw bad(where, `unrecognized argument '${where}.${extra}'`, 'unknown_parameter');
    return text;
  }).join('\n');
}

function messages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) throw bad('messages', "'messages' is required", 'missing_required_parameter');
  if (!Array.isArray(v)) throw bad('messages', `'messages' must be an array of messages, got ${typeName(v)}`, 'invalid_type');
  if (v.length === 0) throw bad('messages', "'messages' is an empty array");
  if (v.length > MAX_MESSAGES) throw bad('messages', `at most ${MAX_MESSAGES} messages per request, got ${v.length}`);
  return v.map((m, i) => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(at, `'${at}' must be a message object, got ${typeName(m)}`, 'invalid_type');
    const { role, content: c, name, ...rest } = m as Record<string, unknown>;
    // An assistant message copied back from OpenAI's or vLLM's answers carries fields that say nothing happened
    // (refusal, function_call, audio null; annotations, tool_calls empty): a history sent back holds them.
    if (role === 'assistant') {
      for (const k of ['refusal', 'function_call', 'audio', 'annotations', 'tool_calls']) {
        const x = rest[k];
        if (x === null || (Array.isArray(x) && x.length === 0 && (k === 'annotations' || k === 'tool_calls'))) delete rest[k];
      }
    }
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) {
      const why = ['tool_calls', 'function_call', 'tool_call_id'].includes(extra) || role === 'tool' ? 'this server has no tools or function calls' : 'not a message field this server takes';
      throw bad(`${at}.${extra}`, `unrecognized argument '${at}.${extra}' (${why})`, 'unknown_parameter');
    }
    const as = typeof role === 'string' ? ROLES.get(role) : undefined;
    if (as === undefined) {
      throw bad(`${at}.role`, `'${at}.role' must be 'system', 'developer', 'user' or 'assistant', got ${typeof role === 'string' ? `'${role}'` : typeName(role)}`,
        role === undefined ? 'missing_required_parameter' : 'invalid_value');
    }
    if (name !== undefined && name !== null && typeof name !== 'string') throw bad(`${at}.name`, `'${at}.name' must be a string, got ${typeName(name)}`, 'invalid_type');
    return { role: as, content: content(c, at, as), ...(typeof name === 'string' ? { name: wellFormed(name, `${at}.name`) } : {}) };
  });
}

/** A chat request's body: messages (checked here; the template checks their order), and the shared parameters. */
export function parseChatRequest(body: unknown): ChatParams {
  const b = objectBody(body);
  const g = generationParams(b, CHAT_KNOWN, CHAT_NEUTRAL, () => ({}));
  // max_completion_tokens is OpenAI's newer name; both given must agree (which one was meant is not ours to guess).
  const mct = positiveInt(b, 'max_completion_tokens');
  if (mct !== undefined && g.maxTokens !== undefined && mct !== g.maxTokens) {
    throw bad('max_completion_tokens', `'max_completion_tokens' (${mct}) and 'max_tokens' (${g.maxTokens}) differ: send one`);
  }
  return {
    ...g, ...(mct !== undefined ? { maxTokens: mct, maxTokensParam: 'max_completion_tokens' } : {}),
    // A chat answer runs to its end of turn (or the context's): 16 tokens cut most answers short.
    defaultMaxTokens: Infinity, messages: messages(b.messages),
  };
}

/**
 * max_tokens after the prompt's length is known: a given value must fit the context with the prompt; a missing
 * one is `dflt` (OpenAI's 16 for completions), capped by what the context has left.
 */
export function fitContext(promptTokens: number, maxTokens: number | undefined, maxSeq: number, param: string, maxParam = 'max_tokens',
  dflt = DEFAULT_MAX_TOKENS): number {
  const left = maxSeq - promptTokens;
  if (left < 1) {
    throw new ApiError(400, `this model's maximum context length is ${maxSeq} tokens; ${param} has ${promptTokens} tokens, leaving no room for a completion`,
      'invalid_request_error', param, 'context_length_exceeded');
  }
  if (maxTokens === undefined) return Math.min(dflt, left);
  if (maxTokens > left) {
    throw new ApiError(400, `this model's maximum context length is ${maxSeq} tokens; you requested ${promptTokens + maxTokens} (${promptTokens} in ${param}, ${maxTokens} in ${maxParam})`,
      'invalid_request_error', maxParam, 'context_length_exceeded');
  }
  return maxTokens;
}
