import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { downloadBlobTo } from '../platform/storage/blob-store.js';
import type { ObjectStore } from '../platform/storage/object-store.js';
import type { EngineStats } from './engine/engine.js';
import type { EngineClient } from './engine/engine-client.js';
import { detectBackend } from './engine/detect-backend.js';
import { startEngineSupervisor, type EngineSupervisor } from './engine/engine-supervisor.js';
import { SequenceChannel, type SequenceEvent } from './engine/sequence-channel.js';
import { engineErrorCodeOf } from './engine/engine-wire.js';
import { runtimeMetrics, type RuntimeMetrics } from './metrics.js';
import { NodeError, type Artifact, type ModelResidency, type NodeEvent, type NodeGenerateRequest, type NodeRuntime } from './node-runtime.js';
import { FunctionQueues } from './pool/function-queues.js';
import { GpuPins } from './pool/gpu-pins.js';
import { WarmHolds } from './pool/warm-holds.js';
import { HostPoolError, createHostPool, type HostLease, type HostPool } from './pool/host-pool.js';
import { createGpuScheduler, type GpuScheduler, type PolicyName, type SchedulerEvent } from './scheduler/gpu-scheduler.js';
import { POLICY_NAMES } from './scheduler/types.js';
import { createTimelineRecorder, sinkCountingTokens, type TimelineRecorder } from './timeline/timeline-recorder.js';
import type { NodeTimeline } from './timeline/timeline-types.js';
import type { NodeGpuStats, NodeStats } from './node-stats.js';

export interface LocalNodeRuntimeOptions {
  readonly nodeId?: string;
  readonly store: ObjectStore;
  /** Shared-memory directory for warm weights, e.g. /dev/shm/tidepool. */
  readonly shmDir: string;
  readonly hostPoolBytes: number;
  readonly engineBin: string;
  readonly backend: 'auto' | 'cpu' | 'cuda';
  /** The engine's whole device reservation: weights arena + KV pool + scratch; absent, the engine sizes itself. */
  readonly engineMemoryBytes?: number;
  readonly kvBytes?: number;
  readonly engineThreads?: number;
  /** Scheduler policy name (see POLICY_NAMES); `tidepool` by default. */
  readonly policy?: string;
  /** Requests per function admitted and waiting for their first token before new ones get `queue_full`. */
  readonly queueLimit: number;
  /** Longest wait from admission to first token, cold start included. */
  readonly queueTimeoutMs: number;
  readonly registry: Registry;
  /** `Retry-After` hint for `queue_full`. */
  readonly retryAfterMs?: number;
  /** How a blob reaches shared memory; `downloadBlobTo(store, ...)` (which verifies the digest) by default. */
  readonly fetchBlob?: (digest: string, path: string) => Promise<void>;
  /** Engine stderr and supervisor messages. */
  readonly onLog?: (line: string) => void;
  /**
   * A model with no requests leaves the GPU after this long without a turn, ms. Default 60 s: long enough
   * that a steady function never reloads, short enough that an idle one frees the GPU and its host copy's
   * `keep_warm_ms` clock starts (gpu → host → store). Infinity keeps weights until memory is needed.
   */
  readonly gpuIdleEvictMs?: number;
}

export const DEFAULT_GPU_IDLE_EVICT_MS = 60_000;

/**
 * A node runtime in this process: host pool, one engine process under a supervisor, one GPU scheduler.
 * The scheduler is bound to one engine connection; after an engine restart the next request gets a fresh
 * scheduler on the new connection (the old one's sequences already ended with `error`).
 */
export async function createLocalNodeRuntime(options: LocalNodeRuntimeOptions): Promise<LocalNodeRuntime> {
  const policy = parsePolicy(options.policy);
  const metrics = runtimeMetrics(options.registry);
  const hostPool = await createHostPool({
    shmDir: options.shmDir,
    budgetBytes: options.hostPoolBytes,
    fetchBlob: options.fetchBlob ?? ((digest, path) => downloadBlobTo(options.store, digest, path)),
    registry: options.registry,
  });
  let supervisor: EngineSupervisor;
  try {
    const detected = await detectBackend({ engineBin: options.engineBin, requested: options.backend });
    options.onLog?.(`engine backend ${detected.backend}: ${detected.reason}`);
    supervisor = await startEngineSupervisor({
      engineBin: options.engineBin,
      backend: detected.backend,
      memoryBudgetBytes: options.engineMemoryBytes,
      kvBudgetBytes: options.kvBytes,
      threads: options.engineThreads,
      onLog: options.onLog,
    });
  } catch (error) {
    hostPool.close();
    throw error;
  }
  supervisor.onRestart(() => metrics.engineRestarts.inc());
  return new LocalNode(options, policy, metrics, hostPool, supervisor);
}

/** The in-process node, with what operators and tests may ask beyond the control plane's contract. */
export interface LocalNodeRuntime extends NodeRuntime {
  readonly backend: 'cpu' | 'cuda';
  /** The engine process id, or undefined while it restarts. */
  enginePid(): number | undefined;
  /** The engine's own view (models, KV blocks); rejects with `engine_down` while it restarts. */
  engineStats(): Promise<EngineStats>;
}

class LocalNode implements LocalNodeRuntime {
  readonly nodeId: string;
  private readonly queues: FunctionQueues;
  private readonly gpuPins: GpuPins;
  private readonly warmHolds: WarmHolds;
  private scheduler: { engine: EngineClient; scheduler: GpuScheduler } | undefined;
  /** Weight bytes per model key, for GPU load metrics (scheduler events carry only the key). */
  private readonly modelBytes = new Map<string, number>();
  /** Functions served per model key, for timeline labels. */
  private readonly modelFunctions = new Map<string, Set<string>>();
  private readonly gpuTimeline: TimelineRecorder;
  private nextSequenceId = 1;
  private closed = false;

  constructor(
    private readonly options: LocalNodeRuntimeOptions,
    private readonly policy: PolicyName,
    private readonly metrics: RuntimeMetrics,
    private readonly hostPool: HostPool,
    private readonly supervisor: EngineSupervisor,
  ) {
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}`;
    this.queues = new FunctionQueues(metrics.queueDepth);
    this.gpuPins = new GpuPins(hostPool);
    this.warmHolds = new WarmHolds(hostPool);
    metrics.schedulerPolicy.reset();
    metrics.schedulerPolicy.set({ policy }, 1);
    metrics.residencySource.refresh = () => this.residencyNow();
    // The engine keeps a model's files mapped (pinned on CUDA) after evicting it, for a cheap reload; once
    // the host pool deletes the files, the mapping would only hold their memory.
    hostPool.onEvicted((digest) => void this.supervisor.current()?.unmap(digest).catch(() => undefined));
    // One engine per node today, so one device slot; named for what it is, not assumed to be a GPU.
    const label = supervisor.backend === 'cuda' ? 'cuda:0' : 'cpu engine 0';
    this.gpuTimeline = createTimelineRecorder({
      nodeId: this.nodeId,
      gpus: [{ index: 0, label }],
      functionOf: (key) => [...(this.modelFunctions.get(key) ?? [key.slice(0, 19)])].join(', '),
      bytesOf: (key) => this.modelBytes.get(key) ?? 0,
    });
  }

  get backend(): 'cpu' | 'cuda' {
    return this.supervisor.backend;
  }

  enginePid(): number | undefined {
    return this.supervisor.current() ? this.supervisor.pid() : undefined;
  }

  async engineStats(): Promise<EngineStats> {
    const engine = this.supervisor.current();
    if (!engine) throw new NodeError('engine_down', 'the engine is restarting');
    return engine.stats();
  }

  generate(request: NodeGenerateRequest, signal?: AbortSignal): AsyncIterable<NodeEvent> {
    return this.run(request, signal);
  }

  private async *run(request: NodeGenerateRequest, signal: AbortSignal | undefined): AsyncGenerator<NodeEvent> {
    if (this.closed) throw new NodeError('engine_down', `node ${this.nodeId} is closed`);
    const ticket = this.queues.admit(request, this.options.queueLimit, this.options.retryAfterMs ?? 1_000);
    const deadline = performance.now() + this.options.queueTimeoutMs;
    let lease: HostLease | undefined;
    let live: { scheduler: GpuScheduler; id: number; channel: SequenceChannel } | undefined;
    const onAbort = () => live?.scheduler.cancel(live.id);
    try {
      lease = await this.acquireHost(request, signal, deadline);
      if (!lease) return yield cancelledBefore(request);
      const scheduler = this.schedulerFor(await this.engineReady(deadline));
      live = { scheduler, id: this.nextSequenceId++, channel: new SequenceChannel() };
      this.modelBytes.set(request.artifact.digest, request.artifact.bytes);
      this.noteFunction(request.artifact.digest, request.functionName);
      const sink = sinkCountingTokens(this.gpuTimeline, request.artifact.digest, live.channel.sink);
      scheduler.submit(this.toGeneration(request, live.id, lease), sink);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      let event = await this.firstEvent(live, deadline, request);
      ticket.started();
      for (;;) {
        // After an abort the caller wants the end, not the tokens that were already on their way.
        if (event.type === 'done') {
          // Callers may stop reading at `done` without ending the iterator, so settle the books first.
          lease.release();
          ticket.finished();
          return yield event;
        }
        if (!signal?.aborted) yield event;
        event = await live.channel.next();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops iterating early must not leave its sequence decoding on the GPU.
      if (live && !live.channel.isEnded) live.scheduler.cancel(live.id);
      lease?.release();
      ticket.finished();
    }
  }

  async residency(): Promise<readonly ModelResidency[]> {
    return this.residencyNow();
  }

  /** Tier per (function, model) served here, also published as `tidepool_model_residency`. */
  private residencyNow(): readonly ModelResidency[] {
    const gpu = new Set((this.scheduler?.scheduler.snapshot().models ?? []).filter((m) => m.resident).map((m) => m.key));
    const host = new Set(this.hostPool.snapshot().filter((m) => m.state === 'warm').map((m) => m.digest));
    let gpuBytes = 0;
    for (const key of gpu) gpuBytes += this.modelBytes.get(key) ?? 0;
    this.metrics.residencyBytes.set({ tier: 'gpu' }, gpuBytes);
    const out = this.queues.known().map((model) => ({
      artifactDigest: model.artifactDigest,
      functionName: model.functionName,
      tier: gpu.has(model.artifactDigest) ? 'gpu' as const : host.has(model.artifactDigest) ? 'host' as const : 'store' as const,
      bytes: model.bytes,
      queued: model.queued,
      running: model.running,
    }));
    for (const m of out) {
      for (const tier of ['gpu', 'host', 'store'] as const) this.metrics.modelResidency.set({ function: m.functionName, tier }, m.tier === tier ? 1 : 0);
    }
    return out;
  }

  async timeline(sinceMs?: number): Promise<NodeTimeline> {
    return this.gpuTimeline.read(sinceMs);
  }

  async stats(): Promise<NodeStats> {
    const functions = this.queues.known().map(({ functionName, artifactDigest, queued, running }) => ({ functionName, artifactDigest, queued, running }));
    const hostPool = { capacityBytes: this.options.hostPoolBytes, usedBytes: this.hostPool.usedBytes() };
    return { functions, gpus: [await this.engineMemory()], hostPool };
  }

  /** The engine's own memory report; an engine that is restarting shows as down with zero bytes. */
  private async engineMemory(): Promise<NodeGpuStats> {
    const engine = this.supervisor.current();
    const stats = await engine?.stats().catch(() => undefined);
    if (!engine || !stats) {
      return { index: 0, name: engine?.hello.device ?? '', memoryBytes: 0, weightsBytes: 0, kvBytes: 0, kvUsedBytes: 0, scratchBytes: 0, freeBytes: 0, resident: [], up: false };
    }
    const m = stats.memory;
    const kvUsedBytes = m.kvBlocksTotal > 0 ? Math.round((m.kvBytes * m.kvBlocksUsed) / m.kvBlocksTotal) : 0;
    const resident = stats.models.filter((model) => model.state === 'resident').flatMap((model) => [...(this.modelFunctions.get(model.model) ?? [])]);
    return {
      index: 0,
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

  private noteFunction(modelKey: string, functionName: string): void {
    const names = this.modelFunctions.get(modelKey) ?? new Set<string>();
    names.add(functionName);
    this.modelFunctions.set(modelKey, names);
  }

  holdWarm(functionName: string, artifact: Artifact | undefined, keepWarmMs: number): Promise<void> {
    return this.warmHolds.hold(functionName, artifact, keepWarmMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.warmHolds.releaseAll();
    await this.scheduler?.scheduler.close();
    await this.supervisor.close();
    this.hostPool.close();
  }

  /** Waits for the model in shared memory; undefined when the caller aborted first. */
  private async acquireHost(request: NodeGenerateRequest, signal: AbortSignal | undefined, deadline: number): Promise<HostLease | undefined> {
    const timeout = AbortSignal.timeout(msUntil(deadline));
    const use = { functionName: request.functionName, keepWarmMs: request.keepWarmMs, signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
    try {
      return await this.hostPool.acquire(request.artifact, use);
    } catch (error) {
      if (!(error instanceof HostPoolError)) throw error;
      if (error.code === 'cancelled' && signal?.aborted) return undefined;
      if (error.code === 'cancelled') {
        throw new NodeError('cold_start_timeout', `model ${request.artifact.digest} (${request.artifact.bytes} bytes) was not in host memory within ${this.options.queueTimeoutMs} ms`);
      }
      if (error.code === 'store_unavailable') throw new NodeError('store_unavailable', error.message);
      if (error.code === 'digest_mismatch') throw new NodeError('blob_corrupt', error.message);
      throw new NodeError('bad_model', error.message);
    }
  }

  private async engineReady(deadline: number): Promise<EngineClient> {
    try {
      return await this.supervisor.ready(msUntil(deadline));
    } catch (error) {
      throw new NodeError('engine_down', (error as Error).message);
    }
  }

  /** One scheduler per engine connection, made on first use after a (re)start. */
  private schedulerFor(engine: EngineClient): GpuScheduler {
    if (this.scheduler?.engine === engine) return this.scheduler.scheduler;
    const old = this.scheduler?.scheduler;
    const scheduler = createGpuScheduler({
      engine, policy: this.policy, onEvent: (event) => this.onSchedulerEvent(event),
      costs: { gpuIdleEvictMs: this.options.gpuIdleEvictMs ?? DEFAULT_GPU_IDLE_EVICT_MS },
    });
    this.scheduler = { engine, scheduler };
    // A dead connection's scheduler has nothing left to do; stop its loop instead of letting it retry.
    engine.onClose(() => {
      this.gpuPins.releaseAll();
      void scheduler.close();
    });
    void old?.close();
    return scheduler;
  }

  /** The first token or end, or `cold_start_timeout` (and a cancel) if neither comes before the deadline. */
  private async firstEvent(live: { scheduler: GpuScheduler; id: number; channel: SequenceChannel }, deadline: number, request: NodeGenerateRequest): Promise<SequenceEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), msUntil(deadline))));
    const event = await Promise.race([live.channel.next(), timedOut]);
    clearTimeout(timer);
    if (event) return refuseEarlyFailure(event);
    live.scheduler.cancel(live.id);
    throw new NodeError('cold_start_timeout', `no first token for ${request.functionName} within ${this.options.queueTimeoutMs} ms (model loading or GPU busy)`);
  }

  private toGeneration(request: NodeGenerateRequest, id: number, lease: HostLease) {
    return {
      id,
      functionName: request.functionName,
      model: { key: request.artifact.digest, dir: lease.dir, bytes: request.artifact.bytes },
      promptTokens: request.promptTokens,
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed,
      stopTokenIds: request.stopTokenIds,
      slo: request.slo,
    };
  }

  private onSchedulerEvent(event: SchedulerEvent): void {
    this.gpuTimeline.record(0, event);
    if (event.type === 'load' && !event.cached) {
      const bytes = this.modelBytes.get(event.model) ?? 0;
      this.metrics.modelLoads.inc({ tier: 'gpu' });
      this.metrics.modelLoadBytes.inc({ tier: 'gpu' }, bytes);
      this.metrics.modelLoadSeconds.observe({ tier: 'gpu' }, event.ms / 1000);
    }
    if (event.type === 'load') this.gpuPins.loaded(event.model);
    if (event.type === 'evict') this.gpuPins.evicted(event.model);
    if (event.type === 'load' || event.type === 'evict') void this.residency();
  }
}

/**
 * An end before any token, for a reason the caller should handle as a refusal rather than an empty answer:
 * the model cannot be loaded, the prompt does not fit, or the engine went away (another node may serve it).
 */
function refuseEarlyFailure(event: SequenceEvent): SequenceEvent {
  if (event.type !== 'done' || event.reason !== 'error' || event.completionTokens > 0) return event;
  const code = engineErrorCodeOf(event.message);
  if (code === 'bad_model' || code === 'context_overflow' || code === 'engine_down') throw new NodeError(code, event.message ?? code);
  return event;
}

/** Whole milliseconds left before `deadline` (timers want integers), at least 1. */
function msUntil(deadline: number): number {
  return Math.max(1, Math.ceil(deadline - performance.now()));
}

function cancelledBefore(request: NodeGenerateRequest): NodeEvent {
  return { type: 'done', reason: 'cancelled', promptTokens: request.promptTokens.length, completionTokens: 0 };
}

function parsePolicy(policy: string | undefined): PolicyName {
  if (policy === undefined) return 'tidepool';
  if ((POLICY_NAMES as readonly string[]).includes(policy)) return policy as PolicyName;
  throw new Error(`unknown scheduler policy "${policy}"; expected one of ${POLICY_NAMES.join(', ')}`);
}
