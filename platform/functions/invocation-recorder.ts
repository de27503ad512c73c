/**
 * Records finished invocations in batches, off the hot path: `record` only appends to a buffer; a timer
 * (every `flushIntervalMs`) or a full batch (`maxBatch` rows) writes them with one insert. A failed write
 * (database restarting, failover) keeps its rows buffered and is retried with exponential backoff, so an
 * outage loses nothing; rows are only dropped, and counted, beyond `maxBuffered`, or when `close` cannot
 * write them before its deadline. Rows carry their own ids and the insert skips ids already stored, so a
 * retried batch that did land the first time is not duplicated. Nothing is ever thrown into a request.
 */
export interface InvocationRecord {
  readonly id: string;
  readonly functionName: string;
  readonly version: number;
  /** The caller's API key id; null in open mode and for the bootstrap key. */
  readonly apiKeyId: string | null;
  readonly nodeId: string | null;
  /** `stop`, `length`, `cancelled`, `error` or `rejected` (refused before the first token). */
  readonly status: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly ttftMs: number | null;
  readonly tpotMs: number | null;
  /**
   * Share of output tokens delivered by their deadline (docs: token-deadline SLO attainment); null when a
   * quota refused the request, which the SLO does not cover.
   */
  readonly sloAttainment: number | null;
  readonly sloMet: boolean | null;
  readonly error: string | null;
  /** What it ran with (`recorded-params.ts`); absent for refusals before the parameters were resolved. */
  readonly params?: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

export interface InvocationRecorder {
  record(row: InvocationRecord): void;
  /**
   * Writes everything buffered now, ignoring any backoff. Resolves when the buffer is empty or a write
   * failed (the rows stay buffered for the next retry); never rejects.
   */
  flush(): Promise<void>;
  /** Rows waiting to be written. */
  buffered(): number;
  /** Stops the timer and flushes, retrying until `closeTimeoutMs`; what is still unwritten then is dropped. */
  close(): Promise<void>;
}

export interface InvocationRecorderOptions {
  readonly write: (rows: readonly InvocationRecord[]) => Promise<void>;
  readonly flushIntervalMs?: number;
  readonly maxBatch?: number;
  /** Beyond this many buffered rows (database down for long), new rows are dropped and counted. */
  readonly maxBuffered?: number;
  /** First retry delay after a failed write; doubles per consecutive failure up to `maxRetryBackoffMs`. */
  readonly retryBackoffMs?: number;
  readonly maxRetryBackoffMs?: number;
  /** How long `close` keeps retrying a failing database before dropping what is left. */
  readonly closeTimeoutMs?: number;
  readonly onDropped?: (count: number, error?: unknown) => void;
  /** A write failed; `buffered` rows wait and the next attempt is in `retryInMs`. */
  readonly onWriteError?: (error: unknown, buffered: number, retryInMs: number) => void;
  /** The first successful write after failures. */
  readonly onRecovered?: (failures: number) => void;
}

export function createInvocationRecorder(options: InvocationRecorderOptions): InvocationRecorder {
  const maxBatch = options.maxBatch ?? 200;
  const maxBuffered = options.maxBuffered ?? 50_000;
  const initialBackoffMs = options.retryBackoffMs ?? 100;
  const maxBackoffMs = options.maxRetryBackoffMs ?? 5_000;
  let buffer: InvocationRecord[] = [];
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  /** Consecutive failed writes; 0 while the database answers. */
  let failures = 0;
  let lastError: unknown;
  /** `Date.now()` before which the timer and full batches leave a failing database alone. */
  let retryAt = 0;

  const writeAll = async (): Promise<void> => {
    while (buffer.length > 0) {
      // The batch leaves the buffer only once written, so a failure keeps it (and its order) for the retry.
      const batch = buffer.slice(0, maxBatch);
      try {
        await options.write(batch);
      } catch (error) {
        failures++;
        lastError = error;
        const backoff = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
        retryAt = Date.now() + backoff;
        options.onWriteError?.(error, buffer.length, backoff);
        return;
      }
      buffer = buffer.slice(batch.length);
      if (failures > 0) options.onRecovered?.(failures);
      failures = 0;
      retryAt = 0;
    }
  };

  // Writes are chained so batches land in order and never overlap on one connection.
  const flush = (): Promise<void> => (writing = writing.then(writeAll));
  const flushIfDue = (): void => {
    if (Date.now() >= retryAt) void flush();
  };

  const timer = setInterval(flushIfDue, options.flushIntervalMs ?? 250);
  timer.unref();

  return {
    record(row) {
      if (closed || buffer.length >= maxBuffered) {
        options.onDropped?.(1, closed ? undefined : lastError);
        return;
      }
      buffer.push(row);
      if (buffer.length >= maxBatch) flushIfDue();
    },
    flush,
    buffered: () => buffer.length,
    async close() {
      closed = true;
      clearInterval(timer);
      const deadline = Date.now() + (options.closeTimeoutMs ?? 5_000);
      await flush();
      while (buffer.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(retryAt, deadline) - Date.now())));
        await flush();
      }
      if (buffer.length === 0) return;
      options.onDropped?.(buffer.length, lastError);
      buffer = [];
    },
  };
}
