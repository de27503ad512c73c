import type { CompiledAutomaton } from '../../protocol/structured-output/compile-grammar.js';
import type { StructuredOutputOptions } from '../../protocol/structured-output/response-format.js';
import { compileToolCalls, type ToolSpec } from '../../protocol/structured-output/tool-call-grammar.js';
import type { ChatFamily } from './chat-family.js';
import { toolCallSyntax } from './tool-call-syntax.js';
import type { FunctionTool, ToolChoice } from './tool-types.js';

/**
 * The automaton that forces `tool_choice` "required" (a call of any tool; several in a row where the family
 * allows it and `parallel_tool_calls` is not false) or a named function (one call of it), in the family's
 * call syntax, with each tool's arguments held to its parameter schema. Undefined for "none" and "auto",
 * which constrain nothing. Errors (StructuredOutputError) name `tools[i].function.parameters`.
 */
export function compileToolChoice(
  family: ChatFamily,
  tools: readonly FunctionTool[],
  choice: ToolChoice,
  options: StructuredOutputOptions & { readonly parallelToolCalls?: boolean } = {},
): CompiledAutomaton | undefined {
  if (choice === 'none' || choice === 'auto') return undefined;
  const syntax = toolCallSyntax(family);
  const specs: ToolSpec[] = tools.map((tool, i) => ({
    name: tool.function.name,
    param: `tools[${i}].function.parameters`,
    ...(tool.function.parameters !== undefined ? { parameters: tool.function.parameters } : {}),
  }));
  if (choice === 'required') {
    const maxCalls = syntax.parallel && options.parallelToolCalls !== false ? Infinity : 1;
    return compileToolCalls(syntax.envelope, specs, maxCalls, 'tools', options);
  }
  const named = specs.filter((s) => s.name === choice.function.name);
  return compileToolCalls(syntax.envelope, named, 1, 'tool_choice', options);
}
