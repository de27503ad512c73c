import type { CostEstimator } from './cost-estimator.js';
import type { DemandTracker } from './demand.js';
import type { ModelState, RequestState } from './state.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/**
 * What a policy sees. Valid only during the call it is passed to: the loop mutates the underlying records
 * between calls. Policies must not mutate anything reachable from it.
 */
export interface SchedulerView {
  readonly nowMs: number;
  /** Models with live requests or weights on the GPU, keyed by model key. */
  readonly models: ReadonlyMap<string, Readonly<ModelState>>;
  /** Model of the latest turn, if any. */
  readonly current: string | undefined;
  /** Models whose last turn made no progress (e.g. KV full); skip them until something changes. */
  readonly stalled: ReadonlySet<string>;
  readonly costs: CostEstimator;
  /** Arrival rate per model key, also for models with no live requests. */
  readonly demand: DemandTracker;
}

/** One turn as a policy orders it. The loop carries it out in the order the fields are listed. */
export interface TurnPlan {
  readonly weightsDigest: WeightsDigest;
  /** Park the KV of every other model's decoding sequences before the turn (KV lives on host between turns). */
  readonly parkOthers: boolean;
  /** Queued requests of `weightsDigest` to hand to the engine now (prefill admission), in this order. */
  readonly admit: readonly number[];
  /** Upper bound on engine steps; the turn may end sooner (idle, preempted). */
  readonly maxSteps: number;
  /** The turn's time budget in ms, for preemption decisions and the timeline. */
  readonly quotaMs: number;
  /**
   * A model to page in behind this turn on the copy stream. Room comes from idle models, then from the
   * models in `prefetchEvictable`; a prefetch never pushes out any other model with live requests.
   */
  readonly prefetch?: string;
  /**
   * Models with live requests the prefetch may push out (their KV parked first) when idle models do not free
   * enough, first choice first: models the policy will not run before the prefetched one. Default none.
   */
  readonly prefetchEvictable?: readonly string[];
  /**
   * The turn only keeps the GPU busy while `prefetch` loads (also when an earlier turn started that load): it
   * ends at the next token boundary once those weights are in and `minMs` have passed since it began, and at
   * once if the prefetch finds no room, since that model's own turn (which may push out anyone) must not wait
   * for it. `quotaMs` still bounds it.
   */
  readonly whileLoading?: { readonly minMs: number };
}

/** A turn in flight, as `shouldPreempt` sees it. */
export interface RunningTurn {
  readonly weightsDigest: WeightsDigest;
  readonly startedMs: number;
  readonly quotaMs: number;
}

/**
 * A scheduling policy: pure decisions over a `SchedulerView`. One object per GPU (policies may keep private
 * state such as a round-robin cursor; that is their only mutation). Methods never throw for well-formed views.
 */
export interface SchedulerPolicy {
  readonly name: string;
  /** Most models with weights on the GPU at once; undefined means as many as the engine's memory holds. */
  readonly maxResident: number | undefined;
  /** Hand a request to the engine at once when its model is running a turn (continuous batching). */
  readonly joinRunningTurn: boolean;
  /** The next turn, or undefined when nothing should run until the next arrival or completion. */
  planTurn(view: SchedulerView): TurnPlan | undefined;
  /** Whether `arrival` should cut the running turn at the next token boundary. */
  shouldPreempt(view: SchedulerView, running: RunningTurn, arrival: Readonly<RequestState>): boolean;
}
