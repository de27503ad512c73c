import { BlobDigestMismatchError, InvalidDigestError, ObjectNotFoundError } from '../../protocol/blob-source.js';

/** How the host pool retries a blob fetch the object store failed (unreachable, 5xx, reset connection). */
export interface StoreRetryOptions {
  /** Tries in all, the first included; 1 disables retries. */
  readonly attempts: number;
  /** Delay before the second try; doubles per try up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** 250 + 500 + 1000 ms of waiting: rides out a store restart or a brief network cut, then reports it. */
export const DEFAULT_STORE_RETRY: StoreRetryOptions = { attempts: 4, initialBackoffMs: 250, maxBackoffMs: 2_000 };

/**
 * Runs `fetch`, retrying with exponential backoff while the failure is the store's (the SDK's own quick
 * retries happen inside each try). A store that answered "not found", or bytes that do not match their
 * digest, are final: retrying cannot change them. `stop` ends the retries early (nobody waits any more).
 * The last failure is rethrown with the number of tries and the time spent in its message.
 */
export async function withStoreRetry(
  fetch: () => Promise<void>,
  retry: StoreRetryOptions,
  hooks: { readonly onRetry?: (attempt: number, error: unknown) => void; readonly stop?: () => boolean } = {},
): Promise<void> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= retry.attempts || hooks.stop?.()) {
        if (retry.attempts <= 1) throw error;
        const detail = error instanceof Error ? error.message : String(error);
        const ms = Math.round(performance.now() - started);
        throw new Error(`object store unreachable after ${attempt} attempts over ${ms} ms: ${detail}`, { cause: error });
      }
      hooks.onRetry?.(attempt, error);
      await new Promise((resolve) => setTimeout(resolve, Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** (attempt - 1))));
    }
  }
}

function isRetryable(error: unknown): boolean {
  return !(error instanceof BlobDigestMismatchError || error instanceof InvalidDigestError || error instanceof ObjectNotFoundError);
}
