import type { Artifact } from '../node-runtime.js';
import type { HostLease, HostPool } from './host-pool.js';

/**
 * Holds a host lease for every model resident on the GPU. The engine maps a model's files from shared
 * memory, so deleting them while it is resident would free nothing and make the host budget lie; pinning
 * them keeps `gpu` a subset of `host`. The keep-warm window starts when the GPU lets the model go.
 */
export class GpuPins {
  private readonly pins = new Map<string, Promise<HostLease | undefined>>();
  private readonly uses = new Map<string, { readonly artifact: Artifact; readonly functionName: string; readonly keepWarmMs: number }>();

  constructor(private readonly hostPool: HostPool) {}

  /** Remembers which artifact and keep-warm window a model key stands for, from the latest request. */
  noteUse(artifact: Artifact, functionName: string, keepWarmMs: number): void {
    this.uses.set(artifact.digest, { artifact, functionName, keepWarmMs });
  }

  /** Called when the scheduler reports a model loaded. A warm model is pinned at once, without a fetch. */
  loaded(modelKey: string): void {
    const use = this.uses.get(modelKey);
    if (!use || this.pins.has(modelKey)) return;
    const pin = this.hostPool.acquire(use.artifact, { functionName: use.functionName, keepWarmMs: use.keepWarmMs }).catch(() => undefined);
    this.pins.set(modelKey, pin);
  }

  evicted(modelKey: string): void {
    const pin = this.pins.get(modelKey);
    this.pins.delete(modelKey);
    void pin?.then((lease) => lease?.release());
  }

  /** After an engine restart nothing is on the GPU. */
  releaseAll(): void {
    for (const key of [...this.pins.keys()]) this.evicted(key);
  }
}
