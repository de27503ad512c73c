import type { Slo } from '../../protocol/slo.js';
import { tokenDeadline } from '../../protocol/slo.js';

/**
 * Per-request accounting on the fly (no per-token arrays: an hour of traffic is tens of millions of
 * tokens). Uses `tokenDeadline`, the one SLO convention (protocol/slo.ts).
 */
export class RequestTally {
  tokens = 0;
  met = 0;
  firstMs: number | undefined;
  lastMs: number | undefined;
  done = false;
  /** The artifact's per-request QoS, kept on the fly (`ArtifactQos`). */
  private readonly qos: ArtifactQos;

  constructor(
    readonly arrivalMs: number,
    readonly expected: number,
    readonly slo: Slo,
  ) {
    this.qos = new ArtifactQos(slo);
  }

  token(atMs: number): void {
    this.qos.token(atMs - this.arrivalMs);
    this.tokens++;
    if (this.firstMs === undefined) this.firstMs = atMs;
    this.lastMs = atMs;
    if (this.tokens <= this.expected && atMs <= tokenDeadline(this.arrivalMs, this.tokens, this.slo)) this.met++;
  }

  /** Same value as `requestAttainment` over this request's token times. */
  attainment(): number {
    return this.expected <= 0 ? 1 : this.met / this.expected;
  }

  /** The request met its SLO: every expected token was delivered by its deadline. */
  onTime(): boolean {
    return this.met >= this.expected;
  }

  /** The artifact's QoS of a request that delivered every expected token; undefined otherwise. */
  artifactQos(): number | undefined {
    return this.tokens >= this.expected ? this.qos.value() : undefined;
  }
}

/**
 * The SLO attainment the Aegaeon artifact reports (`aegaeon/plots/plot_e2e.py`, `compute_slo`; the same rule
 * as `aegaeon/utils.py`, `compute_request_metrics`), restated: the share of a request's service time (arrival
 * to last token) spent within its SLO. Tokens are checked against a deadline that starts at the TTFT and
 * grows by one TPOT per token; a late token ends the covered stretch, and the next stretch is measured from
 * that late token, against the deadline as it has grown. So a stall costs its own duration, not every token
 * after it, as BENCHMARKS.md's token deadlines from arrival do. Only the paper check reports it.
 */
export class ArtifactQos {
  private covered = 0;
  private start = 0;
  private accum = 0;
  private target: number;
  private last = 0;

  constructor(private readonly slo: Slo) {
    this.target = slo.ttftMs;
  }

  /** A token `sinceArrivalMs` after the request arrived. */
  token(sinceArrivalMs: number): void {
    if (sinceArrivalMs - this.start <= this.target) {
      this.accum = this.target;
    } else {
      this.covered += this.accum;
      this.start = sinceArrivalMs;
      this.accum = 0;
    }
    this.target += this.slo.tpotMs;
    this.last = sinceArrivalMs;
  }

  /** In [0, 1]; 1 for a request with no service time. */
  value(): number {
    if (this.last <= 0) return 1;
    return Math.min(1, (this.covered + Math.min(this.target, this.last - this.start)) / this.last);
  }
}

export interface LatencySummary {
  /** Mean per-request token-deadline attainment, 0..1. */
  readonly attainment: number;
  readonly requests: number;
  readonly finished: number;
  /** Requests that met the SLO: every expected token by its deadline (attainment 1). */
  readonly onTime: number;
  /** ms; Infinity when over 1% of requests never got a first token. */
  readonly ttftP50: number;
  readonly ttftP99: number;
  /** Mean inter-token time per request (requests with ≥ 2 tokens), ms. */
  readonly tpotP50: number;
  readonly tpotP99: number;
  /**
   * The artifact's SLO attainment (`ArtifactQos`): mean QoS over the requests that delivered every token (the
   * artifact's replay leaves the others out of its mean), and the share of requests that did. Paper check only.
   */
  readonly artifactQos: number;
  readonly completedShare: number;
}

export function summarize(tallies: readonly RequestTally[]): LatencySummary {
  const ttft = tallies.map((t) => (t.firstMs === undefined ? Number.POSITIVE_INFINITY : t.firstMs - t.arrivalMs));
  const tpot = tallies.filter((t) => t.tokens >= 2).map((t) => (t.lastMs! - t.firstMs!) / (t.tokens - 1));
  const qos = tallies.map((t) => t.artifactQos()).filter((q): q is number => q !== undefined);
  return {
    attainment: tallies.length === 0 ? 1 : tallies.reduce((s, t) => s + t.attainment(), 0) / tallies.length,
    requests: tallies.length,
    finished: tallies.filter((t) => t.done).length,
    onTime: tallies.filter((t) => t.onTime()).length,
    ttftP50: percentile(ttft, 0.5),
    ttftP99: percentile(ttft, 0.99),
    tpotP50: percentile(tpot, 0.5),
    tpotP99: percentile(tpot, 0.99),
    artifactQos: qos.length === 0 ? Number.NaN : qos.reduce((a, b) => a + b, 0) / qos.length,
    completedShare: tallies.length === 0 ? 1 : qos.length / tallies.length,
  };
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
