import { hostname } from 'node:os';
import type { EngineStats } from './engine/engine.js';
import type { EngineSupervisor } from './engine/engine-supervisor.js';
import { removeStaleSocketDirs } from './engine/engine-socket-dir.js';
import type { DeviceInfo } from './engine/list-devices.js';
import { SequenceChannel } from './engine/sequence-channel.js';
import { DeviceLane } from './device-lane.js';
import { cancelGivenUp, mayResubmit, type LiveSequence } from './engine-down-resubmit.js';
import { createDeviceRouter, type DeviceRouter } from './device-router.js';
import { runtimeMetrics, type RuntimeMetrics } from './metrics.js';
import { startDeviceEngines } from './start-device-engines.js';
import {
  NodeError,
  choiceCount,
  type Artifact,
  type ModelResidency,
  type NodeEvent,
  type NodeGenerateRequest,
  type NodeRuntime,
  type WarmHoldReport,
  type WarmHoldTarget,
} from '../protocol/node-runtime.js';
import { FunctionQueues } from './pool/function-queues.js';
import { WarmHolds } from './pool/warm-holds.js';
import { createHostPool } from './pool/host-pool.js';
import type { HostLease, HostPool } from './pool/host-pool-contract.js';
import type { GpuScheduler, PolicyName, SchedulerEvent } from './scheduler/gpu-scheduler.js';
import { createTimelineRecorder, sinkCountingTokens, type TimelineRecorder } from './timeline/timeline-recorder.js';
import type { NodeTimeline } from '../protocol/timeline-types.js';
import type { NodeStats } from '../protocol/node-stats.js';
import { owingSinks } from './owed-tokens.js';
import { DEFAULT_GPU_IDLE_EVICT_MS, parsePolicy, type LocalNodeRuntimeOptions } from './node-options.js';
import { NodeReports } from './node-reports.js';
import { acquireHost, cancelledBefore, firstEvent, msUntil } from './node-request-waits.js';

/**
 * A node runtime in this process: the host pool, and per device (each GPU, or each CPU engine) an engine
 * process under a supervisor with its own GPU scheduler (`DeviceLane`). A device router spreads requests
 * over the lanes; the host pool, queues and warm holds are shared by all of them.
 */
export async function createLocalNodeRuntime(options: LocalNodeRuntimeOptions): Promise<LocalNodeRuntime> {
  const policy = parsePolicy(options.policy);
  const metrics = runtimeMetrics(options.registry);
  const hostPool = await createHostPool({
    shmDir: options.shmDir,
    budgetBytes: options.hostPoolBytes,
    fetchBlob: options.fetchBlob,
    registry: options.registry,
  });
  let started: Awaited<ReturnType<typeof startDeviceEngines>>;
  try {
    const stale = await removeStaleSocketDirs();
    if (stale.length > 0)
      options.log?.warn(
        `removed ${stale.length} engine socket director${stale.length === 1 ? 'y' : 'ies'} left by processes that died: ${stale.map((d) => d.path).join(', ')}`,
      );
    started = await startDeviceEngines(options);
  } catch (error) {
    await hostPool.close();
    throw error;
  }
  const { devices, supervisors } = started;
  for (const supervisor of supervisors) supervisor.onRestart(() => metrics.engineRestarts.inc());
  return new LocalNode(options, policy, metrics, hostPool, devices, supervisors);
}

/** The in-process node, with what operators and tests may ask beyond the control plane's contract. */
export interface LocalNodeRuntime extends NodeRuntime {
  readonly backend: 'cpu' | 'cuda';
  /** The devices this node drives, in lane order. */
  readonly devices: readonly DeviceInfo[];
  /** The first device's engine process id (or `device`'s), undefined while it restarts. */
  enginePid(device?: number): number | undefined;
  /** An engine's own view (models, KV blocks); rejects with `engine_down` while it restarts. */
  engineStats(device?: number): Promise<EngineStats>;
  stats(): Promise<NodeStats>;
  timeline(sinceMs?: number): Promise<NodeTimeline>;
}

class LocalNode implements LocalNodeRuntime {
  readonly nodeId: string;
  private readonly queues: FunctionQueues;
  private readonly warmHolds: WarmHolds;
  private readonly lanes: readonly DeviceLane[];
  private readonly router: DeviceRouter;
  private readonly reports: NodeReports;
  private readonly gpuTimeline: TimelineRecorder;
  private nextSequenceId = 1;
  private closed = false;

  constructor(
    private readonly options: LocalNodeRuntimeOptions,
    policy: PolicyName,
    private readonly metrics: RuntimeMetrics,
    private readonly hostPool: HostPool,
    readonly devices: readonly DeviceInfo[],
    supervisors: readonly EngineSupervisor[],
  ) {
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}`;
    this.queues = new FunctionQueues(metrics.queueDepth);
    this.warmHolds = new WarmHolds(hostPool);
    this.lanes = supervisors.map(
      (supervisor, index) =>
        new DeviceLane({
          index,
          label: devices[index]!.label,
          supervisor,
          hostPool,
          policy,
          gpuIdleEvictMs: options.gpuIdleEvictMs ?? DEFAULT_GPU_IDLE_EVICT_MS,
          onEvent: (lane, event) => this.onSchedulerEvent(lane, event),
        }),
    );
    this.router = createDeviceRouter(this.lanes.length);
    this.reports = new NodeReports({
      lanes: this.lanes,
      hostPool,
      hostPoolBytes: options.hostPoolBytes,
      queues: this.queues,
      warmHolds: this.warmHolds,
      metrics,
    });
    metrics.schedulerPolicy.reset();
    metrics.schedulerPolicy.set({ policy }, 1);
    metrics.residencySource.refresh = () => this.reports.residency();
    // The engines keep a model's files mapped (pinned on CUDA) after evicting it, for a cheap reload; once
    // the host pool deletes the files, the mappings would only hold their memory.
    hostPool.onEvicted((weightsDigest) => {
      for (const lane of this.lanes) lane.unmap(weightsDigest);
    });
    this.gpuTimeline = createTimelineRecorder({
      nodeId: this.nodeId,
      gpus: this.lanes.map((lane) => ({ index: lane.index, label: lane.label })),
      functionOf: (key) => {
        const names = this.reports.functionsOf(key);
        return (names.length > 0 ? names : [key.slice(0, 19)]).join(', ');
      },
      bytesOf: (key) => this.reports.bytesOf(key),
    });
  }

  get backend(): 'cpu' | 'cuda' {
    return this.lanes[0]!.supervisor.backend;
  }

  enginePid(device = 0): number | undefined {
    return this.lane(device).enginePid();
  }

  async engineStats(device = 0): Promise<EngineStats> {
    return this.lane(device).engineStats();
  }

  private lane(device: number): DeviceLane {
    const lane = this.lanes[device];
    if (!lane) throw new RangeError(`node ${this.nodeId} has no device ${device} (it has ${this.lanes.length})`);
    return lane;
  }

  generate(request: NodeGenerateRequest, signal?: AbortSignal, choiceSignals?: readonly AbortSignal[]): AsyncIterable<NodeEvent> {
    return this.run(request, signal, choiceSignals);
  }

  private async *run(
    request: NodeGenerateRequest,
    signal: AbortSignal | undefined,
    choiceSignals: readonly AbortSignal[] | undefined,
  ): AsyncGenerator<NodeEvent> {
    if (this.closed) throw new NodeError('engine_down', `node ${this.nodeId} is closed`);
    const ticket = this.queues.admit(request, this.options.queueLimit, this.options.retryAfterMs ?? 1_000);
    const deadline = performance.now() + this.options.queueTimeoutMs;
    let lease: HostLease | undefined;
    let live: LiveSequence | undefined;
    const onAbort = () => live && cancelGivenUp(live, signal, choiceSignals);
    const signals = [signal, ...(choiceSignals ?? [])].filter((s) => s !== undefined);
    try {
      lease = await acquireHost(this.hostPool, request, signal, deadline, this.options.queueTimeoutMs);
      if (!lease) return yield* cancelledBefore(request);
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      let event: NodeEvent | undefined;
      let current: LiveSequence;
      // An engine that died before this request's first token takes nothing the caller saw: the request runs
      // again on the restarted engine (or another device) within its deadline, once.
      for (let attempt = 1; !event; attempt++) {
        live = current = await this.submitToDevice(request, lease, deadline);
        onAbort();
        event = await firstEvent(current, deadline, request, this.options.queueTimeoutMs).catch((error: unknown) => {
          // A group refused by one choice's end leaves the others queued: they go too.
          cancelGivenUp(current, signal, choiceSignals, true);
          if (this.shouldResubmit(request, error, attempt, deadline, signal)) return undefined;
          throw error;
        });
      }
      ticket.started();
      for (;;) {
        // Callers may stop reading at the last `done` without ending the iterator, so settle the books first.
        if (event.type === 'done' && current!.channel.isDrained) {
          lease.release();
          ticket.finished();
          return yield event;
        }
        // After an abort the caller wants the end, not the tokens that were already on their way.
        if (event.type === 'done' || !(signal?.aborted || choiceSignals?.[event.choice ?? 0]?.aborted)) yield event;
        event = await current!.channel.next();
      }
    } finally {
      for (const s of signals) s.removeEventListener('abort', onAbort);
      // A consumer that stops iterating early must not leave its sequences decoding on the GPU.
      if (live) cancelGivenUp(live, signal, choiceSignals, true);
      lease?.release();
      ticket.finished();
    }
  }

  /** Picks a device, waits for its engine within the deadline and queues the request (each choice) on its scheduler. */
  private async submitToDevice(request: NodeGenerateRequest, lease: HostLease, deadline: number): Promise<LiveSequence> {
    const key = request.artifact.weightsDigest;
    const choices = choiceCount(request);
    const owed = choices * request.sampling.max_tokens;
    // One snapshot per device per pick: the router may ask about each device more than once.
    const resident = this.lanes.map((lane) => lane.residentKeys());
    const device = this.router.pick(key, owed, {
      resident: (d, model) => resident[d]!.has(model),
      up: (d) => this.lanes[d]!.up,
      residentCount: (d) => resident[d]!.size,
    });
    const lane = this.lanes[device]!;
    let scheduler: GpuScheduler;
    try {
      scheduler = lane.schedulerFor(await lane.ready(msUntil(deadline)));
    } catch (error) {
      this.router.finished(device, key, owed);
      throw error;
    }
    const live = { scheduler, ids: Array.from({ length: choices }, () => this.nextSequenceId++), channel: new SequenceChannel(choices) };
    this.reports.noteModel(key, request.artifact.bytes, request.functionName);
    const owing = owingSinks(this.router, device, key, request.sampling.max_tokens, live.channel.sinks);
    const sinks = owing.map((sink) => sinkCountingTokens(this.gpuTimeline, key, sink, device));
    const generation = this.toGeneration(request, live.ids[0]!, lease);
    if (choices === 1) scheduler.submit(generation, sinks[0]!);
    else scheduler.submitGroup({ ...generation, members: live.ids.map((id, i) => ({ id, seed: request.seeds![i]! })) }, sinks);
    return live;
  }

  private shouldResubmit(request: NodeGenerateRequest, error: unknown, attempt: number, deadline: number, signal: AbortSignal | undefined): boolean {
    const retry = mayResubmit(error, attempt, deadline, { closed: this.closed, signal });
    if (retry) {
      this.metrics.engineResubmits.inc();
      this.options.log?.debug('resubmitting a request before its first token', { function: request.functionName, reason: (error as Error).message });
    }
    return retry;
  }

  async residency(): Promise<readonly ModelResidency[]> {
    return this.reports.residency();
  }

  async timeline(sinceMs?: number): Promise<NodeTimeline> {
    return this.gpuTimeline.read(sinceMs);
  }

  stats(): Promise<NodeStats> {
    return this.reports.stats();
  }

  holdWarm(functionName: string, artifact: Artifact | undefined, keepWarmMs: number): Promise<void> {
    return this.warmHolds.hold(functionName, artifact, keepWarmMs);
  }

  setWarmHolds(holds: readonly WarmHoldTarget[]): Promise<void> {
    return this.warmHolds.set(holds);
  }

  warmHoldReport(): readonly WarmHoldReport[] {
    return this.warmHolds.entries().map((h) => ({ functionName: h.functionName, weightsDigest: h.artifact.weightsDigest }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.warmHolds.releaseAll();
    await Promise.all(this.lanes.map((lane) => lane.close()));
    await this.hostPool.close();
  }

  private toGeneration(request: NodeGenerateRequest, id: number, lease: HostLease) {
    return {
      id,
      functionName: request.functionName,
      model: { weightsDigest: request.artifact.weightsDigest, dir: lease.dir, bytes: request.artifact.bytes },
      promptTokens: request.promptTokens,
      sampling: request.sampling,
      stopTokenIds: request.stopTokenIds,
      slo: request.slo,
    };
  }

  private onSchedulerEvent(device: number, event: SchedulerEvent): void {
    this.gpuTimeline.record(device, event);
    if (event.type === 'load' && !event.cached) {
      const bytes = this.reports.bytesOf(event.weightsDigest);
      this.metrics.modelLoads.inc({ tier: 'gpu' });
      this.metrics.modelLoadBytes.inc({ tier: 'gpu' }, bytes);
      this.metrics.modelLoadSeconds.observe({ tier: 'gpu' }, event.ms / 1000);
    }
    if (event.type === 'load' || event.type === 'evict') void this.residency();
  }
}
