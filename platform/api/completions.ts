import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import { readSampling } from '../../protocol/sampling.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import type { Generation, Usage } from '../functions/invoker.js';
import type { LoggedToken } from '../functions/output-text.js';
import { type ChoiceEvent, MAX_CHOICES, choiceSamplings, mergeChoices, readN, startChoices } from './choices.js';
import { type ChatBase, completionHead } from './chat-response.js';
import { type TokenStrings, completionLogprobs, tokenStrings } from './logprobs-shapes.js';
import { type OpenAiContext, openAiRequest } from './openai-context.js';
import { generatingFunction, readIncludeUsage, readStream } from './request-params.js';
import { requestConstraint } from './request-constraint.js';
import { type CollectedGeneration, clientSignal, collect, setEngineTiming, streamGeneration, usageBody } from './run-generation.js';
import { chunkEncoder } from './sse.js';
import { plan } from './tool-plan.js';

/** One prompt of a Completions request: its token ids and its text (what `echo` repeats). */
export interface CompletionPrompt {
  readonly tokens: readonly number[];
  readonly text: string;
}

/**
 * `POST /v1/completions`: one prompt or a batch (texts, token ids, or lists of token ids), `n` choices per
 * prompt (choice index = prompt index × n + j, as OpenAI), `echo`, logprobs (`tokens`, `token_logprobs`,
 * `top_logprobs`, `text_offset`), `response_format` (a vLLM extension), streamed or whole.
 */
export async function completions(ctx: OpenAiContext, check: (body: Readonly<Record<string, unknown>>) => void, req: Request, res: Response): Promise<void> {
  const request = openAiRequest(req, res, check);
  const { body } = request;
  const stream = readStream(body);
  const includeUsage = readIncludeUsage(body);
  const sampling = readSampling(body, 'completions');
  const n = readN(body);
  const bestOf = readBestOf(body, n, stream);
  const echo = readEcho(body, sampling.logprobs === true);
  const fn = generatingFunction(await ctx.functions.resolve(request.model));
  const prompts = readPrompts(body.prompt, fn);
  if (prompts.length * bestOf > MAX_CHOICES) {
    throw new TidepoolError(
      'invalid_parameter',
      `${bestOf > n ? 'best_of' : 'n'} (${bestOf}) × prompts (${prompts.length}) exceeds ${MAX_CHOICES} choices per request`,
      { param: bestOf > n ? 'best_of' : 'n' },
    );
  }
  const constraint = requestConstraint(fn, plan(fn.tokenizer.chatFamily ?? 'tidepool', [], 'none', false, true), body.response_format);
  const features = {
    endpoint: 'completions',
    n,
    ...(bestOf > n ? { best_of: bestOf } : {}),
    prompts: prompts.length,
    response_format: constraint.format,
    ...(echo ? { echo } : {}),
  };
  // Ranking candidates needs their logprobs, whether or not the caller asked to see them.
  const withGrammar = { ...sampling, ...(constraint.grammar ? { grammar: constraint.grammar } : {}), ...(bestOf > n ? { logprobs: true } : {}) };
  const specs = prompts.flatMap((prompt, p) =>
    choiceSamplings(withGrammar, bestOf).map((s, j) => ({ promptTokens: prompt.tokens, sampling: s, features: { ...features, index: p * bestOf + j } })),
  );
  // The response id is choice 0's invocation id: a client finds its request in the records (`tidepool logs`).
  const id = `cmpl-${randomUUID().replaceAll('-', '')}`;
  const submittedAt = performance.now();
  const generations = await startChoices(ctx.invoker, fn, specs, { ...request, responseId: id }, clientSignal(req, res));
  const base = { id, created: Math.floor(request.arrivalMs / 1000), model: fn.name, system_fingerprint: `${fn.name}-v${fn.version}` };
  const echoed = (index: number) => (echo ? prompts[Math.floor(index / n)]!.text : '');
  const strings = sampling.logprobs ? tokenStrings(fn.tokenizer) : undefined;
  const promptTokens = prompts.reduce((sum, p) => sum + p.tokens.length, 0);
  if (stream) return completionStream(res, { base, generations, echoed, strings, includeUsage, promptTokens });
  const results = await Promise.all(generations.map(collect));
  if (res.destroyed) return;
  setEngineTiming(res, submittedAt);
  const returned = prompts.flatMap((_, p) => bestOfEach(results.slice(p * bestOf, (p + 1) * bestOf), n));
  const choices = returned.map((r, index) => ({
    index,
    text: echoed(index) + r.text,
    finish_reason: r.finishReason,
    logprobs: strings ? completionLogprobs(r.tokens, strings, echoed(index).length) : null,
  }));
  const usage = { promptTokens, completionTokens: results.reduce((sum, r) => sum + r.usage.completionTokens, 0) };
  res.json({ ...completionHead(base, 'text_completion'), choices, usage: usageBody(usage) });
}

/**
 * `best_of`: candidates generated per prompt, of which the `n` best are returned; absent or null is `n`. At
 * least `n`, at most 20 (as OpenAI), and not streamed (the best is known only at the end).
 */
function readBestOf(body: Readonly<Record<string, unknown>>, n: number, stream: boolean): number {
  const bestOf = body.best_of ?? n;
  if (typeof bestOf !== 'number' || !Number.isInteger(bestOf) || bestOf < n || bestOf > MAX_BEST_OF) {
    throw new TidepoolError('invalid_parameter', `best_of: must be an integer from n (${n}) to ${MAX_BEST_OF}`, { param: 'best_of' });
  }
  if (stream && bestOf > n)
    throw new TidepoolError('unsupported_parameter', 'best_of: cannot be streamed (the best candidates are known only when all have finished)', {
      param: 'best_of',
    });
  return bestOf;
}

const MAX_BEST_OF = 20;

/**
 * The `n` candidates with the highest log-probability per token (OpenAI's rule), best first; ties keep
 * generation order. A candidate without text tokens ranks last. With as many candidates as `n`, all of them
 * in order.
 */
function bestOfEach(candidates: readonly CollectedGeneration[], n: number): CollectedGeneration[] {
  if (candidates.length === n) return [...candidates];
  const score = (c: CollectedGeneration) => (c.tokens.length === 0 ? -Infinity : c.tokens.reduce((sum, t) => sum + t.logprob, 0) / c.tokens.length);
  return candidates
    .map((candidate, order) => ({ candidate, order, score: score(candidate) }))
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, n)
    .map((ranked) => ranked.candidate);
}

/** `echo`: false unless set; with logprobs it would need the prompt's own logprobs, which are not computed. */
function readEcho(body: Readonly<Record<string, unknown>>, logprobs: boolean): boolean {
  const echo = body.echo ?? false;
  if (typeof echo !== 'boolean') throw new TidepoolError('invalid_parameter', 'echo: must be a boolean', { param: 'echo' });
  if (echo && logprobs)
    throw new TidepoolError('unsupported_parameter', "echo: not supported together with logprobs (the prompt tokens' logprobs are not computed)", {
      param: 'echo',
    });
  return echo;
}

/** `prompt`: a text, a list of texts, a list of token ids, or a list of such lists; none may be empty. */
export function readPrompts(raw: unknown, fn: ResolvedFunction, param = 'prompt'): CompletionPrompt[] {
  const fail = (what: string) => new TidepoolError('invalid_parameter', `${param}: ${what}`, { param });
  const ids = (list: readonly unknown[], at: string): CompletionPrompt => {
    if (list.length === 0) throw fail(`${at}must not be an empty list of token ids`);
    const bad = list.find((id) => !Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= fn.vocabSize);
    if (bad !== undefined) throw fail(`${at}token id ${JSON.stringify(bad)} is outside the vocabulary (ids 0-${fn.vocabSize - 1})`);
    return { tokens: list as number[], text: fn.tokenizer.decode(list as number[]) };
  };
  const text = (s: string, at: string): CompletionPrompt => {
    if (s.length === 0) throw fail(`${at}must not be empty`);
    return { tokens: fn.tokenizer.encode(s), text: s };
  };
  if (typeof raw === 'string') return [text(raw, '')];
  if (!Array.isArray(raw) || raw.length === 0) throw fail('must be a string, a list of strings, a list of token ids or a list of token-id lists');
  if (raw.length > MAX_CHOICES) throw fail(`at most ${MAX_CHOICES} prompts per request, got ${raw.length}`);
  if (raw.every((x) => typeof x === 'number')) return [ids(raw, '')];
  return raw.map((item: unknown, i) => {
    if (typeof item === 'string') return text(item, `[${i}] `);
    if (Array.isArray(item)) return ids(item, `[${i}] `);
    throw fail(`[${i}] must be a string or a list of token ids`);
  });
}

interface CompletionStreamOptions {
  readonly base: ChatBase;
  readonly generations: readonly Generation[];
  readonly echoed: (index: number) => string;
  readonly strings: TokenStrings | undefined;
  readonly includeUsage: boolean;
  readonly promptTokens: number;
}

/** Text chunks per choice (the echoed prompt first), each with the logprobs of its tokens, then one finish chunk per choice. */
async function completionStream(res: Response, o: CompletionStreamOptions): Promise<void> {
  const chunk = chunkEncoder(completionHead(o.base, 'text_completion'));
  const offsets = o.generations.map((_, i) => o.echoed(i).length);
  const usages: Usage[] = [];
  const logprobs = (index: number, tokens: readonly LoggedToken[] | undefined) => {
    if (!o.strings) return null;
    const shaped = completionLogprobs(tokens ?? [], o.strings, offsets[index]!);
    offsets[index] = tokens && tokens.length > 0 ? shaped.text_offset.at(-1)! + shaped.tokens.at(-1)!.length : offsets[index]!;
    return shaped;
  };
  const frame = ({ index, event }: ChoiceEvent): unknown[] => {
    if (event.type === 'text') return [chunk({ choices: [{ index, text: event.text, finish_reason: null, logprobs: logprobs(index, event.tokens) }] })];
    usages.push(event.usage);
    return [chunk({ choices: [{ index, text: '', finish_reason: event.finishReason, logprobs: null }] })];
  };
  const preamble = o.generations.flatMap((_, index) =>
    o.echoed(index) ? [chunk({ choices: [{ index, text: o.echoed(index), finish_reason: null, logprobs: null }] })] : [],
  );
  const epilogue = () => {
    if (!o.includeUsage) return [];
    const usage = { promptTokens: o.promptTokens, completionTokens: usages.reduce((sum, u) => sum + u.completionTokens, 0) };
    return [chunk({ choices: [], usage: usageBody(usage) })];
  };
  await streamGeneration(res, mergeChoices(o.generations), frame, preamble, epilogue);
}
