import { TURN_MARKERS, type ChatFamily } from './chat-family.js';
import { ChatTemplateError } from './chat-template.js';
import { FUNCTION_NAME, type FunctionTool, type ToolCall, type ToolChatMessage, type ToolChoice } from './tool-types.js';

/** As OpenAI: at most 128 tools per request. */
export const MAX_TOOLS = 128;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `tools`: function tools with distinct names; every problem names its index. */
export function parseTools(raw: unknown, param = 'tools'): FunctionTool[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ChatTemplateError(`${param}: must be an array of function tools`, param);
  return parseFunctions(
    raw.map((tool: unknown, i) => {
      if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
        throw new ChatTemplateError(`${param}[${i}]: must be {"type": "function", "function": {...}}`, param);
      }
      return tool.function;
    }),
    (i) => `${param}[${i}].function`,
    param,
  );
}

/** Function definitions ({name, description?, parameters?, strict?}), as in `tools[].function` and legacy `functions`. */
export function parseFunctions(raw: readonly unknown[], at: (i: number) => string, param: string): FunctionTool[] {
  if (raw.length > MAX_TOOLS) throw new ChatTemplateError(`${param}: at most ${MAX_TOOLS} tools are allowed, got ${raw.length}`, param);
  const seen = new Set<string>();
  return raw.map((fn: unknown, i) => {
    const fail = (what: string) => new ChatTemplateError(`${at(i)}${what}`, param);
    if (!isObject(fn)) throw fail(': must be an object');
    const { name, description, parameters, strict } = fn;
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) throw fail('.name: must be 1-64 letters, digits, _ or -');
    if (seen.has(name)) throw fail(`.name: "${name}" is used by an earlier tool`);
    seen.add(name);
    if (description !== undefined && description !== null && typeof description !== 'string') throw fail('.description: must be a string');
    if (parameters !== undefined && parameters !== null && !isObject(parameters)) throw fail('.parameters: must be a JSON Schema object');
    if (strict !== undefined && strict !== null && typeof strict !== 'boolean') throw fail('.strict: must be a boolean');
    return {
      type: 'function' as const,
      function: {
        name,
        ...(typeof description === 'string' ? { description } : {}),
        ...(isObject(parameters) ? { parameters } : {}),
        ...(typeof strict === 'boolean' ? { strict } : {}),
      },
    };
  });
}

/** `tool_choice`, checked against the tools; absent means `auto` with tools and `none` without. */
export function parseToolChoice(raw: unknown, tools: readonly FunctionTool[], param = 'tool_choice'): ToolChoice {
  if (raw === undefined || raw === null) return tools.length > 0 ? 'auto' : 'none';
  const names = tools.map((t) => t.function.name);
  if (raw === 'none' || raw === 'auto') return raw;
  if (raw === 'required') {
    if (tools.length === 0) throw new ChatTemplateError(`${param}: "required" needs at least one tool in tools`, param);
    return raw;
  }
  if (isObject(raw) && raw.type === 'function' && isObject(raw.function) && typeof raw.function.name === 'string') {
    const name = raw.function.name;
    if (!names.includes(name)) {
      throw new ChatTemplateError(`${param}: function "${name}" is not among tools (${names.length > 0 ? names.join(', ') : 'none given'})`, param);
    }
    return { type: 'function', function: { name } };
  }
  throw new ChatTemplateError(`${param}: must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}`, param);
}

/**
 * Chat messages including tool calls: roles system (`developer` is read as system), user, assistant (content
 * may be null when it has `tool_calls`) and tool (with the `tool_call_id` of a call in the assistant message
 * just before). The legacy forms are read too: an assistant `function_call` is a call with the id
 * `legacy-<index>`, and a `role: "function"` message (with the function's `name`) is its result. Content is a
 * string or text parts. Content that holds one of the family's turn markers is refused, so no message can
 * forge another role's turn.
 */
export function parseToolChatMessages(raw: unknown, family: ChatFamily, param = 'messages'): ToolChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ChatTemplateError(`${param}: must be a non-empty array`, param);
  let openCalls: readonly ToolCall[] = [];
  return raw.map((message: unknown, i) => {
    const fail = (what: string) => new ChatTemplateError(`${param}[${i}]${what}`, param);
    if (!isObject(message)) throw fail(': must be an object');
    const role = message.role === 'developer' ? 'system' : message.role;
    if (!['system', 'user', 'assistant', 'tool', 'function'].includes(role as string)) throw fail('.role: must be system, developer, user, assistant or tool');
    const content = readContent(message.content, role === 'assistant', fail);
    if (content !== null && TURN_MARKERS[family].test(content))
      throw fail(`.content: must not contain a chat template marker such as ${markerExample(family)}`);
    if (role === 'tool' || role === 'function') return { role: 'tool' as const, content: content ?? '', toolCallId: answeredCall(message, openCalls, fail) };
    openCalls = [];
    if (role === 'system' || role === 'user') return { role, content: content ?? '' };
    const toolCalls =
      message.tool_calls === undefined && isObject(message.function_call)
        ? [legacyCall(message.function_call, i, fail)]
        : readToolCalls(message.tool_calls, fail);
    if (content === null && toolCalls.length === 0) throw fail('.content: may be null only with tool_calls');
    openCalls = toolCalls;
    return { role: 'assistant' as const, content, toolCalls };
  });
}

/** The id of the open call a tool (or legacy function) message answers. */
function answeredCall(message: Raw, openCalls: readonly ToolCall[], fail: (what: string) => Error): string {
  if (message.role === 'function') {
    const call = openCalls.find((c) => c.function.name === message.name);
    if (!call) throw fail('.name: must name the function called in the assistant message before it');
    return call.id;
  }
  if (typeof message.tool_call_id !== 'string' || !openCalls.some((c) => c.id === message.tool_call_id)) {
    throw fail('.tool_call_id: must be the id of a tool call in the assistant message before it');
  }
  return message.tool_call_id;
}

function legacyCall(functionCall: Raw, index: number, fail: (what: string) => Error): ToolCall {
  return readToolCalls([{ id: `legacy-${index}`, type: 'function', function: functionCall }], (what) =>
    fail(what.replace('.tool_calls[0].function', '.function_call').replace('.tool_calls[0]', '.function_call')),
  )[0];
}

function readContent(v: unknown, nullable: boolean, fail: (what: string) => Error): string | null {
  if (typeof v === 'string') return v;
  if ((v === null || v === undefined) && nullable) return null;
  if (Array.isArray(v) && v.every((p) => isObject(p) && p.type === 'text' && typeof p.text === 'string'))
    return v.map((p) => (p as { text: string }).text).join('');
  throw fail('.content: must be a string or text parts');
}

function readToolCalls(v: unknown, fail: (what: string) => Error): ToolCall[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fail('.tool_calls: must be an array');
  return v.map((call: unknown, j) => {
    const at = `.tool_calls[${j}]`;
    if (!isObject(call) || typeof call.id !== 'string' || call.id.length === 0) throw fail(`${at}.id: must be a non-empty string`);
    if (call.type !== undefined && call.type !== 'function') throw fail(`${at}.type: must be "function"`);
    const fn = call.function;
    if (!isObject(fn) || typeof fn.name !== 'string' || !FUNCTION_NAME.test(fn.name)) throw fail(`${at}.function.name: must be 1-64 letters, digits, _ or -`);
    if (typeof fn.arguments !== 'string' || !isJsonObjectText(fn.arguments)) throw fail(`${at}.function.arguments: must be a JSON object encoded as a string`);
    return { id: call.id, type: 'function' as const, function: { name: fn.name, arguments: fn.arguments } };
  });
}

function isJsonObjectText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value);
  } catch {
    return false;
  }
}

function markerExample(family: ChatFamily): string {
  return { tidepool: '<|end|>', 'qwen2.5': '<|im_end|>', 'llama3.1': '<|eot_id|>' }[family];
}
