import { controlCharProblem } from './control-chars.js';
import { HttpError } from './http-error.js';

/** Sampling parameters shared by the native and OpenAI routes, validated with OpenAI's names and ranges. */
export interface SamplingParams {
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly stop: readonly string[];
  readonly stream: boolean;
}

type Body = Record<string, unknown>;

export function requireObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_body', 'request body must be a JSON object (Content-Type: application/json)');
  }
  return body as Body;
}

function optionalNumber(body: Body, key: string, min: number, max: number, integer: boolean): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new HttpError(400, 'invalid_parameter', `${key}: must be ${kind} in [${min}, ${max}]`, key);
  }
  return v;
}

/** As OpenAI: at most 4 stop sequences. */
export const MAX_STOP_SEQUENCES = 4;
export const MAX_STOP_LENGTH = 256;

function parseStop(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.length > MAX_STOP_SEQUENCES) {
    throw new HttpError(400, 'invalid_parameter', `stop: at most ${MAX_STOP_SEQUENCES} stop sequences are allowed, got ${v.length}`, 'stop');
  }
  const list = typeof v === 'string' ? [v] : v;
  if (Array.isArray(list) && list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= MAX_STOP_LENGTH)) return list as string[];
  throw new HttpError(400, 'invalid_parameter', `stop: must be a string or an array of at most ${MAX_STOP_SEQUENCES} strings, each 1-${MAX_STOP_LENGTH} characters`, 'stop');
}

export function parseSampling(body: Body): SamplingParams {
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') throw new HttpError(400, 'invalid_parameter', 'stream: must be a boolean', 'stream');
  // OpenAI's newer name for the same limit is accepted too.
  const maxKey = body.max_tokens === undefined && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  return {
    maxTokens: optionalNumber(body, maxKey, 1, 1_000_000, true),
    temperature: optionalNumber(body, 'temperature', 0, 2, false),
    topP: optionalNumber(body, 'top_p', Number.MIN_VALUE, 1, false),
    seed: optionalNumber(body, 'seed', 0, 2 ** 31 - 1, true),
    stop: parseStop(body.stop),
    stream,
  };
}

/** A name or id (a function, a key name, a scope): non-empty and free of control characters. */
export function requireString(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw new HttpError(400, 'invalid_parameter', `${key}: must be a non-empty string`, key);
  const control = controlCharProblem(v);
  if (control) throw new HttpError(400, 'invalid_parameter', `${key}: ${control}`, key);
  return v;
}

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** Chat messages with string content, or content parts of type `text` joined (the only modality served). */
export function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new HttpError(400, 'invalid_parameter', 'messages: must be a non-empty array', 'messages');
  return v.map((m: unknown, i) => {
    const msg = m as { role?: unknown; content?: unknown } | null;
    if (typeof msg?.role !== 'string' || !['system', 'user', 'assistant', 'developer'].includes(msg.role)) {
      throw new HttpError(400, 'invalid_parameter', `messages[${i}].role: must be system, user, assistant or developer`, 'messages');
    }
    const role = msg.role === 'developer' ? 'system' : msg.role;
    if (typeof msg.content === 'string') return { role, content: msg.content };
    if (Array.isArray(msg.content) && msg.content.every((p: { type?: unknown; text?: unknown }) => p?.type === 'text' && typeof p.text === 'string')) {
      return { role, content: (msg.content as { text: string }[]).map((p) => p.text).join('') };
    }
    throw new HttpError(400, 'invalid_parameter', `messages[${i}].content: must be a string or text parts`, 'messages');
  });
}
