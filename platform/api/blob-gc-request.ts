import type { BlobGcOptions, BlobGcReport } from '../functions/blob-gc.js';
import { TidepoolError } from '../../protocol/errors.js';

/** Uploads younger than this are never collected by default: a deploy still uploading has not registered yet. */
export const DEFAULT_GC_MIN_AGE_MS = 24 * 3_600_000;

const FIELDS = ['dry_run', 'min_age_ms'];

/** The body of `POST /v1/blobs/gc`: `{dry_run?: boolean, min_age_ms?: integer ≥ 0}`, both optional. */
export function parseGcRequest(body: unknown): BlobGcOptions {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TidepoolError('invalid_parameter', 'body must be a JSON object: {"dry_run": true, "min_age_ms": 86400000}');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined)
    throw new TidepoolError('invalid_parameter', `${JSON.stringify(unknown)} is not a field of a gc request (dry_run, min_age_ms)`, { param: unknown });
  const { dry_run: dryRun = false, min_age_ms: minAgeMs = DEFAULT_GC_MIN_AGE_MS } = fields;
  if (typeof dryRun !== 'boolean')
    throw new TidepoolError('invalid_parameter', `dry_run must be true or false, got ${JSON.stringify(dryRun)}`, { param: 'dry_run' });
  if (typeof minAgeMs !== 'number' || !Number.isSafeInteger(minAgeMs) || minAgeMs < 0) {
    throw new TidepoolError('invalid_parameter', `min_age_ms must be a non-negative integer (milliseconds), got ${JSON.stringify(minAgeMs)}`, {
      param: 'min_age_ms',
    });
  }
  return { dryRun, minAgeMs };
}

/** The report as the API answers it (snake_case, dates as ISO 8601). */
export function gcReportBody(report: BlobGcReport): Record<string, unknown> {
  return {
    dry_run: report.dryRun,
    min_age_ms: report.minAgeMs,
    scanned: report.scanned,
    referenced: report.referenced,
    young: report.young,
    unreferenced: report.unreferenced.map((b) => ({ digest: b.digest, size: b.size, last_modified: b.lastModified.toISOString() })),
    unreferenced_bytes: report.unreferenced.reduce((sum, b) => sum + b.size, 0),
    deleted: report.deleted,
    leftovers: report.leftovers.map((l) => ({ kind: l.kind, path: l.path, bytes: l.bytes, why: l.why })),
    leftover_bytes: report.leftovers.reduce((sum, l) => sum + l.bytes, 0),
  };
}
