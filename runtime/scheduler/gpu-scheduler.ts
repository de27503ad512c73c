import type { TidepoolError } from '../../protocol/errors.js';
import type { Engine, SequenceSink } from '../engine/engine.js';
import { realClock } from './clock.js';
import type { Clock } from './clock.js';
import { createCostEstimator } from './cost-estimator.js';
import type { CostOptions } from './cost-estimator.js';
import { createSchedulerLoop } from './loop.js';
import type { SchedulerPolicy } from './policy.js';
import { createPolicy } from './policies/index.js';
import type { GenerationGroup, GenerationRequest, PolicyName, SchedulerEvent, SchedulerSnapshot } from './types.js';

export type { GenerationGroup, GenerationRequest, PolicyName, SchedulerEvent, SchedulerSnapshot, ModelSnapshot } from './types.js';
export type { Clock } from './clock.js';
export { realClock, VirtualClock } from './clock.js';
export type { SchedulerPolicy, SchedulerView, TurnPlan, RunningTurn } from './policy.js';

/**
 * One GPU's token-level scheduler. It owns GPU residency (load/evict on its engine) and KV movement; the
 * caller owns host memory and guarantees `request.model.dir` holds the model's files before `submit`.
 */
export interface GpuScheduler {
  /**
   * Queues a generation. Tokens and the end reach `sink` (exactly one `onDone`, also for errors such as a
   * duplicate id, a closed scheduler, or weights that cannot be loaded). Never throws.
   */
  submit(request: GenerationRequest, sink: SequenceSink): void;
  /**
   * Queues a request's choices as one group (`GenerationGroup`): `sinks[i]` gets member i's tokens and end,
   * as `submit` would. Admitted to the engine together (the prompt prefilled once); cancelled, parked and
   * preempted as n sequences. Never throws.
   */
  submitGroup(group: GenerationGroup, sinks: readonly SequenceSink[]): void;
  /** Ends a request; its sink gets `onDone('cancelled')`. Unknown ids are ignored. */
  cancel(id: number): void;
  /** Per model: key, functionName, resident, queued, running, parked; and the policy name. A copy. */
  snapshot(): SchedulerSnapshot;
  /**
   * Stops the loop after cutting the running turn; does not close the engine (the caller owns it). Requests
   * still queued (never added to the engine) end at once with `error` (by default `engine_down`, "scheduler
   * is closed"), as does any request submitted afterwards; those on the engine end as it says.
   */
  close(error?: TidepoolError): Promise<void>;
}

export interface GpuSchedulerOptions {
  readonly engine: Engine;
  /** Default `tidepool`. A policy object must not be shared between schedulers. */
  readonly policy?: SchedulerPolicy | PolicyName;
  /** Default `realClock`. */
  readonly clock?: Clock;
  /** Switch, load, evict, park, restore, turn and error events, for metrics and the timeline. */
  readonly onEvent?: (e: SchedulerEvent) => void;
  /** Priors for the cost estimates (bandwidth, switch overhead, step times). */
  readonly costs?: Partial<CostOptions>;
}

export function createGpuScheduler(options: GpuSchedulerOptions): GpuScheduler {
  const policy = typeof options.policy === 'object' ? options.policy : createPolicy(options.policy ?? 'tidepool');
  const onEvent = options.onEvent;
  return createSchedulerLoop({
    engine: options.engine,
    policy,
    clock: options.clock ?? realClock,
    costs: createCostEstimator(options.costs),
    emit: onEvent ? (e) => onEvent(e) : () => undefined,
  });
}
