import { alt, EMPTY, literal, NOTHING, repeat, seq, type Grammar } from './grammar.js';
import { itemSeparator } from './json-style.js';
import { anyJsonValue, jsonArrayOf } from './json-value-grammar.js';
import { invalid, readCount, unsupported, type SchemaObject, type SchemaPath } from './schema-keywords.js';
import type { SchemaContext } from './schema-context.js';

/**
 * `type: "array"`: `items` (a schema, or false), `prefixItems` (a tuple), `minItems`, `maxItems`.
 * `uniqueItems: true` is refused (not a regular language).
 */
export function arrayGrammar(ctx: SchemaContext, schema: SchemaObject, path: SchemaPath): Grammar {
  const min = readCount(schema, 'minItems', path, ctx.param) ?? 0;
  const max = readCount(schema, 'maxItems', path, ctx.param) ?? Infinity;
  if (schema.uniqueItems === true) throw unsupported(ctx.param, [...path, 'uniqueItems'], '"uniqueItems": true cannot be enforced');
  if (schema.uniqueItems !== undefined && schema.uniqueItems !== false) throw invalid(ctx.param, [...path, 'uniqueItems'], 'uniqueItems must be a boolean');
  if (min > max) return NOTHING;
  const rest = restItems(ctx, schema.items, [...path, 'items']);
  const prefix = readPrefix(ctx, schema, path);
  if (prefix.length === 0) return rest === undefined ? (min === 0 ? literal('[]') : NOTHING) : jsonArrayOf(ctx.style, rest, min, max);
  const sep = literal(itemSeparator(ctx.style));
  // After `written` items: either stop (when allowed) or write the next prefix item, then the rest.
  const after = (written: number): Grammar => {
    const canStop = written >= min;
    if (written === max) return canStop ? EMPTY : NOTHING;
    if (written < prefix.length) {
      const next = seq(sep, prefix[written], after(written + 1));
      return canStop ? alt(EMPTY, next) : next;
    }
    if (rest === undefined) return canStop ? EMPTY : NOTHING;
    return repeat(seq(sep, rest), Math.max(min - written, 0), max - written);
  };
  const items = min === 0 ? alt(EMPTY, seq(prefix[0], after(1))) : seq(prefix[0], after(1));
  return seq(literal('['), max === 0 ? EMPTY : items, literal(']'));
}

/** The grammar of items after the tuple; undefined when `items: false` allows none. */
function restItems(ctx: SchemaContext, items: unknown, path: SchemaPath): Grammar | undefined {
  if (items === false) return undefined;
  if (items === undefined || items === true) return anyJsonValue(ctx.style, ctx.style.anyValueDepth - 1);
  if (Array.isArray(items)) throw unsupported(ctx.param, path, 'items as an array (draft-04 tuples) is not supported; use prefixItems');
  return ctx.compile(items, path);
}

function readPrefix(ctx: SchemaContext, schema: SchemaObject, path: SchemaPath): Grammar[] {
  const raw = schema.prefixItems;
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalid(ctx.param, [...path, 'prefixItems'], 'prefixItems must be an array of schemas');
  return raw.map((item, i) => ctx.compile(item, [...path, 'prefixItems', i]));
}
