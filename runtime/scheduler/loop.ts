import { TidepoolError, coded } from '../../protocol/errors.js';
import type { DoneReason, Engine, SequenceSink } from '../engine/engine.js';
import type { Clock } from './clock.js';
import type { CostEstimator } from './cost-estimator.js';
import { createDemandTracker } from './demand.js';
import { createResidency } from './kv-and-weights.js';
import type { SchedulerPolicy, SchedulerView } from './policy.js';
import { countPhase, newModelState } from './state.js';
import type { ModelState, RequestState } from './state.js';
import { createTurnSteps, type TurnState } from './turn-steps.js';
import { createWakeSignal } from './wake-signal.js';
import { admittedWith, engineGroup, groupStates } from './request-groups.js';
import type { GenerationGroup, GenerationRequest, SchedulerEvent, SchedulerSnapshot } from './types.js';

export interface LoopDeps {
  readonly engine: Engine;
  readonly policy: SchedulerPolicy;
  readonly clock: Clock;
  readonly costs: CostEstimator;
  readonly emit: (e: SchedulerEvent) => void;
}

/** How long a model whose turn produced nothing waits before it is tried again without any wake. */
const STALL_RETRY_MS = 50;

/**
 * The turn loop: ask the policy for a turn, make its model resident, move KV, admit, run, repeat (the turn's
 * steps are turn-steps.ts). The loop is the only writer of the scheduler's records. One loop per GPU.
 */
export function createSchedulerLoop(deps: LoopDeps) {
  const { engine, policy, clock, costs, emit } = deps;
  const models = new Map<string, ModelState>();
  const byId = new Map<number, ModelState>();
  const stalled = new Set<string>();
  const demand = createDemandTracker();
  const turn: TurnState = { running: undefined, current: undefined };
  const residency = createResidency({ engine, clock, policy, models, emit, demand, runningModel: () => turn.running?.weightsDigest });
  let closed = false;
  /** Why the scheduler closed: the error queued requests, and any submitted later, end with. */
  let closedError: TidepoolError = new TidepoolError('engine_down', 'scheduler is closed');
  const signal = createWakeSignal();

  const view = (): SchedulerView => ({ nowMs: clock.now(), models, current: turn.current, stalled, costs, demand });

  /** Something changed: every stalled model may have work again. */
  function wake(): void {
    stalled.clear();
    signal.wake();
  }

  function forget(model: ModelState, id: number): void {
    model.requests.delete(id);
    byId.delete(id);
    if (model.requests.size === 0 && model.residency === 'absent') models.delete(model.ref.weightsDigest);
  }

  /** The sink the engine writes to: it keeps the records current, then forwards. */
  function trackingSink(model: ModelState, r: RequestState, sink: SequenceSink): SequenceSink {
    return {
      onToken(token, logprob) {
        r.tokens++;
        r.lastTokenMs = clock.now();
        sink.onToken(token, logprob);
      },
      onDone(reason: DoneReason, usage, error, embedding) {
        forget(model, r.request.id);
        sink.onDone(reason, usage, error, embedding);
        wake();
      },
    };
  }

  /**
   * Hands a queued request to the engine: alone, or with every queued member of its group in one `addGroup`
   * (the prompt is prefilled once). A refusal ends each of them with the engine's error.
   */
  async function addToEngine(r: RequestState): Promise<void> {
    const members = admittedWith(r, (id) => engineSinks.has(id));
    if (members.length === 0) return;
    for (const m of members) m.phase = 'added';
    const sinks = members.map((m) => takeSink(m.request.id));
    const q = r.request;
    try {
      if (r.group) {
        await engine.addGroup(engineGroup(members), sinks);
      } else {
        const spec = {
          id: q.id,
          weightsDigest: q.model.weightsDigest,
          modelDir: q.model.dir,
          promptTokens: q.promptTokens,
          sampling: q.sampling,
          stopTokenIds: q.stopTokenIds,
        };
        await engine.add(spec, sinks[0]!);
      }
    } catch (err) {
      for (const m of members) {
        const model = byId.get(m.request.id);
        if (model) forget(model, m.request.id);
        m.sink.onDone('error', { promptTokens: q.promptTokens.length, completionTokens: 0 }, coded(err));
      }
      wake();
    }
  }

  const engineSinks = new Map<number, SequenceSink>();

  function submit(request: GenerationRequest, sink: SequenceSink): void {
    enqueue([{ request, sink, arrivalMs: clock.now(), phase: 'queued', tokens: 0, lastTokenMs: undefined }]);
  }

  function submitGroup(group: GenerationGroup, sinks: readonly SequenceSink[]): void {
    const ids = new Set(group.members.map((m) => m.id));
    if (ids.size >= 2 && ids.size === group.members.length && sinks.length === ids.size) return enqueue(groupStates(group, sinks, clock.now()));
    const error = new TidepoolError('bad_request', `a group needs 2 or more distinct ids and a sink for each, got ${group.members.length} and ${sinks.length}`);
    for (const sink of sinks) sink.onDone('error', { promptTokens: group.promptTokens.length, completionTokens: 0 }, error);
  }

  /** Queues a request, or a group's members (all or none), then joins the running turn or weighs preempting it. */
  function enqueue(states: readonly RequestState[]): void {
    const first = states[0]!.request;
    const live = states.find((r) => byId.has(r.request.id));
    const refusal = closed ? closedError : live && new TidepoolError('bad_request', `sequence id ${live.request.id} is already live`);
    if (refusal) {
      for (const r of states) r.sink.onDone('error', { promptTokens: first.promptTokens.length, completionTokens: 0 }, refusal);
      return;
    }
    let model = models.get(first.model.weightsDigest);
    if (!model) {
      model = newModelState(first.model, first.functionName, clock.now());
      models.set(first.model.weightsDigest, model);
    }
    demand.arrive(first.model.weightsDigest, clock.now());
    for (const r of states) {
      model.requests.set(r.request.id, r);
      byId.set(r.request.id, model);
      engineSinks.set(r.request.id, trackingSink(model, r, r.sink));
    }
    const r = states[0]!;
    const running = turn.running;
    if (running && running.weightsDigest === first.model.weightsDigest && policy.joinRunningTurn) {
      void addToEngine(r);
    } else if (running && policy.shouldPreempt(view(), running, r)) {
      void engine.preempt().catch(() => undefined);
    }
    wake();
  }

  function takeSink(id: number): SequenceSink {
    const s = engineSinks.get(id)!;
    engineSinks.delete(id);
    return s;
  }

  function cancel(id: number): void {
    const model = byId.get(id);
    const r = model?.requests.get(id);
    if (!model || !r) return;
    if (r.phase === 'queued') {
      forget(model, id);
      engineSinks.delete(id);
      r.sink.onDone('cancelled', { promptTokens: r.request.promptTokens.length, completionTokens: 0 });
      wake();
    } else {
      void engine.cancel(id).catch(() => undefined);
    }
  }

  /** Ends a request the engine never saw with `error`. */
  function endQueued(model: ModelState, r: RequestState, error: TidepoolError): void {
    forget(model, r.request.id);
    engineSinks.delete(r.request.id);
    r.sink.onDone('error', { promptTokens: r.request.promptTokens.length, completionTokens: 0 }, error);
  }

  function failModel(model: ModelState, err: unknown): void {
    const error = coded(err);
    emit({ type: 'error', atMs: clock.now(), weightsDigest: model.ref.weightsDigest, message: error.message });
    for (const r of [...model.requests.values()]) {
      if (r.phase === 'queued') endQueued(model, r, error);
      else void engine.cancel(r.request.id).catch(() => undefined);
    }
  }

  /**
   * Ends every request the engine never saw, of every model, with `error` at once: a closed loop would
   * otherwise leave them waiting for a turn that never comes, until their queue timeout. The caller may
   * resubmit them elsewhere. Those already on the engine end as the engine says.
   */
  function handBackQueued(error: TidepoolError): void {
    for (const model of [...models.values()]) {
      for (const r of [...model.requests.values()]) if (r.phase === 'queued') endQueued(model, r, error);
    }
  }

  /** Waits for work; meanwhile evicts models idle on the GPU for `gpuIdleEvictMs` (when finite). */
  async function idleWait(): Promise<void> {
    const idleMs = costs.options.gpuIdleEvictMs;
    let due = Number.POSITIVE_INFINITY;
    let victim: ModelState | undefined;
    if (Number.isFinite(idleMs)) {
      for (const m of models.values()) {
        if (m.residency === 'resident' && m.requests.size === 0 && m.lastRunMs + idleMs < due) {
          due = m.lastRunMs + idleMs;
          victim = m;
        }
      }
    }
    if (!victim && stalled.size > 0) {
      // Belt and braces: a stalled model is retried after a short pause even if no wake comes.
      await Promise.race([signal.wait(), clock.sleep(STALL_RETRY_MS)]);
      signal.abandonWait();
      stalled.clear();
      return;
    }
    if (!victim) return signal.wait();
    if (due <= clock.now()) {
      await residency.evictIfIdle(victim).catch((err: unknown) => failModel(victim, err));
      return;
    }
    await Promise.race([signal.wait(), clock.sleep(due - clock.now())]);
    signal.abandonWait();
  }

  async function loop(): Promise<void> {
    while (!closed) {
      const plan = policy.planTurn(view());
      if (!plan) {
        await idleWait();
        continue;
      }
      await executeTurn(plan).catch((err: unknown) => {
        const model = models.get(plan.weightsDigest);
        if (model) failModel(model, err);
      });
    }
  }

  function snapshot(): SchedulerSnapshot {
    return {
      policy: policy.name,
      models: [...models.values()].map((m) => ({
        weightsDigest: m.ref.weightsDigest,
        functionName: m.functionName,
        resident: m.residency === 'resident',
        queued: countPhase(m, 'queued'),
        running: countPhase(m, 'added'),
        parked: countPhase(m, 'parked'),
      })),
    };
  }

  const { executeTurn } = createTurnSteps({ engine, clock, costs, emit, models, stalled, residency, signal, addToEngine, state: turn });
  const done = loop();

  async function close(error?: TidepoolError): Promise<void> {
    if (error !== undefined) closedError = error;
    if (!closed) handBackQueued(closedError);
    closed = true;
    wake();
    if (turn.running) await engine.preempt().catch(() => undefined);
    await done;
  }

  return { submit, submitGroup, cancel, snapshot, close };
}
