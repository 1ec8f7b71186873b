// POST /v1/chat/completions (src/cli/serve-chat.ts, src/model/chat-template.ts) on lavapipe: the tiny preset's shape
// with random weights and a Llama-style SentencePiece tokenizer (byte fallback, a post-processor that adds <s>) whose
// tokenizer_config.json holds Mistral Instruct's chat template, which writes {{ bos_token }} itself. The prompt's ids
// must be the expected rendered text's with one BOS, the answer the engine's own greedy run on those ids, through the
// `openai` client (plain and streamed) and raw SSE; refusals are 400s that say why; a template this engine cannot
// render is the server's 500 (logged), and one that does not parse or fails at start a warning, the server serving on.
// Chat templates and their files (a list with "default", chat_template.jinja) unit-tested.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer, type ServedEngine } from '../src/cli/serve.js';
import { ApiError, MAX_MESSAGES, parseChatRequest } from '../src/cli/serve-schema.js';
import { ChatRenderError, ChatTemplate, ChatTemplateError, ChatTemplateUnsupportedError, chatPrompter, chatTemplateSource, RENDER_ITEMS } from '../src/model/chat-template.js';
import { presetConfig, type ModelConfig } from '../src/model/config.js';
import { writeRandomWeights } from '../src/model/random-weights.js';
import { HfTokenizer, loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import type { CompletionEvent, CompletionRequest, Engine } from '../src/orchestrator/engine.js';
import { spTokenizerJson } from './sp-tokenizer.js';

/** Mistral-7B-Instruct-v0.1's chat_template, as its tokenizer_config.json gives it. */
const MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
/** Meta-Llama-3-8B-Instruct's chat_template. */
const LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** A Llama/Mistral-style SentencePiece BPE (test/sp-tokenizer.ts) with pieces for Mistral's [INST] markers. */
const TOKENIZER = spTokenizerJson(['[', ']', 'I', 'N', 'S', 'T', '/', '▁['], [['▁', '[']]);
// Special tokens as transformers saves them: AddedToken objects ({content}), not plain strings.
const TOKENIZER_CONFIG = { bos_token: { content: '<s>', special: true }, eos_token: { content: '</s>', special: true }, chat_template: MISTRAL };

const tmp = mkdtempSync(join(tmpdir(), 'fapool-chat-'));
let server: RunningServer;
let client: OpenAI;
/** The tokenizer the server loaded, as a user's transformers would: encode() adds <s>. */
let tok: HfTokenizer;

beforeAll(async () => {
  const dir = join(tmp, 'model');
  mkdirSync(dir);
  tok = new HfTokenizer(TOKENIZER, TOKENIZER_CONFIG);
  const cfg: ModelConfig = { ...presetConfig('tiny'), name: 'tiny-chat', vocab: tok.vocabSize };
  await writeRandomWeights(join(dir, 'model.safetensors'), cfg, { seed: 5, dtype: 'f32' });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(TOKENIZER));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG));
  server = await startServer({ engineOptions: { model: dir, dtype: 'f32' }, host: '127.0.0.1', port: 0, log: () => {} });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await server?.close(0);
  rmSync(tmp, { recursive: true, force: true });
});

const CONVERSATION = [
  { role: 'user' as const, content: 'hello world' },
  { role: 'assistant' as const, content: 'hello' },
  { role: 'user' as const, content: [{ type: 'text' as const, text: 'wow' }, { type: 'text' as const, text: 'hell' }] },
];
/** What Mistral's template makes of CONVERSATION (text parts joined by a newline), written out by hand. */
const RENDERED = '<s>[INST] hello world [/INST]hello</s> [INST] wow\nhell [/INST]';
/** Its ids as transformers gets them: the text after the template's <s>, encoded with the BOS the tokenizer adds. */
const expectedIds = () => tok.encode(RENDERED.slice('<s>'.length));

/** The engine's own greedy run on `ids` (no server): tokens and text. */
async function reference(ids: number[], maxTokens: number): Promise<{ tokens: number[]; text: string }> {
  const done = await (server.engine as Engine).run({ prompts: [ids], maxNewTokens: maxTokens });
  return { tokens: done.result.tokens[0]!, text: done.texts[0]! };
}

async function chat(body: unknown): Promise<{ status: number; json: { error: { message: string; param: string | null; code: string } } }> {
  const r = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() as never };
}

describe('POST /v1/chat/completions (tiny shape, Llama-style tokenizer, Mistral template)', () => {
  it('the expected ids hold one BOS, and the rendered text encoded plainly is them (the template\'s <s> is the special token)', () => {
    const want = expectedIds();
    expect(want[0]).toBe(1);
    expect(want[1]).not.toBe(1);
    expect(want.filter((t) => t === 1)).toHaveLength(1);
    expect(tok.encodePlain(RENDERED)).toEqual(want);
    expect(tok.encode(RENDERED).slice(0, 2)).toEqual([1, 1]); // what encoding it with special tokens gives: two
  });

  it('non-streaming through the openai client: the template\'s prompt, one BOS, the engine\'s greedy tokens, usage, metrics', async () => {
    const want = expectedIds();
    const ref = await reference(want, 10);
    const res = await client.chat.completions.create({
      model: 'tiny-chat', messages: CONVERSATION, max_completion_tokens: 10, temperature: 0, return_token_ids: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const raw = res as unknown as { prompt_token_ids: number[]; choices: { token_ids: number[]; metrics: Record<string, unknown> }[] };
    expect(raw.prompt_token_ids).toEqual(want);
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.choices).toHaveLength(1);
    const c = res.choices[0]!;
    expect(c.message).toEqual({ role: 'assistant', content: ref.text });
    expect(raw.choices[0]!.token_ids).toEqual(ref.tokens);
    expect(c.finish_reason).toBe(ref.tokens.length === 10 ? 'length' : 'stop');
    expect(res.usage).toEqual({ prompt_tokens: want.length, completion_tokens: ref.tokens.length, total_tokens: want.length + ref.tokens.length });
    expect(raw.choices[0]!.metrics).toMatchObject({ prompt_tokens: want.length, completion_tokens: ref.tokens.length });
    // A plain string content is the same as one text part.
    const again = await client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'wow' }], max_tokens: 3, temperature: 0, return_token_ids: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const parts = await client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: [{ type: 'text', text: 'wow' }] }], max_tokens: 3, temperature: 0, return_token_ids: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect((again as unknown as { prompt_token_ids: number[] }).prompt_token_ids).toEqual(tok.encode('[INST] wow [/INST]'));
    expect(parts.choices[0]!.message.content).toBe(again.choices[0]!.message.content);
  });

  it('streaming through the openai client: role first, content deltas that add up to the greedy text, finish, usage', async () => {
    const want = expectedIds();
    const ref = await reference(want, 12);
    const stream = await client.chat.completions.create({
      model: 'tiny-chat', messages: CONVERSATION, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta[] = [];
    let finish: string | null = null, usage: OpenAI.CompletionUsage | undefined | null, objects = new Set<string>();
    for await (const chunk of stream) {
      objects.add(chunk.object);
      for (const c of chunk.choices) { deltas.push(c.delta); finish = c.finish_reason ?? finish; }
      if (chunk.usage) usage = chunk.usage;
    }
    expect([...objects]).toEqual(['chat.completion.chunk']);
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas.slice(1).every((d) => d.role === undefined)).toBe(true);
    expect(deltas.map((d) => d.content ?? '').join('')).toBe(ref.text);
    expect(finish).toBe(ref.tokens.length === 12 ? 'length' : 'stop');
    expect(usage).toEqual({ prompt_tokens: want.length, completion_tokens: ref.tokens.length, total_tokens: want.length + ref.tokens.length });
  });

  it('the raw stream: role chunk (with prompt_token_ids), content chunks, a last chunk with finish_reason and metrics, data: [DONE]', async () => {
    const want = expectedIds();
    const ref = await reference(want, 6);
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: CONVERSATION, max_tokens: 6, temperature: 0, stream: true, return_token_ids: true }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await r.text()).split('\n\n').filter((e) => e !== '');
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { object: string; prompt_token_ids?: number[]; choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null; metrics?: object; token_ids?: number[] }[] });
    expect(chunks[0]!.prompt_token_ids).toEqual(want);
    expect(chunks[0]!.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    const last = chunks.at(-1)!.choices[0]!;
    expect(last.delta).toEqual({});
    expect(last.finish_reason).toBe(ref.tokens.length === 6 ? 'length' : 'stop');
    expect(last.token_ids).toEqual(ref.tokens);
    expect(last.metrics).toMatchObject({ prompt_tokens: want.length, completion_tokens: ref.tokens.length });
    expect(chunks.slice(1, -1).map((c) => c.choices[0]!.delta.content).join('')).toBe(ref.text);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('stop strings and seeds as /v1/completions: a stop ends the text before it; a seeded sampled request repeats', async () => {
    const ref = await reference(expectedIds(), 24);
    // A stop string from the middle of the greedy text (at least one character in, so something is kept).
    const stop = ref.text.slice(Math.min(3, ref.text.length - 1), Math.min(5, ref.text.length));
    const cut = ref.text.indexOf(stop);
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages: CONVERSATION, max_tokens: 24, temperature: 0, stop });
    expect(res.choices[0]!.message.content).toBe(ref.text.slice(0, cut));
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const seeded = async (seed: number) => (await client.chat.completions.create({
      model: 'tiny-chat', messages: CONVERSATION, max_tokens: 8, temperature: 1, top_p: 0.9, top_k: 40, seed,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices[0]!.message.content;
    const seven = await seeded(7);
    expect(await seeded(7)).toBe(seven);
    // Another seed draws other tokens (these weights, this prompt): a server that ignored the seed would repeat.
    expect(await seeded(8)).not.toBe(seven);
  });

  it('the template\'s raise_exception is a 400 carrying its message; roles and content parts are checked first', async () => {
    const twoUsers = await chat({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] });
    expect(twoUsers.status).toBe(400);
    expect(twoUsers.json.error).toMatchObject({ code: 'chat_template_error', param: 'messages' });
    expect(twoUsers.json.error.message).toContain('Conversation roles must alternate user/assistant/user/assistant/...');
    // Mistral's template takes no system message (at an odd place, past its alternation check): its own words again.
    await expect(client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }, { role: 'system', content: 'be brief' }] }))
      .rejects.toThrow(/Only user and assistant roles are supported!/);
    for (const [messages, param, code, text] of [
      [[{ role: 'tool', content: 'x' }], 'messages[0].role', 'invalid_value', "'messages[0].role' must be 'system', 'developer', 'user' or 'assistant', got 'tool'"],
      [[{ content: 'x' }], 'messages[0].role', 'missing_required_parameter', 'must be'],
      [[{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'http://x/y.png' } }] }], 'messages[0].content[1]', 'unsupported_value', "part of type 'image_url': this server takes only"],
      [[{ role: 'user', content: [{ type: 'text', text: 7 }] }], 'messages[0].content[0]', 'invalid_type', "'messages[0].content[0].text' must be a string"],
      [[{ role: 'user' }], 'messages[0].content', 'missing_required_parameter', 'must be a string or an array of text parts'],
      [[{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }], 'messages[0].tool_calls', 'unknown_parameter', 'no tools'],
      [[{ role: 'user', content: 'x', color: 'red' }], 'messages[0].color', 'unknown_parameter', 'not a message field'],
      [[], 'messages', 'invalid_value', 'empty'],
      ['hi', 'messages', 'invalid_type', 'must be an array'],
    ] as const) {
      const r = await chat({ messages });
      expect(r.status, JSON.stringify(messages)).toBe(400);
      expect(r.json.error).toMatchObject({ param, code });
      expect(r.json.error.message).toContain(text);
    }
    const missing = await chat({ prompt: 'hi' });
    expect(missing.json.error).toMatchObject({ param: 'prompt', code: 'unknown_parameter' });
    expect((await chat({})).json.error).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
  });

  it('parameters: n only 1, max_tokens and max_completion_tokens must agree, another model is 404, a prompt past the context 400', async () => {
    const m = [{ role: 'user', content: 'hello' }];
    expect((await chat({ messages: m, n: 2 })).json.error).toMatchObject({ param: 'n', code: 'unsupported_value' });
    expect((await chat({ messages: m, max_tokens: 3, max_completion_tokens: 4 })).json.error).toMatchObject({ param: 'max_completion_tokens', code: 'invalid_value' });
    const tooMany = await chat({ messages: m, max_completion_tokens: 10_000 });
    expect(tooMany.json.error).toMatchObject({ param: 'max_completion_tokens', code: 'context_length_exceeded' });
    expect(tooMany.json.error.message).toMatch(/in max_completion_tokens\)$/);
    const other = await chat({ messages: m, model: 'gpt-4o' });
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe('model_not_found');
    const long = await chat({ messages: [{ role: 'user', content: 'hello '.repeat(600) }] });
    expect(long.json.error).toMatchObject({ param: 'messages', code: 'context_length_exceeded' });
    const both = await client.chat.completions.create({ model: 'tiny-chat', messages: m as OpenAI.ChatCompletionMessageParam[], max_tokens: 2, max_completion_tokens: 2, n: 1, temperature: 0 });
    expect(both.usage!.completion_tokens).toBeLessThanOrEqual(2);
    expect(parseChatRequest({ messages: m, max_completion_tokens: 5 })).toMatchObject({ maxTokens: 5, maxTokensParam: 'max_completion_tokens' });
  });

  it('/metrics counts the chat route; /v1/models is unchanged', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/fapool_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} [1-9]/);
    expect(text).toMatch(/fapool_http_requests_total\{route="\/v1\/chat\/completions",status="400"\} [1-9]/);
    const models = await client.models.list();
    expect(models.data.map((x) => x.id)).toEqual(['tiny-chat']);
  });
});

describe('chat templates', () => {
  it('Llama 3 Instruct\'s template: the header turns, trimmed content, the opened assistant turn', () => {
    const t = new ChatTemplate(LLAMA3, { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>' });
    expect(t.render([{ role: 'system', content: 'Be brief. ' }, { role: 'user', content: 'Hi' }])).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n');
  });

  it('chat_template as a list: the one named "default"; none named so, or none at all, says why; a malformed one throws', () => {
    expect(chatTemplateSource([{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }])).toEqual({ source: 'D' });
    expect(chatTemplateSource([{ name: 'tool_use', template: 'T' }])).toMatchObject({ source: null, why: expect.stringContaining('(tool_use) include no "default"') });
    expect(chatTemplateSource(undefined)).toMatchObject({ source: null, why: 'this model has no chat template (tokenizer_config.json chat_template, or chat_template.jinja); use /v1/completions' });
    expect(() => chatTemplateSource(7)).toThrow(new ChatTemplateError('chat_template must be a string or a list of {"name", "template"}, got number'));
    expect(() => chatTemplateSource([{ name: 'default' }])).toThrow(/chat_template\[0\]/);
  });

  it('a template that does not parse throws ChatTemplateError at construction; its raise_exception ChatRenderError; any other failure ChatTemplateUnsupportedError', () => {
    const user = [{ role: 'user' as const, content: 'a' }];
    expect(() => new ChatTemplate('{% for m in %}{{ m }}{% endfor %}')).toThrow(ChatTemplateError);
    expect(() => new ChatTemplate("{{ raise_exception('no system role') }}").render(user)).toThrow(new ChatRenderError('no system role'));
    // Inside a macro and a loop too: the template's own refusal, whatever calls it.
    expect(() => new ChatTemplate("{% macro no(x) %}{{ raise_exception('bad: ' + x) }}{% endmacro %}{% for m in messages %}{{ no(m.role) }}{% endfor %}").render(user))
      .toThrow(new ChatRenderError('bad: user'));
    // What @huggingface/jinja cannot do is not the client's fault (it was a 400 chat_template_error).
    for (const [source, why] of [['{{ messages | frobnicate }}', 'Unknown ArrayValue filter: frobnicate'], ['{{ x.foo() }}', 'Cannot call something that is not a function']] as const) {
      const render = () => new ChatTemplate(source).render(user);
      expect(render, source).toThrow(ChatTemplateUnsupportedError);
      expect(render, source).toThrow(why);
    }
    // The library's globals are there as in its Template.render.
    const globals = "{{ true }} {{ false }} {{ none }} {{ True }} {{ False }} {{ None }} {{ range(3) | join(',') }} {{ range(1, 7, 2) | join(',') }} {{ range(5, 0, -2) | join(',') }} {{ strftime_now('%Y') }} {{ namespace(a=1).a }}";
    expect(new ChatTemplate(globals).render(user)).toBe(`true false  true false  0,1,2 1,3,5 5,3,1 ${new Date().getFullYear()} 1`);
  });

  it('variables as transformers gives them: tools and documents none (not undefined: `tools is not none` was true), the special tokens', () => {
    const t = new ChatTemplate(
      "{% if tools is not none %}TOOLS {% endif %}{% if documents is not none %}DOCS {% endif %}{% if tools is none and documents is none %}plain {% endif %}" +
      "{{ bos_token }}{{ sep_token }}{{ mask_token }}|{{ additional_special_tokens | join(',') }}|{{ messages[0]['content'] }}{% if add_generation_prompt %}>{% endif %}",
      { bos_token: '<s>', sep_token: '[SEP]', mask_token: '[MASK]', additional_special_tokens: ['<a>', '<b>'] });
    expect(t.render([{ role: 'user', content: 'hi' }])).toBe('plain <s>[SEP][MASK]|<a>,<b>|hi>');
  });

  it('a render is bounded (a checkpoint\'s template is code): steps, loop turns, range() and list lengths past the budget throw', () => {
    const user = [{ role: 'user' as const, content: 'a' }];
    for (const [source, why] of [
      // 10 000 turns of an empty body: no expression evaluated per turn, the turns counted.
      ['{% set r = range(100) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}', 'the chat template took more than 1000 steps'],
      // Counted before it is made: range(10**12) was an array of 10¹² numbers.
      ['{% for i in range(100000) %}{% endfor %}', "range(0, 100000, 1) is longer than the render's budget of 1000 items"],
      // Past 2^53 `i += 1` stopped moving: a range of 4 pushed until the process died.
      ['{{ range(10**16, 10**16 + 4) | length }}', 'range() takes integers of at most 2^53'],
      // A text doubled each turn: 2^21 characters in 21 turns (28: 268M, each later step a long scan of it).
      ['{% set ns = namespace(s="a") %}{% for i in range(21) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}', "characters is longer than the render's budget of 1048576"],
      // Doubled each turn: a list past the budget in 10 turns (30, the process out of memory).
      ['{% set ns = namespace(l=[1]) %}{% for i in range(11) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}', "a list of 1024 items is longer than the render's budget"],
    ] as const) {
      const render = () => new ChatTemplate(source, {}, 1000).render(user);
      expect(render, source).toThrow(ChatTemplateUnsupportedError);
      expect(render, source).toThrow(why);
    }
    // The default budget takes the longest conversation with a real template.
    const many = Array.from({ length: MAX_MESSAGES }, (_, i) => ({ role: i % 2 ? 'assistant' as const : 'user' as const, content: `turn ${i}` }));
    expect(new ChatTemplate(LLAMA3, { bos_token: '<s>' }).render(many)).toContain(`turn ${MAX_MESSAGES - 1}`);
    expect(() => new ChatTemplate('{% for i in range(10**12) %}{% endfor %}').render(user)).toThrow(`budget of ${RENDER_ITEMS} items`);
    // A long message is no text past the budget: a template may repeat it (four times its length, at least 1 Mi).
    const long = [{ role: 'user' as const, content: 'x'.repeat(3 << 20) }];
    expect(new ChatTemplate(LLAMA3, { bos_token: '<s>' }).render(long)).toContain('x'.repeat(3 << 20));
  });

  it('special-token text in a message becomes the special token, as transformers\' apply_chat_template(tokenize=True) encodes it', () => {
    // The rendered text is encoded whole: a client's "</s>" is the EOS id, its "<s>" a BOS (documented in the README).
    const p = chatPrompter(tok);
    if (!('template' in p)) throw new Error(p.why);
    const ids = p.encode(p.template.render([{ role: 'user', content: 'a </s> b <s>' }]));
    expect(ids.filter((t) => t === 2)).toHaveLength(1);
    expect(ids.filter((t) => t === 1)).toHaveLength(2);
  });

  it('loadTokenizer: chat_template and special tokens from tokenizer_config.json; chat_template.jinja beside it wins', async () => {
    const dir = join(tmp, 'tok');
    mkdirSync(dir);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(TOKENIZER));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...TOKENIZER_CONFIG, chat_template: [{ name: 'default', template: MISTRAL }] }));
    const t = await loadTokenizer(dir);
    expect(t.specialTokens).toEqual({ bos_token: '<s>', eos_token: '</s>' });
    const p = chatPrompter(t);
    if (!('template' in p)) throw new Error(p.why);
    const text = p.template.render(CONVERSATION.map((m) => ({ ...m, content: typeof m.content === 'string' ? m.content : m.content.map((x) => x.text).join('\n') })));
    expect(text).toBe(RENDERED);
    expect(p.encode(text)).toEqual(expectedIds());
    writeFileSync(join(dir, 'chat_template.jinja'), "{{ bos_token }}{{ messages[0]['content'] }}\n");
    const j = chatPrompter(await loadTokenizer(dir));
    if (!('template' in j)) throw new Error(j.why);
    expect(j.template.render([{ role: 'user', content: 'hello' }])).toBe('<s>hello'); // one trailing newline dropped, as Jinja does
  });

  /** An engine that records what it is asked and answers at once: one token, 'A'. */
  function standIn(tokenizer: Tokenizer): ServedEngine & { requests: CompletionRequest[] } {
    const requests: CompletionRequest[] = [];
    return {
      requests, config: { ...presetConfig('tiny'), vocab: tokenizer.vocabSize }, dtype: 'f32', device: 'stand-in', maxQueue: 4,
      load: () => ({ running: 0, queued: 0, maxQueue: 4, completed: 0 }),
      encode: (p) => (typeof p === 'string' ? tokenizer.encode(p) : [...p]),
      submit(req) {
        requests.push(req);
        return (async function* () {
          yield { type: 'token', token: 65, text: 'A', index: 0 } as CompletionEvent;
          yield { type: 'done', reason: 'length', tokens: [65], text: 'A', promptTokens: (req.prompt as number[]).length, ttftMs: 1, queueMs: 0, tpotMs: 0, baseSteps: 1, poolSteps: 0 } as CompletionEvent;
        })();
      },
      dispose: async () => {},
      tokenizer,
    };
  }

  it('the engine gets the template\'s ids (one BOS) and, without max_tokens, what the context has left (completions: 16)', async () => {
    const engine = standIn(tok);
    const s = await startServer({ engine, port: 0, maxContext: 100, log: () => {} });
    try {
      const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const r = await post('/v1/chat/completions', { messages: CONVERSATION });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { choices: { message: unknown }[] }).choices[0]!.message).toEqual({ role: 'assistant', content: 'A' });
      const want = expectedIds();
      expect(engine.requests[0]!.prompt).toEqual(want);
      expect(engine.requests[0]!.maxTokens).toBe(100 - want.length);
      await post('/v1/chat/completions', { messages: CONVERSATION, max_tokens: 5 });
      expect(engine.requests[1]!.maxTokens).toBe(5);
      await post('/v1/completions', { prompt: 'hello' });
      expect(engine.requests[2]!.prompt).toEqual(tok.encode('hello')); // the completions route's text: encode() as before, BOS added
      expect(engine.requests[2]!.prompt[0]).toBe(1);
      expect(engine.requests[2]!.maxTokens).toBe(16);
    } finally {
      await s.close(0);
    }
  });

  /** A byte-level tokenizer carrying `chatTemplate`: the template's text is its prompt, byte for byte. */
  const bytes = (chatTemplate: string): Tokenizer => ({
    vocabSize: 256, encode: (s) => [...Buffer.from(s)], decode: () => '', decodeStream: () => ({ push: () => '', flush: () => '' }), chatTemplate,
  });
  const text = (ids: readonly number[] | undefined) => Buffer.from(ids ?? []).toString();
  const post = (url: string, path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('a template that does not parse, or fails its start-up render, is a warning (before the pipelines compile); chat answers 400, completions serve on', async () => {
    for (const [source, why] of [
      ['{% if messages %}never closed', /cannot be used: the chat template does not parse: .+; \/v1\/chat\/completions answers 400$/],
      // Parses, but uses a filter the library lacks on every conversation: found at start, not on the first request.
      ['{{ messages | frobnicate }}', /cannot be used: rendering a user conversation failed: Unknown ArrayValue filter: frobnicate; \/v1\/chat\/completions answers 400$/],
      // Only a system message trips it: the start-up render has one.
      ["{% for m in messages %}{% if m.role == 'system' %}{{ m.content | frobnicate }}{% endif %}{% endfor %}", /rendering a system \+ user conversation failed: Unknown StringValue filter: frobnicate;/],
      // A template that never ends (here, a list of 10¹² items): refused at start, where serve hung or ran out of memory.
      ['{% for i in range(10**12) %}{% endfor %}', /rendering a user conversation failed: range\(0, 1000000000000, 1\) is longer than the render's budget of 100000 items;/],
    ] as const) {
      const order: string[] = [];
      const engine = { ...standIn(bytes(source)), precompileServing: async () => { order.push('precompile'); return { pipelines: 0, ms: 0 }; } };
      const s = await startServer({ engine, port: 0, log: (l) => order.push(l) });
      try {
        expect(order, source).toHaveLength(3);
        expect(order[0], source).toMatch(/^warning: the chat template \(tokenizer_config\.json chat_template, or chat_template\.jinja\) cannot be used: /);
        expect(order[0], source).toMatch(why);
        expect(order.slice(1), 'checked before the pipelines compile').toEqual(['precompile', 'compiled 0 pipelines in 0 ms']);
        const r = await post(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
        expect(r.status).toBe(400);
        const err = ((await r.json()) as { error: { message: string; code: string; param: string } }).error;
        expect(err).toMatchObject({ code: 'chat_template_unusable', param: 'messages' });
        expect(err.message).toMatch(/^this model's chat template cannot be used: .+; use \/v1\/completions$/);
        expect(err.message).toContain(order[0]!.replace(/^.*cannot be used: /, '').replace(/; \/v1\/chat.*$/, ''));
        expect((await post(s.url, '/v1/completions', { prompt: 'hi', max_tokens: 1 })).status).toBe(200);
      } finally {
        await s.close(0);
      }
    }
  });

  it('a render failure on a request: the template\'s raise_exception a 400 with its words; anything else a 500 chat_template_unsupported, logged', async () => {
    // Renders at start; fails on a message that says "boom" (a filter the library lacks), refuses one that says "no".
    const source = "{% for m in messages %}{% if m.content == 'boom' %}{{ m | frobnicate }}{% elif m.content == 'no' %}{{ raise_exception('I refuse: ' + m.content) }}{% elif m.content == 'loop' %}{% for i in range(10**12) %}{% endfor %}{% endif %}{{ m.role }}:{{ m.content }};{% endfor %}";
    const logs: string[] = [];
    const s = await startServer({ engine: standIn(bytes(source)), port: 0, log: (l) => logs.push(l) });
    try {
      expect(logs).toEqual([]);
      const boom = await post(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'boom' }] });
      expect(boom.status).toBe(500);
      expect(await boom.json()).toEqual({ error: {
        message: "the server could not render the model's chat template: Unknown ObjectValue filter: frobnicate", type: 'server_error', param: null, code: 'chat_template_unsupported',
      } });
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(/^error: POST \/v1\/chat\/completions: Error: Unknown ObjectValue filter: frobnicate\n\s+at /);
      const no = await post(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'no' }] });
      expect(no.status).toBe(400);
      expect(((await no.json()) as { error: object }).error).toEqual({
        message: "the model's chat template refused these messages: I refuse: no", type: 'invalid_request_error', param: 'messages', code: 'chat_template_error',
      });
      expect(logs, 'the client\'s error is not logged').toHaveLength(1);
      // One that would not end (on a message that says "loop"): past its budget, a 500; the server answers on.
      const loop = await post(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'loop' }] });
      expect(loop.status).toBe(500);
      expect(((await loop.json()) as { error: { message: string; code: string } }).error).toMatchObject({
        code: 'chat_template_unsupported', message: expect.stringContaining("range(0, 1000000000000, 1) is longer than the render's budget of 100000 items"),
      });
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
    } finally {
      await s.close(0);
    }
  });

  it('the developer role (current OpenAI clients\' system) reaches the template as system, as vLLM has it', async () => {
    const engine = standIn(bytes("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}"));
    const s = await startServer({ engine, port: 0, log: () => {} });
    try {
      const r = await post(s.url, '/v1/chat/completions', { messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'hi' }], max_tokens: 1 });
      expect(r.status).toBe(200);
      expect(text(engine.requests[0]!.prompt as number[])).toBe('system:Be brief.;user:hi;');
    } finally {
      await s.close(0);
    }
    expect(parseChatRequest({ messages: [{ role: 'developer', content: 'x' }] }).messages).toEqual([{ role: 'system', content: 'x' }]);
    // A lone surrogate (valid JSON) was U+FFFD in the prompt: another conversation ran.
    for (const [m, param] of [[{ role: 'user', content: 'a\ud800' }, 'messages[0].content'], [{ role: 'user', content: [{ type: 'text', text: '\udfff' }] }, 'messages[0].content[0]'],
      [{ role: 'user', content: 'x', name: '\ud800' }, 'messages[0].name']] as const) {
      expect(() => parseChatRequest({ messages: [m] }), param).toThrow(expect.objectContaining({ param, message: expect.stringContaining('lone UTF-16 surrogate') }));
    }
  });

  it('what OpenAI clients send at values that change nothing is taken; the same parameters that would change the answer are 400s', async () => {
    const engine = standIn(bytes("{% if tools is not none %}TOOLS {% endif %}{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}"));
    const s = await startServer({ engine, port: 0, log: () => {} });
    try {
      // An assistant's content null (and refusal null, as OpenAI's own answers carry) is empty, as vLLM renders it.
      // Likewise what OpenAI's and vLLM's answers carry when nothing happened: annotations [], tool_calls [] or null, function_call and audio null.
      const messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [], function_call: null, audio: null }, { role: 'user', content: 'x' }];
      const harmless = {
        response_format: { type: 'text' }, tools: [], tool_choice: 'none', parallel_tool_calls: false, top_logprobs: 0,
        n: 1, logprobs: false, presence_penalty: 0, frequency_penalty: 0, user: 'u-1', max_completion_tokens: 1,
      };
      const r = await post(s.url, '/v1/chat/completions', { messages, ...harmless });
      expect(r.status, await r.clone().text()).toBe(200);
      expect(text(engine.requests[0]!.prompt as number[]), 'tools [] is no tools: the template gets none').toBe('user:hi;assistant:;user:x;');
      expect((await post(s.url, '/v1/chat/completions', { messages, tool_choice: 'auto', parallel_tool_calls: true })).status).toBe(200);
    } finally {
      await s.close(0);
    }
    const m = [{ role: 'user', content: 'hi' }];
    for (const [extra, param, why] of [
      [{ response_format: { type: 'json_object' } }, 'response_format', 'cannot hold its output to JSON'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }, 'response_format', 'cannot hold its output to JSON'],
      [{ response_format: { type: 'text', extra: 1 } }, 'response_format', 'only {"type": "text"} or null'],
      [{ tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools', 'no tool calling'],
      [{ tool_choice: 'required' }, 'tool_choice', 'no tool calling'],
      [{ tool_choice: { type: 'function', function: { name: 'f' } } }, 'tool_choice', 'no tool calling'],
      [{ parallel_tool_calls: 'yes' }, 'parallel_tool_calls', 'only true, false or null'],
      [{ top_logprobs: 2 }, 'top_logprobs', 'no log-probabilities'],
      [{ messages: [{ role: 'user', content: null }] }, 'messages[0].content', 'must be a string or an array of text parts, got null'],
      [{ messages: [{ role: 'assistant', content: 'x', refusal: 'no' }] }, 'messages[0].refusal', "unrecognized argument 'messages[0].refusal'"],
    ] as const) {
      const parse = () => parseChatRequest({ messages: m, ...extra });
      expect(parse, JSON.stringify(extra)).toThrow(ApiError);
      try { parse(); } catch (e) {
        expect((e as ApiError).param, JSON.stringify(extra)).toBe(param);
        expect((e as ApiError).message, JSON.stringify(extra)).toContain(why);
      }
    }
  });
});
