import { alt, type Grammar } from './grammar.js';
import { jsonInteger, jsonNumber } from './json-number-grammar.js';
import { jsonString } from './json-string-grammar.js';
import { invalid, readCount, readNumber, unsupported, type SchemaObject, type SchemaPath } from './schema-keywords.js';

const BOUND_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const;

/** `type: "string"` with `minLength`/`maxLength` (code points). */
export function stringGrammar(schema: SchemaObject, path: SchemaPath, param: string): Grammar {
  const min = readCount(schema, 'minLength', path, param) ?? 0;
  const max = readCount(schema, 'maxLength', path, param) ?? Infinity;
  return min > max ? alt() : jsonString(min, max);
}

/**
 * `type: "integer"` with `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers, as in
 * draft 2020-12), enforced exactly by decimal ranges.
 */
export function integerGrammar(schema: SchemaObject, path: SchemaPath, param: string): Grammar {
  const [minimum, maximum, exclusiveMinimum, exclusiveMaximum] = BOUND_KEYWORDS.map((k) => readBound(schema, k, path, param));
  const lows = [minimum === undefined ? undefined : Math.ceil(minimum), exclusiveMinimum === undefined ? undefined : Math.floor(exclusiveMinimum) + 1];
  const highs = [maximum === undefined ? undefined : Math.floor(maximum), exclusiveMaximum === undefined ? undefined : Math.ceil(exclusiveMaximum) - 1];
  const lo = lows.filter((v) => v !== undefined).reduce<number | undefined>((a, b) => (a === undefined || b! > a ? b : a), undefined);
  const hi = highs.filter((v) => v !== undefined).reduce<number | undefined>((a, b) => (a === undefined || b! < a ? b : a), undefined);
  return jsonInteger(lo === undefined ? undefined : BigInt(lo), hi === undefined ? undefined : BigInt(hi));
}

/** `type: "number"`: any JSON number; bounds on non-integers are refused (an integer type can carry them). */
export function numberGrammar(schema: SchemaObject, path: SchemaPath, param: string): Grammar {
  const bound = BOUND_KEYWORDS.find((k) => k in schema);
  if (bound) throw unsupported(param, [...path, bound], `"${bound}" is supported on "type": "integer" only, not on numbers`);
  return jsonNumber();
}

function readBound(schema: SchemaObject, key: string, path: SchemaPath, param: string): number | undefined {
  if (typeof schema[key] === 'boolean') throw invalid(param, [...path, key], `${key} must be a number (draft-04 boolean form is not supported)`);
  return readNumber(schema, key, path, param);
}
