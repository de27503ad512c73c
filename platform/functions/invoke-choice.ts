import { randomUUID } from 'node:crypto';
import { TidepoolError } from '../../protocol/errors.js';
import { MAX_GROUP_CHOICES, type NodeGenerateRequest } from '../../protocol/node-runtime.js';
import { type SamplingParams, checkSamplingIds, resolveSampling } from '../../protocol/sampling.js';
import type { InvokeParams } from './invoke-params.js';
import type { ResolvedFunction } from './resolved-function.js';

/** One choice ready to run: its invocation id and its complete sampling record. */
export interface PreparedChoice {
  readonly id: string;
  readonly params: InvokeParams;
  readonly sampling: SamplingParams;
}

/**
 * The function's default `max_tokens`, clamped to what the context leaves after the prompt: a caller who
 * sent no `max_tokens` gets as much as fits, never an error about a value they did not send.
 */
function defaultMaxTokens(fn: ResolvedFunction, promptTokens: number): number {
  return Math.max(1, Math.min(fn.manifest.defaults.max_tokens, fn.contextLength - promptTokens));
}

/** `maxTokens` is what the caller sent, or the clamped default (which always fits once the prompt does). */
function checkContext(fn: ResolvedFunction, promptTokens: number, maxTokens: number): void {
  if (promptTokens === 0) throw new TidepoolError('empty_prompt', 'the prompt encodes to no tokens', { param: 'prompt' });
  if (promptTokens >= fn.contextLength) {
    throw new TidepoolError(
      'context_length_exceeded',
      `prompt (${promptTokens} tokens) leaves no room in the context length ${fn.contextLength} of function ${fn.name}`,
      { param: 'prompt' },
    );
  }
  if (promptTokens + maxTokens <= fn.contextLength) return;
  throw new TidepoolError(
    'context_length_exceeded',
    `prompt (${promptTokens} tokens) + max_tokens (${maxTokens}) = ${promptTokens + maxTokens} exceeds the context length ${fn.contextLength} of function ${fn.name}`,
    { param: 'max_tokens' },
  );
}

/** Resolves a choice's sampling against the function's defaults and checks it fits the model; throws a 4xx. */
export function prepareChoice(fn: ResolvedFunction, params: InvokeParams): PreparedChoice {
  const defaults = { ...fn.manifest.defaults, max_tokens: defaultMaxTokens(fn, params.promptTokens.length) };
  const sampling = resolveSampling(params.sampling, defaults);
  checkSamplingIds(sampling, fn.vocabSize);
  checkContext(fn, params.promptTokens.length, sampling.max_tokens);
  return { id: params.id ?? randomUUID(), params, sampling };
}

/**
 * A group's choices must be one prompt sampled alike but for the seed (what the node runs as one prefill):
 * the same prompt and the same value in every sampling field but `seed` (the same object, as `n`'s choices
 * share them, or an equal one). A caller that breaks this has a bug, not a bad request.
 */
export function checkOneGroup(choices: readonly PreparedChoice[]): void {
  if (choices.length < 1 || choices.length > MAX_GROUP_CHOICES) throw new Error(`a group holds 1 to ${MAX_GROUP_CHOICES} choices, got ${choices.length}`);
  const [first, ...rest] = choices;
  const fields = Object.keys(first!.sampling) as (keyof SamplingParams)[];
  for (const c of rest) {
    const prompt = c.params.promptTokens;
    const samePrompt =
      prompt === first!.params.promptTokens ||
      (prompt.length === first!.params.promptTokens.length && prompt.every((t, i) => t === first!.params.promptTokens[i]));
    const differs = fields.find((f) => f !== 'seed' && !sameValue(c.sampling[f], first!.sampling[f]));
    if (!samePrompt || differs)
      throw new Error(`a group's choices share their prompt and sampling but the seed; ${samePrompt ? `sampling.${differs}` : 'the prompt'} differs`);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));
}

/** What the node is asked to run for a group: choice 0's request, and every choice's seed when there are several. */
export function nodeRequestOf(fn: ResolvedFunction, choices: readonly PreparedChoice[]): NodeGenerateRequest {
  const first = choices[0]!;
  const request = {
    id: first.id,
    functionName: fn.name,
    version: fn.version,
    artifact: fn.artifact,
    promptTokens: first.params.promptTokens,
    sampling: first.sampling,
    stopTokenIds: fn.tokenizer.stopTokenIds,
    slo: { ttftMs: fn.manifest.slo.ttft_ms, tpotMs: fn.manifest.slo.tpot_ms },
    keepWarmMs: fn.manifest.keep_warm_ms,
  };
  return choices.length === 1 ? request : { ...request, seeds: choices.map((c) => c.sampling.seed) };
}
