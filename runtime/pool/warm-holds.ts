import type { Artifact, WarmHoldTarget } from '../../protocol/node-runtime.js';
import type { HostLease, HostPool } from './host-pool-contract.js';

/** One function's wanted hold; `state` says whether its weights are in (`held`), on the way, or failed. */
export interface WarmHoldEntry {
  readonly functionName: string;
  readonly artifact: Artifact;
  readonly state: 'fetching' | 'held' | 'failed';
}

interface Target {
  readonly artifact: Artifact;
  state: WarmHoldEntry['state'];
  /** Settles when this target's lease is taken (or superseded); rejects when the fetch failed. */
  ready: Promise<void>;
}

/**
 * Host-memory holds for functions whose manifest sets `min_warm`: one lease per function, kept until the
 * function is redeployed without it or removed, so neither its keep-warm window nor budget pressure from
 * other models evicts it. A redeploy takes the new artifact's lease before dropping the old one, so a
 * pinned function is never cold in between.
 *
 * Calls may overlap (a deploy's hold and a replica's resync arrive together): the last call for a function
 * decides its target, a call for the target already in progress joins it, and a lease whose target was
 * overtaken while it was fetched is released at once, so no lease outlives the hold that took it.
 */
export class WarmHolds {
  /** What each function should hold; the latest call wins. */
  private readonly targets = new Map<string, Target>();
  /** The lease each function holds now; during a redeploy, the old artifact's until the new one is in. */
  private readonly leases = new Map<string, HostLease>();

  constructor(private readonly pool: HostPool) {}

  /**
   * Holds `artifact` for `functionName`, or releases the function's hold when `artifact` is undefined.
   * `keepWarmMs` is the function's ordinary window, which applies again once the hold is released.
   * Resolves once the hold is in place or overtaken by a later call; rejects when the fetch failed.
   */
  hold(functionName: string, artifact: Artifact | undefined, keepWarmMs = 0): Promise<void> {
    const current = this.targets.get(functionName);
    if (!artifact) {
      this.targets.delete(functionName);
      this.leases.get(functionName)?.release();
      this.leases.delete(functionName);
      return Promise.resolve();
    }
    // A failed fetch is tried again by the next call that asks for it.
    if (current?.artifact.weightsDigest === artifact.weightsDigest && current.state !== 'failed') return current.ready;
    const target: Target = { artifact, state: 'fetching', ready: Promise.resolve() };
    this.targets.set(functionName, target);
    target.ready = this.take(functionName, target, keepWarmMs);
    return target.ready;
  }

  /**
   * Makes the holds exactly `wanted`: each listed function is held (a failed one is tried again), every
   * other is released. Resolves once every listed hold is in place; rejects with the first failure.
   */
  set(wanted: readonly WarmHoldTarget[]): Promise<void> {
    const names = new Set(wanted.map((w) => w.functionName));
    for (const functionName of [...this.targets.keys(), ...this.leases.keys()]) {
      if (!names.has(functionName)) void this.hold(functionName, undefined);
    }
    return Promise.all(wanted.map((w) => this.hold(w.functionName, w.artifact, w.keepWarmMs))).then(() => undefined);
  }

  /** Every function with a hold wanted, by name. */
  entries(): readonly WarmHoldEntry[] {
    return [...this.targets.entries()]
      .map(([functionName, t]) => ({ functionName, artifact: t.artifact, state: t.state }))
      .sort((a, b) => a.functionName.localeCompare(b.functionName));
  }

  /** Functions currently held, for reports. */
  held(): readonly string[] {
    return this.entries().map((e) => e.functionName);
  }

  releaseAll(): void {
    this.targets.clear();
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
  }

  private async take(functionName: string, target: Target, keepWarmMs: number): Promise<void> {
    let lease: HostLease;
    try {
      lease = await this.pool.acquire(target.artifact, { functionName, keepWarmMs });
    } catch (error) {
      if (this.targets.get(functionName) !== target) return;
      target.state = 'failed';
      throw error;
    }
    if (this.targets.get(functionName) !== target) {
      lease.release();
      return;
    }
    target.state = 'held';
    const previous = this.leases.get(functionName);
    this.leases.set(functionName, lease);
    previous?.release();
  }
}
