import { ChatTemplateError } from './chat-template.js';
import { toJson, toolForTemplate } from './tool-prompt-text.js';
import type { FunctionTool, ToolChatMessage } from './tool-types.js';

/**
 * Llama 3.1-Instruct's chat template with JSON tool calling, rewritten from the Jinja template in
 * https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/tokenizer_config.json (`chat_template`),
 * with its defaults (`tools_in_user_message` true, `date_string` "26 Jul 2024", no built-in tools):
 *
 *     <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
 *     [Environment: ipython\n]Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}<|eot_id|>
 *     <|start_header_id|>user<|end_header_id|>\n\n[{tool instructions and schemas, indent 4}]{content}<|eot_id|>
 *     <|start_header_id|>assistant<|end_header_id|>\n\n{"name": "f", "parameters": {...}}<|eot_id|>
 *     <|start_header_id|>ipython<|end_header_id|>\n\n{tool content | tojson}<|eot_id|>
 *     <|start_header_id|>assistant<|end_header_id|>\n\n                (the generation prompt)
 *
 * As in the original: contents are trimmed, tools go into the first user message, an assistant message may
 * carry only one tool call, and a tool result is JSON-encoded (Jinja's `iterable` test holds for strings).
 */
export const LLAMA31_DEFAULT_DATE = '26 Jul 2024';

export function renderLlama31Chat(messages: readonly ToolChatMessage[], tools: readonly FunctionTool[] = [], date = LLAMA31_DEFAULT_DATE): string {
  let rest = messages;
  let system = '';
  if (rest[0]?.role === 'system') {
    system = rest[0].content.trim();
    rest = rest.slice(1);
  }
  let text = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n';
  if (tools.length > 0) text += 'Environment: ipython\n';
  text += `Cutting Knowledge Date: December 2023\nToday Date: ${date}\n\n${system}<|eot_id|>`;
  if (tools.length > 0) {
    const firstUser = rest[0];
    if (firstUser?.role !== 'user') {
      throw new ChatTemplateError(
        `messages[${messages.length - rest.length}]: Llama 3.1's template puts the tools into the first user message, so the first message after the system message must be a user message`,
      );
    }
    text += '<|start_header_id|>user<|end_header_id|>\n\n';
    text += 'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n';
    text += 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n';
    text += tools.map((t) => `${toJson(toolForTemplate(t), 4)}\n\n`).join('');
    text += `${firstUser.content.trim()}<|eot_id|>`;
    rest = rest.slice(1);
  }
  const offset = messages.length - rest.length;
  rest.forEach((message, i) => {
    if (message.role === 'tool') {
      text += `<|start_header_id|>ipython<|end_header_id|>\n\n${toJson(message.content)}<|eot_id|>`;
    } else if (message.role === 'assistant' && message.toolCalls.length > 0) {
      if (message.toolCalls.length > 1) {
        throw new ChatTemplateError(
          `messages[${offset + i}].tool_calls: Llama 3.1's template allows one tool call per assistant message, got ${message.toolCalls.length}`,
        );
      }
      const call = message.toolCalls[0].function;
      text += `<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "${call.name}", "parameters": ${toJson(JSON.parse(call.arguments))}}<|eot_id|>`;
    } else {
      text += `<|start_header_id|>${message.role}<|end_header_id|>\n\n${(message.content ?? '').trim()}<|eot_id|>`;
    }
  });
  return `${text}<|start_header_id|>assistant<|end_header_id|>\n\n`;
}
