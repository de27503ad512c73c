import { Router } from 'express';
import { type Logger, silentLogger } from '../../protocol/logger.js';
import { principalOf } from '../auth/api-key-auth.js';
import { functionNotFound, mayUseFunction } from '../auth/api-keys.js';
import type { FunctionService } from '../functions/function-service.js';
import type { Invoker } from '../functions/invoker.js';
import { chatCompletions } from './chat-completions.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import { CHAT_FIELDS, COMPLETION_FIELDS, EMBEDDING_FIELDS, RESPONSES_FIELDS, fieldChecker } from './openai-fields.js';
import type { OpenAiContext } from './openai-context.js';
import { responses } from './responses.js';
import { ResponseItems } from './responses-items.js';
import { detokenize, tokenize } from './tokenize-routes.js';

export interface OpenAiRoutesOptions {
  readonly functions: FunctionService;
  readonly invoker: Invoker;
  /** Where unknown request fields are reported (once per name and endpoint). */
  readonly log?: Logger;
}

/**
 * `/v1/models`, `/v1/completions`, `/v1/chat/completions`, `/v1/responses`, and vLLM's `/tokenize` and
 * `/detokenize`: the OpenAI API with functions as models (docs/api.md).
 */
export function openAiRoutes(options: OpenAiRoutesOptions): Router {
  const router = Router();
  const ctx: OpenAiContext = { functions: options.functions, invoker: options.invoker, log: options.log ?? silentLogger };
  const checkChat = fieldChecker('/v1/chat/completions', CHAT_FIELDS, ctx.log);
  const checkCompletion = fieldChecker('/v1/completions', COMPLETION_FIELDS, ctx.log);
  const checkResponses = fieldChecker('/v1/responses', RESPONSES_FIELDS, ctx.log);
  const checkEmbeddings = fieldChecker('/v1/embeddings', EMBEDDING_FIELDS, ctx.log);
  const items = new ResponseItems();
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
  router.post('/v1/completions', (req, res) => completions(ctx, checkCompletion, req, res));
  router.post('/v1/chat/completions', (req, res) => chatCompletions(ctx, checkChat, req, res));
  router.post('/v1/responses', (req, res) => responses({ ...ctx, items }, checkResponses, req, res));
  router.post('/v1/embeddings', (req, res) => embeddings(ctx, checkEmbeddings, req, res));
  router.post('/tokenize', (req, res) => tokenize(ctx, req, res));
  router.post('/detokenize', (req, res) => detokenize(ctx, req, res));
  return router;
}
