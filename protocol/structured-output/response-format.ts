import { AutomatonCache, cacheKey } from './automaton-cache.js';
import { compileGrammar, DEFAULT_AUTOMATON_LIMITS, type AutomatonLimits, type CompiledAutomaton } from './compile-grammar.js';
import { DEFAULT_JSON_STYLE, type JsonStyle } from './json-style.js';
import { anyJsonObject } from './json-value-grammar.js';
import { isSchemaObject } from './schema-keywords.js';
import { schemaToGrammar } from './schema-compiler.js';
import { checkSchemaShape, DEFAULT_SCHEMA_SHAPE_LIMITS, type SchemaShapeLimits } from './schema-shape.js';
import { StructuredOutputError } from './structured-output-error.js';

export interface StructuredOutputOptions {
  readonly style?: JsonStyle;
  readonly limits?: AutomatonLimits;
  readonly shapeLimits?: SchemaShapeLimits;
  /** Shared across requests; without one, every call compiles. */
  readonly cache?: AutomatonCache;
}

/** OpenAI `response_format`, checked. */
export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | { readonly type: 'json_schema'; readonly name: string; readonly schema: unknown; readonly strict: boolean };

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Reads `response_format` (Chat Completions shape); errors name `param` and the field inside it. */
export function parseResponseFormat(raw: unknown, param = 'response_format'): ResponseFormat {
  const fail = (field: string, what: string) => new StructuredOutputError('invalid_parameter', param, `${param}${field}: ${what}`);
  if (!isSchemaObject(raw)) throw fail('', 'must be an object with a type');
  if (raw.type === 'text' || raw.type === 'json_object') return { type: raw.type };
  if (raw.type !== 'json_schema') throw fail('.type', 'must be "text", "json_object" or "json_schema"');
  const spec = raw.json_schema;
  if (!isSchemaObject(spec)) throw fail('.json_schema', 'must be an object with name and schema');
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) throw fail('.json_schema.name', 'must be 1-64 letters, digits, _ or -');
  if (spec.strict !== undefined && spec.strict !== null && typeof spec.strict !== 'boolean') throw fail('.json_schema.strict', 'must be a boolean');
  return { type: 'json_schema', name: spec.name, schema: spec.schema ?? { type: 'object' }, strict: spec.strict === true };
}

/**
 * The automaton that enforces a response format, or undefined for `text`. `json_object` is any object
 * nested up to the style's depth; `json_schema` (strict or not: the schema is enforced either way) is
 * its schema, and without a schema any object.
 */
export function compileResponseFormat(raw: unknown, options: StructuredOutputOptions = {}, param = 'response_format'): CompiledAutomaton | undefined {
  const format = parseResponseFormat(raw, param);
  if (format.type === 'text') return undefined;
  const style = options.style ?? DEFAULT_JSON_STYLE;
  if (format.type === 'json_object') {
    return cached(options, ['json_object', style, options.limits ?? DEFAULT_AUTOMATON_LIMITS], () =>
      compileGrammar(anyJsonObject(style, style.anyValueDepth), param, options.limits ?? DEFAULT_AUTOMATON_LIMITS),
    );
  }
  return compileJsonSchema(format.schema, `${param}.json_schema.schema`, options);
}

/** Any JSON Schema → its automaton; `param` names the request field for errors. */
export function compileJsonSchema(schema: unknown, param: string, options: StructuredOutputOptions = {}): CompiledAutomaton {
  const style = options.style ?? DEFAULT_JSON_STYLE;
  const limits = options.limits ?? DEFAULT_AUTOMATON_LIMITS;
  const shapeLimits = options.shapeLimits ?? DEFAULT_SCHEMA_SHAPE_LIMITS;
  // Before the cache key: hashing a hostile nesting would overflow the stack in JSON.stringify.
  checkSchemaShape(schema, param, shapeLimits);
  return cached(options, ['json_schema', schema, style, limits, shapeLimits, param], () =>
    compileGrammar(schemaToGrammar(schema, { param, style, shapeLimits }), param, limits),
  );
}

function cached(options: StructuredOutputOptions, key: unknown[], compile: () => CompiledAutomaton): CompiledAutomaton {
  return options.cache ? options.cache.getOrCompile(cacheKey(...key), compile) : compile();
}
