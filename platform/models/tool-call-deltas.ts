import { randomBytes } from 'node:crypto';
import type { ToolCall } from './tool-types.js';

/** One entry of a streamed chunk's `delta.tool_calls`, as OpenAI streams them. */
export interface ToolCallDelta {
  readonly index: number;
  /** On a call's first delta only, with `type` and `function.name`. */
  readonly id?: string;
  readonly type?: 'function';
  readonly function: { readonly name?: string; readonly arguments: string };
}

/** What a parser emits for a chunk's `delta`: plain text, or tool-call pieces. */
export type ChatDelta = { readonly content: string } | { readonly tool_calls: readonly ToolCallDelta[] };

export interface ParsedToolCalls {
  /** Text outside tool calls; null when there were calls and nothing else. */
  readonly content: string | null;
  readonly toolCalls: readonly ToolCall[];
  /** Indexes of calls whose text turned out malformed after their name was streamed (their arguments may not parse). */
  readonly malformed: readonly number[];
  /** The text ended inside a call (e.g. at max_tokens): its arguments are cut short. */
  readonly incomplete: boolean;
}

/** OpenAI-style call ids: `call_` and 24 random letters and digits. */
export function newToolCallId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return `call_${Array.from(randomBytes(24), (b) => alphabet[b % alphabet.length]).join('')}`;
}

/** Accumulates what was emitted, so the streamed deltas and the final message always agree. */
export class DeltaLog {
  private content = '';
  private readonly calls: { id: string; name: string; arguments: string }[] = [];
  readonly malformed: number[] = [];

  constructor(private readonly newId: () => string) {}

  get callCount(): number {
    return this.calls.length;
  }

  text(text: string): ChatDelta[] {
    if (text === '') return [];
    this.content += text;
    return [{ content: text }];
  }

  start(name: string): ChatDelta[] {
    const call = { id: this.newId(), name, arguments: '' };
    this.calls.push(call);
    return [{ tool_calls: [{ index: this.calls.length - 1, id: call.id, type: 'function', function: { name, arguments: '' } }] }];
  }

  arguments(text: string): ChatDelta[] {
    if (text === '') return [];
    this.calls[this.calls.length - 1].arguments += text;
    return [{ tool_calls: [{ index: this.calls.length - 1, function: { arguments: text } }] }];
  }

  result(incomplete: boolean): ParsedToolCalls {
    const content = this.calls.length > 0 && this.content === '' ? null : this.content;
    const toolCalls = this.calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
    return { content, toolCalls, malformed: [...this.malformed], incomplete };
  }
}
