import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact } from '../../protocol/node-runtime.js';
import { runtimeMetrics, type RuntimeMetrics } from '../metrics.js';
import { abortable } from './abortable.js';
import { rediscoverModels } from './host-pool-rediscovery.js';
import { HostPoolError } from './host-pool-error.js';
import { DEFAULT_STORE_RETRY } from './store-retry.js';
import { filesPresent, isPlainFileName, modelDir, removeDir, sweepLeftovers } from './host-pool-files.js';
import { ARTIFACT_MANIFEST, downloadModel } from './host-pool-fetch.js';
import type { HostLease, HostModelSnapshot, HostPool, HostPoolOptions } from './host-pool-contract.js';
import { acquireDirLock, type DirLock } from '../../protocol/dir-lock.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

export { HostPoolError } from './host-pool-error.js';

/** Held in `shmDir` while a pool runs there: one pool per directory, so none deletes another's models. */
export const HOST_POOL_LOCK = '.tidepool-host-pool.lock';

/**
 * The host-memory tier (`HostPool`, host-pool-contract.ts): fetches (host-pool-fetch.ts) are shared by every
 * caller of a digest, leases pin models, and eviction (least recently used first, or a passed keep-warm
 * window) makes room.
 */
interface Entry {
  readonly artifact: Artifact;
  readonly dir: string;
  state: 'fetching' | 'warm';
  /** Counts toward the budget: warm, or fetching with its bytes reserved. */
  reserved: boolean;
  ready: Promise<void>;
  leases: number;
  softLeases: number;
  /** Position in use order (a counter, not a time, so equal timestamps cannot tie). */
  lastUse: number;
  readonly keepWarmMs: Map<string, number>;
  timer: unknown;
}

export async function createHostPool(options: HostPoolOptions): Promise<HostPool> {
  await mkdir(options.shmDir, { recursive: true });
  // Locked before anything in it is swept, adopted or deleted: those files may belong to a live pool.
  const lock = await acquireDirLock(join(options.shmDir, HOST_POOL_LOCK), {
    what: `the host pool directory ${options.shmDir}`,
    hint: 'give each instance its own (another data directory, TIDEPOOL_NODE_ID or TIDEPOOL_SHM_DIR)',
  });
  try {
    await sweepLeftovers(options.shmDir);
    const pool = new Pool(options, runtimeMetrics(options.registry), lock);
    for (const artifact of await rediscoverModels(options.shmDir, ARTIFACT_MANIFEST)) pool.adopt(artifact);
    return pool;
  } catch (error) {
    await lock.release();
    throw error;
  }
}

class Pool implements HostPool {
  private readonly entries = new Map<string, Entry>();
  /** Fetches waiting for leased models to be released before their bytes fit. */
  private roomWaiters: (() => void)[] = [];
  private readonly timers: NonNullable<HostPoolOptions['timers']>;
  private readonly now: () => number;
  private useCounter = 0;
  /** Deletions under way, so a refetch of the same digest cannot publish before the old copy is gone. */
  private readonly removals = new Map<string, Promise<void>>();
  private readonly evictedListeners = new Set<(weightsDigest: WeightsDigest) => void>();

  constructor(
    private readonly options: HostPoolOptions,
    private readonly metrics: RuntimeMetrics,
    private readonly lock: DirLock,
  ) {
    this.timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.now = options.now ?? (() => performance.now());
  }

  adopt(artifact: Artifact): void {
    if (this.usedBytes() + artifact.bytes > this.options.budgetBytes) {
      void removeDir(modelDir(this.options.shmDir, artifact.weightsDigest));
      return;
    }
    const entry = this.newEntry(artifact, 'warm', Promise.resolve());
    this.entries.set(artifact.weightsDigest, entry);
    this.updateResidency();
    // Nobody asked for it yet: it leaves after a default window unless a request claims it.
    this.armKeepWarm(entry);
  }

  async acquire(artifact: Artifact, use: { functionName: string; keepWarmMs: number; signal?: AbortSignal }): Promise<HostLease> {
    if (artifact.bytes > this.options.budgetBytes) {
      throw new HostPoolError('too_large', `model ${artifact.weightsDigest} needs ${artifact.bytes} bytes; the host pool holds ${this.options.budgetBytes}`);
    }
    // Files can vanish under a warm entry (something cleaned /dev/shm): the entry is dropped and fetched again.
    for (let attempt = 1; ; attempt++) {
      let entry = this.entries.get(artifact.weightsDigest);
      if (!entry) entry = this.startFetch(artifact);
      this.pin(entry, use.functionName, use.keepWarmMs);
      try {
        await abortable(entry.ready, use.signal);
      } catch (error) {
        this.unpin(entry, false);
        throw error;
      }
      if (filesPresent(entry.dir, entry.artifact)) return this.lease(entry, false);
      this.unpin(entry, false);
      this.dropVanished(entry);
      if (attempt === 2)
        throw new HostPoolError(
          'store_unavailable',
          `the files of model ${artifact.weightsDigest} vanished from ${this.options.shmDir} twice, right after being fetched`,
        );
    }
  }

  /** Forgets an entry whose files are gone, so the next acquire fetches it afresh; engines drop their mappings. */
  private dropVanished(entry: Entry): void {
    if (this.entries.get(entry.artifact.weightsDigest) !== entry) return;
    this.metrics.hostFilesVanished.inc();
    void this.evict(entry).then(() => this.wakeRoomWaiters());
  }

  holdIfWarm(weightsDigest: WeightsDigest): HostLease | undefined {
    const entry = this.entries.get(weightsDigest);
    if (entry?.state !== 'warm') return undefined;
    entry.softLeases++;
    this.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    return this.lease(entry, true);
  }

  snapshot(): readonly HostModelSnapshot[] {
    return [...this.entries.values()].map((entry) => ({
      weightsDigest: entry.artifact.weightsDigest,
      bytes: entry.artifact.bytes,
      state: entry.state,
      leases: entry.leases,
      softLeases: entry.softLeases,
      functions: [...entry.keepWarmMs.keys()],
    }));
  }

  usedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) if (entry.reserved) total += entry.artifact.bytes;
    return total;
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) this.timers.clearTimeout(entry.timer);
    for (const wake of this.roomWaiters.splice(0)) wake();
    await this.lock.release();
  }

  private newEntry(artifact: Artifact, state: Entry['state'], ready: Promise<void>): Entry {
    const dir = modelDir(this.options.shmDir, artifact.weightsDigest);
    return {
      artifact,
      dir,
      state,
      reserved: state === 'warm',
      ready,
      leases: 0,
      softLeases: 0,
      lastUse: ++this.useCounter,
      keepWarmMs: new Map(),
      timer: undefined,
    };
  }

  /** Registers the entry first, so every concurrent caller for the same digest shares this one fetch. */
  private startFetch(artifact: Artifact): Entry {
    const entry = this.newEntry(artifact, 'fetching', Promise.resolve());
    this.entries.set(artifact.weightsDigest, entry);
    entry.ready = this.fetch(entry).then(
      () => {
        entry.state = 'warm';
        this.updateResidency();
        if (entry.leases === 0) this.armKeepWarm(entry);
      },
      (error: unknown) => {
        this.entries.delete(artifact.weightsDigest);
        this.updateResidency();
        this.wakeRoomWaiters();
        throw error;
      },
    );
    // Each acquirer observes `ready`; this handler only keeps an unobserved failure from crashing the process.
    entry.ready.catch(() => {});
    return entry;
  }

  private async fetch(entry: Entry): Promise<void> {
    // Checked before evicting anything or touching the store: a bad name is the artifact's fault, final.
    const unsafe = entry.artifact.files.find((file) => !isPlainFileName(file.name));
    if (unsafe) throw HostPoolError.unsafeFileName(entry.artifact.weightsDigest, unsafe.name);
    await this.makeRoom(entry);
    await downloadModel(entry.artifact, entry.dir, {
      shmDir: this.options.shmDir,
      fetchBlob: this.options.fetchBlob,
      storeRetry: this.options.storeRetry ?? DEFAULT_STORE_RETRY,
      metrics: this.metrics,
      now: this.now,
      // Every caller gave up (timeout, disconnect): stop knocking on the store for nobody.
      noLongerWanted: () => entry.leases === 0,
      previousRemoval: () => this.removals.get(entry.artifact.weightsDigest),
    });
  }

  /**
   * Evicts idle warm models, least recently used first, until `entry` fits. When the rest of the budget is
   * leased it waits for a release; callers bound the wait with their abort signal or queue timeout.
   */
  private async makeRoom(entry: Entry): Promise<void> {
    for (;;) {
      let over = this.usedBytes() + entry.artifact.bytes - this.options.budgetBytes;
      if (over <= 0) return void (entry.reserved = true);
      const idle = [...this.entries.values()]
        .filter((e) => e !== entry && e.state === 'warm' && e.leases === 0)
        .sort((a, b) => Number(a.softLeases > 0) - Number(b.softLeases > 0) || a.lastUse - b.lastUse);
      for (const victim of idle) {
        if (over <= 0) break;
        over -= victim.artifact.bytes;
        await this.evict(victim);
      }
      if (over <= 0) return void (entry.reserved = true);
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (entry.leases === 0) throw new HostPoolError('cancelled', `fetch of ${entry.artifact.weightsDigest} no longer wanted`);
    }
  }

  private async evict(entry: Entry): Promise<void> {
    this.timers.clearTimeout(entry.timer);
    this.entries.delete(entry.artifact.weightsDigest);
    this.updateResidency();
    const weightsDigest = entry.artifact.weightsDigest;
    const removal = removeDir(entry.dir).finally(() => {
      if (this.removals.get(weightsDigest) === removal) this.removals.delete(weightsDigest);
    });
    this.removals.set(weightsDigest, removal);
    await removal;
    for (const listener of this.evictedListeners) listener(weightsDigest);
  }

  onEvicted(listener: (weightsDigest: WeightsDigest) => void): () => void {
    this.evictedListeners.add(listener);
    return () => this.evictedListeners.delete(listener);
  }

  private pin(entry: Entry, functionName: string, keepWarmMs: number): void {
    entry.leases++;
    entry.lastUse = ++this.useCounter;
    entry.keepWarmMs.set(functionName, keepWarmMs);
    this.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private unpin(entry: Entry, soft: boolean): void {
    if (soft) entry.softLeases--;
    else entry.leases--;
    entry.lastUse = ++this.useCounter;
    // A soft lease can outlive its entry (evicted under pressure); its release then changes nothing.
    if (entry.leases > 0 || this.entries.get(entry.artifact.weightsDigest) !== entry) return;
    if (entry.state === 'warm' && entry.softLeases === 0) this.armKeepWarm(entry);
    this.wakeRoomWaiters();
  }

  private lease(entry: Entry, soft: boolean): HostLease {
    let released = false;
    return {
      weightsDigest: entry.artifact.weightsDigest,
      dir: entry.dir,
      bytes: entry.artifact.bytes,
      release: () => {
        if (released) return;
        released = true;
        this.unpin(entry, soft);
      },
    };
  }

  /** The longest keep-warm window among the functions that used this model decides when it leaves. */
  private armKeepWarm(entry: Entry): void {
    const windows = [...entry.keepWarmMs.values()];
    const ms = windows.length > 0 ? Math.max(...windows) : DEFAULT_UNCLAIMED_KEEP_WARM_MS;
    this.timers.clearTimeout(entry.timer);
    entry.timer = this.timers.setTimeout(() => {
      if (entry.leases === 0 && entry.softLeases === 0 && this.entries.get(entry.artifact.weightsDigest) === entry)
        void this.evict(entry).then(() => this.wakeRoomWaiters());
    }, ms);
  }

  private wakeRoomWaiters(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private updateResidency(): void {
    let warm = 0;
    for (const entry of this.entries.values()) if (entry.state === 'warm') warm += entry.artifact.bytes;
    this.metrics.residencyBytes.set({ tier: 'host' }, warm);
  }
}

/** How long a model rediscovered at start stays without any request claiming it. */
const DEFAULT_UNCLAIMED_KEEP_WARM_MS = 10 * 60_000;
