import type { SamplingGrammar } from '../../protocol/sampling.js';
import { cacheKey } from '../../protocol/structured-output/automaton-cache.js';
import { compileGrammar, DEFAULT_AUTOMATON_LIMITS } from '../../protocol/structured-output/compile-grammar.js';
import { alt } from '../../protocol/structured-output/grammar.js';
import { DEFAULT_JSON_STYLE } from '../../protocol/structured-output/json-style.js';
import { anyJsonObject } from '../../protocol/structured-output/json-value-grammar.js';
import { compileResponseFormat, parseResponseFormat } from '../../protocol/structured-output/response-format.js';
import { schemaToGrammar } from '../../protocol/structured-output/schema-compiler.js';
import { toolCallGrammar } from '../../protocol/structured-output/tool-call-grammar.js';
import { compileToolChoice } from '../models/tool-choice-automaton.js';
import { toolCallSyntax } from '../models/tool-call-syntax.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import { asRequestError, automatonCache, samplingGrammar } from './constraint.js';
import type { ToolPlan } from './tool-plan.js';

/** What constrains a request's output, for the record and the route: nothing, a response format, tool calls, or either. */
export interface RequestConstraint {
  readonly grammar?: SamplingGrammar;
  /** `text`, `json_object`, `json_schema`; recorded as the invocation's `response_format`. */
  readonly format: 'text' | 'json_object' | 'json_schema';
}

/**
 * The automaton of a request:
 * - `tool_choice` "required" or a named function: tool calls only (whatever `response_format` says, as OpenAI);
 * - `response_format` json with tools offered under "auto": either tool calls or a document of the format;
 * - `response_format` json alone: the document;
 * - otherwise nothing.
 * `formatParam` names the field holding the format (`response_format`, Responses' `text.format`).
 */
export function requestConstraint(fn: ResolvedFunction, tools: ToolPlan, responseFormat: unknown, formatParam = 'response_format'): RequestConstraint {
  return asRequestError(() => {
    const options = { cache: automatonCache, parallelToolCalls: tools.parallel };
    const format = responseFormat === undefined || responseFormat === null ? 'text' : parseResponseFormat(responseFormat, formatParam).type;
    const forced = compileToolChoice(tools.family, tools.tools, tools.choice, options);
    if (forced) return { grammar: samplingGrammar(fn, forced, 'tool_choice'), format };
    if (format === 'text') return { format };
    const compiled = tools.parse ? compileEither(tools, responseFormat, formatParam) : compileResponseFormat(responseFormat, options, formatParam)!;
    return { grammar: samplingGrammar(fn, compiled, formatParam), format };
  });
}

/** Tool calls (any tool, as "required" would allow) or a document of the response format. */
function compileEither(tools: ToolPlan, responseFormat: unknown, param: string) {
  const syntax = toolCallSyntax(tools.family);
  const specs = tools.tools.map((tool, i) => ({
    name: tool.function.name,
    param: `tools[${i}].function.parameters`,
    ...(tool.function.parameters !== undefined ? { parameters: tool.function.parameters } : {}),
  }));
  const maxCalls = syntax.parallel && tools.parallel ? Infinity : 1;
  const format = parseResponseFormat(responseFormat, param);
  const style = DEFAULT_JSON_STYLE;
  const key = cacheKey('tools_or_format', syntax.envelope, specs, maxCalls === Infinity ? 'unbounded' : maxCalls, format, param);
  return automatonCache.getOrCompile(key, () => {
    const document =
      format.type === 'json_schema'
        ? schemaToGrammar(format.schema, { param: `${param}.json_schema.schema`, style })
        : anyJsonObject(style, style.anyValueDepth);
    return compileGrammar(alt(toolCallGrammar(syntax.envelope, specs, maxCalls), document), param, DEFAULT_AUTOMATON_LIMITS);
  });
}
