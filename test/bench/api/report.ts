// The api bench's rows, their spread over repeats, and the BENCHMARKS.md §4 bars judged on them.

/** `bare express`: the anchor (physical bound); `tidepool`: over the real CPU engine; `tidepool (instant node)`. */
export type Target = 'bare express' | 'tidepool' | 'tidepool (instant node)';

export const BARS = {
  /** p99 added latency at concurrency 64, ms. */
  addedP99Ms: 5,
  /** Requests/s as a share of the bare handler's at concurrency 64. */
  throughputShare: 0.5,
  concurrency: 64,
} as const;

/** One cell: one target, mode and concurrency, one repeat. */
export interface Row {
  readonly target: Target;
  readonly stream: boolean;
  readonly concurrency: number;
  readonly repeat: number;
  readonly requests: number;
  readonly errors: number;
  readonly requestsPerSec: number;
  readonly tokensPerSec: number | null;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Time spent in the engine (null: no engine; 0: the instant node, which takes none). */
  readonly engineP50Ms: number | null;
  readonly engineP99Ms: number | null;
  /** Latency the control plane adds: total minus engine time (null for the bare handler). */
  readonly addedP50Ms: number | null;
  readonly addedP99Ms: number | null;
}

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export interface Summary {
  readonly target: Target;
  readonly stream: boolean;
  readonly concurrency: number;
  readonly repeats: number;
  /** Failed requests (connection errors, timeouts, non-2xx) over all repeats. */
  readonly errors: number;
  readonly requestsPerSec: Spread;
  readonly addedP50Ms: Spread | null;
  readonly addedP99Ms: Spread | null;
  readonly latencyP99Ms: Spread;
  /** Requests/s over the bare handler's in the same repeat (the anchor beside the figure). */
  readonly shareOfBare: Spread | null;
  readonly bareRequestsPerSec: number;
  readonly bareLatencyP99Ms: number;
}

export interface Verdict {
  readonly bar: string;
  readonly target: Target;
  readonly stream: boolean;
  /** The median over repeats. */
  readonly value: number;
  readonly met: boolean;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

export function summarize(rows: readonly Row[]): Summary[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.target}|${row.stream}|${row.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const { target, stream, concurrency } = group[0]!;
    const bare = rows.filter((r) => r.target === 'bare express' && r.concurrency === concurrency);
    const bareOf = (repeat: number) => bare.find((b) => b.repeat === repeat);
    const shares = group.flatMap((r) => {
      const b = bareOf(r.repeat);
      return b && target !== 'bare express' ? [r.requestsPerSec / b.requestsPerSec] : [];
    });
    const added = (pick: (r: Row) => number | null) => {
      const values = group.map(pick).filter((v): v is number => v !== null);
      return values.length > 0 ? spread(values) : null;
    };
    return {
      target,
      stream,
      concurrency,
      repeats: group.length,
      errors: group.reduce((sum, r) => sum + r.errors, 0),
      requestsPerSec: spread(group.map((r) => r.requestsPerSec)),
      addedP50Ms: added((r) => r.addedP50Ms),
      addedP99Ms: added((r) => r.addedP99Ms),
      latencyP99Ms: spread(group.map((r) => r.latencyP99Ms)),
      shareOfBare: shares.length > 0 ? spread(shares) : null,
      bareRequestsPerSec: spread(bare.map((b) => b.requestsPerSec)).median,
      bareLatencyP99Ms: spread(bare.map((b) => b.latencyP99Ms)).median,
    };
  });
}

/**
 * The two bars at concurrency 64. Added latency is judged on every Tidepool row. Throughput is judged on the
 * instant-node rows only: over the CPU engine, the engine bounds requests/s on this machine, not the
 * control plane (those rows still show their share of the bare handler).
 */
export function judge(summaries: readonly Summary[]): Verdict[] {
  const at = summaries.filter((s) => s.concurrency === BARS.concurrency && s.target !== 'bare express');
  const latency = at.map((s) => ({
    bar: `p99 added latency <= ${BARS.addedP99Ms} ms at c=${BARS.concurrency}`,
    target: s.target,
    stream: s.stream,
    value: s.addedP99Ms!.median,
    met: s.addedP99Ms!.median <= BARS.addedP99Ms,
  }));
  const throughput = at
    .filter((s) => s.target === 'tidepool (instant node)')
    .map((s) => ({
      bar: `requests/s >= ${BARS.throughputShare * 100}% of bare express at c=${BARS.concurrency}`,
      target: s.target,
      stream: s.stream,
      value: s.shareOfBare!.median,
      met: s.shareOfBare!.median >= BARS.throughputShare,
    }));
  return [...latency, ...throughput];
}

const fixed = (v: number, digits: number) => v.toFixed(digits);
const range = (s: Spread | null, digits: number, scale = 1) =>
  s === null
    ? '-'
    : s.min === s.max
      ? fixed(s.median * scale, digits)
      : `${fixed(s.median * scale, digits)} [${fixed(s.min * scale, digits)}-${fixed(s.max * scale, digits)}]`;

/** The printed table: median [min-max] over repeats, with the anchor and the bar beside each figure. */
export function tableRows(summaries: readonly Summary[], maxTokens: number): Record<string, string | number>[] {
  return summaries.map((s) => ({
    target: s.target,
    stream: String(s.stream),
    c: s.concurrency,
    n: s.repeats,
    errors: s.errors,
    'req/s': range(s.requestsPerSec, 0),
    'tok/s': s.target === 'bare express' ? '-' : fixed(s.requestsPerSec.median * maxTokens, 0),
    'bare req/s': fixed(s.bareRequestsPerSec, 0),
    '% of bare': range(s.shareOfBare, 0, 100),
    'added p50 ms': range(s.addedP50Ms, 2),
    'added p99 ms': range(s.addedP99Ms, 2),
    'bare p99 ms': fixed(s.bareLatencyP99Ms, 2),
  }));
}

export function verdictLines(verdicts: readonly Verdict[]): string[] {
  return verdicts.map((v) => {
    const value = v.bar.startsWith('requests/s') ? `${fixed(v.value * 100, 0)}% of bare` : `${fixed(v.value, 2)} ms`;
    return `${v.met ? 'met   ' : 'missed'}  ${v.bar}: ${v.target}, ${v.stream ? 'streaming' : 'non-streaming'}: ${value}`;
  });
}
