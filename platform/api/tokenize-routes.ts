import type { Request, Response } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import { renderChatWithTools } from '../models/render-chat-with-tools.js';
import { parseToolChatMessages } from '../models/tool-messages.js';
import { asRequestError } from './constraint.js';
import { tokenStrings } from './logprobs-shapes.js';
import { type OpenAiContext, openAiRequest } from './openai-context.js';
import { chatToolPlan } from './tool-plan.js';

/**
 * vLLM's `POST /tokenize` and `POST /detokenize`, with functions as models. `/tokenize` takes a `prompt` or
 * chat `messages` (with `tools`, rendered exactly as `/v1/chat/completions` renders them) and answers
 * `{count, max_model_len, tokens, token_strs}`: the ids the engine is given, since Tidepool never adds
 * special tokens to a prompt. `/detokenize` takes `tokens` and answers `{prompt}`.
 */
export async function tokenize(ctx: OpenAiContext, req: Request, res: Response): Promise<void> {
  const request = openAiRequest(req, res, checkTokenizeFields);
  const { body } = request;
  const fn = await ctx.functions.resolve(request.model);
  if ((body.prompt === undefined) === (body.messages === undefined)) {
    throw new TidepoolError('invalid_parameter', 'exactly one of prompt or messages is required', { param: 'prompt' });
  }
  let text: string;
  if (body.prompt !== undefined) {
    if (typeof body.prompt !== 'string') throw new TidepoolError('invalid_parameter', 'prompt: must be a string', { param: 'prompt' });
    text = body.prompt;
  } else {
    const tools = chatToolPlan(fn, body);
    text = renderChatWithTools(
      tools.family,
      asRequestError(() => parseToolChatMessages(body.messages, tools.family)),
      tools.tools,
    );
  }
  const tokens = fn.tokenizer.encode(text);
  const strings = body.return_token_strs === true ? tokenStrings(fn.tokenizer) : undefined;
  res.json({ count: tokens.length, max_model_len: fn.contextLength, tokens, token_strs: strings ? tokens.map((id) => strings.text(id)) : null });
}

export async function detokenize(ctx: OpenAiContext, req: Request, res: Response): Promise<void> {
  const request = openAiRequest(req, res, () => undefined);
  const fn = await ctx.functions.resolve(request.model);
  const tokens = request.body.tokens;
  if (!Array.isArray(tokens) || !tokens.every((id) => Number.isSafeInteger(id) && id >= 0 && id < fn.vocabSize)) {
    throw new TidepoolError('invalid_parameter', `tokens: must be an array of token ids in [0, ${fn.vocabSize - 1}]`, { param: 'tokens' });
  }
  res.json({ prompt: fn.tokenizer.decode(tokens as number[]) });
}

function checkTokenizeFields(body: Readonly<Record<string, unknown>>): void {
  const refuse = (param: string, why: string) => new TidepoolError('unsupported_parameter', `${param}: ${why}`, { param });
  if (body.add_special_tokens === true) throw refuse('add_special_tokens', 'Tidepool encodes prompts without special tokens; leave it out or false');
  if (body.add_generation_prompt === false) throw refuse('add_generation_prompt', 'chat prompts always open the assistant turn');
  if (body.continue_final_message === true) throw refuse('continue_final_message', 'the last message is never continued');
  if (body.return_token_strs !== undefined && typeof body.return_token_strs !== 'boolean') {
    throw new TidepoolError('invalid_parameter', 'return_token_strs: must be a boolean', { param: 'return_token_strs' });
  }
}
