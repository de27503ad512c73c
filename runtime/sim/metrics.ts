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

  constructor(
    readonly arrivalMs: number,
    readonly expected: number,
    readonly slo: Slo,
  ) {}

  token(atMs: number): void {
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
}

export function summarize(tallies: readonly RequestTally[]): LatencySummary {
  const ttft = tallies.map((t) => (t.firstMs === undefined ? Number.POSITIVE_INFINITY : t.firstMs - t.arrivalMs));
  const tpot = tallies.filter((t) => t.tokens >= 2).map((t) => (t.lastMs! - t.firstMs!) / (t.tokens - 1));
  return {
    attainment: tallies.length === 0 ? 1 : tallies.reduce((s, t) => s + t.attainment(), 0) / tallies.length,
    requests: tallies.length,
    finished: tallies.filter((t) => t.done).length,
    onTime: tallies.filter((t) => t.onTime()).length,
    ttftP50: percentile(ttft, 0.5),
    ttftP99: percentile(ttft, 0.99),
    tpotP50: percentile(tpot, 0.5),
    tpotP99: percentile(tpot, 0.99),
  };
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
