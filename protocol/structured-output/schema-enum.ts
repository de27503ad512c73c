import { isDeepStrictEqual } from 'node:util';
import { alt, literal, type Grammar } from './grammar.js';
import { jsonText } from './json-style.js';
import { checkAlone, invalid, readTypes, type JsonType, type SchemaObject, type SchemaPath } from './schema-keywords.js';
import type { SchemaContext } from './schema-context.js';

/**
 * `enum` and `const`, of any JSON type: the allowed values spelled in the output style, one literal each.
 * With both, the values in both; with `type`, only the values of those types. Other constraints beside them
 * are refused rather than silently dropped.
 */
export function enumGrammar(ctx: SchemaContext, schema: SchemaObject, path: SchemaPath): Grammar {
  const keyword = 'enum' in schema ? 'enum' : 'const';
  checkAlone(schema, keyword, ['enum', 'const', 'type'], path, ctx.param);
  let values: readonly unknown[];
  if ('enum' in schema) {
    if (!Array.isArray(schema.enum)) throw invalid(ctx.param, [...path, 'enum'], 'enum must be an array');
    values = schema.enum;
    if ('const' in schema) values = values.filter((v) => isDeepStrictEqual(v, schema.const));
  } else {
    values = [schema.const];
  }
  const types = readTypes(schema, path, ctx.param);
  const texts = new Set(values.filter((v) => types.some((t) => hasType(v, t))).map((v) => jsonText(v, ctx.style)));
  return alt(...[...texts].map((text) => literal(text)));
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'string':
      return typeof value === 'string';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}
