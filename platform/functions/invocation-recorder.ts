/**
 * Records finished invocations in batches, off the hot path: `record` only appends to a buffer; a timer
 * (every `flushIntervalMs`) or a full batch (`maxBatch` rows) writes them with one insert. `close` flushes
 * what is left, so a clean shutdown loses nothing. A failed write is counted and logged, never thrown into a
 * request.
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
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

export interface InvocationRecorder {
  record(row: InvocationRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface InvocationRecorderOptions {
  readonly write: (rows: readonly InvocationRecord[]) => Promise<void>;
  readonly flushIntervalMs?: number;
  readonly maxBatch?: number;
  /** Beyond this many buffered rows (database down), new rows are dropped and counted. */
  readonly maxBuffered?: number;
  readonly onDropped?: (count: number, error?: unknown) => void;
}

export function createInvocationRecorder(options: InvocationRecorderOptions): InvocationRecorder {
  const maxBatch = options.maxBatch ?? 200;
  const maxBuffered = options.maxBuffered ?? 50_000;
  let buffer: InvocationRecord[] = [];
  let writing: Promise<void> = Promise.resolve();
  let closed = false;

  const flush = (): Promise<void> => {
    // Writes are chained so batches land in order and never overlap on one connection.
    writing = writing.then(async () => {
      while (buffer.length > 0) {
        const batch = buffer.slice(0, maxBatch);
        buffer = buffer.slice(batch.length);
        try {
          await options.write(batch);
        } catch (error) {
          options.onDropped?.(batch.length, error);
        }
      }
    });
    return writing;
  };

  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 250);
  timer.unref();

  return {
    record(row) {
      if (closed || buffer.length >= maxBuffered) {
        options.onDropped?.(1);
        return;
      }
      buffer.push(row);
      if (buffer.length >= maxBatch) void flush();
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
  };
}
