import { jsonPointer, StructuredOutputError } from './structured-output-error.js';

/** Where a schema node sits in the request's schema, as JSON pointer tokens. */
export type SchemaPath = readonly (string | number)[];
export type SchemaObject = Readonly<Record<string, unknown>>;

/** Keywords that change nothing about which values are valid; accepted and ignored. */
export const ANNOTATION_KEYWORDS: ReadonlySet<string> = new Set([
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
  '$id',
]);

/** Everything the compiler enforces (docs/structured-outputs.md says how); any other keyword is refused. */
export const ENFORCED_KEYWORDS: ReadonlySet<string> = new Set([
  '$defs',
  'definitions',
  '$ref',
  'anyOf',
  'allOf',
  'enum',
  'const',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
]);

export const JSON_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

export function unsupported(param: string, path: SchemaPath, what: string): StructuredOutputError {
  return new StructuredOutputError('unsupported_schema', param, `unsupported schema at ${jsonPointer(path)}: ${what}`);
}

export function invalid(param: string, path: SchemaPath, what: string): StructuredOutputError {
  return new StructuredOutputError('invalid_schema', param, `invalid schema at ${jsonPointer(path)}: ${what}`);
}

/** Refuses the first keyword that is neither enforced nor an annotation, naming it and where it is. */
export function checkKeywords(schema: SchemaObject, path: SchemaPath, param: string): void {
  for (const key of Object.keys(schema)) {
    if (!ENFORCED_KEYWORDS.has(key) && !ANNOTATION_KEYWORDS.has(key)) {
      throw new StructuredOutputError('unsupported_schema', param, `unsupported JSON Schema keyword "${key}" at ${jsonPointer([...path, key])}`);
    }
  }
}

/** Refuses constraint keywords beside `keyword` that the compiler cannot combine with it (annotations and `allowed` pass). */
export function checkAlone(schema: SchemaObject, keyword: string, allowed: readonly string[], path: SchemaPath, param: string): void {
  for (const key of Object.keys(schema)) {
    if (key === keyword || ANNOTATION_KEYWORDS.has(key) || key === '$defs' || key === 'definitions' || allowed.includes(key)) continue;
    throw unsupported(param, path, `"${keyword}" together with "${key}" is not supported (put the constraint inside each alternative)`);
  }
}

export function isSchemaObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An optional non-negative integer keyword. */
export function readCount(schema: SchemaObject, key: string, path: SchemaPath, param: string): number | undefined {
  const v = schema[key];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw invalid(param, [...path, key], `${key} must be a non-negative integer`);
  return v as number;
}

/** An optional finite number keyword. */
export function readNumber(schema: SchemaObject, key: string, path: SchemaPath, param: string): number | undefined {
  const v = schema[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(param, [...path, key], `${key} must be a number`);
  return v;
}

/** The types a schema admits: its `type` (a name or a list of names), or all of them. */
export function readTypes(schema: SchemaObject, path: SchemaPath, param: string): readonly JsonType[] {
  const raw = schema.type;
  if (raw === undefined) return JSON_TYPES;
  const names = Array.isArray(raw) ? raw : [raw];
  const known = (n: unknown): n is JsonType => (JSON_TYPES as readonly unknown[]).includes(n);
  if (names.length === 0 || !names.every(known) || new Set(names).size !== names.length) {
    throw invalid(param, [...path, 'type'], `type must be one of ${JSON_TYPES.join(', ')}, or a non-empty list of distinct ones`);
  }
  return names;
}
