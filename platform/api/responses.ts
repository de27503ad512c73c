import type { Request, Response } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import { renderChatWithTools } from '../models/render-chat-with-tools.js';
import { parseToolChatMessages } from '../models/tool-messages.js';
import { startChoices } from './choices.js';
import { asRequestError } from './constraint.js';
import { responseLogprobs, tokenStrings } from './logprobs-shapes.js';
import { type OpenAiContext, openAiRequest } from './openai-context.js';
import { generatingFunction, readStream } from './request-params.js';
import { requestConstraint } from './request-constraint.js';
import type { ResponseItems } from './responses-items.js';
import { readResponsesRequest } from './responses-input.js';
import { type ResponseHead, newItemId, responseObject, wholeOutput } from './responses-output.js';
import { ResponseEventWriter } from './responses-stream.js';
import { clientSignal, collect, setEngineTiming, streamGeneration } from './run-generation.js';
import { NamedEvent } from './sse.js';
import { chatToolPlan, toolFeatures } from './tool-plan.js';

/**
 * `POST /v1/responses`: text or item input, `instructions`, `max_output_tokens`, function tools and their
 * results, `text.format` (json_schema / json_object), logprobs through `include`, whole or streamed as the
 * Responses API's events. One answer per request (the API has no `n`); responses are not stored, but their
 * output items can be referenced for an hour (`responses-items.ts`).
 */
export async function responses(
  ctx: OpenAiContext & { readonly items: ResponseItems },
  check: (body: Readonly<Record<string, unknown>>) => void,
  req: Request,
  res: Response,
): Promise<void> {
  const request = openAiRequest(req, res, check);
  const { body } = request;
  const stream = readStream(body);
  const chat = readResponsesRequest(body, (id) => ctx.items.lookup(id));
  const fn = generatingFunction(await ctx.functions.resolve(request.model));
  const tools = chatToolPlan(fn, { tools: chat.tools, tool_choice: chat.toolChoice, parallel_tool_calls: body.parallel_tool_calls });
  const messages = asRequestError(() => parseToolChatMessages(chat.messages, tools.family, 'input'));
  const constraint = requestConstraint(fn, tools, chat.responseFormat, 'text.format');
  const promptTokens = fn.tokenizer.encode(renderChatWithTools(tools.family, messages, tools.tools));
  const sampling = { ...chat.sampling, ...(constraint.grammar ? { grammar: constraint.grammar } : {}) };
  const features = { endpoint: 'responses', response_format: constraint.format, ...toolFeatures(tools) };
  // The response id is its invocation id: a client finds its request in the records (`tidepool logs`).
  const id = newItemId('resp');
  const submittedAt = performance.now();
  const [generation] = await startChoices(ctx.invoker, fn, [{ promptTokens, sampling, features }], { ...request, responseId: id }, clientSignal(req, res));
  if (!generation) throw new TidepoolError('internal_error', 'no generation started');
  const head: ResponseHead = { id, createdAt: Math.floor(request.arrivalMs / 1000), model: fn.name, body };
  const strings = chat.sampling.logprobs ? tokenStrings(fn.tokenizer) : undefined;
  if (stream) {
    const writer = new ResponseEventWriter(head, tools, strings);
    const named = (events: readonly Record<string, unknown>[]) => events.map((e) => new NamedEvent(String(e.type), e));
    await streamGeneration(
      res,
      generation,
      (event) => named(writer.frame(event)),
      named(writer.start()),
      () => [],
      { doneMarker: false },
    );
    ctx.items.remember(writer.items);
    return;
  }
  const result = await collect(generation);
  if (res.destroyed) return;
  setEngineTiming(res, submittedAt);
  const status = result.finishReason === 'length' ? 'incomplete' : 'completed';
  const output = wholeOutput(result.text, tools, status, strings ? responseLogprobs(result.tokens, strings) : undefined);
  ctx.items.remember(output);
  res.json(responseObject(head, status, output, result.usage));
}
