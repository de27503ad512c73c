import { cacheKey } from './automaton-cache.js';
import { compileGrammar, DEFAULT_AUTOMATON_LIMITS, type CompiledAutomaton } from './compile-grammar.js';
import { alt, list, literal, seq, type Grammar } from './grammar.js';
import { DEFAULT_JSON_STYLE, itemSeparator, keySeparator } from './json-style.js';
import type { StructuredOutputOptions } from './response-format.js';
import { schemaToGrammar } from './schema-compiler.js';
import { checkSchemaShape, DEFAULT_SCHEMA_SHAPE_LIMITS } from './schema-shape.js';

/**
 * The literal text a chat template wraps each tool call in, and the keys of the call object. For Qwen2.5
 * (Hermes style): prefix `<tool_call>\n`, suffix `\n</tool_call>`, separator `\n`, keys `name`/`arguments`.
 */
export interface ToolCallEnvelope {
  readonly prefix: string;
  readonly suffix: string;
  /** Between consecutive calls, when more than one is allowed. */
  readonly separator: string;
  readonly nameKey: string;
  readonly argumentsKey: string;
}

/** A function tool as the automaton needs it: its name and its parameters' JSON Schema (undefined: no parameters). */
export interface ToolSpec {
  readonly name: string;
  readonly parameters?: unknown;
  /** The request field of `parameters`, for errors, e.g. `tools[2].function.parameters`. */
  readonly param: string;
}

/**
 * Tool calls only: `maxCalls` (1, or Infinity for parallel calls) envelopes, each around
 * `{"name": <one of tools>, "arguments": <that tool's parameters>}`. For `tool_choice: "required"` pass every
 * tool; for a named function, that one. The arguments always parse and validate against the tool's schema.
 */
export function toolCallGrammar(envelope: ToolCallEnvelope, tools: readonly ToolSpec[], maxCalls: number, options: StructuredOutputOptions = {}): Grammar {
  const style = options.style ?? DEFAULT_JSON_STYLE;
  const bodies = tools.map((tool) => {
    const head = `{${JSON.stringify(envelope.nameKey)}${keySeparator(style)}${JSON.stringify(tool.name)}${itemSeparator(style)}${JSON.stringify(envelope.argumentsKey)}${keySeparator(style)}`;
    const args =
      tool.parameters === undefined ? literal('{}') : schemaToGrammar(tool.parameters, { param: tool.param, style, shapeLimits: options.shapeLimits });
    return seq(literal(head), args, literal('}'));
  });
  const call = seq(literal(envelope.prefix), alt(...bodies), literal(envelope.suffix));
  return list(call, literal(envelope.separator), 1, maxCalls);
}

/** `toolCallGrammar` compiled (and cached when options carry a cache). `param` names the field for size errors. */
export function compileToolCalls(
  envelope: ToolCallEnvelope,
  tools: readonly ToolSpec[],
  maxCalls: number,
  param: string,
  options: StructuredOutputOptions = {},
): CompiledAutomaton {
  const shapeLimits = options.shapeLimits ?? DEFAULT_SCHEMA_SHAPE_LIMITS;
  for (const tool of tools) if (tool.parameters !== undefined) checkSchemaShape(tool.parameters, tool.param, shapeLimits);
  const limits = options.limits ?? DEFAULT_AUTOMATON_LIMITS;
  const compile = () => compileGrammar(toolCallGrammar(envelope, tools, maxCalls, options), param, limits);
  if (!options.cache) return compile();
  const key = cacheKey(
    'tool_calls',
    envelope,
    tools,
    maxCalls === Infinity ? 'unbounded' : maxCalls,
    options.style ?? DEFAULT_JSON_STYLE,
    limits,
    shapeLimits,
    param,
  );
  return options.cache.getOrCompile(key, compile);
}
