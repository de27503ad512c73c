import { TidepoolError } from '../../protocol/errors.js';

/**
 * Limits of one scope (an API key, or a function for all its callers together). Null means unlimited.
 * `tpm` counts prompt + completion tokens.
 */
export interface QuotaLimits {
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly concurrency: number | null;
}

export type QuotaLimitName = keyof QuotaLimits;

export const QUOTA_LIMIT_NAMES: readonly QuotaLimitName[] = ['rpm', 'tpm', 'concurrency'];

export const UNLIMITED: QuotaLimits = Object.freeze({ rpm: null, tpm: null, concurrency: null });

/** The largest limit an API key stores (a Postgres `integer`). */
export const MAX_KEY_LIMIT = 2_147_483_647;

export function hasLimits(limits: QuotaLimits | null | undefined): limits is QuotaLimits {
  return !!limits && (limits.rpm !== null || limits.tpm !== null || limits.concurrency !== null);
}

/**
 * Reads `rpm`, `tpm` and `concurrency` from a request body (`POST /v1/keys`): each absent, null, or a
 * positive integer; anything else is a 400 naming the field.
 */
export function parseKeyLimits(body: Readonly<Record<string, unknown>>): QuotaLimits {
  const read = (name: QuotaLimitName): number | null => {
    const value = body[name];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_KEY_LIMIT) {
      throw new TidepoolError('invalid_parameter', `${name}: must be a positive integer (at most ${MAX_KEY_LIMIT}) or null for unlimited`, { param: name });
    }
    return value;
  };
  return { rpm: read('rpm'), tpm: read('tpm'), concurrency: read('concurrency') };
}
