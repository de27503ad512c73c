import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { readSampling } from '../../protocol/sampling.js';
import { renderChatWithTools } from '../models/render-chat-with-tools.js';
import { parseToolChatMessages } from '../models/tool-messages.js';
import { chatResponse } from './chat-response.js';
import { chatStream } from './chat-stream.js';
import { choiceSamplings, readN, startChoices } from './choices.js';
import { asRequestError } from './constraint.js';
import { type OpenAiContext, openAiRequest } from './openai-context.js';
import { generatingFunction, readIncludeUsage, readStream } from './request-params.js';
import { requestConstraint } from './request-constraint.js';
import { clientSignal, collect, setEngineTiming } from './run-generation.js';
import { chatToolPlan, toolFeatures } from './tool-plan.js';

/**
 * `POST /v1/chat/completions`: messages (tool calls and results included) rendered in the function's chat
 * family format, `n` choices sampled independently, output constrained by `response_format` or a forcing
 * `tool_choice`, answers read back into `tool_calls`, logprobs in OpenAI's shape, streamed or whole.
 */
export async function chatCompletions(
  ctx: OpenAiContext,
  check: (body: Readonly<Record<string, unknown>>) => void,
  req: Request,
  res: Response,
): Promise<void> {
  const request = openAiRequest(req, res, check);
  const { body } = request;
  const stream = readStream(body);
  const includeUsage = readIncludeUsage(body);
  const sampling = readSampling(body, 'chat');
  const n = readN(body);
  const fn = generatingFunction(await ctx.functions.resolve(request.model));
  const tools = chatToolPlan(fn, body);
  const messages = asRequestError(() => parseToolChatMessages(body.messages, tools.family));
  const constraint = requestConstraint(fn, tools, body.response_format);
  const promptTokens = fn.tokenizer.encode(renderChatWithTools(tools.family, messages, tools.tools));
  const features = { endpoint: 'chat.completions', n, response_format: constraint.format, ...toolFeatures(tools) };
  const specs = choiceSamplings({ ...sampling, ...(constraint.grammar ? { grammar: constraint.grammar } : {}) }, n).map((s, index) => ({
    promptTokens,
    sampling: s,
    features: { ...features, index },
  }));
  // The response id is choice 0's invocation id: a client finds its request in the records (`tidepool logs`).
  const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  const submittedAt = performance.now();
  const generations = await startChoices(ctx.invoker, fn, specs, { ...request, responseId: id }, clientSignal(req, res));
  const base = {
    id,
    created: Math.floor(request.arrivalMs / 1000),
    model: fn.name,
    system_fingerprint: `${fn.name}-v${fn.version}`,
  };
  const logprobs = sampling.logprobs === true;
  if (stream) return chatStream(res, { base, fn, tools, generations, promptTokens: promptTokens.length, includeUsage, logprobs });
  const results = await Promise.all(generations.map(collect));
  if (res.destroyed) return;
  setEngineTiming(res, submittedAt);
  res.json(chatResponse({ base, fn, tools, results, promptTokens: promptTokens.length, logprobs }));
}
