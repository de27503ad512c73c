import type { RunningTurn, SchedulerPolicy, SchedulerView, TurnPlan } from '../policy.js';
import type { ModelState, RequestState } from '../state.js';
import { latestStartMs, queuedIds, stepsFor } from '../urgency.js';

export interface TidepoolOptions {
  /** Shortest turn, ms; by default the scheduler's `costs.minTurnMs` (250 ms). */
  readonly minQuotaMs?: number;
  /** A turn that needed a weight load lasts at least this many times the load's estimated cost, so switch
   *  overhead stays under 1 / (1 + factor) of GPU time when models take turns. */
  readonly switchAmortization: number;
  /** Longest turn while others wait, ms. */
  readonly maxQuotaMs: number;
}

export const TIDEPOOL_DEFAULTS: TidepoolOptions = Object.freeze({ maxQuotaMs: 4000, switchAmortization: 3 });

/**
 * Tidepool's policy: least-slack-first at token granularity.
 * - Turn selection: the model whose most urgent next token has the least slack, where slack already
 *   subtracts what that model must pay before it can produce a token (weight load if absent, prefill).
 *   Ties keep the current model, so no switch is made for nothing.
 * - Quota: run until the next most urgent *other* model must start to stay on time (its slack), at least
 *   `minQuotaMs` and at most `maxQuotaMs`; with nobody else waiting, run until idle. Time a request gets
 *   ahead of its deadlines is banked slack that later lets other models run.
 * - Batching: every queued request of the chosen model joins the batch at once; arrivals for the running
 *   model join the running turn (continuous batching). The engine's admission reserves their KV.
 * - Residency: models stay resident (least recently run evicted first), KV stays on the device unless its
 *   model is evicted; the next most urgent absent model is prefetched.
 * - Preemption: an arrival whose slack is shorter than the rest of the running turn cuts it at the next token.
 */
export function createTidepoolPolicy(options: Partial<TidepoolOptions> = {}): SchedulerPolicy {
  const o: TidepoolOptions = { ...TIDEPOOL_DEFAULTS, ...options };
  return {
    name: 'tidepool',
    maxResident: undefined,
    joinRunningTurn: true,
    planTurn: (view) => planLeastSlack(view, o, 'tidepool'),
    shouldPreempt: (view, running, arrival) => arrivalPreempts(view, running, arrival),
  };
}

/** Least-slack turn planning, shared by the policies that keep their models resident. */
export function planLeastSlack(view: SchedulerView, o: TidepoolOptions, _name: string): TurnPlan | undefined {
  const ranked = rankBySlack(view);
  if (ranked.length === 0) return undefined;
  let best = ranked[0]!;
  const cur = ranked.find((c) => c.model.ref.key === view.current);
  if (cur && cur.startBy <= best.startBy) best = cur;
  const others = ranked.filter((c) => c !== best);
  const nextStart = others.length > 0 ? others[0]!.startBy : Number.POSITIVE_INFINITY;
  const switchMs = best.model.residency === 'resident' ? 0 : view.costs.loadMs(best.model.ref.bytes);
  const floorMs = Math.max(o.minQuotaMs ?? view.costs.options.minTurnMs, o.switchAmortization * switchMs);
  const quotaMs = Number.isFinite(nextStart)
    ? Math.min(o.maxQuotaMs, Math.max(floorMs, nextStart - view.nowMs))
    : Number.POSITIVE_INFINITY;
  const prefetch = others.find((c) => c.model.residency === 'absent')?.model.ref.key;
  return {
    modelKey: best.model.ref.key,
    parkOthers: false,
    admit: queuedIds(best.model),
    maxSteps: stepsFor(best.model, quotaMs, view.costs),
    quotaMs,
    ...(prefetch === undefined ? {} : { prefetch }),
  };
}

interface Candidate {
  readonly model: Readonly<ModelState>;
  readonly startBy: number;
}

function rankBySlack(view: SchedulerView): Candidate[] {
  const out: Candidate[] = [];
  for (const m of view.models.values()) {
    if (m.requests.size === 0 || view.stalled.has(m.ref.key)) continue;
    out.push({ model: m, startBy: latestStartMs(m, view.costs) });
  }
  return out.sort((a, b) => a.startBy - b.startBy || a.model.lastRunMs - b.model.lastRunMs);
}

function arrivalPreempts(view: SchedulerView, running: RunningTurn, arrival: Readonly<RequestState>): boolean {
  if (arrival.request.model.key === running.modelKey) return false;
  const model = view.models.get(arrival.request.model.key);
  if (!model) return false;
  const endsAt = running.startedMs + running.quotaMs;
  return latestStartMs(model, view.costs) < endsAt;
}
