import { availableParallelism } from 'node:os';
import path from 'node:path';
import { installRoot } from '../protocol/install-root.js';
import { NODE_POLICY_NAMES, POLICY_NAMES } from '../protocol/policy-names.js';
import { simulatorOnlyReason } from '../protocol/policy-scope.js';
import { CONFIG_VARIABLES } from './config-variables.js';
import { EnvReader } from './env-reader.js';

/**
 * The one place that reads `TIDEPOOL_*` variables and `DATABASE_URL`. Every variable is validated in one pass
 * and all problems are thrown together in one `ConfigError`, so an operator fixes a deployment in one round
 * trip. With no variables set, the embedded defaults run local mode (PGlite, filesystem store).
 * AWS credentials are not read here: the AWS SDK's own provider chain resolves them. The variables' table is
 * `config-variables.ts`; how each value is written and read is `env-reader.ts`.
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
