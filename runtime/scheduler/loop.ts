import type { WeightsDigest } from '../../protocol/weights-digest.js';
import { TidepoolError, coded } from '../../protocol/errors.js';
import type { DoneReason, Engine, SequenceSink, TurnResult } from '../engine/engine.js';
import type { Clock } from './clock.js';
import type { CostEstimator } from './cost-estimator.js';
import { createDemandTracker } from './demand.js';
import { createResidency } from './kv-and-weights.js';
import type { RunningTurn, SchedulerPolicy, SchedulerView, TurnPlan } from './policy.js';
import { countPhase, newModelState } from './state.js';
import type { ModelState, RequestState } from './state.js';
import { armTurnTimers, type TurnCut } from './turn-timers.js';
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

/** How a turn ended: the engine's reason, or why the loop cut it. */
type TurnOutcome = Omit<TurnResult, 'reason'> & { readonly reason: TurnResult['reason'] | TurnCut };

/** How long a model whose turn produced nothing waits before it is tried again without any wake. */
const STALL_RETRY_MS = 50;

/**
 * The turn loop: ask the policy for a turn, make its model resident, move KV, admit, run, repeat. The loop
 * is the only writer of the scheduler's records. One loop per GPU.
 */
export function createSchedulerLoop(deps: LoopDeps) {
  const { engine, policy, clock, costs, emit } = deps;
  const models = new Map<string, ModelState>();
  const byId = new Map<number, ModelState>();
  const stalled = new Set<string>();
  const demand = createDemandTracker();
  let running: RunningTurn | undefined;
  const residency = createResidency({ engine, clock, policy, models, emit, demand, runningModel: () => running?.weightsDigest });
  let current: WeightsDigest | undefined;
  let closed = false;
  /** Why the scheduler closed: the error queued requests, and any submitted later, end with. */
  let closedError: TidepoolError = new TidepoolError('engine_down', 'scheduler is closed');
  const signal = createWakeSignal();

  const view = (): SchedulerView => ({ nowMs: clock.now(), models, current, stalled, costs, demand });

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

  /** One turn, as named steps: plan → resident → park/restore → admit → run → observe. */
  async function executeTurn(plan: TurnPlan): Promise<void> {
    const model = models.get(plan.weightsDigest);
    if (!model) return;
    await makeResident(model);
    await moveKv(model, plan.parkOthers);
    await admit(model, plan.admit);
    const { ran, quiet } = await run(model, plan);
    observe(model, plan, ran, quiet);
  }

  /**
   * Brings the turn's model onto the GPU and records the switch: what the policy was told it would cost
   * (weights absent: bytes / bandwidth + overhead) against what it took on the clock, from the plan to
   * resident weights, queued copies, evictions and a prefetch in flight included.
   */
  async function makeResident(model: ModelState): Promise<void> {
    const key = model.ref.weightsDigest;
    const plannedMs = clock.now();
    const estimateMs = model.residency === 'resident' ? 0 : costs.loadMs(model.ref.bytes);
    await residency.ensureResident(model, new Set([key]), false);
    if (current !== key) {
      const ms = clock.now() - plannedMs;
      emit({ type: 'switch', atMs: clock.now(), from: current, to: key, ms, estimateMs, overrun: ms > estimateMs + costs.options.switchSlackMs });
    }
    current = key;
  }

  /** Parks the KV of every other model's running sequences when the plan says so, and restores this model's. */
  async function moveKv(model: ModelState, parkOthers: boolean): Promise<void> {
    if (parkOthers) {
      for (const other of models.values()) if (other !== model && countPhase(other, 'added') > 0) await residency.park(other);
    }
    if (countPhase(model, 'parked') > 0) await residency.restore(model);
  }

  /**
   * Hands the planned queued requests to the engine; they join the batch at the turn's first step. A group
   * member brings its group's other queued members along.
   */
  async function admit(model: ModelState, ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const r = model.requests.get(id);
      if (r && r.phase === 'queued') await addToEngine(r);
    }
  }

  /**
   * Starts the planned prefetch, runs the turn on the engine under its timers (turn-timers.ts), and reports
   * how it ended. `quiet`: nothing woke the loop while the turn ran.
   */
  async function run(model: ModelState, plan: TurnPlan): Promise<{ ran: TurnOutcome; quiet: boolean }> {
    const key = model.ref.weightsDigest;
    const loaded = prefetch(plan, key);
    const turn: RunningTurn = { weightsDigest: key, startedMs: clock.now(), quotaMs: plan.quotaMs };
    running = turn;
    const timers = armTurnTimers({
      clock,
      startedMs: turn.startedMs,
      quotaMs: plan.quotaMs,
      preempt: () => void engine.preempt().catch(() => undefined),
      stillRunning: () => running === turn,
      whileLoading: plan.whileLoading && loaded ? { minMs: plan.whileLoading.minMs, loaded } : undefined,
    });
    const wakesBefore = signal.count;
    const ran = await engine.runTurn(key, plan.maxSteps).finally(() => (running = undefined));
    const quiet = signal.count === wakesBefore;
    const cut = ran.reason !== 'preempted' ? undefined : timers.cut();
    model.lastRunMs = clock.now();
    return { ran: cut === undefined ? ran : { ...ran, reason: cut }, quiet };
  }

  /**
   * Loads the model the plan prefetches, without waiting; resolves true once its weights are in. A queued
   * call on weights already loading resolves once they are in (or tries again if that load gave up).
   */
  function prefetch(plan: TurnPlan, runningKey: string): Promise<boolean> | undefined {
    const target = plan.prefetch === undefined ? undefined : models.get(plan.prefetch);
    const loaded =
      target && (target.residency === 'absent' || (plan.whileLoading && target.residency === 'loading'))
        ? residency.ensureResident(target, new Set([runningKey]), true, plan.prefetchEvictable).catch(() => false)
        : undefined;
    if (target) target.lastRunMs = Math.max(target.lastRunMs, clock.now()); // the prefetched model is about to be needed: not a victim
    return loaded;
  }

  /**
   * Learns from the turn: a turn that produced nothing marks its model stalled until the next wake, so the
   * loop does not spin; but a wake during the turn (an arrival that joined it after the engine had already
   * answered, a sequence ending) already carries news the turn did not see, and stalling then would wait for
   * a wake that came. A turn that ran steps refines the step-time estimate.
   */
  function observe(model: ModelState, plan: TurnPlan, ran: TurnOutcome, quiet: boolean): void {
    const key = model.ref.weightsDigest;
    if (ran.reason === 'not_resident') model.residency = 'absent';
    if (ran.steps === 0 && model.requests.size > 0 && quiet) stalled.add(key);
    else costs.observeTurn(key, ran.steps, ran.ms);
    emit({ type: 'turn', atMs: clock.now(), weightsDigest: key, steps: ran.steps, quotaSteps: plan.maxSteps, reason: ran.reason, ms: ran.ms });
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

  const done = loop();

  async function close(error?: TidepoolError): Promise<void> {
    if (error !== undefined) closedError = error;
    if (!closed) handBackQueued(closedError);
    closed = true;
    wake();
    if (running) await engine.preempt().catch(() => undefined);
    await done;
  }

  return { submit, submitGroup, cancel, snapshot, close };
}
