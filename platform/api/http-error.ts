import { HTTP_STATUS, retryAfterSeconds } from '../../protocol/error-status.js';
import type { ErrorCode, TidepoolError } from '../../protocol/errors.js';

/** OpenAI's `type` field, derived from the status so clients that branch on it behave as with OpenAI. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly code: string; readonly param: string | null };
}

/** The OpenAI error shape every failure leaves the API in. */
export function errorBody(error: TidepoolError): ErrorBody {
  return { error: { message: error.message, type: errorType(httpStatus(error.code)), code: error.code, param: error.param } };
}

/** `Retry-After` (seconds) and `X-RateLimit-Scope` where the error carries them. */
export function errorHeaders(error: TidepoolError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.detail.limitScope) headers['X-RateLimit-Scope'] = error.detail.limitScope;
  const retryAfter = retryAfterSeconds(error.code, error.retryAfterMs);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return headers;
}
