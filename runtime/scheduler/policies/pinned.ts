import type { SchedulerPolicy } from '../policy.js';
import { TIDEPOOL_DEFAULTS, planLeastSlack } from './tidepool.js';

/**
 * Per-GPU policy of the placement-driven baselines. Their substance is placement (see the cluster
 * simulator): `dedicated` gives each model its own GPUs, `static-colocation` (MuxServe-style) gives each
 * GPU a fixed set of models whose weights all fit at once. On the GPU every placed model stays resident,
 * arrivals join their model's batch, and turns go least-slack-first between the placed models — a
 * competent time-sharing of a fixed set, with no weight switching at all.
 */
const PINNED_OPTIONS = Object.freeze({ ...TIDEPOOL_DEFAULTS, soloQuotaMs: Number.POSITIVE_INFINITY });

export function createPinnedPolicy(name: 'dedicated' | 'static-colocation'): SchedulerPolicy {
  return {
    name,
    maxResident: undefined,
    joinRunningTurn: true,
    // Unbounded turns while nobody else waits, as before tidepool bounded its own (no switch ever follows).
    planTurn: (view) => planLeastSlack(view, PINNED_OPTIONS, name),
    shouldPreempt: () => false,
  };
}
