/**
 * The host pool's contract: what the node, the warm holds and the GPU pins may ask of the host-memory tier
 * (`HostPool`, its leases and snapshots) and what it is built from (`HostPoolOptions`). Apart from the
 * implementation (`host-pool.ts`) so its users depend on the interface, not on how fetches and eviction work.
 */
import type { Registry } from 'prom-client';
import type { BlobSource } from '../../protocol/blob-source.js';
import type { Artifact } from '../../protocol/node-runtime.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';
import type { StoreRetryOptions } from './store-retry.js';

export interface HostPoolOptions {
  /**
   * Directory in shared memory that holds one directory per warm model, this pool's alone: it is locked
   * while the pool runs (a second pool there is refused naming the holder's pid), and rediscovery adopts or
   * deletes only what is in it. Instances sharing a host each get their own (`instanceShmDir`).
   */
  readonly shmDir: string;
  readonly budgetBytes: number;
  /** Writes one blob to `path`, rejecting when its bytes do not match `digest` (e.g. `downloadBlobTo`). */
  readonly fetchBlob: BlobSource;
  readonly registry: Registry;
  /** Timers for keep-warm expiry; real timers by default. */
  readonly timers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
  /** Retries of a blob fetch the store failed; `DEFAULT_STORE_RETRY` when absent. */
  readonly storeRetry?: StoreRetryOptions;
  readonly now?: () => number;
}

/** A pin on a warm model: its files stay in `dir` until `release()`. */
export interface HostLease {
  readonly weightsDigest: WeightsDigest;
  readonly dir: string;
  readonly bytes: number;
  /** Idempotent. The model becomes evictable when its last lease is released. */
  release(): void;
}

export interface HostModelSnapshot {
  readonly weightsDigest: WeightsDigest;
  readonly bytes: number;
  readonly state: 'fetching' | 'warm';
  readonly leases: number;
  /** Leases that yield under budget pressure (see `holdIfWarm`). */
  readonly softLeases: number;
  readonly functions: readonly string[];
}

/**
 * The host-memory tier. Models enter by `acquire` (fetched from the object store once, however many
 * callers ask at the same time), stay while leased, and leave when the budget needs room (least recently
 * used first) or when their functions' keep-warm window passes with no lease.
 */
export interface HostPool {
  /** Resolves once the model's files are complete in shared memory. Rejects with `HostPoolError`. */
  acquire(artifact: Artifact, use: { readonly functionName: string; readonly keepWarmMs: number; readonly signal?: AbortSignal }): Promise<HostLease>;
  /**
   * A soft lease on a model that is already warm (undefined otherwise; never fetches). It stops the
   * keep-warm clock, but under budget pressure the model may still be evicted, after every idle one. The
   * node holds one for each GPU-resident model: a hot model keeps its host copy for cheap reloads without
   * letting the GPU's residency starve the host pool.
   */
  holdIfWarm(weightsDigest: WeightsDigest): HostLease | undefined;
  snapshot(): readonly HostModelSnapshot[];
  /** Bytes held by warm models and reserved by fetches under way. */
  usedBytes(): number;
  /**
   * Calls `listener` with a model's digest once its files are gone from shared memory, so an engine that
   * keeps the files mapped (and pinned) can let go of them. Returns an unsubscribe function.
   */
  onEvicted(listener: (weightsDigest: WeightsDigest) => void): () => void;
  /** Cancels keep-warm timers and releases the directory lock; files stay for the next start to rediscover. */
  close(): Promise<void>;
}
