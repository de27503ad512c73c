import { TidepoolError } from '../../protocol/errors.js';
import type { ChatFamily } from '../models/chat-family.js';
import { parseLegacyFunctions } from '../models/legacy-functions.js';
import { parseToolChoice, parseTools } from '../models/tool-messages.js';
import type { FunctionTool, ToolChoice } from '../models/tool-types.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import { asRequestError } from './constraint.js';

/** What a request does with tools: which it offers, how it lets the model use them, and how answers are read. */
export interface ToolPlan {
  readonly family: ChatFamily;
  readonly tools: readonly FunctionTool[];
  readonly choice: ToolChoice;
  /** The request used the deprecated `functions` / `function_call` (answers use `function_call`, one call). */
  readonly legacy: boolean;
  /** `parallel_tool_calls` (default true): several calls in one answer where the family allows it. */
  readonly parallel: boolean;
  /** Whether answers are read for tool calls: tools offered and `tool_choice` is not "none". */
  readonly parse: boolean;
}

/** Reads `tools` / `tool_choice` / `parallel_tool_calls` (or the legacy pair) of a Chat Completions body. */
export function chatToolPlan(fn: ResolvedFunction, body: Readonly<Record<string, unknown>>): ToolPlan {
  const family = fn.tokenizer.chatFamily ?? 'tidepool';
  const parallel = readParallel(body.parallel_tool_calls);
  return asRequestError(() => {
    const legacy = parseLegacyFunctions(body);
    if (legacy) return plan(family, legacy.tools, legacy.toolChoice, true, false);
    const tools = parseTools(body.tools);
    if (tools.length === 0 && body.tool_choice !== undefined && body.tool_choice !== null && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
      throw new TidepoolError('invalid_parameter', 'tool_choice: needs tools', { param: 'tool_choice' });
    }
    return plan(family, tools, parseToolChoice(body.tool_choice, tools), false, parallel);
  });
}

export function plan(family: ChatFamily, tools: readonly FunctionTool[], choice: ToolChoice, legacy: boolean, parallel: boolean): ToolPlan {
  return { family, tools, choice, legacy, parallel, parse: tools.length > 0 && choice !== 'none' };
}

export function readParallel(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== 'boolean') throw new TidepoolError('invalid_parameter', 'parallel_tool_calls: must be a boolean', { param: 'parallel_tool_calls' });
  return value;
}

/** For the invocation record: tool names and the choice (names only: schemas can be large). */
export function toolFeatures(tools: ToolPlan): Record<string, unknown> {
  if (tools.tools.length === 0) return {};
  const choice = typeof tools.choice === 'string' ? tools.choice : { function: tools.choice.function.name };
  return { tools: tools.tools.map((t) => t.function.name), tool_choice: choice, ...(tools.legacy ? { legacy_functions: true } : {}) };
}
