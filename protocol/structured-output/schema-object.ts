import { literal, members, seq, type Grammar, type Member } from './grammar.js';
import { itemSeparator, keySeparator } from './json-style.js';
import { anyJsonObject, jsonObjectOf } from './json-value-grammar.js';
import { invalid, isSchemaObject, unsupported, type SchemaObject, type SchemaPath } from './schema-keywords.js';
import type { SchemaContext } from './schema-context.js';

/**
 * `type: "object"`.
 * - With `properties`: exactly those members, in the schema's order; `required` ones always, the others may
 *   be skipped. No member outside `properties` is generated, whatever `additionalProperties` says (only
 *   `false` or a boolean is accepted beside `properties`).
 * - Without `properties`: `additionalProperties` as a schema gives a map (any keys, values of that schema);
 *   `false` gives `{}`; absent or `true` gives any object, nested up to the style's depth.
 */
export function objectGrammar(ctx: SchemaContext, schema: SchemaObject, path: SchemaPath): Grammar {
  const properties = schema.properties;
  const additional = schema.additionalProperties;
  if (properties !== undefined && !isSchemaObject(properties)) throw invalid(ctx.param, [...path, 'properties'], 'properties must be an object');
  const required = readRequired(ctx, schema, path);
  const names = Object.keys(properties ?? {});
  if (names.length === 0) {
    if (required.size > 0) throw unsupported(ctx.param, [...path, 'required'], `required names "${[...required][0]}", which is not in properties`);
    if (additional === false) return literal('{}');
    if (additional === undefined || additional === true) return anyJsonObject(ctx.style, ctx.style.anyValueDepth);
    return jsonObjectOf(ctx.style, ctx.compile(additional, [...path, 'additionalProperties']));
  }
  if (additional !== undefined && typeof additional !== 'boolean') {
    throw unsupported(ctx.param, [...path, 'additionalProperties'], 'a schema for additionalProperties beside properties is not supported (use false)');
  }
  for (const name of required) {
    if (!names.includes(name)) throw unsupported(ctx.param, [...path, 'required'], `required names "${name}", which is not in properties`);
  }
  const list: Member[] = names.map((name) => ({
    grammar: seq(literal(JSON.stringify(name) + keySeparator(ctx.style)), ctx.compile(properties![name], [...path, 'properties', name])),
    required: required.has(name),
  }));
  return seq(literal('{'), members(list, literal(itemSeparator(ctx.style))), literal('}'));
}

function readRequired(ctx: SchemaContext, schema: SchemaObject, path: SchemaPath): Set<string> {
  const raw = schema.required;
  if (raw === undefined) return new Set();
  if (!Array.isArray(raw) || !raw.every((n) => typeof n === 'string') || new Set(raw).size !== raw.length) {
    throw invalid(ctx.param, [...path, 'required'], 'required must be an array of distinct property names');
  }
  return new Set(raw as string[]);
}
