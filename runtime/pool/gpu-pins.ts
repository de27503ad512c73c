import type { HostLease, HostPool } from './host-pool.js';

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
  loaded(modelKey: string): void {
    if (this.pins.has(modelKey)) return;
    const lease = this.hostPool.holdIfWarm(modelKey);
    if (lease) this.pins.set(modelKey, lease);
  }

  evicted(modelKey: string): void {
    this.pins.get(modelKey)?.release();
    this.pins.delete(modelKey);
  }

  /** After an engine restart nothing is on the GPU. */
  releaseAll(): void {
    for (const lease of this.pins.values()) lease.release();
    this.pins.clear();
  }
}
