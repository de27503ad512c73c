/**
 * What a caller configures when it starts a node runtime in this process (`createLocalNodeRuntime`), and
 * the reading of the policy name. Kept apart from the node itself so the composition root, the benchmarks
 * and the tests can name the options without reading the request path.
 */
import type { Registry } from 'prom-client';
import type { BlobSource } from '../protocol/blob-source.js';
import type { Logger } from '../protocol/logger.js';
import { simulatorOnlyReason } from '../protocol/policy-scope.js';
import type { PolicyName } from './scheduler/gpu-scheduler.js';
import { NODE_POLICY_NAMES } from './scheduler/types.js';

export interface LocalNodeRuntimeOptions {
  readonly nodeId?: string;
  /** Shared-memory directory for warm weights, e.g. /dev/shm/tidepool. */
  readonly shmDir: string;
  readonly hostPoolBytes: number;
  readonly engineBin: string;
  readonly backend: 'auto' | 'cpu' | 'cuda';
  /** The engine's whole device reservation: weights arena + KV pool + scratch; absent, the engine sizes itself. */
  readonly engineMemoryBytes?: number;
  readonly kvBytes?: number;
  readonly engineThreads?: number;
  /** CUDA device ordinals to drive, one engine and scheduler each; every GPU the machine shows by default. */
  readonly gpus?: readonly number[] | 'all';
  /** Engines on the CPU backend, each scheduled as a device of its own; 1 by default. */
  readonly cpuEngines?: number;
  /** Scheduler policy name (see POLICY_NAMES); `tidepool` by default. */
  readonly policy?: string;
  /** Requests per function admitted and waiting for their first token before new ones get `queue_full`. */
  readonly queueLimit: number;
  /** Longest wait from admission to first token, cold start included. */
  readonly queueTimeoutMs: number;
  readonly registry: Registry;
  /** `Retry-After` hint for `queue_full`. */
  readonly retryAfterMs?: number;
  /** How a blob reaches shared memory, verified against its digest (the object store, through the control plane's storage). */
  readonly fetchBlob: BlobSource;
  /** Engine stderr (at `debug`), supervisor messages, and engine crashes and recoveries (at `warn`/`info`). */
  readonly log?: Logger;
  /**
   * A model with no requests leaves the GPU after this long without a turn, ms. Default 60 s: long enough
   * that a steady function never reloads, short enough that an idle one frees the GPU and its host copy's
   * `keep_warm_ms` clock starts (gpu → host → store). Infinity keeps weights until memory is needed.
   */
  readonly gpuIdleEvictMs?: number;
}

export const DEFAULT_GPU_IDLE_EVICT_MS = 60_000;

export function parsePolicy(policy: string | undefined): PolicyName {
  if (policy === undefined) return 'tidepool';
  const simulatorOnly = simulatorOnlyReason(policy);
  if (simulatorOnly !== undefined) throw new Error(`scheduler policy "${policy}" is simulator-only: ${simulatorOnly}`);
  if ((NODE_POLICY_NAMES as readonly string[]).includes(policy)) return policy as PolicyName;
  throw new Error(`unknown scheduler policy "${policy}"; expected one of ${NODE_POLICY_NAMES.join(', ')}`);
}
