import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The node runtime's Prometheus metrics, all on one injected registry. */
export interface RuntimeMetrics {
  /** Model loads into a tier: `host` (store → shared memory) or `gpu` (shared memory → device). */
  readonly modelLoads: Counter<'tier'>;
  readonly modelLoadBytes: Counter<'tier'>;
  readonly modelLoadSeconds: Histogram<'tier'>;
  /** Bytes of weights resident per tier right now. */
  readonly residencyBytes: Gauge<'tier'>;
  /** Bytes read from the object store into the host pool, and how long each model fetch took. */
  readonly hostFetchBytes: Counter;
  readonly hostFetchSeconds: Histogram;
  /** Blob fetches tried again after the object store failed them. */
  readonly hostFetchRetries: Counter;
  /** Warm models whose files were found gone from shared memory at a lease, and fetched again. */
  readonly hostFilesVanished: Counter;
  /** Requests waiting per function: admitted, not yet producing tokens. */
  readonly queueDepth: Gauge<'function'>;
  readonly engineRestarts: Counter;
  /** Requests run again because their engine died before their first token. */
  readonly engineResubmits: Counter;
  /** 1 for the scheduling policy this node runs (TIDEPOOL_SCHEDULER_POLICY). */
  readonly schedulerPolicy: Gauge<'policy'>;
  /** 1 for the tier each function's model is in now (gpu, host or store; store = scaled to zero). */
  readonly modelResidency: Gauge<'function' | 'tier'>;
  /** Set by the node: refreshes `modelResidency` at scrape time (host evictions happen on timers, unseen). */
  readonly residencySource: { refresh?: () => void };
}

const byRegistry = new WeakMap<Registry, RuntimeMetrics>();

/**
 * Returns the runtime metrics on `registry`, creating them once. The host pool and the node both ask for
 * them; memoising per registry keeps prom-client from rejecting a second registration of the same name.
 */
export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const residencySource: { refresh?: () => void } = {};
  const loadBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
  const metrics: RuntimeMetrics = {
    modelLoads: new Counter({
      name: 'tidepool_model_loads_total',
      help: 'Model loads into a tier (host: store to shared memory; gpu: shared memory to device).',
      labelNames: ['tier'],
      registers,
    }),
    modelLoadBytes: new Counter({ name: 'tidepool_model_load_bytes_total', help: 'Weight bytes loaded into a tier.', labelNames: ['tier'], registers }),
    modelLoadSeconds: new Histogram({
      name: 'tidepool_model_load_seconds',
      help: 'Time to load one model into a tier.',
      labelNames: ['tier'],
      buckets: loadBuckets,
      registers,
    }),
    residencyBytes: new Gauge({
      name: 'tidepool_model_residency_bytes',
      help: 'Weight bytes resident per tier on this node.',
      labelNames: ['tier'],
      registers,
    }),
    hostFetchBytes: new Counter({ name: 'tidepool_host_pool_fetch_bytes_total', help: 'Bytes fetched from the object store into the host pool.', registers }),
    hostFetchSeconds: new Histogram({
      name: 'tidepool_host_pool_fetch_seconds',
      help: 'Time to fetch one model from the object store into shared memory.',
      buckets: loadBuckets,
      registers,
    }),
    hostFetchRetries: new Counter({
      name: 'tidepool_host_pool_fetch_retries_total',
      help: 'Blob fetches retried after the object store failed them (unreachable, 5xx).',
      registers,
    }),
    hostFilesVanished: new Counter({
      name: 'tidepool_host_pool_files_vanished_total',
      help: 'Warm models found with files missing from shared memory when leased (something cleaned it), fetched again.',
      registers,
    }),
    queueDepth: new Gauge({
      name: 'tidepool_node_queue_depth',
      help: 'Requests admitted on this node and waiting for their first token, per function.',
      labelNames: ['function'],
      registers,
    }),
    engineRestarts: new Counter({ name: 'tidepool_engine_restarts_total', help: 'Times the engine process was restarted after it died.', registers }),
    engineResubmits: new Counter({
      name: 'tidepool_engine_resubmits_total',
      help: 'Requests run again on a restarted engine because theirs died before their first token.',
      registers,
    }),
    schedulerPolicy: new Gauge({
      name: 'tidepool_scheduler_policy_info',
      help: 'The token-level scheduling policy this node runs (value 1).',
      labelNames: ['policy'],
      registers,
    }),
    modelResidency: new Gauge({
      name: 'tidepool_model_residency',
      help: "Where each function's weights are (value 1 for the current tier: gpu, host, or store when scaled to zero).",
      labelNames: ['function', 'tier'],
      registers,
      collect: () => residencySource.refresh?.(),
    }),
    residencySource,
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
