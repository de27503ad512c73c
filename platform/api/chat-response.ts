import { toLegacyMessage } from '../models/legacy-functions.js';
import { parseToolCalls } from '../models/tool-call-parser.js';
import type { ParsedToolCalls } from '../models/tool-call-deltas.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import { chatLogprobs, tokenStrings } from './logprobs-shapes.js';
import { type CollectedGeneration, type FinishReason, sumUsage, usageBody } from './run-generation.js';
import type { ToolPlan } from './tool-plan.js';

export interface ChatBase {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly system_fingerprint: string;
}

/** A response's or chunk's leading fields in OpenAI's order: id, object, created, model, system_fingerprint. */
export function completionHead(base: ChatBase, object: string): Record<string, unknown> {
  return { id: base.id, object, created: base.created, model: base.model, system_fingerprint: base.system_fingerprint };
}

export type ChatFinishReason = FinishReason | 'tool_calls' | 'function_call';

/**
 * The finish reason of an answer: `length` when max_tokens cut it (even inside a call or a JSON document,
 * as OpenAI), else `tool_calls` (legacy: `function_call`) when it made calls, else `stop`.
 */
export function chatFinishReason(finish: FinishReason, calls: number, tools: ToolPlan): ChatFinishReason {
  if (finish === 'length' || calls === 0) return finish;
  return tools.legacy ? 'function_call' : 'tool_calls';
}

/** A whole answer as a chat message: content, and the tool calls read out of it when tools are in play. */
export function chatMessage(text: string, tools: ToolPlan): { message: Record<string, unknown>; calls: number } {
  if (!tools.parse) return { message: { role: 'assistant', content: text }, calls: 0 };
  const parsed: ParsedToolCalls = parseToolCalls(tools.family, text);
  if (tools.legacy) return { message: { role: 'assistant', ...toLegacyMessage(parsed) }, calls: Math.min(parsed.toolCalls.length, 1) };
  const calls = parsed.toolCalls.length;
  return { message: { role: 'assistant', content: parsed.content, ...(calls > 0 ? { tool_calls: parsed.toolCalls } : {}) }, calls };
}

export function chatResponse(o: {
  readonly base: ChatBase;
  readonly fn: ResolvedFunction;
  readonly tools: ToolPlan;
  readonly results: readonly CollectedGeneration[];
  readonly promptTokens: number;
  readonly logprobs: boolean;
}): Record<string, unknown> {
  const strings = tokenStrings(o.fn.tokenizer);
  const choices = o.results.map((result, index) => {
    const { message, calls } = chatMessage(result.text, o.tools);
    return {
      index,
      message,
      finish_reason: chatFinishReason(result.finishReason, calls, o.tools),
      logprobs: o.logprobs ? chatLogprobs(result.tokens, strings) : null,
    };
  });
  const usage = sumUsage(
    o.promptTokens,
    o.results.map((r) => r.usage),
  );
  return { ...completionHead(o.base, 'chat.completion'), choices, usage: usageBody(usage) };
}
