/**
 * One turn of the scheduler loop as named steps: plan → `makeResident` → `moveKv` (park/restore) → `admit`
 * → `run` → `observe`. Apart from the loop (loop.ts), which owns the request records and decides when a turn
 * happens; a turn only reads those records, writes the turn's own state (which model runs, which is current)
 * and the per-model marks it learns (stalled, last run, residency).
 */
import type { WeightsDigest } from '../../protocol/weights-digest.js';
import type { Engine, TurnResult } from '../engine/engine.js';
import type { Clock } from './clock.js';
import type { CostEstimator } from './cost-estimator.js';
import type { Residency } from './kv-and-weights.js';
import type { RunningTurn, TurnPlan } from './policy.js';
import { countPhase } from './state.js';
import type { ModelState, RequestState } from './state.js';
import { armTurnTimers, type TurnCut } from './turn-timers.js';
import type { SchedulerEvent } from './types.js';
import type { WakeSignal } from './wake-signal.js';

/** How a turn ended: the engine's reason, or why the loop cut it. */
type TurnOutcome = Omit<TurnResult, 'reason'> & { readonly reason: TurnResult['reason'] | TurnCut };

/** What runs on the GPU now; written by the turn's steps, read by the loop (joins, preemption, close). */
export interface TurnState {
  /** The turn on the engine, while `runTurn` is in flight. */
  running: RunningTurn | undefined;
  /** The model whose weights the last turn made resident: a switch is a turn for another one. */
  current: WeightsDigest | undefined;
}

export interface TurnStepDeps {
  readonly engine: Engine;
  readonly clock: Clock;
  readonly costs: CostEstimator;
  readonly emit: (e: SchedulerEvent) => void;
  readonly models: ReadonlyMap<string, ModelState>;
  /** Models whose last turn produced nothing, until the next wake. */
  readonly stalled: Set<string>;
  readonly residency: Residency;
  readonly signal: WakeSignal;
  /** Hands a queued request (with its queued group members) to the engine. */
  readonly addToEngine: (r: RequestState) => Promise<void>;
  readonly state: TurnState;
}

export function createTurnSteps(deps: TurnStepDeps): { executeTurn(plan: TurnPlan): Promise<void> } {
  const { engine, clock, costs, emit, models, stalled, residency, signal, addToEngine, state } = deps;

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
    if (state.current !== key) {
      const ms = clock.now() - plannedMs;
      emit({ type: 'switch', atMs: clock.now(), from: state.current, to: key, ms, estimateMs, overrun: ms > estimateMs + costs.options.switchSlackMs });
    }
    state.current = key;
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
    state.running = turn;
    const timers = armTurnTimers({
      clock,
      startedMs: turn.startedMs,
      quotaMs: plan.quotaMs,
      preempt: () => void engine.preempt().catch(() => undefined),
      stillRunning: () => state.running === turn,
      whileLoading: plan.whileLoading && loaded ? { minMs: plan.whileLoading.minMs, loaded } : undefined,
    });
    const wakesBefore = signal.count;
    const ran = await engine.runTurn(key, plan.maxSteps).finally(() => (state.running = undefined));
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

  return { executeTurn };
}
