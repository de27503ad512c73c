/**
 * The table of every variable Tidepool reads, with its default and meaning as a user reads them: the
 * source of docs/configuration.md, `--help` output and the Kubernetes manifest checks. Apart from
 * `config.ts` because it is data for readers of the docs, while `config.ts` is the parsing and checking.
 */

export interface ConfigVariable {
  readonly name: string;
  /** The default as a user reads it in docs. */
  readonly default: string;
  readonly description: string;
}

/** Every variable Tidepool reads, for docs, `--help` output and manifest checks. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = Object.freeze([
  v('TIDEPOOL_HOST', '127.0.0.1', 'Address the HTTP API listens on; 0.0.0.0 in containers.'),
  v('TIDEPOOL_PORT', '8080', 'Port the HTTP API listens on; 0 picks a free port.'),
  v('TIDEPOOL_DATA_DIR', '.tidepool (under the working directory)', 'Local state: PGlite database and filesystem object store.'),
  v('DATABASE_URL', '(unset: PGlite under the data directory)', 'PostgreSQL URL (postgres://user:pass@host:5432/db) for cluster mode.'),
  v('TIDEPOOL_S3_BUCKET', '(unset: filesystem store under the data directory)', 'S3 bucket holding model blobs; setting it selects the S3 store.'),
  v('TIDEPOOL_S3_ENDPOINT', '(unset: AWS S3)', 'Endpoint URL of an S3-compatible store (MinIO, R2, Ceph).'),
  v('TIDEPOOL_S3_REGION', 'us-east-1', 'Region of the S3 bucket (also used to sign requests to S3-compatible stores).'),
  v('TIDEPOOL_S3_PREFIX', '(empty)', 'Key prefix inside the bucket, so several installations can share one bucket.'),
  v('TIDEPOOL_S3_FORCE_PATH_STYLE', 'true when TIDEPOOL_S3_ENDPOINT is set, else false', 'Use path-style bucket addressing.'),
  v(
    'TIDEPOOL_SHM_DIR',
    '/dev/shm/tidepool',
    'Host shared-memory root for warm weights; each instance keeps its models in a folder of its own under it (local-<data dir hash>, node-<node id>).',
  ),
  v('TIDEPOOL_HOST_POOL_BYTES', '8GiB', 'Host memory budget for warm weights per node; accepts units (512MiB, 64GiB).'),
  v('TIDEPOOL_ENGINE_BACKEND', 'auto', 'Engine backend: auto (CUDA when a GPU is present), cpu or cuda.'),
  v('TIDEPOOL_ENGINE_BIN', 'cuda/build/tidepool-engine (in the install)', 'Path of the engine executable.'),
  v('TIDEPOOL_ENGINE_THREADS', '(number of CPU cores)', 'Worker threads of the CPU backend.'),
  v('TIDEPOOL_GPUS', 'all', 'CUDA devices a node drives, one engine and scheduler each: all, or ordinals such as 0,1.'),
  v('TIDEPOOL_CPU_ENGINES', '1', 'Engine processes a node runs on the CPU backend, each scheduled as a device of its own.'),
  v('TIDEPOOL_GPU_MEMORY_BYTES', '(unset: 4GiB on the CPU backend, engine choice on CUDA)', 'Memory the engine reserves up front for weights, KV and scratch.'),
  v('TIDEPOOL_KV_BYTES', '(unset: a quarter of the engine memory budget)', 'Size of the paged KV pool inside the engine budget.'),
  v(
    'TIDEPOOL_SCHEDULER_POLICY',
    'tidepool',
    'Token-level scheduling policy run on each GPU: tidepool, aegaeon-unified, request-level or request-level+srtf (aegaeon, static-colocation and dedicated are simulator-only).',
  ),
  v('TIDEPOOL_QUEUE_LIMIT', '64', 'Requests held per function before new ones get 429.'),
  v('TIDEPOOL_QUEUE_TIMEOUT_MS', '30000', 'How long a request may wait for capacity (including a cold start) before it fails.'),
  v('TIDEPOOL_DEPLOY_EXAMPLES', 'true', 'Deploy the example functions on first start in local mode.'),
  v('TIDEPOOL_LOG_LEVEL', 'info', 'debug, info, warn, error or silent.'),
  v('TIDEPOOL_API_URL', 'http://127.0.0.1:8080', 'Control plane the CLI talks to.'),
  v(
    'TIDEPOOL_API_KEY',
    '(unset)',
    'API key the CLI sends as a bearer token; the server accepts it as a bootstrap admin key (required off loopback until an admin key exists).',
  ),
  v('TIDEPOOL_MAX_BODY_BYTES', '1MiB', 'Largest JSON request body the API accepts.'),
  v('TIDEPOOL_SHUTDOWN_GRACE_MS', '10000', 'On SIGTERM or SIGINT: new requests get 503 and in-flight ones (streams included) get this long to finish.'),
  v('TIDEPOOL_MAX_UPLOAD_BYTES', '64GiB', 'Largest single blob upload the API accepts.'),
  v(
    'TIDEPOOL_METRICS_PUBLIC',
    'false',
    'Serve /metrics without an API key even when keys are in use (by default it needs an admin key then, since its labels name every function).',
  ),
  v('TIDEPOOL_CLUSTER_TOKEN', '(unset; required by serve and node)', 'Shared secret that nodes and control-plane replicas send each other as a bearer token.'),
  v('TIDEPOOL_NODE_ADVERTISE_HOST', '(unset: the machine host name)', 'Address the control plane uses to reach this node runtime (tidepool node).'),
  v(
    'TIDEPOOL_NODE_ID',
    '(unset: the host name and node port, e.g. gpu7-8081)',
    'Stable id of this node runtime across restarts; the DaemonSet sets the Kubernetes node name.',
  ),
  v('TIDEPOOL_NODE_PORT', '8081', 'Port of the node runtime internal API (tidepool node); 0 picks a free port.'),
  v('TIDEPOOL_NODE_HEARTBEAT_MS', '2000', 'How often a node sends its residency and load to the control plane.'),
  v('TIDEPOOL_NODE_DOWN_AFTER_MS', '10000', 'A node silent for this long is marked down and gets no new requests.'),
  v('TIDEPOOL_NODE_DOWN_RETENTION_MS', '3600000', 'A down node silent for this long is removed from the node table (and from cluster status).'),
]);

function v(name: string, defaultText: string, description: string): ConfigVariable {
  return Object.freeze({ name, default: defaultText, description });
}
