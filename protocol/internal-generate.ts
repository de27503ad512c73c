import { type ErrorCode, TidepoolError, type WireError, isErrorCode } from './errors.js';
import { type Artifact, type DoneReason, MAX_GROUP_CHOICES, type NodeEvent, type NodeGenerateRequest, type TokenLogprob } from './node-runtime.js';
import { SAMPLING_FIELDS } from './sampling-fields.js';
import { checkSampling } from './sampling.js';
import { parseWeightsDigest } from './weights-digest.js';

/**
 * The wire schema of a node's `POST /internal/generate`, read by both ends: the node server checks the
 * request body with `parseGenerateRequest`, the control plane's HTTP client checks each NDJSON line of the
 * answer with `parseNodeEvent` and a refusal body with `parseRefusal`. Nothing on either side casts JSON
 * to these types unchecked. A check fails with `invalid_parameter` naming the field.
 *
 * - request: a `NodeGenerateRequest` as JSON;
 * - 200: `application/x-ndjson`, one `NodeEvent` per line, the last one `done` (a group: one `done` per
 *   choice, each event with its `choice`);
 * - refused before the first event: a non-2xx status with `{ "error": { "code", "message", "retryAfterMs"? } }`.
 *
 * An artifact's weights digest is `digest` on the wire (`WireArtifact`), as in every stored host-pool manifest;
 * `parseArtifact` and `artifactToWire` are the one place it is converted.
 *
 * And of `POST /internal/cancel`, which ends one choice of a group in flight (a stop string matched in it):
 * `{ "id": <the request's id>, "choice": <index> }` (`parseChoiceCancel`), answered `{ "cancelled": boolean }`.
 */

/** An `Artifact` as JSON. */
export type WireArtifact = Omit<Artifact, 'weightsDigest'> & { readonly digest: string };

export function artifactToWire({ weightsDigest, ...rest }: Artifact): WireArtifact {
  return { digest: weightsDigest, ...rest };
}

/** The request body as the control plane sends it. */
export function generateRequestToWire(request: NodeGenerateRequest): Omit<NodeGenerateRequest, 'artifact'> & { readonly artifact: WireArtifact } {
  return { ...request, artifact: artifactToWire(request.artifact) };
}

type Json = Readonly<Record<string, unknown>>;

function invalid(field: string, rule: string): TidepoolError {
  return new TidepoolError('invalid_parameter', `${field}: ${rule}`, { param: field });
}

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
  return value as Json;
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(field, 'must be a non-empty string');
  return value;
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(field, 'must be a non-negative integer');
  return value;
}

function positive(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(field, 'must be a positive number');
  return value;
}

function tokenIds(value: unknown, field: string): readonly number[] {
  if (!Array.isArray(value) || !value.every((id) => Number.isSafeInteger(id) && id >= 0))
    throw invalid(field, 'must be an array of token ids (non-negative integers)');
  return value as number[];
}

/** An artifact as JSON: `{ digest: "sha256:<hex>", bytes, files: [{ name, digest, size }] }`. */
export function parseArtifact(value: unknown, field = 'artifact'): Artifact {
  const a = object(value, field);
  if (typeof a.digest !== 'string' || !a.digest.startsWith('sha256:')) throw invalid(`${field}.digest`, 'must be a sha256:<hex> string');
  const bytes = count(a.bytes, `${field}.bytes`);
  if (!Array.isArray(a.files)) throw invalid(`${field}.files`, 'must be an array');
  const files = a.files.map((file: unknown, i) => {
    const f = object(file, `${field}.files[${i}]`);
    const name = string(f.name, `${field}.files[${i}].name`);
    if (typeof f.digest !== 'string' || !f.digest.startsWith('sha256:')) throw invalid(`${field}.files[${i}].digest`, 'must be a sha256:<hex> string');
    return { name, digest: f.digest, size: count(f.size, `${field}.files[${i}].size`) };
  });
  return { weightsDigest: parseWeightsDigest(a.digest, `${field}.digest`), files, bytes };
}

/** The request body, checked field by field; the sampling record against its own schema (`protocol/sampling.ts`). */
export function parseGenerateRequest(value: unknown): NodeGenerateRequest {
  const r = object(value, 'body');
  string(r.id, 'id');
  string(r.functionName, 'functionName');
  count(r.version, 'version');
  const artifact = parseArtifact(r.artifact);
  const prompt = tokenIds(r.promptTokens, 'promptTokens');
  if (prompt.length === 0) throw invalid('promptTokens', 'must not be empty');
  checkSampling(r.sampling);
  tokenIds(r.stopTokenIds, 'stopTokenIds');
  const slo = object(r.slo, 'slo');
  positive(slo.ttftMs, 'slo.ttftMs');
  positive(slo.tpotMs, 'slo.tpotMs');
  count(r.keepWarmMs, 'keepWarmMs');
  if (r.seeds !== undefined) checkSeeds(r.seeds, r.sampling as { readonly seed: number; readonly embed: unknown });
  return { ...(r as unknown as NodeGenerateRequest), artifact };
}

/** A group's seeds: 1 to `MAX_GROUP_CHOICES` seeds in the sampling record's range, choice 0's the record's own. */
function checkSeeds(value: unknown, sampling: { readonly seed: number; readonly embed: unknown }): void {
  const { min, max } = SAMPLING_FIELDS.seed;
  if (sampling.embed !== null) throw invalid('seeds', 'an embedding (sampling.embed) has one choice');
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_GROUP_CHOICES)
    throw invalid('seeds', `must be an array of 1 to ${MAX_GROUP_CHOICES} seeds, one per choice`);
  value.forEach((s: unknown, i) => {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < min || s > max) throw invalid(`seeds[${i}]`, `must be an integer in [${min}, ${max}]`);
  });
  if (value[0] !== sampling.seed) throw invalid('seeds[0]', `must equal sampling.seed (${sampling.seed}): choice 0 samples with the record's own seed`);
}

/** The body of `POST /internal/cancel`: which choice of which request to end. */
export interface ChoiceCancel {
  readonly id: string;
  readonly choice: number;
}

export function parseChoiceCancel(value: unknown): ChoiceCancel {
  const c = object(value, 'body');
  const choice = count(c.choice, 'choice');
  if (choice >= MAX_GROUP_CHOICES) throw invalid('choice', `must be below ${MAX_GROUP_CHOICES}`);
  return { id: string(c.id, 'id'), choice };
}

/** `{logprob, top: [[id, logprob], ...]}`; logprobs are finite and at most 0 (or -Infinity, sent as null by JSON). */
function tokenLogprob(value: unknown): TokenLogprob {
  const l = object(value, 'event.logprob');
  const logprobOf = (v: unknown, field: string): number => {
    if (v === null) return -Infinity;
    if (typeof v !== 'number' || Number.isNaN(v) || v > 0) throw invalid(field, 'must be a log-probability (a number <= 0)');
    return v;
  };
  const logprob = logprobOf(l.logprob, 'event.logprob.logprob');
  if (!Array.isArray(l.top)) throw invalid('event.logprob.top', 'must be an array of [token id, logprob] pairs');
  const top = l.top.map((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw invalid(`event.logprob.top[${i}]`, 'must be a [token id, logprob] pair');
    return [count(pair[0], `event.logprob.top[${i}][0]`), logprobOf(pair[1], `event.logprob.top[${i}][1]`)] as const;
  });
  return { logprob, top };
}

function numbers(value: unknown, field: string): readonly number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) throw invalid(field, 'must be an array of finite numbers');
  return value as number[];
}

function choiceIndex(value: unknown): number {
  const choice = count(value, 'event.choice');
  if (choice >= MAX_GROUP_CHOICES) throw invalid('event.choice', `must be below ${MAX_GROUP_CHOICES}`);
  return choice;
}

const DONE_REASONS: ReadonlySet<string> = new Set<DoneReason>(['stop', 'length', 'cancelled', 'error']);

function wireError(value: unknown, field: string): WireError {
  const e = object(value, field);
  if (!isErrorCode(e.code)) throw invalid(`${field}.code`, 'must be a Tidepool error code');
  if (typeof e.message !== 'string') throw invalid(`${field}.message`, 'must be a string');
  return { code: e.code, message: e.message };
}

/** One NDJSON line of the answer. */
export function parseNodeEvent(value: unknown): NodeEvent {
  const e = object(value, 'event');
  const choice = e.choice === undefined ? {} : { choice: choiceIndex(e.choice) };
  if (e.type === 'token') {
    const token = count(e.token, 'event.token');
    return e.logprob === undefined ? { type: 'token', token, ...choice } : { type: 'token', token, logprob: tokenLogprob(e.logprob), ...choice };
  }
  if (e.type !== 'done') throw invalid('event.type', 'must be token or done');
  if (typeof e.reason !== 'string' || !DONE_REASONS.has(e.reason)) throw invalid('event.reason', 'must be stop, length, cancelled or error');
  const done = {
    type: 'done' as const,
    reason: e.reason as DoneReason,
    promptTokens: count(e.promptTokens, 'event.promptTokens'),
    completionTokens: count(e.completionTokens, 'event.completionTokens'),
    ...choice,
  };
  const embedding = e.embedding === undefined ? {} : { embedding: numbers(e.embedding, 'event.embedding') };
  return e.error === undefined ? { ...done, ...embedding } : { ...done, ...embedding, error: wireError(e.error, 'event.error') };
}

/** A refusal body's error; a body that is not one reads as `engine_down` with `fallback` as its message. */
export function parseRefusal(value: unknown, fallback: string): { readonly code: ErrorCode; readonly message: string; readonly retryAfterMs?: number } {
  const error = (typeof value === 'object' && value !== null ? (value as Json).error : undefined) as Json | undefined;
  const code = isErrorCode(error?.code) ? error.code : 'engine_down';
  const message = typeof error?.message === 'string' ? error.message : fallback;
  const retry = error?.retryAfterMs;
  return typeof retry === 'number' && Number.isFinite(retry) && retry >= 0 ? { code, message, retryAfterMs: retry } : { code, message };
}
