import type { Artifact } from '../node-runtime.js';
import type { HostLease, HostPool } from './host-pool.js';

/**
 * Host-memory holds for functions whose manifest sets `min_warm`: one lease per function, kept until the
 * function is redeployed without it or removed, so neither its keep-warm window nor budget pressure from
 * other models evicts it. A redeploy takes the new artifact's lease before dropping the old one, so a
 * pinned function is never cold in between.
 */
export class WarmHolds {
  private readonly leases = new Map<string, HostLease>();

  constructor(private readonly pool: HostPool) {}

  /**
   * Holds `artifact` for `functionName`, or releases the function's hold when `artifact` is undefined.
   * `keepWarmMs` is the function's ordinary window, which applies again once the hold is released.
   */
  async hold(functionName: string, artifact: Artifact | undefined, keepWarmMs = 0): Promise<void> {
    const previous = this.leases.get(functionName);
    if (artifact && previous?.digest === artifact.digest) return;
    if (artifact) {
      const lease = await this.pool.acquire(artifact, { functionName, keepWarmMs });
      this.leases.set(functionName, lease);
    } else {
      this.leases.delete(functionName);
    }
    previous?.release();
  }

  /** Functions currently held, for reports. */
  held(): readonly string[] {
    return [...this.leases.keys()];
  }

  releaseAll(): void {
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
  }
}
