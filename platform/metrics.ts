import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The control plane's metrics, on the injected registry the node runtime also uses, so one `/metrics`
 * scrape shows both. Latencies are in seconds, as Prometheus convention asks.
 */
export interface ControlPlaneMetrics {
  readonly invocations: Counter<'function' | 'status'>;
  readonly ttft: Histogram<'function'>;
  readonly tpot: Histogram<'function'>;
  readonly completionTokens: Counter<'function'>;
  /** Per-request token-deadline attainment (0..1), the SLO metric of docs/scheduler.md. */
  readonly sloAttainment: Histogram<'function'>;
  /** Tokens delivered by their deadline (`on_time`) or after it or never (`late`). */
  readonly sloTokens: Counter<'function' | 'outcome'>;
  readonly deploys: Counter<'status'>;
  readonly blobBytes: Counter;
  readonly recorderDropped: Counter;
}

export function createControlPlaneMetrics(registry: Registry): ControlPlaneMetrics {
  const registers = [registry];
  return {
    invocations: new Counter({
      name: 'tidepool_invocations_total',
      help: 'Finished invocations by function and status (ok, stop, length, cancelled, error, rejected).',
      labelNames: ['function', 'status'] as const,
      registers,
    }),
    ttft: new Histogram({
      name: 'tidepool_ttft_seconds',
      help: 'Time from request arrival to the first token leaving the control plane.',
      labelNames: ['function'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    tpot: new Histogram({
      name: 'tidepool_tpot_seconds',
      help: 'Mean time per output token after the first, per invocation.',
      labelNames: ['function'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    completionTokens: new Counter({
      name: 'tidepool_completion_tokens_total',
      help: 'Output tokens delivered to clients.',
      labelNames: ['function'] as const,
      registers,
    }),
    sloAttainment: new Histogram({
      name: 'tidepool_slo_attainment_ratio',
      help: 'Per invocation: share of its output tokens delivered by their deadline (arrival + TTFT SLO + k x TPOT SLO).',
      labelNames: ['function'] as const,
      buckets: [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1],
      registers,
    }),
    sloTokens: new Counter({
      name: 'tidepool_slo_tokens_total',
      help: 'Output tokens by deadline outcome: on_time, or late (delivered after their deadline, or owed and never delivered).',
      labelNames: ['function', 'outcome'] as const,
      registers,
    }),
    deploys: new Counter({
      name: 'tidepool_deploys_total',
      help: 'Function deploys by outcome (ok, rejected).',
      labelNames: ['status'] as const,
      registers,
    }),
    blobBytes: new Counter({ name: 'tidepool_blob_upload_bytes_total', help: 'Bytes accepted by PUT /v1/blobs.', registers }),
    recorderDropped: new Counter({
      name: 'tidepool_invocation_records_dropped_total',
      help: 'Invocation records lost because the database write failed or the buffer overflowed.',
      registers,
    }),
  };
}
