// The request body of POST /v1/completions, checked by hand so that every refusal names the parameter
// (OpenAI's error shape: {error: {message, type, param, code}}), and the errors the server answers with.
import { FapoolError } from '../gpu/errors.js';
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
/** max_tokens when a request gives none (OpenAI's default), capped by what the context has left. */
export const DEFAULT_MAX_TOKENS = 16;

export interface CompletionParams {
  /** One prompt per choice: text or token ids. */
  prompts: (string | number[])[];
  maxTokens?: number;
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

// OpenAI parameters this server takes only at their neutral value (so clients that always send them work).
const NEUTRAL: Record<string, (v: unknown) => boolean> = {
  n: (v) => v === 1,
  best_of: (v) => v === 1,
  echo: (v) => v === false,
  // Not 0: OpenAI's completions return the chosen tokens' log-probabilities at logprobs 0; this server has none.
  logprobs: (v) => v === false,
  suffix: (v) => v === '',
  presence_penalty: (v) => v === 0,
  frequency_penalty: (v) => v === 0,
  logit_bias: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0,
};
const KNOWN = new Set(['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop', 'stream',
  'stream_options', 'return_token_ids', 'user', ...Object.keys(NEUTRAL)]);

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

/** Checks a parsed JSON body; token ids must be below `vocab`. Lengths against the context are checked later. */
export function parseCompletionRequest(body: unknown, vocab: number): CompletionParams {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, `the request body must be a JSON object, got ${typeName(body)}`, 'invalid_request_error', null, 'invalid_body');
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!KNOWN.has(k)) throw bad(k, `unrecognized request argument '${k}'`, 'unknown_parameter');
    const neutral = NEUTRAL[k];
    if (neutral && b[k] !== null && !neutral(b[k])) throw bad(k, `'${k}' is not supported (only ${k === 'logit_bias' ? '{}' : JSON.stringify(neutralValue(k))} or null)`, 'unsupported_value');
  }
  if (b.model !== undefined && b.model !== null && typeof b.model !== 'string') throw bad('model', `'model' must be a string, got ${typeName(b.model)}`, 'invalid_type');
  let maxTokens: number | undefined;
  if (b.max_tokens !== undefined && b.max_tokens !== null) {
    if (!isInt(b.max_tokens)) throw bad('max_tokens', `'max_tokens' must be an integer, got ${typeName(b.max_tokens) === 'number' ? b.max_tokens : typeName(b.max_tokens)}`, 'invalid_type');
    if (b.max_tokens < 1) throw bad('max_tokens', `'max_tokens' must be >= 1, got ${b.max_tokens}`);
    maxTokens = b.max_tokens;
  }
  let topK = 0;
  if (b.top_k !== undefined && b.top_k !== null) {
    if (!isInt(b.top_k)) throw bad('top_k', `'top_k' must be an integer, got ${typeName(b.top_k) === 'number' ? b.top_k : typeName(b.top_k)}`, 'invalid_type');
    if (b.top_k < -1) throw bad('top_k', `'top_k' must be >= 0 (0 or -1 = off), got ${b.top_k}`);
    topK = Math.max(0, b.top_k);
  }
  let seed: number | undefined;
  if (b.seed !== undefined && b.seed !== null) {
    // Any integer, past 2⁵³ too (a 64-bit seed parses to an integral double; its remainder is exact).
    if (typeof b.seed !== 'number' || !Number.isInteger(b.seed)) throw bad('seed', `'seed' must be an integer, got ${typeName(b.seed) === 'number' ? b.seed : typeName(b.seed)}`, 'invalid_type');
    // OpenAI takes any 64-bit integer; the sampler's seed is 32 bits: the seed modulo 2³² (the same seed, the same draws).
    seed = ((b.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
  }
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
  return {
    prompts: prompts(b.prompt, vocab), maxTokens,
    temperature: number(b, 'temperature', 0, 2, 1), topP: number(b, 'top_p', 0, 1, 1), topK, seed,
    stop: stops(b.stop), stream, includeUsage, returnTokenIds: flag('return_token_ids'),
    model: (b.model as string | null | undefined) ?? undefined,
  };
}

function neutralValue(k: string): unknown {
  return { n: 1, best_of: 1, echo: false, logprobs: false, suffix: '', presence_penalty: 0, frequency_penalty: 0 }[k];
}

/**
 * max_tokens after the prompt's length is known: a given value must fit the context with the prompt; a missing
 * one is OpenAI's 16, capped by what the context has left.
 */
export function fitContext(promptTokens: number, maxTokens: number | undefined, maxSeq: number, param: string): number {
  const left = maxSeq - promptTokens;
  if (left < 1) {
    throw new ApiError(400, `this model's maximum context length is ${maxSeq} tokens; ${param} has ${promptTokens} tokens, leaving no room for a completion`,
      'invalid_request_error', param, 'context_length_exceeded');
  }
  if (maxTokens === undefined) return Math.min(DEFAULT_MAX_TOKENS, left);
  if (maxTokens > left) {
    throw new ApiError(400, `this model's maximum context length is ${maxSeq} tokens; you requested ${promptTokens + maxTokens} (${promptTokens} in ${param}, ${maxTokens} in max_tokens)`,
      'invalid_request_error', 'max_tokens', 'context_length_exceeded');
  }
  return maxTokens;
}
