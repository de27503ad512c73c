import { TidepoolError } from '../../protocol/errors.js';
import { controlCharProblem } from '../db/control-chars.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';

type Body = Record<string, unknown>;

export function requireObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TidepoolError('invalid_body', 'request body must be a JSON object (Content-Type: application/json)');
  }
  return body as Body;
}

/** `stream`: false unless the body says true. */
export function readStream(body: Body): boolean {
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') throw new TidepoolError('invalid_parameter', 'stream: must be a boolean', { param: 'stream' });
  return stream;
}

/** A name or id (a function, a key name, a scope): non-empty and free of control characters. */
export function requireString(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw new TidepoolError('invalid_parameter', `${key}: must be a non-empty string`, { param: key });
  const control = controlCharProblem(v);
  if (control) throw new TidepoolError('invalid_parameter', `${key}: ${control}`, { param: key });
  return v;
}

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** Chat messages with string content, or content parts of type `text` joined (the only modality served). */
export function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new TidepoolError('invalid_parameter', 'messages: must be a non-empty array', { param: 'messages' });
  return v.map((m: unknown, i) => {
    const msg = m as { role?: unknown; content?: unknown } | null;
    if (typeof msg?.role !== 'string' || !['system', 'user', 'assistant', 'developer'].includes(msg.role)) {
      throw new TidepoolError('invalid_parameter', `messages[${i}].role: must be system, user, assistant or developer`, { param: 'messages' });
    }
    const role = msg.role === 'developer' ? 'system' : msg.role;
    if (typeof msg.content === 'string') return { role, content: msg.content };
    if (Array.isArray(msg.content) && msg.content.every((p: { type?: unknown; text?: unknown }) => p?.type === 'text' && typeof p.text === 'string')) {
      return { role, content: (msg.content as { text: string }[]).map((p) => p.text).join('') };
    }
    throw new TidepoolError('invalid_parameter', `messages[${i}].content: must be a string or text parts`, { param: 'messages' });
  });
}

/** `stream_options.include_usage`: a last chunk with `choices: []` and the usage. */
export function readIncludeUsage(body: Readonly<Record<string, unknown>>): boolean {
  const options = body.stream_options;
  if (options === undefined || options === null) return false;
  if (typeof options !== 'object' || Array.isArray(options))
    throw new TidepoolError('invalid_parameter', 'stream_options: must be an object', { param: 'stream_options' });
  const include = (options as { include_usage?: unknown }).include_usage;
  if (include !== undefined && include !== null && typeof include !== 'boolean') {
    throw new TidepoolError('invalid_parameter', 'stream_options.include_usage: must be a boolean', { param: 'stream_options' });
  }
  return include === true;
}

/** The function, unless it is an embedding function (`task: embed`), which only `/v1/embeddings` serves. */
export function generatingFunction(fn: ResolvedFunction): ResolvedFunction {
  if (fn.manifest.task !== 'embed') return fn;
  throw new TidepoolError('unsupported_parameter', `model: function ${fn.name} is an embedding function (task: embed); call /v1/embeddings`, {
    param: 'model',
  });
}
