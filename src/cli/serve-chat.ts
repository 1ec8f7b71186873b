// POST /v1/chat/completions: OpenAI's chat completions. The checkpoint's chat template makes the prompt of the
// messages (chat-template.ts); the rest is the completions route's (serveJobs): scheduling, stops, streaming, metrics,
// in OpenAI's chat shape (message / delta, chat.completion[.chunk]).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ChatRenderError, ChatTemplateUnsupportedError, type ChatPrompter } from '../model/chat-template.js';
import { checkModel, promptJob, serveJobs, type CompletionContext, type ResponseShape } from './serve-completions.js';
import { ApiError, parseChatRequest } from './serve-schema.js';

export interface ChatContext extends CompletionContext {
  /**
   * The model's chat template, or why there is none to use (every chat request is refused with it, and `code`:
   * default no_chat_template).
   */
  chat: ChatPrompter | { why: string; code?: string };
}

const CHAT_COMPLETION: ResponseShape = {
  route: '/v1/chat/completions', idPrefix: 'chatcmpl', object: 'chat.completion', chunkObject: 'chat.completion.chunk',
  choice: (content) => ({ message: { role: 'assistant', content } }),
  piece: (content) => ({ delta: { content } }),
  end: { delta: {} },
  start: { delta: { role: 'assistant', content: '' } },
  promptTokenIds: true,
};

export async function handleChatCompletion(ctx: ChatContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const t0 = performance.now();
  const p = parseChatRequest(req.body);
  checkModel(ctx, p.model);
  const chat = ctx.chat;
  // No made-up format for a model without a template: its prompt format is unknown.
  if (!('template' in chat)) throw new ApiError(400, chat.why, 'invalid_request_error', 'messages', chat.code ?? 'no_chat_template');
  let text: string;
  try {
    text = chat.template.render(p.messages);
  } catch (e) {
    // The template's own words (raise_exception: "Conversation roles must alternate ...").
    if (e instanceof ChatRenderError) throw new ApiError(400, `the model's chat template refused these messages: ${e.message}`, 'invalid_request_error', 'messages', 'chat_template_error');
    // Not the client's doing: a 500 (the error handler logs it, with where the library failed).
    if (e instanceof ChatTemplateUnsupportedError) {
      throw Object.assign(new ApiError(500, `the server could not render the model's chat template: ${e.message}`, 'server_error', null, 'chat_template_unsupported'), { cause: e.cause ?? e });
    }
    throw e;
  }
  const job = promptJob(ctx, text, 'messages', p, chat.encode);
  await serveJobs(ctx, req, reply, p, [job], CHAT_COMPLETION, t0);
}
