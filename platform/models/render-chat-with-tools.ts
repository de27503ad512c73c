import type { ChatFamily } from './chat-family.js';
import { renderLlama31Chat } from './llama31-chat-template.js';
import { renderQwen25Chat } from './qwen25-chat-template.js';
import { renderTidepoolChatWithTools } from './tidepool-tools-template.js';
import type { FunctionTool, ToolChatMessage } from './tool-types.js';

/**
 * The prompt for a conversation (tool calls and results included) and the tools offered, in the family's own
 * format. Messages come from parseToolChatMessages (checked for the family's markers); `tool_choice: "none"`
 * still renders the tools, as vLLM does, the caller simply does not parse calls.
 */
export function renderChatWithTools(family: ChatFamily, messages: readonly ToolChatMessage[], tools: readonly FunctionTool[] = []): string {
  switch (family) {
    case 'qwen2.5':
      return renderQwen25Chat(messages, tools);
    case 'llama3.1':
      return renderLlama31Chat(messages, tools);
    case 'tidepool':
      return renderTidepoolChatWithTools(messages, tools);
  }
}
