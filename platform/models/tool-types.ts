/** OpenAI function tools and tool-call messages, as checked by tool-messages.ts (one place for the shapes). */

export interface FunctionTool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description?: string;
    /** A JSON Schema object; absent means the function takes no parameters. */
    readonly parameters?: Readonly<Record<string, unknown>>;
    readonly strict?: boolean;
  };
}

export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { readonly type: 'function'; readonly function: { readonly name: string } };

/** A chat message of a conversation that may include tool calls and their results. */
export type ToolChatMessage =
  | { readonly role: 'system' | 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string | null; readonly toolCalls: readonly ToolCall[] }
  | { readonly role: 'tool'; readonly content: string; readonly toolCallId: string };

/** OpenAI's rule for function names (also what the automaton and the parser rely on). */
export const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
