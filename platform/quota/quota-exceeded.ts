import { TidepoolError } from '../../protocol/errors.js';
import type { QuotaLimitName } from './quota-limits.js';

/** Whose limit refused the request: the caller's API key, or the function's (shared by all its callers). */
export type QuotaScope = 'key' | 'function';

const CODES = {
  rpm: 'rate_limit_rpm',
  tpm: 'rate_limit_tpm',
  concurrency: 'concurrency_limit',
} as const satisfies Record<QuotaLimitName, string>;

type QuotaCode = (typeof CODES)[QuotaLimitName];

/**
 * A quota refusal (429). `code` names the limit, the message and `scope` say whose it is, and `retryAfterMs`
 * the time until enough budget returns (infinite when the request alone is larger than the whole tpm limit,
 * since waiting would never help; the API then sends no `Retry-After`).
 */
export class QuotaExceededError extends TidepoolError<QuotaCode> {
  constructor(
    readonly scope: QuotaScope,
    readonly limit: QuotaLimitName,
    message: string,
    retryAfterMs: number,
  ) {
    super(CODES[limit], message, { retryAfterMs, limitScope: scope });
    this.name = 'QuotaExceededError';
  }
}
