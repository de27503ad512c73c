import { chatLogprobs, tokenStrings } from './logprobs-shapes.js';
import { Router } from 'express';
import { principalOf } from '../auth/api-key-auth.js';
import { functionNotFound, mayUseFunction } from '../auth/api-keys.js';
import type { FunctionService } from '../functions/function-service.js';
import type { GenerationEvent, Invoker } from '../functions/invoker.js';
import { TidepoolError } from '../../protocol/errors.js';
import { readSampling } from '../../protocol/sampling.js';
import { generatingFunction, parseMessages, readStream, requireObject, type ChatMessage } from './request-params.js';
import { clientSignal, collect, setEngineTiming, streamGeneration, usageBody } from './run-generation.js';

export interface FunctionRoutesOptions {
  readonly functions: FunctionService;
  readonly invoker: Invoker;
  readonly renderChat: (messages: readonly ChatMessage[]) => string;
}

/** The native API: deploy, list, show, delete and invoke functions. */
export function functionRoutes(options: FunctionRoutesOptions): Router {
  const router = Router();
  const { functions } = options;
  router.post('/v1/functions', async (req, res) => {
    const result = await functions.deploy(requireObject(req.body));
    res.status(201).json({ name: result.name, version: result.version, artifact_digest: result.weightsDigest, size_bytes: result.sizeBytes });
  });
  router.get('/v1/functions', async (_req, res) => {
    const principal = principalOf(res);
    const list = (await functions.list()).filter((f) => mayUseFunction(principal, f.name));
    res.json({
      data: list.map((f) => ({
        name: f.name,
        description: f.description,
        active_version: f.activeVersion,
        artifact_digest: f.weightsDigest,
        size_bytes: f.sizeBytes,
        created_at: f.createdAt.toISOString(),
        updated_at: f.updatedAt.toISOString(),
      })),
    });
  });
  router.get('/v1/functions/:name', async (req, res) => {
    if (!mayUseFunction(principalOf(res), req.params.name)) throw functionNotFound(req.params.name);
    const d = await functions.show(req.params.name);
    const active = d.versions.find((v) => v.active);
    res.json({
      name: d.name,
      description: d.description,
      active_version: d.activeVersion,
      size_bytes: active?.sizeBytes ?? 0,
      manifest: active?.manifest ?? null,
      versions: d.versions.map((v) => ({
        version: v.version,
        active: v.active,
        artifact_digest: v.weightsDigest,
        size_bytes: v.sizeBytes,
        created_at: v.createdAt.toISOString(),
        files: v.files,
      })),
      // No entry on any node means the weights are only in the object store (cold).
      residency:
        d.residency.length > 0
          ? d.residency.map((r) => ({ node: r.nodeId, tier: r.tier, bytes: r.bytes, queued: r.queued, running: r.running }))
          : [{ node: null, tier: 'store', bytes: active?.sizeBytes ?? 0, queued: 0, running: 0 }],
    });
  });
  router.delete('/v1/functions/:name', async (req, res) => {
    await functions.remove(req.params.name);
    res.json({ name: req.params.name, deleted: true });
  });
  router.post('/v1/functions/:name/invoke', async (req, res) => {
    const arrivalMs = Date.now();
    if (!mayUseFunction(principalOf(res), req.params.name)) throw functionNotFound(req.params.name);
    const body = requireObject(req.body);
    const stream = readStream(body);
    const sampling = readSampling(body);
    const prompt = readPrompt(body, options.renderChat);
    const fn = generatingFunction(await functions.resolve(req.params.name));
    const submittedAt = performance.now();
    const generation = await options.invoker.start(
      fn,
      { sampling, promptTokens: fn.tokenizer.encode(prompt), arrivalMs, caller: principalOf(res) },
      clientSignal(req, res),
    );
    // With `logprobs`, each token's logprob, bytes and top alternatives, in the Chat Completions shape.
    const strings = sampling.logprobs ? tokenStrings(fn.tokenizer) : undefined;
    const logprobs = (tokens: Parameters<typeof chatLogprobs>[0] | undefined) => (strings ? { logprobs: chatLogprobs(tokens ?? [], strings).content } : {});
    if (!stream) {
      const r = await collect(generation);
      setEngineTiming(res, submittedAt);
      if (!res.destroyed) {
        res.json({
          id: generation.id,
          function: fn.name,
          version: fn.version,
          text: r.text,
          finish_reason: r.finishReason,
          usage: usageBody(r.usage),
          ...logprobs(r.tokens),
        });
      }
      return;
    }
    const frame = (e: GenerationEvent): unknown[] =>
      e.type === 'text'
        ? [{ type: 'token', text: e.text, ...logprobs(e.tokens) }]
        : [{ type: 'done', finish_reason: e.finishReason, usage: usageBody(e.usage) }];
    await streamGeneration(res, generation, frame, [{ type: 'start', id: generation.id, function: fn.name, version: fn.version }]);
  });
  return router;
}

function readPrompt(body: Record<string, unknown>, renderChat: FunctionRoutesOptions['renderChat']): string {
  const hasPrompt = body.prompt !== undefined;
  if (hasPrompt === (body.messages !== undefined)) {
    throw new TidepoolError('invalid_parameter', 'exactly one of prompt or messages is required', { param: 'prompt' });
  }
  if (!hasPrompt) return renderChat(parseMessages(body.messages));
  if (typeof body.prompt !== 'string' || body.prompt.length === 0)
    throw new TidepoolError('invalid_parameter', 'prompt: must be a non-empty string', { param: 'prompt' });
  return body.prompt;
}
