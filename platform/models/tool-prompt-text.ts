import { DEFAULT_JSON_STYLE, jsonText } from '../../protocol/structured-output/json-style.js';
import type { FunctionTool, ToolCall } from './tool-types.js';

/**
 * Jinja's `tojson` as Hugging Face chat templates run it: Python's `json.dumps(ensure_ascii=False)`, so
 * `", "` and `": "` without indent, `","` and `": "` with it. Numbers print as JavaScript prints them (a
 * JSON `1.0` arrives here as 1 and prints `1`, where Python would keep `1.0`).
 */
export function toJson(value: unknown, indent?: number): string {
  return indent === undefined ? jsonText(value, DEFAULT_JSON_STYLE) : JSON.stringify(value, null, indent);
}

/** The tool as a template sees it: `{"type": "function", "function": {name, description?, parameters?}}`. */
export function toolForTemplate(tool: FunctionTool): Record<string, unknown> {
  const { name, description, parameters } = tool.function;
  return { type: 'function', function: { name, ...(description !== undefined ? { description } : {}), ...(parameters !== undefined ? { parameters } : {}) } };
}

/**
 * The tool section Qwen2.5's template appends to the system message, and the Hermes call syntax it teaches
 * (Qwen/Qwen2.5-7B-Instruct, tokenizer_config.json `chat_template`,
 * https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/tokenizer_config.json).
 */
export function hermesToolSection(tools: readonly FunctionTool[]): string {
  return (
    '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' +
    tools.map((t) => `\n${toJson(toolForTemplate(t))}`).join('') +
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
  );
}

/** One past call as Qwen2.5's template renders it (arguments re-serialised with `tojson`), without the leading newline. */
export function hermesToolCall(call: ToolCall): string {
  return `<tool_call>\n{"name": "${call.function.name}", "arguments": ${toJson(JSON.parse(call.function.arguments))}}\n</tool_call>`;
}
