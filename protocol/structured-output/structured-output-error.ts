/**
 * Why a schema (or a `response_format`, or a tool's parameters) cannot be compiled. The HTTP layer maps every
 * code to 400 and passes `param` and `message` through; nothing parses the message.
 *
 * - `unsupported_schema`: valid JSON Schema that uses a keyword (or a keyword value) the compiler does not
 *   enforce; the message names the keyword and its JSON pointer.
 * - `schema_too_large`: the schema, or the automaton it would need, exceeds a limit (docs/structured-outputs.md).
 * - `invalid_schema`: the input is not a schema at all (a keyword with a value of the wrong type, a dangling
 *   `$ref`, a schema that no JSON value satisfies).
 * - `invalid_parameter`: the request field around the schema is malformed (`response_format` without a
 *   known `type`, a `json_schema` without a `name`, a tool without a `function.name`).
 */
export type StructuredOutputErrorCode = 'unsupported_schema' | 'schema_too_large' | 'invalid_schema' | 'invalid_parameter';

export class StructuredOutputError extends Error {
  constructor(
    readonly code: StructuredOutputErrorCode,
    /** The request field at fault, e.g. `response_format.json_schema.schema`. */
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = 'StructuredOutputError';
  }
}

/** `#/properties/a~1b` for the path ['properties', 'a/b'] (RFC 6901 escaping). */
export function jsonPointer(path: readonly (string | number)[]): string {
  return path.length === 0 ? '#' : `#/${path.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
}
