/**
 * Decode quotas for weighted round-robin (the `aegaeon` policy). Derivation, following the description of
 * Aegaeon's decode scheduler (SOSP'25) in ARCHITECTURE.md — "each batch's turn has a time quota derived
 * from its TPOT SLO, the estimated switch costs in the round, and a 4 s cap":
 *
 * A round visits n batches. Batch i has step time t_i and TPOT SLO d_i, and runs for q_i ms, producing
 * q_i / t_i tokens. Those tokens buy it (q_i / t_i)·d_i ms of deadline, which must cover the whole round
 * R = Σ_j q_j + C, where C = Σ_j c_j is the estimated switch cost of the round. The smallest quotas that
 * keep every batch on pace make the constraint tight for all i: q_i = R·t_i/d_i. Summing,
 *
 *   R = C / (1 − Σ_j t_j/d_j),   q_i = C · (t_i/d_i) / (1 − Σ_j t_j/d_j),   each capped at `capMs` (4000).
 *
 * When Σ_j t_j/d_j ≥ 1 no quota keeps pace (the GPU is over-committed) and every batch gets the cap.
 * A round of one batch has no switches (C = 0): it runs for the cap.
 */
export interface QuotaInput {
  /** Estimated decode step time, ms. */
  readonly stepMs: number;
  /** The batch's TPOT SLO (the tightest of its requests), ms. */
  readonly tpotMs: number;
  /** Estimated cost of switching to this batch, ms: the aegaeon policy passes its weights' load estimate
   *  (bytes / bandwidth + overhead); moving its KV back is not counted. */
  readonly switchMs: number;
}

export function roundRobinQuotas(batches: readonly QuotaInput[], capMs = 4000): number[] {
  if (batches.length <= 1) return batches.map(() => capMs);
  const load = batches.reduce((s, b) => s + b.stepMs / b.tpotMs, 0);
  const switchCost = batches.reduce((s, b) => s + b.switchMs, 0);
  if (load >= 1) return batches.map(() => capMs);
  return batches.map((b) => Math.min(capMs, (switchCost * (b.stepMs / b.tpotMs)) / (1 - load)));
}
