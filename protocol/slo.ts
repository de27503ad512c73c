/**
 * Token-deadline SLO attainment, the one convention used everywhere in Tidepool (scheduler, simulator,
 * benchmark, invocation records). It follows docs/BENCHMARKS.md word for word:
 *
 *   the k-th output token (k = 1, 2, ...) of a request is due at  arrival + ttftMs + k · tpotMs
 *
 * A request's attainment is the share of its expected tokens delivered by their deadlines. Tokens that
 * never arrive (the request failed, was cut off, or the run ended) count as missed.
 */
export interface Slo {
  readonly ttftMs: number;
  readonly tpotMs: number;
}

/** Deadline of output token `k` (1-based), in the same time base as `arrivalMs`. */
export function tokenDeadline(arrivalMs: number, k: number, slo: Slo): number {
  return arrivalMs + slo.ttftMs + k * slo.tpotMs;
}

/**
 * Share in [0, 1] of `expectedTokens` tokens delivered on time. `tokenTimesMs[i]` is when token i+1 was
 * delivered. Extra tokens beyond `expectedTokens` are ignored; a request expecting no tokens scores 1.
 */
export function requestAttainment(arrivalMs: number, tokenTimesMs: readonly number[], expectedTokens: number, slo: Slo): number {
  if (expectedTokens <= 0) return 1;
  const n = Math.min(tokenTimesMs.length, expectedTokens);
  let met = 0;
  for (let i = 0; i < n; i++) if (tokenTimesMs[i]! <= tokenDeadline(arrivalMs, i + 1, slo)) met++;
  return met / expectedTokens;
}

/**
 * Time left before the next token of a request is late: negative when it is already late. `delivered`
 * tokens have been produced so far.
 */
export function slackMs(arrivalMs: number, delivered: number, slo: Slo, nowMs: number): number {
  return tokenDeadline(arrivalMs, delivered + 1, slo) - nowMs;
}
