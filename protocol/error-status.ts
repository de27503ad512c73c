import type { ErrorCode } from './errors.js';

/**
 * The one table from error code to HTTP status, used by both HTTP edges: the public API (platform/api) and
 * a node's internal API (runtime/cluster/node-server.ts).
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_json: 400,
  invalid_body: 400,
  invalid_parameter: 400,
  unsupported_parameter: 400,
  unsupported_schema: 400,
  invalid_schema: 400,
  schema_too_large: 400,
  empty_prompt: 400,
  context_length_exceeded: 400,
  context_overflow: 400,
  invalid_manifest: 400,
  invalid_files: 400,
  name_mismatch: 400,
  missing_blobs: 400,
  invalid_digest: 400,
  digest_mismatch: 400,
  bad_request: 400,
  invalid_api_key: 401,
  invalid_cluster_token: 401,
  insufficient_scope: 403,
  function_not_found: 404,
  key_not_found: 404,
  route_not_found: 404,
  not_found: 404,
  body_too_large: 413,
  blob_too_large: 413,
  size_mismatch: 422,
  invalid_model: 422,
  model_mismatch: 422,
  queue_full: 429,
  rate_limit_rpm: 429,
  rate_limit_tpm: 429,
  concurrency_limit: 429,
  internal_error: 500,
  engine_error: 500,
  bad_model: 500,
  internal: 500,
  out_of_memory: 500,
  busy: 500,
  unsupported: 500,
  // The object store handed back bytes that fail their digest: an upstream fault, repaired by a re-upload.
  blob_corrupt: 502,
  cold_start_timeout: 503,
  store_unavailable: 503,
  engine_down: 503,
  // The engine's device faulted; the engine restarts on a fresh context, so a retry may succeed.
  device_lost: 503,
  shutting_down: 503,
};

/** Seconds for `Retry-After` (at least 1); `queue_full` without a hint asks for 1 s. */
export function retryAfterSeconds(code: ErrorCode, retryAfterMs: number | undefined): number | undefined {
  const ms = retryAfterMs ?? (code === 'queue_full' ? 1_000 : undefined);
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  return Math.max(1, Math.ceil(ms / 1000));
}
