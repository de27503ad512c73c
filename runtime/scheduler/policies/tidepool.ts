import type { RunningTurn, SchedulerPolicy, SchedulerView, TurnPlan } from '../policy.js';
import type { ModelState, RequestState } from '../state.js';
import { latestStartMs, queuedIds, requestLatestStartMs, stepsFor } from '../urgency.js';

export interface TidepoolOptions {
  /** Shortest turn, ms; by default the scheduler's `costs.minTurnMs` (250 ms). */
  readonly minQuotaMs?: number;
  /** A turn that needed a weight load lasts at least this many times the load's estimated cost, so switch
   *  overhead stays under 1 / (1 + factor) of GPU time when models take turns. */
  readonly switchAmortization: number;
  /** Longest turn while others wait, ms. */
  readonly maxQuotaMs: number;
  /**
   * Longest turn while nobody else waits, ms. Finite, so that an arrival for another model is weighed at the
   * next turn boundary instead of cutting an unbounded turn at once (which broke batches up and made a
   * request with 10 s of slack force a switch). Infinity runs until idle.
   */
  readonly soloQuotaMs: number;
  /**
   * The TTFT the policy plans for, ms, when tighter than a request's SLO: a request's deadlines are planned as
   * if its TTFT SLO were this (attainment is still judged on the SLO). Unset, a cold model's requests may wait
   * out the whole TTFT slack so they reach its turn as one batch, which is the densest packing; a target trades
   * some of that density for a shorter wait for the first token (docs/scheduler.md measures both).
   */
  readonly ttftTargetMs?: number;
}

export const TIDEPOOL_DEFAULTS: TidepoolOptions = Object.freeze({ maxQuotaMs: 4000, soloQuotaMs: 4000, switchAmortization: 3 });

/**
 * Tidepool's policy: least-slack-first at token granularity.
 * - Turn selection: the model whose most urgent next token has the least slack, where slack already
 *   subtracts what that model must pay before it can produce a token (weight load if absent, prefill).
 *   Ties keep the current model, so no switch is made for nothing.
 * - Quota: run until the next most urgent *other* model must start to stay on time (its slack), at least
 *   `minQuotaMs` (and `switchAmortization` × the load when the turn needed one) and at most `maxQuotaMs`;
 *   with nobody else waiting, `soloQuotaMs` (the same model goes on at the boundary if it is still the most
 *   urgent). Time a request gets ahead of its deadlines is banked slack that later lets other models run.
 * - Batching: every queued request of the chosen model joins the batch at once; arrivals for the running
 *   model join the running turn (continuous batching). The engine's admission reserves their KV.
 * - Residency: models stay resident until memory is needed; then the least asked-for model goes first
 *   (arrival rate, `demand.ts`), so a cold model's load pushes out the previous cold model — in effect a
 *   swap slot — and not a hot one. KV stays on the device unless its model is evicted.
 * - Prefetch: the next most urgent absent model is paged in behind the turn, into room that idle models
 *   give up, else that models with work give up which run only after it (the one needed last goes first:
 *   Belady's rule, with the slack ranking as the order of future use). When room had to come from idle
 *   models alone, most prefetches found none once every resident model had work, and each switch then
 *   stalled the GPU for a whole load (docs/scheduler.md, Policies, has the measurement).
 * - Loading behind: when the most urgent model's weights are absent or still loading and a resident model
 *   has work, the most urgent resident one runs while the weights load, and its turn ends when they are in
 *   (`fillWhileLoading`). Loading first and computing after left the GPU idle for every load; this way
 *   the urgent model still starts within its slack (the load takes as long either way) and the GPU did
 *   useful work meanwhile. A model whose prefetch found no room (`prefetchBlocked`) is not waited for this
 *   way: its own turn loads it, pushing out whoever it must, so it cannot wait behind fillers for ever.
 * - Preemption: an arrival cuts the running turn at the next token only when *its own* first token cannot
 *   wait for the turn to end (a tight TTFT). An arrival for a model that was already behind does not: the
 *   planner chose the running turn knowing that model's deadlines, and re-deciding at every such arrival
 *   under load cut turns short and thrashed the weights (docs/scheduler.md gives what each rule was worth).
 */
export function createTidepoolPolicy(options: Partial<TidepoolOptions> = {}): SchedulerPolicy {
  const o: TidepoolOptions = { ...TIDEPOOL_DEFAULTS, ...options };
  return {
    name: 'tidepool',
    maxResident: undefined,
    joinRunningTurn: true,
    planTurn: (view) => planTidepool(view, o),
    shouldPreempt: (view, running, arrival) => arrivalPreempts(view, running, arrival, o.ttftTargetMs),
  };
}

/** Least-slack turn planning, shared by the policies that keep their models resident. */
export function planLeastSlack(view: SchedulerView, o: TidepoolOptions, _name: string): TurnPlan | undefined {
  const ranked = rankBySlack(view, o.ttftTargetMs);
  if (ranked.length === 0) return undefined;
  return leastSlackTurn(view, o, ranked, pickBest(view, ranked), false);
}

function planTidepool(view: SchedulerView, o: TidepoolOptions): TurnPlan | undefined {
  const ranked = rankBySlack(view, o.ttftTargetMs);
  if (ranked.length === 0) return undefined;
  const best = pickBest(view, ranked);
  if (best.model.residency !== 'resident' && !best.model.prefetchBlocked) {
    const filler = ranked.find((c) => c.model.residency === 'resident');
    if (filler) return fillWhileLoading(view, ranked, best, filler);
  }
  return leastSlackTurn(view, o, ranked, best, true);
}

/** The most urgent model; ties keep the current model, so no switch is made for nothing. */
function pickBest(view: SchedulerView, ranked: readonly Candidate[]): Candidate {
  const cur = ranked.find((c) => c.model.ref.weightsDigest === view.current);
  return cur && cur.startBy <= ranked[0]!.startBy ? cur : ranked[0]!;
}

function leastSlackTurn(view: SchedulerView, o: TidepoolOptions, ranked: readonly Candidate[], best: Candidate, evictLater: boolean): TurnPlan {
  const others = ranked.filter((c) => c !== best);
  const nextStart = others.length > 0 ? others[0]!.startBy : Number.POSITIVE_INFINITY;
  const switchMs = best.model.residency === 'resident' ? 0 : view.costs.loadMs(best.model.ref.bytes);
  const floorMs = Math.max(o.minQuotaMs ?? view.costs.options.minTurnMs, o.switchAmortization * switchMs);
  const quotaMs = Number.isFinite(nextStart) ? Math.min(o.maxQuotaMs, Math.max(floorMs, nextStart - view.nowMs)) : o.soloQuotaMs;
  const target = others.find((c) => c.model.residency === 'absent');
  return {
    weightsDigest: best.model.ref.weightsDigest,
    parkOthers: false,
    admit: queuedIds(best.model),
    maxSteps: stepsFor(best.model, quotaMs, view.costs),
    quotaMs,
    ...(target === undefined ? {} : { prefetch: target.model.ref.weightsDigest }),
    ...(target !== undefined && evictLater ? { prefetchEvictable: neededAfter(ranked, target, best) } : {}),
  };
}

/**
 * A turn for `filler` (resident, with work) while `best`'s weights load behind it. It ends once they are in,
 * but not before the shortest turn (`minTurnMs`, the turn granularity the engine is run at) while `best` has
 * the slack for that (worth under a point in the simulator, where a turn costs nothing extra: docs/scheduler.md).
 * It ends at once if the prefetch finds no room. Its quota,
 * the longer of the load's estimate and that minimum, bounds it if the copy runs late.
 */
function fillWhileLoading(view: SchedulerView, ranked: readonly Candidate[], best: Candidate, filler: Candidate): TurnPlan {
  const loadMs = view.costs.loadMs(best.model.ref.bytes);
  const minMs = Math.max(0, Math.min(view.costs.options.minTurnMs, best.startBy + loadMs - view.nowMs));
  const quotaMs = Math.max(loadMs, minMs);
  return {
    weightsDigest: filler.model.ref.weightsDigest,
    parkOthers: false,
    admit: queuedIds(filler.model),
    maxSteps: stepsFor(filler.model, quotaMs, view.costs),
    quotaMs,
    prefetch: best.model.ref.weightsDigest,
    prefetchEvictable: neededAfter(ranked, best, filler),
    whileLoading: { minMs },
  };
}

/**
 * Resident models ranked after `target`, other than `running`, the one needed last first: what a prefetch of
 * `target` may push out, since none of them runs before it.
 */
function neededAfter(ranked: readonly Candidate[], target: Candidate, running: Candidate): string[] {
  const after = ranked.slice(ranked.indexOf(target) + 1);
  return after
    .filter((c) => c !== running && c.model.residency === 'resident')
    .map((c) => c.model.ref.weightsDigest)
    .reverse();
}

interface Candidate {
  readonly model: Readonly<ModelState>;
  readonly startBy: number;
}

function rankBySlack(view: SchedulerView, ttftTargetMs: number | undefined): Candidate[] {
  const out: Candidate[] = [];
  for (const m of view.models.values()) {
    if (m.requests.size === 0 || view.stalled.has(m.ref.weightsDigest)) continue;
    out.push({ model: m, startBy: latestStartMs(m, view.costs, ttftTargetMs) });
  }
  return out.sort((a, b) => a.startBy - b.startBy || a.model.lastRunMs - b.model.lastRunMs);
}

function arrivalPreempts(view: SchedulerView, running: RunningTurn, arrival: Readonly<RequestState>, ttftTargetMs: number | undefined): boolean {
  if (arrival.request.model.weightsDigest === running.weightsDigest) return false;
  const model = view.models.get(arrival.request.model.weightsDigest);
  if (!model) return false;
  const endsAt = running.startedMs + running.quotaMs;
  return requestLatestStartMs(model, arrival, view.costs, ttftTargetMs) < endsAt;
}
