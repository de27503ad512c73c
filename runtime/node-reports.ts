/**
 * What a node tells about itself: where each served model lives (`residency`, also published as metrics)
 * and its load and memory (`stats`). It owns the two books those reports need and scheduler events do not
 * carry, weight bytes and function names per model key. Apart from the node because reporting only reads
 * the lanes, the host pool, the queues and the warm holds; it never changes what the request path does.
 */
import type { ModelResidency } from '../protocol/node-runtime.js';
import type { NodeStats } from '../protocol/node-stats.js';
import type { WeightsDigest } from '../protocol/weights-digest.js';
import type { DeviceLane } from './device-lane.js';
import type { RuntimeMetrics } from './metrics.js';
import type { FunctionQueues } from './pool/function-queues.js';
import type { HostPool } from './pool/host-pool-contract.js';
import type { WarmHolds } from './pool/warm-holds.js';

export interface NodeReportSources {
  readonly lanes: readonly DeviceLane[];
  readonly hostPool: HostPool;
  readonly hostPoolBytes: number;
  readonly queues: FunctionQueues;
  readonly warmHolds: WarmHolds;
  readonly metrics: RuntimeMetrics;
}

export class NodeReports {
  /** Weight bytes per model key, for GPU load metrics (scheduler events carry only the key). */
  private readonly modelBytes = new Map<string, number>();
  /** Functions served per model key, for timeline labels. */
  private readonly modelFunctions = new Map<string, Set<string>>();

  constructor(private readonly sources: NodeReportSources) {}

  /** Records that `functionName` runs the model `weightsDigest` of `bytes`. */
  noteModel(weightsDigest: WeightsDigest, bytes: number, functionName: string): void {
    this.modelBytes.set(weightsDigest, bytes);
    const names = this.modelFunctions.get(weightsDigest) ?? new Set<string>();
    names.add(functionName);
    this.modelFunctions.set(weightsDigest, names);
  }

  /** Weight bytes of a model key; 0 for one never submitted here. */
  bytesOf(key: string): number {
    return this.modelBytes.get(key) ?? 0;
  }

  /** The functions that ran a model key here; empty for one never submitted here. */
  functionsOf(key: string): readonly string[] {
    return [...(this.modelFunctions.get(key) ?? [])];
  }

  /** Tier per (function, model) served here, also published as `tidepool_model_residency`. */
  residency(): readonly ModelResidency[] {
    const { lanes, hostPool, queues, warmHolds, metrics } = this.sources;
    const perLane = lanes.map((lane) => lane.residentKeys());
    const gpu = new Set(perLane.flatMap((keys) => [...keys]));
    const host = new Set(
      hostPool
        .snapshot()
        .filter((m) => m.state === 'warm')
        .map((m) => m.weightsDigest),
    );
    let gpuBytes = 0;
    for (const keys of perLane) for (const key of keys) gpuBytes += this.bytesOf(key);
    metrics.residencyBytes.set({ tier: 'gpu' }, gpuBytes);
    // A function held warm (min_warm) is listed even before its first request, so it shows as host or gpu.
    const served = queues.known();
    const heldOnly = warmHolds
      .entries()
      .filter((h) => !served.some((m) => m.functionName === h.functionName && m.weightsDigest === h.artifact.weightsDigest))
      .map((h) => ({ functionName: h.functionName, weightsDigest: h.artifact.weightsDigest, bytes: h.artifact.bytes, queued: 0, running: 0 }));
    const out = [...served, ...heldOnly].map((model) => ({
      weightsDigest: model.weightsDigest,
      functionName: model.functionName,
      tier: gpu.has(model.weightsDigest) ? ('gpu' as const) : host.has(model.weightsDigest) ? ('host' as const) : ('store' as const),
      bytes: model.bytes,
      queued: model.queued,
      running: model.running,
    }));
    for (const m of out) {
      for (const tier of ['gpu', 'host', 'store'] as const) metrics.modelResidency.set({ function: m.functionName, tier }, m.tier === tier ? 1 : 0);
    }
    return out;
  }

  async stats(): Promise<NodeStats> {
    const { lanes, hostPool, hostPoolBytes, queues } = this.sources;
    const functions = queues.known().map(({ functionName, weightsDigest, queued, running }) => ({ functionName, weightsDigest, queued, running }));
    const hostPoolStats = { capacityBytes: hostPoolBytes, usedBytes: hostPool.usedBytes() };
    const functionsOf = (key: string) => this.functionsOf(key);
    return { functions, gpus: await Promise.all(lanes.map((lane) => lane.memory(functionsOf))), hostPool: hostPoolStats };
  }
}
