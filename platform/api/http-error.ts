/**
 * The one error type routes throw. The error middleware turns it into the OpenAI error shape; `headers` carry
 * extras such as `Retry-After` on 429.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** OpenAI's `type` field, derived from the status so clients that branch on it behave as with OpenAI. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly code: string; readonly param: string | null };
}

export function errorBody(error: HttpError): ErrorBody {
  return { error: { message: error.message, type: errorType(error.status), code: error.code, param: error.param } };
}
