import type { CostEstimator } from './cost-estimator.js';
import { queuedPrefillTokens } from './request-groups.js';
import type { ModelState, RequestState } from './state.js';
import { tokenDeadline } from '../../protocol/slo.js';

/**
 * Deadline of the next token a request owes, on the scheduler clock. `ttftTargetMs` plans as if the TTFT SLO
 * were at most that (every later deadline moves with it); attainment is still judged on the request's SLO.
 */
export function nextDeadline(r: Readonly<RequestState>, ttftTargetMs = Number.POSITIVE_INFINITY): number {
  const slo = r.request.slo;
  return tokenDeadline(r.arrivalMs, r.tokens + 1, ttftTargetMs < slo.ttftMs ? { ttftMs: ttftTargetMs, tpotMs: slo.tpotMs } : slo);
}

/**
 * Latest time a model can start running and still deliver its most urgent next token on time: its
 * earliest next-token deadline minus what must happen first (loading its weights when absent, a prefill
 * when it has queued requests, where a group's shared prompt counts once, and one decode step). Infinity for
 * a model without requests.
 */
export function latestStartMs(model: Readonly<ModelState>, costs: CostEstimator, ttftTargetMs?: number): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const r of model.requests.values()) earliest = Math.min(earliest, nextDeadline(r, ttftTargetMs));
  if (!Number.isFinite(earliest)) return earliest;
  const queuedTokens = queuedPrefillTokens(model);
  const bytes = model.ref.bytes;
  const load = model.residency === 'resident' ? 0 : costs.loadMs(bytes);
  const prefill = queuedTokens > 0 ? costs.prefillMs(model.ref.weightsDigest, bytes, queuedTokens) : 0;
  return earliest - load - prefill - costs.decodeStepMs(model.ref.weightsDigest, bytes);
}

/** Latest start for one queued request alone: its first-token deadline less load (if absent), its prefill, a step. */
export function requestLatestStartMs(model: Readonly<ModelState>, r: Readonly<RequestState>, costs: CostEstimator, ttftTargetMs?: number): number {
  const bytes = model.ref.bytes;
  const load = model.residency === 'resident' ? 0 : costs.loadMs(bytes);
  return (
    nextDeadline(r, ttftTargetMs) -
    load -
    costs.prefillMs(model.ref.weightsDigest, bytes, r.request.promptTokens.length) -
    costs.decodeStepMs(model.ref.weightsDigest, bytes)
  );
}

/** Ids of a model's queued requests, oldest first. */
export function queuedIds(model: Readonly<ModelState>, limit = Number.POSITIVE_INFINITY): number[] {
  const ids: number[] = [];
  for (const r of model.requests.values()) {
    if (ids.length >= limit) break;
    if (r.phase === 'queued') ids.push(r.request.id);
  }
  return ids;
}

/** Steps that fit in `quotaMs` at the model's estimated decode step time (at least 1). */
export function stepsFor(model: Readonly<ModelState>, quotaMs: number, costs: CostEstimator): number {
  if (!Number.isFinite(quotaMs)) return Number.MAX_SAFE_INTEGER;
  return Math.max(1, Math.ceil(quotaMs / costs.decodeStepMs(model.ref.weightsDigest, model.ref.bytes)));
}
