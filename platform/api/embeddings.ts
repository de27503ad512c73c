import type { Request, Response } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import type { Generation } from '../functions/invoker.js';
import { startChoices } from './choices.js';
import { readPrompts } from './completions.js';
import { type OpenAiContext, openAiRequest } from './openai-context.js';
import { clientSignal, setEngineTiming } from './run-generation.js';

/**
 * `POST /v1/embeddings` for a function deployed with `task: embed`: each input (a text, a list of texts, token
 * ids, or lists of them) is one engine sequence whose final hidden states are pooled (`pooling` in the
 * manifest) and L2-normalised; `encoding_format` float or base64 (little-endian float32, as OpenAI). A
 * generating function gets a 400, and so does `dimensions` other than the model's hidden size.
 */
export async function embeddings(ctx: OpenAiContext, check: (body: Readonly<Record<string, unknown>>) => void, req: Request, res: Response): Promise<void> {
  const request = openAiRequest(req, res, check);
  const { body } = request;
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64')
    throw new TidepoolError('invalid_parameter', 'encoding_format: must be float or base64', { param: 'encoding_format' });
  const fn = await ctx.functions.resolve(request.model);
  if (fn.manifest.task !== 'embed') {
    throw new TidepoolError('unsupported_parameter', `model: function ${fn.name} generates text; embeddings need a function deployed with task: embed`, {
      param: 'model',
    });
  }
  const inputs = readPrompts(body.input, fn, 'input');
  const pooling = fn.manifest.pooling ?? 'last';
  const specs = inputs.map((input, index) => ({
    promptTokens: input.tokens,
    sampling: { max_tokens: 1, embed: pooling } as const,
    features: { endpoint: 'embeddings', pooling, inputs: inputs.length, index },
  }));
  const submittedAt = performance.now();
  const generations = await startChoices(ctx.invoker, fn, specs, request, clientSignal(req, res));
  const vectors = await Promise.all(generations.map((g) => embeddingOf(g, fn)));
  if (res.destroyed) return;
  checkDimensions(body.dimensions, vectors[0]?.length ?? 0);
  setEngineTiming(res, submittedAt);
  const promptTokens = inputs.reduce((sum, input) => sum + input.tokens.length, 0);
  res.json({
    object: 'list',
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? base64Floats(vector) : vector })),
    model: fn.name,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

async function embeddingOf(generation: Generation, fn: ResolvedFunction): Promise<readonly number[]> {
  for await (const event of generation) {
    if (event.type === 'done' && event.embedding) return event.embedding;
  }
  throw new TidepoolError('engine_error', `function ${fn.name}: the engine returned no embedding`);
}

/** OpenAI's `dimensions` shortens an embedding; these are the model's own size or nothing. */
function checkDimensions(dimensions: unknown, size: number): void {
  if (dimensions === undefined || dimensions === null || dimensions === size) return;
  throw new TidepoolError('unsupported_parameter', `dimensions: the model's embeddings have ${size} dimensions and cannot be shortened`, {
    param: 'dimensions',
  });
}

function base64Floats(vector: readonly number[]): string {
  return Buffer.from(Float32Array.from(vector).buffer).toString('base64');
}
