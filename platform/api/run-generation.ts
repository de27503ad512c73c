import type { Request, Response } from 'express';
import type { Generation, GenerationEvent, Usage } from '../functions/invoker.js';
import type { LoggedToken } from '../functions/output-text.js';
import { toCodedError } from './error-middleware.js';
import { errorBody } from './http-error.js';
import { disconnectSignal, endSse, sendSse, startSse } from './sse.js';

export type FinishReason = 'stop' | 'length';

/**
 * `Server-Timing: engine;dur=<ms>` on a non-streaming response: from submitting the generation to the node
 * (`submittedAt`, `performance.now()` just before `invoker.start`) to its last token, so a client can subtract
 * it from its own latency per request to get what the control plane adds.
 */
export function setEngineTiming(res: Response, submittedAt: number): void {
  res.set('Server-Timing', `engine;dur=${(performance.now() - submittedAt).toFixed(3)}`);
}

export interface CollectedGeneration {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  /** With `logprobs`: every token of the text, in order. */
  readonly tokens: readonly LoggedToken[];
}

/** Collects a whole generation (non-streaming responses). */
export async function collect(generation: Generation): Promise<CollectedGeneration> {
  let text = '';
  const tokens: LoggedToken[] = [];
  for await (const event of generation) {
    if (event.type === 'text') {
      text += event.text;
      if (event.tokens) tokens.push(...event.tokens);
    } else {
      return { text, finishReason: event.finishReason, usage: event.usage, tokens };
    }
  }
  // Only reachable when the client went away; nobody reads this.
  return { text, finishReason: 'length', usage: { promptTokens: 0, completionTokens: 0 }, tokens };
}

/**
 * Streams a generation as SSE. `frame` turns each event into the route's chunk shape (null: send nothing).
 * An error after the first byte cannot change the status any more, so it goes out as one `data: {"error":...}`
 * frame (what OpenAI clients raise on), and the stream ends without `[DONE]`.
 */
export async function streamGeneration<E = GenerationEvent>(
  res: Response,
  generation: AsyncIterable<E>,
  frame: (event: E) => readonly unknown[],
  preamble: readonly unknown[] = [],
  epilogue: () => readonly unknown[] = () => [],
  options: { readonly doneMarker?: boolean } = {},
): Promise<void> {
  startSse(res);
  for (const chunk of preamble) sendSse(res, chunk);
  try {
    for await (const event of generation) {
      if (res.writableEnded || res.destroyed) break;
      for (const chunk of frame(event)) sendSse(res, chunk);
    }
    for (const chunk of epilogue()) sendSse(res, chunk);
  } catch (error) {
    sendSse(res, errorBody(toCodedError(error)));
    res.end();
    return;
  }
  endSse(res, options.doneMarker ?? true);
}

/** The abort signal a generation listens to: the client closing its connection. */
export function clientSignal(_req: Request, res: Response): AbortSignal {
  return disconnectSignal(res);
}

/** Usage of several choices: each distinct prompt counted once (`promptTokens` per prompt), every completion token. */
export function sumUsage(promptTokens: number, usages: readonly Usage[]): Usage {
  return { promptTokens, completionTokens: usages.reduce((sum, u) => sum + u.completionTokens, 0) };
}

export function usageBody(usage: Usage): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens };
}
