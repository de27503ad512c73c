import type { SchedulerPolicy } from '../policy.js';
import { TIDEPOOL_DEFAULTS, planLeastSlack } from './tidepool.js';

/**
 * Per-GPU policy of the placement-driven baselines. Their substance is placement (see the cluster
 * simulator): `dedicated` gives each model its own GPUs, `static-colocation` (MuxServe-style) gives each
 * GPU a fixed set of models whose weights all fit at once. On the GPU every placed model stays resident,
 * arrivals join their model's batch, and turns go least-slack-first between the placed models — a
 * competent time-sharing of a fixed set, with no weight switching at all.
 */
export const PINNED_OPTIONS = Object.freeze({ ...TIDEPOOL_DEFAULTS, soloQuotaMs: Number.POSITIVE_INFINITY });

export function createPinnedPolicy(name: 'dedicated' | 'static-colocation'): SchedulerPolicy {
  return {
    name,
    maxResident: undefined,
    joinRunningTurn: true,
    // Unbounded turns while nobody else waits, as before tidepool bounded its own (no switch ever follows).
    planTurn: (view) => planLeastSlack(view, PINNED_OPTIONS, name),
    // An unbounded turn never reaches a boundary while its model keeps getting requests, so an arrival for
    // another placed model cuts it at the next token and the least-slack choice is made again (its weights
    // are resident: no switch cost). Without this a steady stream for one model starved the others for as
    // long as the stream lasted, which is not least-slack-first time-sharing. A bounded turn (others were
    // waiting when it was planned) ends by itself within `maxQuotaMs` and is not cut.
    shouldPreempt: (_view, running, arrival) => !Number.isFinite(running.quotaMs) && arrival.request.model.weightsDigest !== running.weightsDigest,
  };
}
