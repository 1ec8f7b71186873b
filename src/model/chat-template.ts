// Chat templates: a checkpoint's Jinja template (tokenizer_config.json's chat_template, or chat_template.jinja) turns a
// conversation into the prompt text the model was tuned on, as transformers' apply_chat_template does. Rendered by
// @huggingface/jinja (transformers.js's engine: trim_blocks and lstrip_blocks as transformers sets them). The text
// holds its own special tokens (BOS, turn markers): it is encoded without adding more.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { FapoolError } from '../gpu/errors.js';
import type { Tokenizer } from './tokenizer.js';

/** A template that cannot be used: malformed in the checkpoint's files, or one this engine cannot render (found at start). */
export class ChatTemplateError extends FapoolError {}

/** A conversation the template refused: its own raise_exception(msg), the client's to fix. */
export class ChatRenderError extends FapoolError {}

/** Any other failure while rendering (a filter or feature @huggingface/jinja lacks): the server's, not the client's. */
export class ChatTemplateUnsupportedError extends FapoolError {}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
  name?: string;
}

/**
 * The template's source: a string, or from a list of {name, template} the one named "default" (transformers' choice
 * when the caller names none). null where there is none, or where a list has no default (`why` says so).
 */
export function chatTemplateSource(raw: unknown): { source: string } | { source: null; why: string } {
  const none = 'this model has no chat template (tokenizer_config.json chat_template, or chat_template.jinja); use /v1/completions';
  if (raw === undefined || raw === null) return { source: null, why: none };
  if (typeof raw === 'string') return { source: raw };
  if (Array.isArray(raw)) {
    const named = raw.map((t, i) => {
      const o = t as { name?: unknown; template?: unknown } | null;
      if (typeof o !== 'object' || o === null || typeof o.name !== 'string' || typeof o.template !== 'string') {
        throw new ChatTemplateError(`chat_template[${i}] must be {"name": string, "template": string}`);
      }
      return { name: o.name, template: o.template };
    });
    const dflt = named.find((t) => t.name === 'default');
    if (dflt) return { source: dflt.template };
    return { source: null, why: `this model's chat templates (${named.map((t) => t.name).join(', ')}) include no "default" one; use /v1/completions` };
  }
  throw new ChatTemplateError(`chat_template must be a string or a list of {"name", "template"}, got ${typeof raw}`);
}

/** Thrown by the template's raise_exception: told apart from the library's own errors by its class. */
class Refusal extends Error {}

/**
 * Most steps (expressions evaluated, loop turns) one render may take. A checkpoint's template is code: one that loops
 * for ever (or 10¹² times) held the event loop, every stream and /health with it, for good. Llama 3's template takes
 * about 19 a message, 78 000 for MAX_MESSAGES; a step is about a microsecond on a slow CPU.
 */
export const RENDER_STEPS = 1_000_000;

/** A render past its budget: the template's, not the client's (a 500, logged). */
class OverBudget extends Error {}

/** Python's range(stop) / range(start, stop[, step]), as the library's global; no longer than `most` (Python's is lazy). */
function range(most: number, start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  // Integers only, as Python's: past 2^53 `i += 1` stopped moving and the loop pushed until the process died.
  for (const v of [start, stop, step]) if (!Number.isSafeInteger(v)) throw new Error(`range() takes integers of at most 2^53, got ${String(v)}`);
  if (step === 0) throw new Error('range() step must not be zero');
  // Counted before it is made: range(10**12) was an array of 10¹² numbers, the process out of memory.
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > most) throw new OverBudget(`range(${start}, ${stop}, ${step}) is longer than the render's budget of ${most} items`);
  return Array.from({ length: n }, (_, k) => start + k * step);
}
/** The library's own strftime_now (%Y %m %d %b %B %H %M %%), reached through a template of its own. */
const STRFTIME_NOW = new Template('{{ strftime_now(format) }}');

/**
 * Most items a list or range may hold in one render: a list doubled each step (`l + l`) outgrew memory in 30 steps, and
 * a long one made each `join`, `sort` or `in` of it a long step.
 */
export const RENDER_ITEMS = 100_000;
/** Most milliseconds one render may take: steps bound the count, not what one step costs (a scan of a long string). */
export const RENDER_MS = 2_000;

/** What one render may spend: steps, list items, text (a few times its input), time. */
export interface RenderBudget { steps: number; items: number; chars: number; ms: number }

/** The library's interpreter, its steps counted: past `budget` it throws OverBudget. */
function boundedInterpreter(env: Environment, budget: RenderBudget): Interpreter {
  const it = new Interpreter(env);
  let steps = 0;
  const deadline = performance.now() + budget.ms;
  const step = () => {
    if (++steps > budget.steps) throw new OverBudget(`the chat template took more than ${budget.steps} steps (a loop that does not end?)`);
    if (performance.now() > deadline) throw new OverBudget(`the chat template took more than ${budget.ms} ms`);
  };
  // Wrapped on the instance: the library calls both through `this`. bindLoopVariable (private in the typings) runs once
  // a loop turn, which counts too: a loop whose body is empty evaluates nothing per turn.
  const self = it as unknown as { evaluate: (...args: unknown[]) => { type: string; value: unknown }; bindLoopVariable: (...args: unknown[]) => unknown };
  const evaluate = self.evaluate.bind(it), bind = self.bindLoopVariable.bind(it);
  self.evaluate = (...args) => {
    step();
    const v = evaluate(...args);
    // Every value capped as it is made, so no later step works on an unbounded one: a string doubled 28 times was 268M
    // characters, and each `in` of it a 0.15 s step; lists (and tuples) likewise.
    if (Array.isArray(v.value) && v.value.length > budget.items) throw new OverBudget(`a list of ${v.value.length} items is longer than the render's budget of ${budget.items}`);
    if (typeof v.value === 'string' && v.value.length > budget.chars) throw new OverBudget(`a text of ${v.value.length} characters is longer than the render's budget of ${budget.chars}`);
    return v;
  };
  self.bindLoopVariable = (...args) => { step(); return bind(...args); };
  return it;
}

export class ChatTemplate {
  private readonly template: Template;

  /**
   * Parses `source` now: a template that does not parse fails here, not on a request. `steps`: the render's step budget
   * (RENDER_STEPS; lists and ranges get at most as many items).
   */
  constructor(readonly source: string, private readonly specialTokens: Readonly<Record<string, string | readonly string[]>> = {},
    private readonly steps = RENDER_STEPS) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`the chat template does not parse: ${errorText(e)}`);
    }
  }

  /**
   * The prompt text for `messages`, ending with the assistant's turn opened (add_generation_prompt). ChatRenderError
   * where the template refuses them (raise_exception), ChatTemplateUnsupportedError where it fails otherwise.
   */
  render(messages: readonly ChatMessage[]): string {
    let out: unknown;
    try {
      // Text: a few times the conversation's (a template repeats a message or two), at least 1 Mi characters.
      const input = messages.reduce((n, m) => n + m.content.length + (m.name?.length ?? 0), 0);
      const budget: RenderBudget = { steps: this.steps, items: Math.min(this.steps, RENDER_ITEMS), chars: Math.max(2 ** 20, 4 * input), ms: RENDER_MS };
      out = boundedInterpreter(this.environment(messages, budget.items), budget).run(this.template.parsed).value;
    } catch (e) {
      if (e instanceof Refusal) throw new ChatRenderError(e.message.trim() || 'the chat template refused the conversation');
      throw Object.assign(new ChatTemplateUnsupportedError(errorText(e)), { cause: e }); // the log shows where
    }
    if (typeof out !== 'string') throw new ChatTemplateUnsupportedError('the chat template rendered no text'); // the library's value for "nothing"
    return out;
  }

  /**
   * What Template.render declares (its globals are not exported; it refuses a raise_exception of ours: "Variable
   * already declared"), our raise_exception, and transformers' variables: tools and documents None (a template's
   * `tools is not none` is false, as there; undefined would make it true here), the special tokens.
   */
  private environment(messages: readonly ChatMessage[], items: number): Environment {
    const env = new Environment();
    const vars: Record<string, unknown> = {
      true: true, false: false, none: null, True: true, False: false, None: null,
      range: (start: number, stop?: number, step?: number) => range(items, start, stop, step),
      strftime_now: (format: string) => STRFTIME_NOW.render({ format }),
      raise_exception: (message?: unknown) => { throw new Refusal(message === undefined ? '' : String(message)); },
      ...this.specialTokens, messages, tools: null, documents: null, add_generation_prompt: true,
    };
    for (const [k, v] of Object.entries(vars)) env.set(k, v);
    return env;
  }
}

/** A thrown value's words. */
function errorText(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).trim() || String(e);
}

/** What a server renders chats with: the template, the tokenizer's plain encoder. */
export interface ChatPrompter {
  template: ChatTemplate;
  /** Encode rendered text without adding special tokens. */
  encode(text: string): number[];
}

/**
 * A tokenizer's chat template, parsed and rendered once on sample conversations (ChatTemplateError if it is malformed,
 * does not parse, or fails there otherwise than by refusing them), or why there is none.
 * The rendered text is encoded without the tokenizer's added BOS/EOS, as transformers does (add_special_tokens=False).
 */
export function chatPrompter(tok: Tokenizer | undefined): ChatPrompter | { why: string } {
  const found = chatTemplateSource(tok?.chatTemplate);
  if (found.source === null) return { why: found.why };
  const t = tok as Tokenizer; // the template came from it
  const template = new ChatTemplate(found.source, t.specialTokens);
  smokeRender(template);
  // A tokenizer without encodePlain adds no special tokens (the byte tokenizer): its encode() is plain already.
  return { template, encode: (text) => (t.encodePlain ? t.encodePlain(text) : t.encode(text)) };
}

/** Conversations every chat template is meant to take: one that fails on them otherwise than by refusing is unusable. */
const SMOKE: readonly (readonly ChatMessage[])[] = [
  [{ role: 'user', content: 'Hello' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }],
];

/** A feature the library lacks found at start (ChatTemplateError), not on a request; a refusal (Mistral's of a system role) is fine. */
function smokeRender(template: ChatTemplate): void {
  for (const messages of SMOKE) {
    try {
      template.render(messages);
    } catch (e) {
      if (e instanceof ChatRenderError) continue;
      throw new ChatTemplateError(`rendering a ${messages.map((m) => m.role).join(' + ')} conversation failed: ${(e as Error).message}`);
    }
  }
}
