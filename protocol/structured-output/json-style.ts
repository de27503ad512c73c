/**
 * The whitespace policy of generated JSON. `spaced` (the default) is Python's `json.dumps` default: one space
 * after every `:` and `,`, none anywhere else, so `{"a": 1, "b": [1, 2]}`. That is the form Qwen2.5's and
 * Llama 3.1's chat templates show their models (tool calls are rendered with Jinja's `tojson`), and a fixed
 * form keeps the automaton small: each value has exactly one spelling. `compact` drops both spaces.
 */
export type JsonWhitespace = 'spaced' | 'compact';

export interface JsonStyle {
  readonly whitespace: JsonWhitespace;
  /**
   * How deep a value the schema leaves open (`json_object`, `{}`, an array without `items`, an object without
   * `properties`) may nest, counting its own container as level 1. The automaton must remember, for each open
   * level, whether it is an object or an array, so its size doubles with each level.
   */
  readonly anyValueDepth: number;
}

export const DEFAULT_JSON_STYLE: JsonStyle = Object.freeze({ whitespace: 'spaced', anyValueDepth: 5 });

export function itemSeparator(style: JsonStyle): string {
  return style.whitespace === 'spaced' ? ', ' : ',';
}

export function keySeparator(style: JsonStyle): string {
  return style.whitespace === 'spaced' ? ': ' : ':';
}

/** `value` as JSON text in `style`, keys in their insertion order (for `enum` and `const`). */
export function jsonText(value: unknown, style: JsonStyle): string {
  if (Array.isArray(value)) return `[${value.map((v) => jsonText(v, style)).join(itemSeparator(style))}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}${keySeparator(style)}${jsonText(v, style)}`);
    return `{${members.join(itemSeparator(style))}}`;
  }
  return JSON.stringify(value);
}
