import { TIDEPOOL_MARKER } from './chat-template.js';

/**
 * Which chat format a function's model speaks, read from its tokenizer's special tokens:
 * - `qwen2.5`: ChatML (`<|im_start|>role ... <|im_end|>`), Hermes-style tool calls (qwen25-chat-template.ts);
 * - `llama3.1`: header tokens (`<|start_header_id|>role<|end_header_id|>`), JSON tool calls (llama31-chat-template.ts);
 * - `tidepool`: the project's own template (chat-template.ts), used by the synthetic models and byte-level
 *   models; its tool calls follow Qwen2.5's syntax, since the synthetic example models are Qwen2 shapes.
 */
export type ChatFamily = 'tidepool' | 'qwen2.5' | 'llama3.1';

export const CHAT_FAMILIES: readonly ChatFamily[] = ['tidepool', 'qwen2.5', 'llama3.1'];

/** From the special token strings (tokenizer.json `added_tokens[].content`); none at all means byte-level: `tidepool`. */
export function detectChatFamily(specialTokens: Iterable<string>): ChatFamily {
  const tokens = new Set(specialTokens);
  if (tokens.has('<|im_start|>') && tokens.has('<|im_end|>')) return 'qwen2.5';
  if (tokens.has('<|start_header_id|>') && tokens.has('<|eot_id|>')) return 'llama3.1';
  return 'tidepool';
}

/** `detectChatFamily` on a parsed tokenizer.json (undefined: no tokenizer.json, a byte-level model). */
export function chatFamilyOfTokenizerJson(json: Record<string, unknown> | undefined): ChatFamily {
  const added = Array.isArray(json?.added_tokens) ? (json.added_tokens as { content?: unknown }[]) : [];
  return detectChatFamily(added.flatMap((t) => (typeof t?.content === 'string' ? [t.content] : [])));
}

/**
 * Text that would open or close a turn if a message carried it (the tokenizer turns it into the special
 * token), letting one message forge another role's turn. Refused in message content.
 */
export const TURN_MARKERS: Readonly<Record<ChatFamily, RegExp>> = {
  tidepool: TIDEPOOL_MARKER,
  'qwen2.5': /<\|(im_start|im_end|endoftext)\|>/,
  'llama3.1': /<\|(begin_of_text|end_of_text|start_header_id|end_header_id|eot_id|eom_id|python_tag)\|>/,
};
