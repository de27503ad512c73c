/**
 * Tidepool's one chat template, used for every function (see docs/models.md):
 *
 *     <|system|>\n{content}<|end|>\n      one block per message, in order
 *     <|user|>\n{content}<|end|>\n
 *     <|assistant|>\n                     appended once: the model continues from here
 *
 * The model ends its answer with `<|end|>` (the tiny model's end-of-sequence token). A role marker is one
 * special token with a tokenizer.json that defines it, and plain bytes with the byte-level tokenizer.
 */

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export class ChatTemplateError extends Error {
  /** `param`: the request field at fault, for the 400 (tool templates also blame `tools`). */
  constructor(
    message: string,
    readonly param: string = 'messages',
  ) {
    super(message);
    this.name = 'ChatTemplateError';
  }
}

/** Tidepool's role and end markers; other families' markers are in chat-family.ts. */
export const TIDEPOOL_MARKER = /<\|(system|user|assistant|end)\|>/;

/** Checks messages; the index in each message names the offending entry for a 400 response. */
export function validateChatMessages(messages: readonly unknown[]): asserts messages is readonly ChatMessage[] {
  if (messages.length === 0) throw new ChatTemplateError('messages must contain at least one message');
  messages.forEach((raw, index) => {
    const message = raw as Partial<ChatMessage> | null;
    if (typeof message !== 'object' || message === null) throw new ChatTemplateError(`messages[${index}] must be an object`);
    if (!(CHAT_ROLES as readonly unknown[]).includes(message.role)) {
      throw new ChatTemplateError(`messages[${index}].role must be one of ${CHAT_ROLES.join(', ')}, got ${JSON.stringify(message.role)}`);
    }
    if (typeof message.content !== 'string') throw new ChatTemplateError(`messages[${index}].content must be a string`);
    // A user-supplied marker would let one message forge another role's turn.
    if (TIDEPOOL_MARKER.test(message.content)) {
      throw new ChatTemplateError(`messages[${index}].content must not contain a template marker such as <|end|>`);
    }
  });
}

/** Renders a conversation into the prompt text the model continues. */
export function renderChat(messages: readonly ChatMessage[]): string {
  validateChatMessages(messages);
  const blocks = messages.map((m) => `<|${m.role}|>\n${m.content}<|end|>\n`);
  return `${blocks.join('')}<|assistant|>\n`;
}
