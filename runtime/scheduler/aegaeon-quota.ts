/**
 * Decode quotas of Aegaeon's published decode scheduler, as its SOSP'25 artifact computes them
 * (`aegaeon/decode_scheduler.py`, `DecodeScheduler._assign_quota`; the switch estimate is
 * `aegaeon/utils.py`, `estimate_switch_time`). Restated, for a round of batches i with estimated decode step
 * d_i and TPOT SLO T:
 *
 *   n_i   = T / d_i                                   steps batch i may take per TPOT
 *   c0    = Σ over the round's distinct models of the switch estimate (resident or not)
 *   alpha = max(c0 / (min_i n_i · QMAX) + Σ_i 1/n_i, alphaFloor)
 *   q_i   = c0 · (1/n_i) / (alpha − Σ_k 1/n_k)
 *
 * (The artifact writes q_i = c0·(Πn/n_i) / (Πn·alpha − Σ_k Πn/n_k), the same value multiplied through by Πn.)
 * The QMAX term keeps the longest quota (the batch with the smallest n) at QMAX; the floor keeps a round's
 * batches producing tokens at least twice as fast as their TPOT needs (alpha 0.5) when switches are cheap
 * beside the quotas. docs/scheduler.md works rounds through by hand. Pure.
 */
export interface AegaeonQuotaOptions {
  /** QMAX, ms: the artifact's `max_batch_quota` (4.0 s). */
  readonly qmaxMs: number;
  /** The artifact's lower bound on alpha (0.5). */
  readonly alphaFloor: number;
}

export const AEGAEON_QUOTA_DEFAULTS: AegaeonQuotaOptions = Object.freeze({ qmaxMs: 4000, alphaFloor: 0.5 });

export interface QuotaBatch {
  /** d_i: the batch's estimated decode step, ms. */
  readonly stepMs: number;
  /** T: the TPOT SLO the batch is held to, ms. */
  readonly tpotMs: number;
}

export interface AegaeonQuotas {
  /** n_i per batch. */
  readonly n: readonly number[];
  readonly alpha: number;
  /** q_i per batch, ms. */
  readonly quotasMs: readonly number[];
}

/** Quotas for one round; `c0Ms` is the sum of the round's switch estimates (> 0: every model has weights). */
export function aegaeonQuotas(batches: readonly QuotaBatch[], c0Ms: number, options: AegaeonQuotaOptions = AEGAEON_QUOTA_DEFAULTS): AegaeonQuotas {
  if (batches.length === 0) return { n: [], alpha: options.alphaFloor, quotasMs: [] };
  if (!(c0Ms > 0)) throw new RangeError(`the round's switch estimate must be positive, got ${c0Ms}`);
  const n = batches.map((b) => b.tpotMs / b.stepMs);
  const load = n.reduce((s, v) => s + 1 / v, 0);
  const alpha = Math.max(c0Ms / (Math.min(...n) * options.qmaxMs) + load, options.alphaFloor);
  return { n, alpha, quotasMs: n.map((v) => (c0Ms * (1 / v)) / (alpha - load)) };
}

/**
 * The artifact's switch estimate: weight bytes over 15% of the device's PCIe bandwidth, deliberately
 * pessimistic (`estimate_switch_time`, `PCIE_INEFFICIENCY = 0.15`).
 */
export const AEGAEON_PCIE_EFFICIENCY = 0.15;

export function aegaeonSwitchEstimateMs(weightBytes: number, pcieBytesPerMs: number, efficiency = AEGAEON_PCIE_EFFICIENCY): number {
  return weightBytes / (pcieBytesPerMs * efficiency);
}
