import { AEGAEON_QUOTA_DEFAULTS, aegaeonQuotas } from '../aegaeon-quota.js';
import type { AegaeonQuotaOptions } from '../aegaeon-quota.js';
import type { SchedulerPolicy, SchedulerView, TurnPlan } from '../policy.js';
import type { ModelState } from '../state.js';
import { queuedIds } from '../urgency.js';
import type { WeightsDigest } from '../../../protocol/weights-digest.js';

export interface AegaeonDecodeOptions extends AegaeonQuotaOptions {
  /**
   * d_i: a batch's decode step, ms, estimated before it runs. The artifact fits its `DecodeEstimator` to the
   * same step profiles the simulator is calibrated on, so the simulator passes its own step cost here.
   */
  readonly stepEstimateMs: (weightsDigest: WeightsDigest, batch: number, meanContext: number) => number;
  /** A model's switch estimate, ms (`aegaeonSwitchEstimateMs`: bytes over 15% of the PCIe bandwidth). */
  readonly switchEstimateMs: (weightsDigest: WeightsDigest, weightBytes: number) => number;
  /** Sees every round as it is formed (tests, the timeline). */
  readonly onRound?: (round: DecodeRound) => void;
}

/** One round: its batches in turn order and what the quota formula gave each. */
export interface DecodeRound {
  readonly atMs: number;
  readonly batches: readonly { readonly weightsDigest: WeightsDigest; readonly stepMs: number; readonly quotaMs: number }[];
  readonly c0Ms: number;
  readonly alpha: number;
}

/**
 * A decode instance of the published Aegaeon (SOSP'25 artifact, `aegaeon/decode_scheduler.py`,
 * `DecodeScheduler._run`, `_enter_round`, `_assign_quota`). Its requests arrive prefilled by a prefill instance,
 * their KV in host memory (runtime/sim/disaggregated-cluster.ts hands them over).
 * - Rounds: at the top of each round the batches are formed again, one per model with requests (FCFS within
 *   the model), in a fixed model order (the artifact sorts by model identity; here by model key), and the
 *   round's quotas are computed once (aegaeon-quota.ts) from each batch's estimated step at its current size
 *   and context, and from the switch estimates of the round's models, resident or not.
 * - Turns: the batches of the round run once each, in order; a batch whose requests all finished is skipped.
 *   A turn ends at the first token boundary after its quota has run out, counted from the end of its first
 *   step (so a turn always takes at least one step): the plan's quota is the formula's plus the estimated
 *   first step.
 * - KV: a batch's KV is moved out when another batch of the round takes the GPU (`parkOthers` when the round
 *   has more than one batch; the artifact moves it out at the end of its own turn, the same copies in the
 *   same order) and moved back in at its own turn; a request handed over during the round joins its model's
 *   batch, the running one included (its KV is copied in before the next step).
 * - Weights: the next different model of the round is prefetched behind the turn; two slots (running and
 *   prefetched), as the artifact's memory layout has.
 * Arrivals never cut a turn. Where the artifact splits a model's requests into several batches when their KV
 * does not fit, one batch per model is formed here: what does not fit stays parked until the model's next
 * turn (docs/scheduler.md). Mutates only its round.
 */
export function createAegaeonDecodePolicy(options: Partial<AegaeonQuotaOptions> & Omit<AegaeonDecodeOptions, keyof AegaeonQuotaOptions>): SchedulerPolicy {
  const o: AegaeonDecodeOptions = { ...AEGAEON_QUOTA_DEFAULTS, ...options };
  let round: { readonly plan: DecodeRound; turn: number } | undefined;

  function formRound(view: SchedulerView): typeof round {
    const models = [...view.models.values()]
      .filter((m) => m.requests.size > 0 && !view.stalled.has(m.ref.weightsDigest))
      .sort((a, b) => (a.ref.weightsDigest < b.ref.weightsDigest ? -1 : a.ref.weightsDigest > b.ref.weightsDigest ? 1 : 0));
    if (models.length === 0) return undefined;
    const steps = models.map((m) => o.stepEstimateMs(m.ref.weightsDigest, m.requests.size, meanContext(m)));
    const c0Ms = models.reduce((s, m) => s + o.switchEstimateMs(m.ref.weightsDigest, m.ref.bytes), 0);
    const q = aegaeonQuotas(
      models.map((m, i) => ({ stepMs: steps[i]!, tpotMs: tightestTpot(m) })),
      c0Ms,
      o,
    );
    const plan: DecodeRound = {
      atMs: view.nowMs,
      c0Ms,
      alpha: q.alpha,
      batches: models.map((m, i) => ({ weightsDigest: m.ref.weightsDigest, stepMs: steps[i]!, quotaMs: q.quotasMs[i]! })),
    };
    o.onRound?.(plan);
    return { plan, turn: 0 };
  }

  function turnOf(view: SchedulerView, r: NonNullable<typeof round>, index: number, model: Readonly<ModelState>): TurnPlan {
    const batch = r.plan.batches[index]!;
    // Named even when resident now: this turn's own load may push it out (the loop skips a resident one).
    const next = r.plan.batches
      .slice(index + 1)
      .find((b) => b.weightsDigest !== batch.weightsDigest && (view.models.get(b.weightsDigest)?.requests.size ?? 0) > 0);
    const prefetch = next?.weightsDigest;
    return {
      weightsDigest: batch.weightsDigest,
      parkOthers: r.plan.batches.length > 1,
      admit: queuedIds(model),
      maxSteps: Number.MAX_SAFE_INTEGER,
      quotaMs: batch.stepMs + batch.quotaMs,
      ...(prefetch === undefined ? {} : { prefetch }),
    };
  }

  return {
    name: 'aegaeon-decode',
    maxResident: 2,
    joinRunningTurn: true,
    planTurn(view) {
      for (let formed = 0; formed < 2; formed++) {
        if (!round || round.turn >= round.plan.batches.length) {
          round = formRound(view);
          if (!round) return undefined;
        }
        while (round.turn < round.plan.batches.length) {
          const index = round.turn++;
          const key = round.plan.batches[index]!.weightsDigest;
          const model = view.models.get(key);
          if (model && model.requests.size > 0 && !view.stalled.has(key)) return turnOf(view, round, index, model);
        }
      }
      return undefined;
    },
    shouldPreempt: () => false,
  };
}

/** Mean context of a model's requests: prompt (as handed over, the first token included) plus tokens decoded here. */
function meanContext(m: Readonly<ModelState>): number {
  let sum = 0;
  for (const r of m.requests.values()) sum += r.request.promptTokens.length + r.tokens;
  return sum / Math.max(1, m.requests.size);
}

function tightestTpot(m: Readonly<ModelState>): number {
  let d = Number.POSITIVE_INFINITY;
  for (const r of m.requests.values()) d = Math.min(d, r.request.slo.tpotMs);
  return d;
}
