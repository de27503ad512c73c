import { TidepoolError } from '../../protocol/errors.js';

/** The statuses an invocation record can have (docs/api.md, Invocation records). */
export const INVOCATION_STATUSES = ['stop', 'length', 'cancelled', 'error', 'rejected'] as const;

export const DEFAULT_INVOCATION_LIMIT = 50;
export const MAX_INVOCATION_LIMIT = 1000;

/** `GET /v1/invocations` parameters, validated. `after` pages back in time; `since` follows forward. */
export interface InvocationQuery {
  readonly functionName?: string;
  readonly limit: number;
  readonly statuses?: readonly string[];
  /** The last row's id of the previous page (its `next_cursor`). */
  readonly after?: string;
  /** Rows that finished after this instant or after this invocation id. */
  readonly since?: { readonly at: Date } | { readonly id: string };
}

const KNOWN_PARAMS = new Set(['function', 'limit', 'status', 'after', 'since']);

/** Parses the query string; any problem is a 400 `invalid_parameter` naming the parameter. */
export function parseInvocationQuery(query: Readonly<Record<string, unknown>>): InvocationQuery {
  for (const key of Object.keys(query)) {
    if (!KNOWN_PARAMS.has(key)) throw invalid(key, `unknown parameter ${key}; expected one of ${[...KNOWN_PARAMS].join(', ')}`);
  }
  const functionName = single(query, 'function');
  const after = single(query, 'after');
  const since = single(query, 'since');
  if (after !== undefined && since !== undefined) throw invalid('since', 'since and after cannot be combined: after pages back, since follows forward');
  return {
    ...(functionName !== undefined && { functionName }),
    limit: parseLimit(single(query, 'limit')),
    ...optionalStatuses(single(query, 'status')),
    ...(after !== undefined && { after }),
    ...(since !== undefined && { since: parseSince(since) }),
  };
}

/** One non-empty string value; a parameter given twice is ambiguous. */
function single(query: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(name, `${name} must be given once, as a plain value`);
  if (value === '') throw invalid(name, `${name} must not be empty`);
  return value;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_INVOCATION_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_INVOCATION_LIMIT) {
    throw invalid('limit', `limit must be an integer from 1 to ${MAX_INVOCATION_LIMIT}, got ${JSON.stringify(raw)}`);
  }
  return limit;
}

function optionalStatuses(raw: string | undefined): { statuses?: readonly string[] } {
  if (raw === undefined) return {};
  const statuses = raw.split(',').map((s) => s.trim());
  const unknown = statuses.filter((s) => !(INVOCATION_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw invalid('status', `unknown status ${JSON.stringify(unknown[0])}; expected a comma-separated list of ${INVOCATION_STATUSES.join(', ')}`);
  }
  return { statuses: [...new Set(statuses)] };
}

/** An ISO 8601 time (it starts with a date) or else an invocation id. */
function parseSince(raw: string): { at: Date } | { id: string } {
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw)) return { id: raw };
  const at = new Date(raw);
  if (Number.isNaN(at.getTime())) throw invalid('since', `since must be an ISO 8601 time or an invocation id, got ${JSON.stringify(raw)}`);
  return { at };
}

function invalid(param: string, message: string): TidepoolError {
  return new TidepoolError('invalid_parameter', message, { param: param });
}
