import type { SchedulerPolicy, SchedulerView, TurnPlan } from '../policy.js';
import { nextPrefillGroup } from '../prefill-admission.js';
import { roundRobinQuotas } from '../quota.js';
import type { ModelState } from '../state.js';
import { queuedIds } from '../urgency.js';

export interface AegaeonUnifiedOptions {
  /** Most same-model requests prefilled together. */
  readonly groupSize: number;
  /** Longest decode turn, ms. */
  readonly capMs: number;
}

export const AEGAEON_UNIFIED_DEFAULTS: AegaeonUnifiedOptions = Object.freeze({ groupSize: 8, capMs: 4000 });

/**
 * `aegaeon-unified`: Aegaeon's token-level policy on one GPU that prefills and decodes, the variant a node can
 * run (the published scheduler, `aegaeon`, disaggregates prefill and decode instances: see
 * aegaeon-decode.ts, aegaeon-prefill.ts and runtime/sim/disaggregated-cluster.ts). It keeps an earlier reading
 * of the algorithm's prose:
 * - prefill: grouped FCFS (nextPrefillGroup), groups of up to 8 same-model requests, one prefill step;
 * - decode: weighted round-robin over per-model batches in a fixed cyclic order, each turn sized by the
 *   quota formula (quota.ts) from its TPOT SLO, the round's estimated switch costs and the 4 s cap. The
 *   switch estimate is bytes / bandwidth + overhead for every batch of the round, resident or not: with two
 *   weight slots, a round of three or more batches reloads each of them once per round (the two resident now
 *   are evicted before their next turn). In a round of two both stay resident and this overstates the round,
 *   which lengthens the two turns (docs/scheduler.md records the interpretation);
 * - prefetch: the next model of the round is paged in behind the running turn (two slots: active + next);
 * - KV: every other model's KV is parked in host memory for the turn and restored at its own turn.
 * Aegaeon runs prefill and decode on separate instances; here one GPU does both, so a prefill group (if
 * any request is queued) is served between decode turns, never two prefill groups in a row while decode
 * work waits; a decode turn also admits up to a group of its own model's queued requests (no extra switch
 * for them). Arrivals do not cut a running turn: the quota bounds the wait.
 */
export function createAegaeonUnifiedPolicy(options: Partial<AegaeonUnifiedOptions> = {}): SchedulerPolicy {
  const o = { ...AEGAEON_UNIFIED_DEFAULTS, ...options };
  let lastWasPrefill = false;
  let cursor = ''; // round-robin position: the key of the last decode batch served

  function planDecode(view: SchedulerView): TurnPlan | undefined {
    const batches = [...view.models.values()]
      .filter((m) => !view.stalled.has(m.ref.weightsDigest) && decoding(m) > 0)
      .sort((a, b) => (a.ref.weightsDigest < b.ref.weightsDigest ? -1 : 1));
    if (batches.length === 0) return undefined;
    const idx = batches.findIndex((m) => m.ref.weightsDigest > cursor);
    const pick = Math.max(idx, 0);
    const model = batches[pick]!;
    const next = batches[(pick + 1) % batches.length]!;
    const quotas = roundRobinQuotas(
      batches.map((m) => ({
        stepMs: view.costs.decodeStepMs(m.ref.weightsDigest, m.ref.bytes),
        tpotMs: tightestTpot(m),
        switchMs: view.costs.loadMs(m.ref.bytes),
      })),
      o.capMs,
    );
    const quotaMs = quotas[pick]!;
    cursor = model.ref.weightsDigest;
    const steps = Math.max(1, Math.floor(quotaMs / view.costs.decodeStepMs(model.ref.weightsDigest, model.ref.bytes)));
    return {
      weightsDigest: model.ref.weightsDigest,
      parkOthers: true,
      admit: queuedIds(model, o.groupSize),
      maxSteps: steps,
      quotaMs,
      ...(next !== model && next.residency === 'absent' ? { prefetch: next.ref.weightsDigest } : {}),
    };
  }

  return {
    name: 'aegaeon-unified',
    maxResident: 2,
    joinRunningTurn: false,
    planTurn(view) {
      const group = nextPrefillGroup(view.models.values(), view.stalled, o.groupSize);
      const decode = lastWasPrefill && group ? planDecode(view) : undefined;
      if (group && !decode) {
        lastWasPrefill = true;
        return { weightsDigest: group.model.ref.weightsDigest, parkOthers: true, admit: group.ids, maxSteps: 1, quotaMs: 0 };
      }
      lastWasPrefill = false;
      return decode ?? planDecode(view);
    },
    shouldPreempt: () => false,
  };
}

/** Requests past prefill (they have produced a token). */
function decoding(m: Readonly<ModelState>): number {
  let n = 0;
  for (const r of m.requests.values()) if (r.tokens > 0 && r.phase !== 'queued') n++;
  return n;
}

function tightestTpot(m: Readonly<ModelState>): number {
  let d = Number.POSITIVE_INFINITY;
  for (const r of m.requests.values()) d = Math.min(d, r.request.slo.tpotMs);
  return d;
}
