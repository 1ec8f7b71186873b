// Chat templates: a checkpoint's Jinja template (tokenizer_config.json's chat_template, or chat_template.jinja) turns a
// conversation into the prompt text the model was tuned on, as transformers' apply_chat_template does. Rendered by
// @huggingface/jinja (transformers.js's engine: trim_blocks and lstrip_blocks as transformers sets them, and
// raise_exception). The text holds its own special tokens (BOS, turn markers): it is encoded without adding more.
import { Template } from '@huggingface/jinja';
import { FapoolError } from '../gpu/errors.js';
import type { Tokenizer } from './tokenizer.js';

/** A template that cannot be used: malformed in the checkpoint's files (found at load). */
export class ChatTemplateError extends FapoolError {}

/** A conversation the template refused (its raise_exception, or an error while rendering it). */
export class ChatRenderError extends FapoolError {}

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
  const none = 'this model has no chat template (tokenizer_config.json chat_template); use /v1/completions';
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
  throw new ChatTemplateError(`chat_template must be a string or a list of {"name", "template"}, got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
}

export class ChatTemplate {
  private readonly template: Template;

  /** Parses `source` now: a template that does not parse fails here, not on a request. */
  constructor(readonly source: string, private readonly specialTokens: Readonly<Record<string, string>> = {}) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`the chat template does not parse: ${(e as Error).message}`);
    }
  }

  /** The prompt text for `messages`, ending with the assistant's turn opened (add_generation_prompt). */
  render(messages: readonly ChatMessage[]): string {
    try {
      const out = this.template.render({ ...this.specialTokens, messages, add_generation_prompt: true });
      if (typeof out !== 'string') throw new Error('the template rendered no text'); // the library's value for "nothing"
      return out;
    } catch (e) {
      throw new ChatRenderError(templateMessage(e));
    }
  }
}

/** raise_exception(msg) throws an Error of msg: the template's own words. */
function templateMessage(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).trim() || 'the chat template failed';
}

/** What a server renders chats with: the template, the tokenizer's plain encoder. */
export interface ChatPrompter {
  template: ChatTemplate;
  /** Encode rendered text without adding special tokens. */
  encode(text: string): number[];
}

/**
 * A tokenizer's chat template, parsed (ChatTemplateError if it does not parse or is malformed), or why there is none.
 * The rendered text is encoded without the tokenizer's added BOS/EOS, as transformers does (add_special_tokens=False).
 */
export function chatPrompter(tok: Tokenizer | undefined): ChatPrompter | { why: string } {
  const found = chatTemplateSource(tok?.chatTemplate);
  if (found.source === null) return { why: found.why };
  const t = tok as Tokenizer; // the template came from it
  // A tokenizer without encodePlain adds no special tokens (the byte tokenizer): its encode() is plain already.
  return { template: new ChatTemplate(found.source, t.specialTokens), encode: (text) => (t.encodePlain ? t.encodePlain(text) : t.encode(text)) };
}
