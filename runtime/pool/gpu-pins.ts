import type { HostLease, HostPool } from './host-pool-contract.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/**
 * Holds a soft host lease (`HostPool.holdIfWarm`) for every model resident on the GPU, so a hot model's
 * keep-warm clock does not run and it keeps its host copy for a cheap reload. Soft, because the GPU can hold
 * more weights than the host pool's budget: under pressure the host evicts these after every idle model,
 * rather than making cold starts wait for a GPU eviction that may never come.
 */
export class GpuPins {
  private readonly pins = new Map<string, HostLease>();

  constructor(private readonly hostPool: HostPool) {}

  /** Called when the scheduler reports a model loaded onto the GPU. */
  loaded(weightsDigest: WeightsDigest): void {
    if (this.pins.has(weightsDigest)) return;
    const lease = this.hostPool.holdIfWarm(weightsDigest);
    if (lease) this.pins.set(weightsDigest, lease);
  }

  evicted(weightsDigest: WeightsDigest): void {
    this.pins.get(weightsDigest)?.release();
    this.pins.delete(weightsDigest);
  }

  /** After an engine restart nothing is on the GPU. */
  releaseAll(): void {
    for (const lease of this.pins.values()) lease.release();
    this.pins.clear();
  }
}
