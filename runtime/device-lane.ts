import type { EngineClient } from './engine/engine-client.js';
import type { EngineStats } from './engine/engine.js';
import type { EngineSupervisor } from './engine/engine-supervisor.js';
import { NodeError } from '../protocol/node-runtime.js';
import type { NodeGpuStats } from '../protocol/node-stats.js';
import { GpuPins } from './pool/gpu-pins.js';
import type { HostPool } from './pool/host-pool-contract.js';
import { createGpuScheduler, type GpuScheduler, type PolicyName, type SchedulerEvent } from './scheduler/gpu-scheduler.js';
import type { WeightsDigest } from '../protocol/weights-digest.js';

export interface DeviceLaneOptions {
  /** Position among the node's devices (timeline row, stats entry, router index). */
  readonly index: number;
  /** What operators see, e.g. `cuda:1` or `cpu engine 0`. */
  readonly label: string;
  readonly supervisor: EngineSupervisor;
  readonly hostPool: HostPool;
  readonly policy: PolicyName;
  readonly gpuIdleEvictMs: number;
  /** Every scheduler event of this device, after the lane has noted loads and evictions. */
  readonly onEvent: (index: number, event: SchedulerEvent) => void;
}

/**
 * One device of a node: its engine process (under a supervisor), the GPU scheduler bound to the engine's
 * current connection, and the soft host leases that keep its resident models' files warm. After an engine
 * restart the next request gets a fresh scheduler on the new connection (the old one's sequences already
 * ended with `error`).
 */
export class DeviceLane {
  readonly index: number;
  readonly label: string;
  private readonly gpuPins: GpuPins;
  private bound: { engine: EngineClient; scheduler: GpuScheduler } | undefined;

  constructor(private readonly options: DeviceLaneOptions) {
    this.index = options.index;
    this.label = options.label;
    this.gpuPins = new GpuPins(options.hostPool);
  }

  get supervisor(): EngineSupervisor {
    return this.options.supervisor;
  }

  /** The engine is running (not between a crash and its restart). */
  get up(): boolean {
    return this.options.supervisor.current() !== undefined;
  }

  enginePid(): number | undefined {
    return this.up ? this.options.supervisor.pid() : undefined;
  }

  async engineStats(): Promise<EngineStats> {
    const engine = this.options.supervisor.current();
    if (!engine) throw new NodeError('engine_down', `the engine of ${this.label} is restarting`);
    return engine.stats();
  }

  /** Resolves with the live engine, waiting for a restart until `timeoutMs`; `engine_down` after that. */
  async ready(timeoutMs: number): Promise<EngineClient> {
    try {
      return await this.options.supervisor.ready(timeoutMs);
    } catch (error) {
      throw new NodeError('engine_down', (error as Error).message);
    }
  }

  /** The scheduler of the engine's current connection, made on first use after a (re)start. */
  schedulerFor(engine: EngineClient): GpuScheduler {
    if (this.bound?.engine === engine) return this.bound.scheduler;
    const old = this.bound?.scheduler;
    const scheduler = createGpuScheduler({
      engine,
      policy: this.options.policy,
      onEvent: (event) => this.onSchedulerEvent(event),
      costs: { gpuIdleEvictMs: this.options.gpuIdleEvictMs },
    });
    this.bound = { engine, scheduler };
    // A dead connection's scheduler has nothing left to do; stop its loop instead of letting it retry. Its
    // queued requests of every model end with engine_down at once, so the node can resubmit them.
    engine.onClose((reason) => {
      this.gpuPins.releaseAll();
      void scheduler.close(new NodeError('engine_down', `${reason} on ${this.label} before the request reached it`));
    });
    void old?.close();
    return scheduler;
  }

  /** Model keys whose weights are in a slot of this device now. */
  residentKeys(): ReadonlySet<string> {
    return new Set((this.bound?.scheduler.snapshot().models ?? []).filter((m) => m.resident).map((m) => m.weightsDigest));
  }

  /** The engine's own memory report; an engine that is restarting shows as down with zero bytes. */
  async memory(functionsOf: (weightsDigest: WeightsDigest) => readonly string[]): Promise<NodeGpuStats> {
    const engine = this.options.supervisor.current();
    const stats = await engine?.stats().catch(() => undefined);
    if (!engine || !stats) {
      return {
        index: this.index,
        name: engine?.hello.device ?? '',
        memoryBytes: 0,
        weightsBytes: 0,
        kvBytes: 0,
        kvUsedBytes: 0,
        scratchBytes: 0,
        freeBytes: 0,
        resident: [],
        up: false,
      };
    }
    const m = stats.memory;
    const kvUsedBytes = m.kvBlocksTotal > 0 ? Math.round((m.kvBytes * m.kvBlocksUsed) / m.kvBlocksTotal) : 0;
    const resident = stats.models.filter((model) => model.state === 'resident').flatMap((model) => [...functionsOf(model.weightsDigest)]);
    return {
      index: this.index,
      name: engine.hello.device,
      memoryBytes: m.budgetBytes,
      weightsBytes: m.weightsBytes,
      kvBytes: m.kvBytes,
      kvUsedBytes,
      scratchBytes: m.scratchBytes,
      freeBytes: Math.max(0, m.budgetBytes - m.weightsBytes - m.kvBytes - m.scratchBytes),
      resident: [...new Set(resident)].sort(),
      up: true,
    };
  }

  /** The host pool deleted a model's files: the engine may drop its mapping of them. */
  unmap(weightsDigest: WeightsDigest): void {
    void this.options.supervisor
      .current()
      ?.unmap(weightsDigest)
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.bound?.scheduler.close(new NodeError('engine_down', `${this.label} is shutting down`));
    await this.options.supervisor.close();
  }

  private onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === 'load') this.gpuPins.loaded(event.weightsDigest);
    if (event.type === 'evict') this.gpuPins.evicted(event.weightsDigest);
    this.options.onEvent(this.index, event);
  }
}
