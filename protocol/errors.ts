/**
 * Every error code Tidepool reports, in one union: what the HTTP API answers (`{error:{code}}`), what a node
 * refuses a generation with, what the engine and the host pool fail with. Modules throw `TidepoolError`
 * (or a subclass that narrows the code); only the HTTP edges turn a code into a status, through the one
 * table in `error-status.ts`. Nothing parses a code out of a message.
 */
export const ERROR_CODES = [
  // The request: body, parameters, files (400, 413, 422).
  'invalid_json',
  'invalid_body',
  'invalid_parameter',
  'unsupported_parameter',
  'body_too_large',
  'empty_prompt',
  'context_length_exceeded',
  'invalid_manifest',
  'invalid_files',
  'name_mismatch',
  'missing_blobs',
  'invalid_digest',
  'digest_mismatch',
  'blob_too_large',
  'size_mismatch',
  'invalid_model',
  'model_mismatch',
  // Structured outputs and tools: a schema the compiler does not enforce, is not a schema, or is too large.
  'unsupported_schema',
  'invalid_schema',
  'schema_too_large',
  // Who is asking (401, 403) and what they ask for (404).
  'invalid_api_key',
  'insufficient_scope',
  'invalid_cluster_token',
  'function_not_found',
  'key_not_found',
  'route_not_found',
  'not_found',
  // Limits (429).
  'queue_full',
  'rate_limit_rpm',
  'rate_limit_tpm',
  'concurrency_limit',
  // A node refusing a generation before its first token.
  'cold_start_timeout',
  'store_unavailable',
  'engine_down',
  'bad_model',
  'blob_corrupt',
  'context_overflow',
  // The engine's own codes (docs/engine-protocol.md).
  'bad_request',
  'out_of_memory',
  'busy',
  'unsupported',
  'internal',
  'device_lost',
  // The platform itself.
  'engine_error',
  'shutting_down',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODE_SET.has(value);
}

/** What an error may carry beside its code and message; the HTTP edge turns it into `param` and headers. */
export interface ErrorDetail {
  /** The request field at fault, as the API names it (`max_tokens`, `messages`). */
  readonly param?: string | null;
  /** When trying again may succeed (`Retry-After`); absent or infinite: no hint. */
  readonly retryAfterMs?: number;
  /** Whose limit refused a request (`X-RateLimit-Scope`): the caller's key or the function's. */
  readonly limitScope?: 'key' | 'function';
  readonly cause?: unknown;
}

export class TidepoolError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly detail: ErrorDetail = {},
  ) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'TidepoolError';
  }

  get param(): string | null {
    return this.detail.param ?? null;
  }

  get retryAfterMs(): number | undefined {
    return this.detail.retryAfterMs;
  }
}

/** An error as it crosses a process boundary (NDJSON events, JSON error bodies). */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
}

export function toWireError(error: TidepoolError): WireError {
  return { code: error.code, message: error.message };
}

/** `error` itself when it is coded, else a `fallback`-coded error with its message (and it as the cause). */
export function coded(error: unknown, fallback: ErrorCode = 'internal'): TidepoolError {
  if (error instanceof TidepoolError) return error;
  return new TidepoolError(fallback, error instanceof Error ? error.message : String(error), { cause: error });
}
