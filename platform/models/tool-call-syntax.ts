import type { ToolCallEnvelope } from '../../protocol/structured-output/tool-call-grammar.js';
import type { ChatFamily } from './chat-family.js';

/**
 * How a family's model writes tool calls, for parsing them (tool-call-stream-parser.ts) and for forcing them
 * (tool-choice-automaton.ts).
 * - `tagged` (Qwen2.5, Tidepool): `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`, several in a
 *   row separated by a newline, possibly after some text.
 * - `bare-json` (Llama 3.1): the whole answer is `{"name": "f", "parameters": {...}}` (Llama's own
 *   `<|python_tag|>` prefix, when the decoder keeps it, is dropped); vLLM's `;` between several calls is read
 *   too, but one call per message is what the template allows and what is forced.
 */
export interface ToolCallSyntax {
  readonly kind: 'tagged' | 'bare-json';
  readonly envelope: ToolCallEnvelope;
  /** Keys read as the arguments (the first is the one written). */
  readonly argumentsKeys: readonly string[];
  /** Whether one message may carry several calls. */
  readonly parallel: boolean;
}

const HERMES: ToolCallSyntax = Object.freeze({
  kind: 'tagged',
  envelope: { prefix: '<tool_call>\n', suffix: '\n</tool_call>', separator: '\n', nameKey: 'name', argumentsKey: 'arguments' },
  argumentsKeys: ['arguments'],
  parallel: true,
});

const LLAMA_JSON: ToolCallSyntax = Object.freeze({
  kind: 'bare-json',
  envelope: { prefix: '', suffix: '', separator: '; ', nameKey: 'name', argumentsKey: 'parameters' },
  argumentsKeys: ['parameters', 'arguments'],
  parallel: false,
});

export function toolCallSyntax(family: ChatFamily): ToolCallSyntax {
  return family === 'llama3.1' ? LLAMA_JSON : HERMES;
}

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';
export const PYTHON_TAG = '<|python_tag|>';
