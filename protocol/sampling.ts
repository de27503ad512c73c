import { TidepoolError } from './errors.js';

/**
 * The sampling parameters of one generation: one record, built once from the HTTP body, that travels
 * unchanged through the control plane, the node, the scheduler and the engine client into the engine's `add`
 * command. Field names are the wire names (OpenAI's request fields, which the engine protocol shares), so the
 * record crosses every boundary without renaming, and each receiving side checks it against the same table.
 *
 * Adding a parameter: a row in `SAMPLING_FIELDS` (its type, range and whether the engine applies it), the
 * engine protocol's `add` field (docs/engine-protocol.md) and the engine. Nothing in between changes.
 */
export const SAMPLING_FIELDS = {
  max_tokens: { type: 'integer', min: 1, max: 1_000_000, engine: true },
  temperature: { type: 'number', min: 0, max: 2, engine: true },
  top_p: { type: 'number', min: Number.MIN_VALUE, max: 1, engine: true },
  seed: { type: 'integer', min: 0, max: 2 ** 31 - 1, engine: true },
  // Cut by the control plane on text; the engine stops on token ids (`stop_ids`, from the tokenizer).
  stop: { type: 'strings', maxItems: 4, maxLength: 256, engine: false },
} as const satisfies Readonly<Record<string, FieldSpec>>;

type FieldSpec =
  | { readonly type: 'integer' | 'number'; readonly min: number; readonly max: number; readonly engine: boolean }
  | { readonly type: 'strings'; readonly maxItems: number; readonly maxLength: number; readonly engine: boolean };

type FieldValue<S> = S extends { readonly type: 'strings' } ? readonly string[] : number;

export type SamplingField = keyof typeof SAMPLING_FIELDS;

/** A generation's sampling parameters, every one set. */
export type SamplingParams = { readonly [K in SamplingField]: FieldValue<(typeof SAMPLING_FIELDS)[K]> };

/** What a caller asked for: the parameters it set. The rest come from the function's defaults. */
export type SamplingRequest = Partial<SamplingParams>;

/** As OpenAI: at most 4 stop sequences, each 1-256 characters. */
export const MAX_STOP_SEQUENCES = SAMPLING_FIELDS.stop.maxItems;
export const MAX_STOP_LENGTH = SAMPLING_FIELDS.stop.maxLength;

const FIELD_NAMES = Object.keys(SAMPLING_FIELDS) as SamplingField[];

/**
 * Reads the sampling parameters of an API body (OpenAI's names; `null` means unset). Each present field is
 * checked against its row; the first bad one is refused with `invalid_parameter` naming it. OpenAI's newer
 * `max_completion_tokens` is read as `max_tokens` when that is absent.
 */
export function readSampling(body: Readonly<Record<string, unknown>>): SamplingRequest {
  const request: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) {
    const key = name === 'max_tokens' && body.max_tokens === undefined && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : name;
    const value = body[key];
    if (value !== undefined && value !== null) request[name] = checkField(name, value, key);
  }
  return request as SamplingRequest;
}

/** Values for what a function's manifest leaves out; `seed` is drawn per request when the caller sets none. */
export interface SamplingDefaults {
  readonly max_tokens: number;
  readonly temperature: number;
  readonly top_p: number;
}

/** The complete record: what the caller set, else the function's defaults, else a random seed and no stop strings. */
export function resolveSampling(request: SamplingRequest, defaults: SamplingDefaults, randomSeed: () => number = randomSamplingSeed): SamplingParams {
  return {
    max_tokens: request.max_tokens ?? defaults.max_tokens,
    temperature: request.temperature ?? defaults.temperature,
    top_p: request.top_p ?? defaults.top_p,
    seed: request.seed ?? randomSeed(),
    stop: request.stop ?? [],
  };
}

export function randomSamplingSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/**
 * Checks a complete record on the receiving side of a process boundary (a node's `/internal/generate`, the
 * engine client before it writes `add`): every field present and within its row. `where` prefixes the field
 * names in messages (`sampling.top_p: ...`).
 */
export function checkSampling(value: unknown, where = 'sampling'): SamplingParams {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TidepoolError('invalid_parameter', `${where}: must be an object`, { param: where });
  }
  const record = value as Record<string, unknown>;
  for (const name of FIELD_NAMES) {
    if (record[name] === undefined) throw new TidepoolError('invalid_parameter', `${where}.${name}: required`, { param: `${where}.${name}` });
    checkField(name, record[name], `${where}.${name}`);
  }
  return record as SamplingParams;
}

/** The fields the engine applies, as its `add` command takes them. */
export function engineSampling(params: SamplingParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) if (SAMPLING_FIELDS[name].engine) out[name] = params[name];
  return out;
}

function checkField(name: SamplingField, value: unknown, label: string): unknown {
  const spec: FieldSpec = SAMPLING_FIELDS[name];
  if (spec.type === 'strings') return checkStrings(spec, value, label);
  const integer = spec.type === 'integer';
  if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.min || value > spec.max || (integer && !Number.isInteger(value))) {
    throw new TidepoolError('invalid_parameter', `${label}: must be ${integer ? 'an integer' : 'a number'} in [${spec.min}, ${spec.max}]`, { param: label });
  }
  return value;
}

/** A string, or an array of at most `maxItems` strings, each 1-`maxLength` characters; always a list after. */
function checkStrings(spec: { readonly maxItems: number; readonly maxLength: number }, value: unknown, label: string): readonly string[] {
  if (Array.isArray(value) && value.length > spec.maxItems) {
    throw new TidepoolError('invalid_parameter', `${label}: at most ${spec.maxItems} stop sequences are allowed, got ${value.length}`, { param: label });
  }
  const list = typeof value === 'string' ? [value] : value;
  if (Array.isArray(list) && list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= spec.maxLength)) return list as string[];
  throw new TidepoolError('invalid_parameter', `${label}: must be a string or an array of at most ${spec.maxItems} strings, each 1-${spec.maxLength} characters`, { param: label });
}
