import { TidepoolError } from './errors.js';
import { FIELD_NAMES, type FieldValues, SAMPLING_FIELDS, type SamplingField, checkField, invalidField, readLogitBias } from './sampling-fields.js';
import { type ByteDfaTransferForm, fromTransferForm } from './structured-output/transfer-form.js';

/**
 * The sampling parameters of one generation: one record, built once from the HTTP body, that travels
 * unchanged through the control plane, the node, the scheduler and the engine client into the engine's `add`
 * command. Field names are the wire names (OpenAI's and vLLM's request fields, which the engine protocol
 * shares), so the record crosses every boundary without renaming, and each receiving side checks it against
 * the same table.
 *
 * Adding a parameter: a row in `SAMPLING_FIELDS` (sampling-fields.ts: its type, range, default and whether
 * the engine applies it), the engine protocol's `add` field (docs/engine-protocol.md) and the engine.
 * Nothing in between changes.
 */
export type SamplingParams = FieldValues & {
  /** The byte automaton the output must follow (structured outputs, forced tool calls); null: free text. */
  readonly grammar: SamplingGrammar | null;
};

/** A constraint as it travels: the automaton's transfer form and its hash (the engine registers it under that name). */
export interface SamplingGrammar {
  readonly hash: string;
  readonly automaton: ByteDfaTransferForm;
}

/** What a caller asked for: the parameters it set. The rest come from the function's defaults. */
export type SamplingRequest = Partial<SamplingParams>;

export type { SamplingField } from './sampling-fields.js';
export { SAMPLING_FIELDS } from './sampling-fields.js';

/** As OpenAI: at most 4 stop sequences, each 1-256 characters. */
export const MAX_STOP_SEQUENCES = SAMPLING_FIELDS.stop.maxItems;
export const MAX_STOP_LENGTH = SAMPLING_FIELDS.stop.maxLength;
export const MAX_TOP_LOGPROBS = SAMPLING_FIELDS.top_logprobs.max;

/** Which API's spelling a body uses: Completions' `logprobs` is a count of alternatives, Chat's a boolean. */
export type SamplingDialect = 'chat' | 'completions';

/** Body fields `readSampling` reads, per dialect (beside `SAMPLING_FIELDS`' names). */
export const SAMPLING_BODY_FIELDS: readonly string[] = [...FIELD_NAMES, 'max_completion_tokens'];

/**
 * Reads the sampling parameters of an API body (`null` means unset). Each present field is checked against
 * its row; the first bad one is refused with `invalid_parameter` naming it. `max_completion_tokens` wins over
 * `max_tokens` (OpenAI's newer name; vLLM reads it so too); `top_k: -1` is vLLM's "off", read as 0.
 */
export function readSampling(body: Readonly<Record<string, unknown>>, dialect: SamplingDialect = 'chat'): SamplingRequest {
  const request: Record<string, unknown> = {};
  const set = (name: SamplingField, key: string = name) => {
    const value = body[key];
    if (value !== undefined && value !== null) request[name] = checkField(name, value, key);
  };
  for (const name of FIELD_NAMES) {
    if (name === 'logit_bias' || name === 'logprobs' || name === 'top_logprobs' || name === 'top_k' || name === 'embed') continue;
    set(name, name === 'max_tokens' && isSet(body.max_completion_tokens) ? 'max_completion_tokens' : name);
  }
  if (body.top_k === -1) request.top_k = 0;
  else set('top_k');
  if (isSet(body.logit_bias)) request.logit_bias = readLogitBias(body.logit_bias);
  Object.assign(request, dialect === 'chat' ? readChatLogprobs(body) : readCompletionLogprobs(body));
  return request as SamplingRequest;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function readChatLogprobs(body: Readonly<Record<string, unknown>>): Partial<FieldValues> {
  const logprobs = isSet(body.logprobs) ? (checkField('logprobs', body.logprobs, 'logprobs') as boolean) : undefined;
  const top = isSet(body.top_logprobs) ? (checkField('top_logprobs', body.top_logprobs, 'top_logprobs') as number) : undefined;
  if (top !== undefined && top > 0 && logprobs !== true) throw invalidField('top_logprobs', 'needs logprobs: true');
  return { ...(logprobs === undefined ? {} : { logprobs }), ...(top === undefined ? {} : { top_logprobs: top }) };
}

/** Completions' `logprobs: n`: the chosen token's logprob and n alternatives (0-20; OpenAI allows 5, vLLM 20). */
function readCompletionLogprobs(body: Readonly<Record<string, unknown>>): Partial<FieldValues> {
  if (!isSet(body.logprobs)) return {};
  const top = checkField('top_logprobs', body.logprobs, 'logprobs') as number;
  return { logprobs: true, top_logprobs: top };
}

/** Values for what a function's manifest leaves out; `seed` is drawn per request when the caller sets none. */
export interface SamplingDefaults {
  readonly max_tokens: number;
  readonly temperature: number;
  readonly top_p: number;
}

/** The complete record: what the caller set, else the function's defaults, else each row's default and a random seed. */
export function resolveSampling(request: SamplingRequest, defaults: SamplingDefaults, randomSeed: () => number = randomSamplingSeed): SamplingParams {
  const out: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) {
    const spec = SAMPLING_FIELDS[name];
    out[name] = request[name] ?? ('default' in spec ? spec.default : undefined);
  }
  out.max_tokens = request.max_tokens ?? defaults.max_tokens;
  out.temperature = request.temperature ?? defaults.temperature;
  out.top_p = request.top_p ?? defaults.top_p;
  out.seed = request.seed ?? randomSeed();
  out.grammar = request.grammar ?? null;
  const params = out as SamplingParams;
  checkRelations(params, '');
  return params;
}

export function randomSamplingSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** Rules between fields: min_tokens within max_tokens, alternatives only with logprobs. */
function checkRelations(params: SamplingParams, prefix: string): void {
  if (params.min_tokens > params.max_tokens) {
    throw invalidField(`${prefix}min_tokens`, `must not exceed max_tokens (${params.max_tokens}), got ${params.min_tokens}`);
  }
  if (params.top_logprobs > 0 && !params.logprobs) throw invalidField(`${prefix}top_logprobs`, 'needs logprobs: true');
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
    if (record[name] === undefined) throw invalidField(`${where}.${name}`, 'required');
    checkField(name, record[name], `${where}.${name}`);
  }
  checkGrammar(record.grammar, `${where}.grammar`);
  checkRelations(record as SamplingParams, `${where}.`);
  return record as SamplingParams;
}

function checkGrammar(value: unknown, label: string): void {
  if (value === null) return;
  const g = value as Partial<SamplingGrammar> | undefined;
  if (typeof g !== 'object' || typeof g.hash !== 'string' || !/^[0-9a-f]{64}$/.test(g.hash))
    throw invalidField(label, 'must be null or {hash: sha256 hex, automaton}');
  try {
    fromTransferForm(g.automaton);
  } catch (error) {
    throw invalidField(label, (error as Error).message);
  }
}

/** Token ids in the record (`logit_bias`, `stop_token_ids`) must exist in the model's vocabulary of `vocabSize` ids. */
export function checkSamplingIds(params: SamplingRequest, vocabSize: number): void {
  for (const [id] of params.logit_bias ?? []) {
    if (id >= vocabSize) throw invalidField('logit_bias', `token ${id} is outside the vocabulary (ids 0-${vocabSize - 1})`);
  }
  for (const id of params.stop_token_ids ?? []) {
    if (id >= vocabSize) throw invalidField('stop_token_ids', `token ${id} is outside the vocabulary (ids 0-${vocabSize - 1})`);
  }
}

/** The fields the engine applies, under the engine protocol's names; `grammar` is the engine client's to register. */
export function engineSampling(params: SamplingParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) {
    const spec: { readonly engine: boolean; readonly engineName?: string } = SAMPLING_FIELDS[name];
    if (spec.engine) out[spec.engineName ?? name] = params[name];
  }
  return out;
}

/** A complete record from a few fields, the rest at their defaults (greedy, top_p 1, seed 0): for the simulator, tests and benchmarks. */
export function samplingWith(fields: SamplingRequest & { readonly max_tokens: number }): SamplingParams {
  return resolveSampling(fields, { max_tokens: fields.max_tokens, temperature: 0, top_p: 1 }, () => 0);
}
