import { ChatTemplateError } from './chat-template.js';
import type { ChatDelta, ParsedToolCalls } from './tool-call-deltas.js';
import { parseFunctions } from './tool-messages.js';
import type { FunctionTool, ToolChoice } from './tool-types.js';

/**
 * OpenAI's deprecated `functions` / `function_call` (request) and `message.function_call` (answer), served
 * as tools: `functions[i]` is `tools[i].function`; `function_call` "none" / "auto" / {"name"} is
 * `tool_choice` "none" / "auto" / {"type": "function", "function": {"name"}}. One call at most (the legacy
 * answer holds one), and `finish_reason` is "function_call" where tools would say "tool_calls".
 */
export interface LegacyFunctionsRequest {
  readonly tools: FunctionTool[];
  readonly toolChoice: ToolChoice;
}

/** Undefined when the request uses neither field; refuses mixing them with `tools` / `tool_choice`. */
export function parseLegacyFunctions(body: Readonly<Record<string, unknown>>): LegacyFunctionsRequest | undefined {
  const { functions, function_call: functionCall } = body;
  if (functions === undefined && functionCall === undefined) return undefined;
  if (body.tools !== undefined || body.tool_choice !== undefined) {
    throw new ChatTemplateError('functions: the legacy functions / function_call cannot be combined with tools / tool_choice', 'functions');
  }
  if (functions !== undefined && !Array.isArray(functions)) throw new ChatTemplateError('functions: must be an array of functions', 'functions');
  const tools = parseFunctions((functions as unknown[] | undefined) ?? [], (i) => `functions[${i}]`, 'functions');
  return { tools, toolChoice: parseFunctionCall(functionCall, tools) };
}

function parseFunctionCall(raw: unknown, tools: readonly FunctionTool[]): ToolChoice {
  if (raw === undefined || raw === null) return tools.length > 0 ? 'auto' : 'none';
  if (raw === 'none' || raw === 'auto') return raw;
  const names = tools.map((t) => t.function.name);
  if (typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string') {
    const name = (raw as { name: string }).name;
    if (!names.includes(name))
      throw new ChatTemplateError(
        `function_call: function "${name}" is not among functions (${names.length > 0 ? names.join(', ') : 'none given'})`,
        'function_call',
      );
    return { type: 'function', function: { name } };
  }
  throw new ChatTemplateError('function_call: must be "none", "auto" or {"name": ...}', 'function_call');
}

/** The legacy answer: `content` and the first call as `function_call`. */
export function toLegacyMessage(parsed: ParsedToolCalls): { content: string | null; function_call?: { name: string; arguments: string } } {
  const first = parsed.toolCalls[0];
  return first ? { content: parsed.content, function_call: { name: first.function.name, arguments: first.function.arguments } } : { content: parsed.content };
}

/** A streamed delta in the legacy shape (`delta.function_call` with `name` first, then `arguments` pieces). */
export function toLegacyDelta(delta: ChatDelta): { content: string } | { function_call: { name?: string; arguments: string } } | undefined {
  if ('content' in delta) return delta;
  const call = delta.tool_calls.find((c) => c.index === 0);
  if (!call) return undefined;
  return {
    function_call: call.function.name !== undefined ? { name: call.function.name, arguments: call.function.arguments } : { arguments: call.function.arguments },
  };
}
