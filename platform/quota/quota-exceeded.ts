import { HttpError } from '../api/http-error.js';
import type { QuotaLimitName } from './quota-limits.js';

/** Whose limit refused the request: the caller's API key, or the function's (shared by all its callers). */
export type QuotaScope = 'key' | 'function';

const CODES: Readonly<Record<QuotaLimitName, string>> = {
  rpm: 'rate_limit_rpm',
  tpm: 'rate_limit_tpm',
  concurrency: 'concurrency_limit',
};

/**
 * A 429 from a quota. `code` names the limit, the message and the `X-RateLimit-Scope` header say whose it is,
 * and `Retry-After` gives the seconds until enough budget returns (absent when the request alone is larger
 * than the whole tpm limit, since waiting would never help).
 */
export class QuotaExceededError extends HttpError {
  constructor(
    readonly scope: QuotaScope,
    readonly limit: QuotaLimitName,
    message: string,
    readonly retryAfterMs: number,
  ) {
    const headers: Record<string, string> = { 'X-RateLimit-Scope': scope };
    if (Number.isFinite(retryAfterMs)) headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    super(429, CODES[limit], message, null, headers);
    this.name = 'QuotaExceededError';
  }
}
