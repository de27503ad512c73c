import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { principalOf } from '../auth/api-key-auth.js';
import { functionNotFound, mayUseFunction } from '../auth/api-keys.js';
import type { FunctionService } from '../functions/function-service.js';
import type { GenerationEvent, Invoker } from '../functions/invoker.js';
import { TidepoolError } from '../../protocol/errors.js';
import { readSampling } from '../../protocol/sampling.js';
import { parseMessages, readStream, requireObject, requireString, type ChatMessage } from './request-params.js';
import { clientSignal, collect, setEngineTiming, streamGeneration, usageBody } from './run-generation.js';
import { chunkEncoder } from './sse.js';

export interface OpenAiRoutesOptions {
  readonly functions: FunctionService;
  readonly invoker: Invoker;
  /** Renders chat messages to the prompt text (the documented template in platform/models/chat-template.ts). */
  readonly renderChat: (messages: readonly ChatMessage[]) => string;
}

/** `/v1/models`, `/v1/completions`, `/v1/chat/completions`: the OpenAI API with functions as models. */
export function openAiRoutes(options: OpenAiRoutesOptions): Router {
  const router = Router();
  router.get('/v1/models', async (_req, res) => {
    const principal = principalOf(res);
    const functions = (await options.functions.list()).filter((f) => mayUseFunction(principal, f.name));
    res.json({
      object: 'list',
      data: functions.map((f) => ({ id: f.name, object: 'model', created: Math.floor(f.createdAt.getTime() / 1000), owned_by: 'tidepool' })),
    });
  });
  router.get('/v1/models/:model', async (req, res) => {
    if (!mayUseFunction(principalOf(res), req.params.model)) throw functionNotFound(req.params.model);
    const fn = await options.functions.resolve(req.params.model);
    res.json({ id: fn.name, object: 'model', created: 0, owned_by: 'tidepool' });
  });
  router.post('/v1/completions', (req, res) => complete(options, req, res, 'text'));
  router.post('/v1/chat/completions', (req, res) => complete(options, req, res, 'chat'));
  return router;
}

async function complete(options: OpenAiRoutesOptions, req: Request, res: Response, kind: 'text' | 'chat'): Promise<void> {
  const arrivalMs = Date.now();
  const body = requireObject(req.body);
  const model = requireString(body, 'model');
  if (!mayUseFunction(principalOf(res), model)) throw functionNotFound(model);
  const stream = readStream(body);
  const sampling = readSampling(body);
  if (body.n !== undefined && body.n !== 1) throw new TidepoolError('unsupported_parameter', 'n: only 1 is supported', { param: 'n' });
  const prompt = kind === 'chat' ? options.renderChat(parseMessages(body.messages)) : readPrompt(body.prompt);
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const fn = await options.functions.resolve(model);
  const submittedAt = performance.now();
  const generation = await options.invoker.start(fn, { sampling, promptTokens: fn.tokenizer.encode(prompt), arrivalMs, caller: principalOf(res) }, clientSignal(req, res));
  const base = {
    id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: Math.floor(arrivalMs / 1000),
    model: fn.name,
    system_fingerprint: `${fn.name}-v${fn.version}`,
  };
  if (!stream) {
    const result = await collect(generation);
    if (res.destroyed) return;
    setEngineTiming(res, submittedAt);
    const choice =
      kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content: result.text }, finish_reason: result.finishReason, logprobs: null }
        : { index: 0, text: result.text, finish_reason: result.finishReason, logprobs: null };
    res.json({ ...base, choices: [choice], usage: usageBody(result.usage) });
    return;
  }
  const chunk = chunkEncoder({ ...base, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion' });
  const choice = (text: string | null, finish: string | null) =>
    kind === 'chat'
      ? { index: 0, delta: text === null ? {} : { content: text }, finish_reason: finish, logprobs: null }
      : { index: 0, text: text ?? '', finish_reason: finish, logprobs: null };
  const frame = (event: GenerationEvent): unknown[] => {
    if (event.type === 'text') return [chunk({ choices: [choice(event.text, null)] })];
    const last = chunk({ choices: [choice(null, event.finishReason)] });
    return includeUsage ? [last, chunk({ choices: [], usage: usageBody(event.usage) })] : [last];
  };
  const preamble = kind === 'chat' ? [chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }] })] : [];
  await streamGeneration(res, generation, frame, preamble);
}

function readPrompt(prompt: unknown): string {
  if (typeof prompt === 'string' && prompt.length > 0) return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string' && prompt[0].length > 0) return prompt[0];
  throw new TidepoolError('invalid_parameter', 'prompt: must be a non-empty string (batched prompts are not supported)', { param: 'prompt' });
}
