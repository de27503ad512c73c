import { randomUUID } from 'node:crypto';
import { parseToolCalls } from '../models/tool-call-parser.js';
import type { ToolCall } from '../models/tool-types.js';
import type { Usage } from '../functions/invoker.js';
import type { ToolPlan } from './tool-plan.js';

/**
 * The Responses API's objects: a response (`object: "response"`) whose `output` holds a `message` item
 * (`output_text` content) and `function_call` items, as OpenAI shapes them.
 */
type Raw = Record<string, unknown>;

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete';

export function newItemId(prefix: 'resp' | 'msg' | 'fc'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}

export function textPart(text: string, logprobs: readonly unknown[] | undefined): Raw {
  return { type: 'output_text', text, annotations: [], ...(logprobs ? { logprobs } : {}) };
}

export function messageItem(id: string, status: ResponseStatus, content: readonly Raw[]): Raw {
  return { id, type: 'message', status, role: 'assistant', content };
}

export function callItem(id: string, status: ResponseStatus, call: { readonly callId: string; readonly name: string; readonly arguments: string }): Raw {
  return { id, type: 'function_call', status, call_id: call.callId, name: call.name, arguments: call.arguments };
}

/** The output items of a whole answer: its text (when there is any, or nothing else), then its tool calls. */
export function wholeOutput(text: string, tools: ToolPlan, status: ResponseStatus, logprobs: readonly unknown[] | undefined): Raw[] {
  const parsed = tools.parse ? parseToolCalls(tools.family, text) : { content: text, toolCalls: [] as readonly ToolCall[] };
  const items: Raw[] = [];
  if ((parsed.content ?? '') !== '' || parsed.toolCalls.length === 0)
    items.push(messageItem(newItemId('msg'), status, [textPart(parsed.content ?? '', logprobs)]));
  for (const call of parsed.toolCalls)
    items.push(callItem(newItemId('fc'), status, { callId: call.id, name: call.function.name, arguments: call.function.arguments }));
  return items;
}

export function usageOf(usage: Usage): Raw {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/** What a response echoes of its request. */
export interface ResponseHead {
  readonly id: string;
  readonly createdAt: number;
  readonly model: string;
  readonly body: Readonly<Raw>;
}

export function responseObject(head: ResponseHead, status: ResponseStatus, output: readonly Raw[], usage: Usage | null): Raw {
  const b = head.body;
  return {
    id: head.id,
    object: 'response',
    created_at: head.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: head.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: false,
    temperature: b.temperature ?? null,
    text: { format: (b.text as Raw | undefined)?.format ?? { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_p: b.top_p ?? null,
    truncation: 'disabled',
    usage: usage ? usageOf(usage) : null,
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}
