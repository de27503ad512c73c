import { hermesToolCall, hermesToolSection } from './tool-prompt-text.js';
import type { FunctionTool, ToolChatMessage } from './tool-types.js';

/**
 * Tidepool's template (chat-template.ts) extended with tools in Qwen2.5's (Hermes) syntax, for the synthetic
 * models and any function whose tokenizer is neither ChatML nor Llama 3:
 *
 *     <|system|>\n[{system}]{tool section if tools}<|end|>\n
 *     <|assistant|>[\n{content}][\n<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>]*<|end|>\n
 *     <|user|>[\n<tool_response>\n{tool content}\n</tool_response>]*<|end|>\n      (consecutive tool messages)
 *
 * Without tools and tool messages it renders exactly what renderChat renders.
 */
export function renderTidepoolChatWithTools(messages: readonly ToolChatMessage[], tools: readonly FunctionTool[] = []): string {
  let text = '';
  let rest = messages;
  if (tools.length > 0) {
    const system = rest[0]?.role === 'system' ? rest[0].content : '';
    if (rest[0]?.role === 'system') rest = rest.slice(1);
    // The section starts with two newlines, meant to follow a system message.
    text += `<|system|>\n${system === '' ? hermesToolSection(tools).trimStart() : system + hermesToolSection(tools)}<|end|>\n`;
  }
  rest.forEach((message, i) => {
    if (message.role === 'tool') {
      if (rest[i - 1]?.role !== 'tool') text += '<|user|>';
      text += `\n<tool_response>\n${message.content}\n</tool_response>`;
      if (rest[i + 1]?.role !== 'tool') text += '<|end|>\n';
    } else if (message.role === 'assistant' && message.toolCalls.length > 0) {
      text += `<|assistant|>${message.content ? `\n${message.content}` : ''}`;
      text += message.toolCalls.map((call) => `\n${hermesToolCall(call)}`).join('');
      text += '<|end|>\n';
    } else {
      text += `<|${message.role}|>\n${message.content ?? ''}<|end|>\n`;
    }
  });
  return `${text}<|assistant|>\n`;
}
