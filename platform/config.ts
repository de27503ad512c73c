import { availableParallelism } from 'node:os';
import path from 'node:path';
import { installRoot } from '../protocol/install-root.js';
import { NODE_POLICY_NAMES, POLICY_NAMES } from '../protocol/policy-names.js';
import { simulatorOnlyReason } from '../protocol/policy-scope.js';

/**
 * The one place that reads `TIDEPOOL_*` variables and `DATABASE_URL`. Every variable is validated in one pass
 * and all problems are thrown together in one `ConfigError`, so an operator fixes a deployment in one round
 * trip. With no variables set, the embedded defaults run local mode (PGlite, filesystem store).
 * AWS credentials are not read here: the AWS SDK's own provider chain resolves them.
 */

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** The repository root; relative defaults that point into the checkout resolve against it, not the cwd. */
const PACKAGE_ROOT = installRoot();

export type EngineBackendSetting = 'auto' | 'cpu' | 'cuda';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Field names are the variable names in camelCase without the `TIDEPOOL_` prefix. */
export interface TidepoolConfig {
  readonly host: string;
  readonly port: number;
  /** Absolute. */
  readonly dataDir: string;
  /** Unset in local mode: PGlite under `<dataDir>/pglite`. */
  readonly databaseUrl: string | undefined;
  /** Unset: filesystem object store under `<dataDir>/objects`. */
  readonly s3Bucket: string | undefined;
  readonly s3Endpoint: string | undefined;
  readonly s3Region: string;
  /** Empty, or ends with `/`; prepended to every object key. */
  readonly s3Prefix: string;
  readonly s3ForcePathStyle: boolean;
  /** Absolute: the host-wide root; an instance's host pool is a folder under it (runtime/pool/shm-namespace.ts). */
  readonly shmDir: string;
  readonly hostPoolBytes: number;
  readonly engineBackend: EngineBackendSetting;
  /** Absolute. */
  readonly engineBin: string;
  readonly engineThreads: number;
  /** CUDA device ordinals this node drives, one engine each; `all`: every GPU the machine shows. */
  readonly gpus: readonly number[] | 'all';
  /** Engine processes on the CPU backend (each one a device of the node); 1 by default. */
  readonly cpuEngines: number;
  /** Unset: 4 GiB on the CPU backend, the engine's own choice on CUDA; see `engineMemoryBytes`. */
  readonly gpuMemoryBytes: number | undefined;
  /** Unset: the engine sizes the KV pool from what its memory budget leaves after weights. */
  readonly kvBytes: number | undefined;
  readonly schedulerPolicy: string;
  readonly queueLimit: number;
  readonly queueTimeoutMs: number;
  readonly deployExamples: boolean;
  readonly logLevel: LogLevel;
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly maxBodyBytes: number;
  readonly maxUploadBytes: number;
  /** On SIGTERM/SIGINT: how long in-flight requests may finish before connections are cut. */
  readonly shutdownGraceMs: number;
  /**
   * `/metrics` without a key even when API keys are in use. Off by default because metric labels name every
   * function; turn it on only where the port is reachable by trusted scrapers alone.
   */
  readonly metricsPublic: boolean;
  /** Shared secret between control plane and nodes (Bearer); required by `serve` and `node`. */
  readonly clusterToken: string | undefined;
  /** Host name or address the control plane uses to reach this node; unset: the machine's host name. */
  readonly nodeAdvertiseHost: string | undefined;
  /**
   * The node's identity in the `nodes` table. It must survive restarts, so a restarted node replaces its own
   * row instead of leaving it `down`; unset: `<host name>-<node port>` (see `nodeIdOf`).
   */
  readonly nodeId: string | undefined;
  readonly nodePort: number;
  readonly nodeHeartbeatMs: number;
  readonly nodeDownAfterMs: number;
  /** A node down and silent for this long loses its row; control-plane side. */
  readonly nodeDownRetentionMs: number;
  /** `TIDEPOOL_*` names in the environment that Tidepool does not know: likely typos, worth a warning. */
  readonly unknownVariables: readonly string[];
}

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

const KNOWN_NAMES = new Set(CONFIG_VARIABLES.map((variable) => variable.name));

/** Every problem found in one environment, one per line of `message`. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Base for a relative `TIDEPOOL_DATA_DIR` and the other relative paths; default `process.cwd()`. */
  readonly cwd?: string;
}

/** Reads and validates `env`; throws `ConfigError` listing every problem. The result is deeply frozen. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env, options: LoadConfigOptions = {}): TidepoolConfig {
  const cwd = options.cwd ?? process.cwd();
  const read = new EnvReader(env);
  const s3Endpoint = read.optionalUrl('TIDEPOOL_S3_ENDPOINT', ['http:', 'https:']);
  const config: TidepoolConfig = {
    host: read.string('TIDEPOOL_HOST', '127.0.0.1'),
    port: read.integer('TIDEPOOL_PORT', 8080, 0, 65_535),
    dataDir: path.resolve(cwd, read.string('TIDEPOOL_DATA_DIR', '.tidepool')),
    databaseUrl: read.optionalUrl('DATABASE_URL', ['postgres:', 'postgresql:']),
    s3Bucket: read.optionalString('TIDEPOOL_S3_BUCKET'),
    s3Endpoint,
    s3Region: read.string('TIDEPOOL_S3_REGION', 'us-east-1'),
    s3Prefix: normalizePrefix(read.string('TIDEPOOL_S3_PREFIX', '')),
    s3ForcePathStyle: read.boolean('TIDEPOOL_S3_FORCE_PATH_STYLE', s3Endpoint !== undefined),
    shmDir: path.resolve(cwd, read.string('TIDEPOOL_SHM_DIR', '/dev/shm/tidepool')),
    hostPoolBytes: read.bytes('TIDEPOOL_HOST_POOL_BYTES', 8 * GiB),
    engineBackend: read.oneOf('TIDEPOOL_ENGINE_BACKEND', ['auto', 'cpu', 'cuda'], 'auto'),
    engineBin: engineBinPath(read.optionalString('TIDEPOOL_ENGINE_BIN'), cwd),
    engineThreads: read.integer('TIDEPOOL_ENGINE_THREADS', availableParallelism(), 1, 1024),
    gpus: read.deviceList('TIDEPOOL_GPUS'),
    cpuEngines: read.integer('TIDEPOOL_CPU_ENGINES', 1, 1, 64),
    gpuMemoryBytes: read.optionalBytes('TIDEPOOL_GPU_MEMORY_BYTES', MiB),
    kvBytes: read.optionalBytes('TIDEPOOL_KV_BYTES', MiB),
    schedulerPolicy: read.string('TIDEPOOL_SCHEDULER_POLICY', 'tidepool'),
    queueLimit: read.integer('TIDEPOOL_QUEUE_LIMIT', 64, 1),
    queueTimeoutMs: read.integer('TIDEPOOL_QUEUE_TIMEOUT_MS', 30_000, 1),
    deployExamples: read.boolean('TIDEPOOL_DEPLOY_EXAMPLES', true),
    logLevel: read.oneOf('TIDEPOOL_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'], 'info'),
    apiUrl: read.optionalUrl('TIDEPOOL_API_URL', ['http:', 'https:']) ?? 'http://127.0.0.1:8080',
    apiKey: read.optionalString('TIDEPOOL_API_KEY'),
    maxBodyBytes: read.bytes('TIDEPOOL_MAX_BODY_BYTES', MiB),
    maxUploadBytes: read.bytes('TIDEPOOL_MAX_UPLOAD_BYTES', 64 * GiB),
    shutdownGraceMs: read.integer('TIDEPOOL_SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    metricsPublic: read.boolean('TIDEPOOL_METRICS_PUBLIC', false),
    clusterToken: read.optionalString('TIDEPOOL_CLUSTER_TOKEN'),
    nodeAdvertiseHost: read.optionalString('TIDEPOOL_NODE_ADVERTISE_HOST'),
    nodeId: read.optionalMatch(
      'TIDEPOOL_NODE_ID',
      NODE_ID_PATTERN,
      '1-128 letters, digits, dots, underscores, colons or hyphens, starting with a letter or digit',
    ),
    nodePort: read.integer('TIDEPOOL_NODE_PORT', 8081, 0, 65_535),
    nodeHeartbeatMs: read.integer('TIDEPOOL_NODE_HEARTBEAT_MS', 2000, 50, 600_000),
    nodeDownAfterMs: read.integer('TIDEPOOL_NODE_DOWN_AFTER_MS', 10_000, 100, 3_600_000),
    nodeDownRetentionMs: read.integer('TIDEPOOL_NODE_DOWN_RETENTION_MS', 3_600_000, 1000, 30 * 86_400_000),
    unknownVariables: Object.freeze(
      Object.keys(env)
        .filter((name) => name.startsWith('TIDEPOOL_') && !KNOWN_NAMES.has(name))
        .sort(),
    ),
  };
  checkCombinations(config, read);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

/** The engine's memory reservation for a resolved backend; undefined lets the CUDA engine size itself. */
export function engineMemoryBytes(config: TidepoolConfig, backend: 'cpu' | 'cuda'): number | undefined {
  return config.gpuMemoryBytes ?? (backend === 'cpu' ? 4 * GiB : undefined);
}

/** Rules that involve more than one variable. */
function checkCombinations(config: TidepoolConfig, read: EnvReader): void {
  if (config.s3Endpoint !== undefined && config.s3Bucket === undefined) {
    read.problem('TIDEPOOL_S3_ENDPOINT is set but TIDEPOOL_S3_BUCKET is not: the S3 store needs a bucket');
  }
  if (config.s3Bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(config.s3Bucket)) {
    read.problem(`TIDEPOOL_S3_BUCKET must be a valid bucket name (3-63 lowercase letters, digits, dots, hyphens), got "${config.s3Bucket}"`);
  }
  const simulatorOnly = simulatorOnlyReason(config.schedulerPolicy);
  if (simulatorOnly !== undefined) {
    read.problem(
      `TIDEPOOL_SCHEDULER_POLICY "${config.schedulerPolicy}" is simulator-only (${simulatorOnly}): ` +
        `try it with \`tidepool plan --policies ${config.schedulerPolicy}\`; a node runs one of ${NODE_POLICY_NAMES.join(', ')}`,
    );
  } else if (!(POLICY_NAMES as readonly string[]).includes(config.schedulerPolicy)) {
    read.problem(`TIDEPOOL_SCHEDULER_POLICY must be one of ${NODE_POLICY_NAMES.join(', ')}, got "${config.schedulerPolicy}"`);
  }
  if (config.kvBytes !== undefined && config.gpuMemoryBytes !== undefined && config.kvBytes >= config.gpuMemoryBytes) {
    read.problem('TIDEPOOL_KV_BYTES must be smaller than TIDEPOOL_GPU_MEMORY_BYTES: the budget must also hold weights');
  }
  if (config.nodeDownAfterMs <= config.nodeHeartbeatMs) {
    read.problem('TIDEPOOL_NODE_DOWN_AFTER_MS must be larger than TIDEPOOL_NODE_HEARTBEAT_MS, or every node would flap down between heartbeats');
  }
  if (config.nodeDownRetentionMs <= config.nodeDownAfterMs) {
    read.problem('TIDEPOOL_NODE_DOWN_RETENTION_MS must be larger than TIDEPOOL_NODE_DOWN_AFTER_MS: a node is removed only after it was marked down');
  }
  if (config.maxBodyBytes > config.maxUploadBytes) {
    read.problem('TIDEPOOL_MAX_BODY_BYTES must not exceed TIDEPOOL_MAX_UPLOAD_BYTES');
  }
}

/** Node ids travel in URL paths and Kubernetes node names must fit: DNS-like, plus `_` and `:`. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function engineBinPath(value: string | undefined, cwd: string): string {
  return value === undefined ? path.join(PACKAGE_ROOT, 'cuda', 'build', 'tidepool-engine') : path.resolve(cwd, value);
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

function v(name: string, defaultText: string, description: string): ConfigVariable {
  return Object.freeze({ name, default: defaultText, description });
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: MiB,
  gib: GiB,
  tib: 2 ** 40,
};

/** Parses variables, recording a problem instead of throwing so one pass finds them all. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** Trimmed; an empty string counts as unset, as Kubernetes manifests and compose files often produce them. */
  optionalString(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  /** `all` (or unset), or distinct device ordinals separated by commas: `0,1,3`. */
  deviceList(name: string): readonly number[] | 'all' {
    const value = this.optionalString(name);
    if (value === undefined || value === 'all') return 'all';
    const parts = value.split(',').map((part) => part.trim());
    const ordinals = parts.map(Number);
    if (!parts.every((part) => /^\d+$/.test(part)) || new Set(ordinals).size !== ordinals.length) {
      return this.fail(name, `must be "all" or distinct device ordinals such as 0,1, got "${value}"`, 'all');
    }
    return Object.freeze(ordinals);
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(parsed)) return this.fail(name, `must be an integer, got "${value}"`, fallback);
    if (parsed < min || parsed > max) return this.fail(name, `must be between ${min} and ${max}, got ${parsed}`, fallback);
    return parsed;
  }

  /** A plain integer or a number with a unit: `1048576`, `512MiB`, `8GiB`, `2GB`. */
  optionalBytes(name: string, min = 1): number | undefined {
    const value = this.optionalString(name);
    if (value === undefined) return undefined;
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
    const unit = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
    if (!match || unit === undefined) return this.fail(name, `must be a byte count such as 1048576, 512MiB or 8GiB, got "${value}"`, undefined);
    const bytes = Math.floor(Number(match[1]) * unit);
    if (!Number.isSafeInteger(bytes)) return this.fail(name, `is too large: "${value}"`, undefined);
    if (bytes < min) return this.fail(name, `must be at least ${min} bytes, got "${value}"`, undefined);
    return bytes;
  }

  bytes(name: string, fallback: number): number {
    return this.optionalBytes(name) ?? fallback;
  }

  /** A string that must match `pattern`; `shape` says in words what it must look like. */
  optionalMatch(name: string, pattern: RegExp, shape: string): string | undefined {
    const value = this.optionalString(name);
    if (value === undefined || pattern.test(value)) return value;
    return this.fail(name, `must be ${shape}, got "${value}"`, undefined);
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    return this.fail(name, `must be true or false, got "${value}"`, fallback);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(name, `must be one of ${allowed.join(', ')}, got "${value}"`, fallback);
  }

  /** A URL with one of `protocols` (each with its colon). Passwords never appear in problems. */
  optionalUrl(name: string, protocols: readonly string[]): string | undefined {
    const value = this.optionalString(name);
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return this.fail(name, `must be a URL, got "${value.replace(/\/\/[^@/]*@/, '//***@')}"`, undefined);
    }
    if (!protocols.includes(url.protocol)) {
      return this.fail(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${url.protocol}//"`, undefined);
    }
    return value;
  }

  /** Records a problem that involves more than one variable. */
  problem(message: string): void {
    this.problems.push(message);
  }

  private fail<T>(name: string, message: string, fallback: T): T {
    this.problems.push(`${name} ${message}`);
    return fallback;
  }
}
