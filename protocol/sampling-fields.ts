import { TidepoolError } from './errors.js';

/**
 * The rows of the sampling record (`sampling.ts`): per parameter its wire name (OpenAI's or vLLM's request
 * field, which the engine's `add` command shares unless `engineName` says otherwise), its type and range,
 * whether the engine applies it, and its value when nobody sets it. Ranges are the engine's own limits
 * where OpenAI sets none (cuda/src/sampling/sampling_params.h), so a record that passes here passes `add`.
 */
export const SAMPLING_FIELDS = {
  max_tokens: { type: 'integer', min: 1, max: 1_000_000, engine: true },
  temperature: { type: 'number', min: 0, max: 2, engine: true },
  top_p: { type: 'number', min: 0, minExclusive: true, max: 1, engine: true },
  seed: { type: 'integer', min: 0, max: 2 ** 31 - 1, engine: true },
  // Cut by the control plane on text; the engine stops on token ids.
  stop: { type: 'strings', maxItems: 4, maxLength: 256, engine: false, default: [] },
  top_k: { type: 'integer', min: 0, max: 1 << 20, engine: true, default: 0 },
  min_p: { type: 'number', min: 0, max: 1, engine: true, default: 0 },
  presence_penalty: { type: 'number', min: -2, max: 2, engine: true, default: 0 },
  frequency_penalty: { type: 'number', min: -2, max: 2, engine: true, default: 0 },
  repetition_penalty: { type: 'number', min: 0, minExclusive: true, max: 100, engine: true, default: 1 },
  // [id, bias] pairs, ascending ids (OpenAI's {"id": bias} object, read once at the edge).
  logit_bias: { type: 'logit_bias', maxItems: 1024, min: -100, max: 100, engine: true, default: [] },
  min_tokens: { type: 'integer', min: 0, max: 1_000_000, engine: true, default: 0 },
  ignore_eos: { type: 'boolean', engine: true, default: false },
  stop_token_ids: { type: 'token_ids', maxItems: 1024, engine: true, engineName: 'stop_ids', default: [] },
  // Applied by the control plane, which cuts the text.
  include_stop_str_in_output: { type: 'boolean', engine: false, default: false },
  logprobs: { type: 'boolean', engine: true, default: false },
  top_logprobs: { type: 'integer', min: 0, max: 20, engine: true, default: 0 },
  // An embedding function's sequence: the engine pools the final hidden states this way instead of sampling
  // (max_tokens is ignored); set by /v1/embeddings, never read from a body.
  embed: { type: 'choice', values: ['mean', 'last'], engine: true, default: null },
} as const satisfies Readonly<Record<string, FieldSpec>>;

type Common = { readonly engine: boolean; readonly engineName?: string };
export type FieldSpec = Common &
  (
    | { readonly type: 'integer' | 'number'; readonly min: number; readonly max: number; readonly minExclusive?: boolean; readonly default?: number }
    | { readonly type: 'boolean'; readonly default: boolean }
    | { readonly type: 'strings'; readonly maxItems: number; readonly maxLength: number; readonly default: readonly [] }
    | { readonly type: 'token_ids'; readonly maxItems: number; readonly default: readonly [] }
    | { readonly type: 'logit_bias'; readonly maxItems: number; readonly min: number; readonly max: number; readonly default: readonly [] }
    | { readonly type: 'choice'; readonly values: readonly string[]; readonly default: null }
  );

export type SamplingField = keyof typeof SAMPLING_FIELDS;

type FieldValue<S> = S extends { readonly type: 'strings' }
  ? readonly string[]
  : S extends { readonly type: 'token_ids' }
    ? readonly number[]
    : S extends { readonly type: 'logit_bias' }
      ? readonly (readonly [number, number])[]
      : S extends { readonly type: 'boolean' }
        ? boolean
        : S extends { readonly type: 'choice'; readonly values: readonly (infer V)[] }
          ? V | null
          : number;

export type FieldValues = { readonly [K in SamplingField]: FieldValue<(typeof SAMPLING_FIELDS)[K]> };

export const FIELD_NAMES = Object.keys(SAMPLING_FIELDS) as SamplingField[];

export function invalidField(label: string, rule: string): TidepoolError {
  return new TidepoolError('invalid_parameter', `${label}: ${rule}`, { param: label });
}

/** Checks one value against its row (`label` names it in the error); returns it unchanged. */
export function checkField(name: SamplingField, value: unknown, label: string): unknown {
  const spec: FieldSpec = SAMPLING_FIELDS[name];
  switch (spec.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw invalidField(label, 'must be a boolean');
      return value;
    case 'strings':
      return checkStrings(spec, value, label);
    case 'token_ids':
      if (!Array.isArray(value) || value.length > spec.maxItems || !value.every(isTokenId)) {
        throw invalidField(label, `must be an array of at most ${spec.maxItems} token ids (non-negative integers)`);
      }
      return value;
    case 'logit_bias':
      return checkBiasPairs(spec, value, label);
    case 'choice':
      if (value !== null && !spec.values.includes(value as string)) throw invalidField(label, `must be null or one of ${spec.values.join(', ')}`);
      return value;
    default:
      return checkNumber(spec, value, label);
  }
}

function isTokenId(id: unknown): boolean {
  return Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) <= 2 ** 31 - 1;
}

function checkNumber(
  spec: { readonly type: 'integer' | 'number'; readonly min: number; readonly max: number; readonly minExclusive?: boolean },
  value: unknown,
  label: string,
): number {
  const integer = spec.type === 'integer';
  const low = spec.minExclusive ? (v: number) => v > spec.min : (v: number) => v >= spec.min;
  if (typeof value !== 'number' || !Number.isFinite(value) || !low(value) || value > spec.max || (integer && !Number.isInteger(value))) {
    throw invalidField(label, `must be ${integer ? 'an integer' : 'a number'} in ${spec.minExclusive ? '(' : '['}${spec.min}, ${spec.max}]`);
  }
  return value;
}

/**
 * A string, or an array of at most `maxItems` strings, each 1-`maxLength` characters (the record holds a list).
 * The invocation record keeps the strings (`invocations.params`, jsonb), which cannot hold NUL or a lone
 * UTF-16 surrogate (neither can occur in decoded model output either), so both are refused; other control
 * characters (a newline stop string) are fine.
 */
function checkStrings(spec: { readonly maxItems: number; readonly maxLength: number }, value: unknown, label: string): readonly string[] {
  if (Array.isArray(value) && value.length > spec.maxItems)
    throw invalidField(label, `at most ${spec.maxItems} stop sequences are allowed, got ${value.length}`);
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= spec.maxLength)) {
    throw invalidField(label, `must be a string or an array of at most ${spec.maxItems} strings, each 1-${spec.maxLength} characters`);
  }
  list.forEach((s: string, i) => {
    const problem = unstorableCharacter(s);
    if (problem) throw invalidField(label, `${problem}${list.length > 1 ? ` of string ${i}` : ''}`);
  });
  return list as string[];
}

/** Why PostgreSQL's jsonb cannot store `s` (NUL, or a surrogate without its pair), e.g. `contains ... at index 3`. */
function unstorableCharacter(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code === 0) return `contains the control character U+0000 at index ${i}`;
    if (code < 0xd800 || code > 0xdfff) continue;
    const next = s.charCodeAt(i + 1);
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return `contains an unpaired surrogate U+${code.toString(16).toUpperCase()} at index ${i}`;
  }
  return undefined;
}

function checkBiasPairs(spec: { readonly maxItems: number; readonly min: number; readonly max: number }, value: unknown, label: string): unknown {
  if (!Array.isArray(value) || value.length > spec.maxItems) throw invalidField(label, `must hold at most ${spec.maxItems} entries`);
  let previous = -1;
  for (const pair of value) {
    const ok = Array.isArray(pair) && pair.length === 2 && isTokenId(pair[0]) && typeof pair[1] === 'number' && pair[1] >= spec.min && pair[1] <= spec.max;
    if (!ok || (pair[0] as number) <= previous) throw invalidField(label, `must be [token id, bias in [${spec.min}, ${spec.max}]] pairs with ascending ids`);
    previous = pair[0] as number;
  }
  return value;
}

/**
 * OpenAI's `logit_bias` (`{"<token id>": bias}`) as the record's ascending [id, bias] pairs; errors name
 * `logit_bias` and the entry.
 */
export function readLogitBias(value: unknown): readonly (readonly [number, number])[] {
  const spec = SAMPLING_FIELDS.logit_bias;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidField('logit_bias', 'must be an object mapping token ids to biases');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > spec.maxItems) throw invalidField('logit_bias', `must hold at most ${spec.maxItems} entries, got ${entries.length}`);
  const pairs = entries.map(([key, bias]): [number, number] => {
    if (!/^(0|[1-9][0-9]{0,9})$/.test(key) || Number(key) > 2 ** 31 - 1) throw invalidField('logit_bias', `key ${JSON.stringify(key)} is not a token id`);
    if (typeof bias !== 'number' || !Number.isFinite(bias) || bias < spec.min || bias > spec.max) {
      throw invalidField('logit_bias', `the bias of token ${key} must be a number in [${spec.min}, ${spec.max}]`);
    }
    return [Number(key), bias];
  });
  return pairs.sort((a, b) => a[0] - b[0]);
}
