import { alt, list, literal, seq, type Grammar } from './grammar.js';
import { jsonInteger, jsonNumber } from './json-number-grammar.js';
import { jsonString } from './json-string-grammar.js';
import { itemSeparator, keySeparator, type JsonStyle } from './json-style.js';

export const JSON_NULL = literal('null');
export const JSON_BOOLEAN = alt(literal('true'), literal('false'));

const scalars = alt(jsonString(), jsonNumber(), JSON_BOOLEAN, JSON_NULL);
const memo = new Map<string, Grammar>();

/** Any JSON value whose containers nest at most `depth` levels (0: scalars only). Shared per (style, depth). */
export function anyJsonValue(style: JsonStyle, depth: number): Grammar {
  if (depth <= 0) return scalars;
  const key = `${style.whitespace}:${depth}`;
  let g = memo.get(key);
  if (!g) {
    g = alt(scalars, anyJsonObject(style, depth), anyJsonArray(style, depth));
    memo.set(key, g);
  }
  return g;
}

/** Any JSON object nesting at most `depth` levels, itself included (depth ≥ 1). */
export function anyJsonObject(style: JsonStyle, depth: number): Grammar {
  return jsonObjectOf(style, anyJsonValue(style, depth - 1));
}

export function anyJsonArray(style: JsonStyle, depth: number, minItems = 0, maxItems = Infinity): Grammar {
  return jsonArrayOf(style, anyJsonValue(style, depth - 1), minItems, maxItems);
}

/** An object with any keys (in any number) whose values match `value`. */
export function jsonObjectOf(style: JsonStyle, value: Grammar): Grammar {
  const member = seq(jsonString(), literal(keySeparator(style)), value);
  return seq(literal('{'), list(member, literal(itemSeparator(style)), 0, Infinity), literal('}'));
}

export function jsonArrayOf(style: JsonStyle, item: Grammar, minItems = 0, maxItems = Infinity): Grammar {
  return seq(literal('['), list(item, literal(itemSeparator(style)), minItems, maxItems), literal(']'));
}

export { jsonInteger, jsonNumber, jsonString };
