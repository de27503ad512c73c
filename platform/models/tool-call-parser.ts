import type { ChatFamily } from './chat-family.js';
import type { ParsedToolCalls } from './tool-call-deltas.js';
import { ToolCallStreamParser } from './tool-call-stream-parser.js';

/**
 * A whole completion → `message.content` and `message.tool_calls`. The same reading as streaming, except
 * that a call that does not close as valid JSON with an object of arguments stays in the content (nothing
 * was sent yet, so nothing has to be taken back).
 */
export function parseToolCalls(family: ChatFamily, text: string, options: { newId?: () => string } = {}): ParsedToolCalls {
  const parser = new ToolCallStreamParser(family, { ...options, retractable: true });
  parser.push(text);
  parser.finish();
  return parser.result();
}
