import { hermesToolCall, hermesToolSection } from './tool-prompt-text.js';
import type { FunctionTool, ToolChatMessage } from './tool-types.js';

/**
 * Qwen2.5-Instruct's chat template (ChatML with Hermes-style tools), rewritten from the Jinja template in
 * https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/tokenizer_config.json (`chat_template`):
 *
 *     <|im_start|>system\n{system or default}{tool section if tools}<|im_end|>\n
 *     <|im_start|>user\n{content}<|im_end|>\n
 *     <|im_start|>assistant[\n{content}][\n<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>]*<|im_end|>\n
 *     <|im_start|>user[\n<tool_response>\n{tool content}\n</tool_response>]*<|im_end|>\n   (consecutive tool messages)
 *     <|im_start|>assistant\n                                          (the generation prompt)
 */
export const QWEN25_DEFAULT_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

export function renderQwen25Chat(messages: readonly ToolChatMessage[], tools: readonly FunctionTool[] = []): string {
  const first = messages[0];
  const system = first?.role === 'system' ? first.content : QWEN25_DEFAULT_SYSTEM;
  let text = `<|im_start|>system\n${system}${tools.length > 0 ? hermesToolSection(tools) : ''}<|im_end|>\n`;
  messages.forEach((message, i) => {
    if (i === 0 && message.role === 'system') return;
    if (message.role === 'tool') {
      if (messages[i - 1]?.role !== 'tool') text += '<|im_start|>user';
      text += `\n<tool_response>\n${message.content}\n</tool_response>`;
      if (messages[i + 1]?.role !== 'tool') text += '<|im_end|>\n';
    } else if (message.role === 'assistant' && message.toolCalls.length > 0) {
      text += `<|im_start|>assistant${message.content ? `\n${message.content}` : ''}`;
      text += message.toolCalls.map((call) => `\n${hermesToolCall(call)}`).join('');
      text += '<|im_end|>\n';
    } else {
      text += `<|im_start|>${message.role}\n${message.content ?? ''}<|im_end|>\n`;
    }
  });
  return `${text}<|im_start|>assistant\n`;
}
