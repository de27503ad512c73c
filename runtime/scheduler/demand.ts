/**
 * How often each model is asked for, per GPU: an exponentially decayed count of arrivals. It outlives a
 * model's records (the loop forgets a model with no requests and no weights), so a model that comes back
 * every few seconds is known as hot even between its requests. Residency uses it to keep hot weights on the
 * GPU and evict the cold ones first; policies may use it to tell a hot model from a cold one.
 */
export interface DemandTracker {
  /** Counts an arrival for `key` at `nowMs`. Mutates the tracker. */
  arrive(key: string, nowMs: number): void;
  /** Estimated arrivals per second for `key` at `nowMs` (0 for a model never seen or long gone quiet). */
  ratePerS(key: string, nowMs: number): number;
}

/** Decay time constant: arrivals older than a few minutes hardly count, a burst counts at once. */
export const DEMAND_HALF_LIFE_MS = 60_000;

/** Forget entries whose decayed count fell below this (keeps the map small on a long-running node). */
const FORGET_BELOW = 0.01;

export function createDemandTracker(halfLifeMs = DEMAND_HALF_LIFE_MS): DemandTracker {
  const entries = new Map<string, { count: number; atMs: number }>();
  const decay = (count: number, fromMs: number, toMs: number) => count * 0.5 ** (Math.max(0, toMs - fromMs) / halfLifeMs);
  // The decayed count of a steady stream of r per ms settles at r · halfLife / ln 2.
  const perS = (1000 * Math.LN2) / halfLifeMs;
  let sweepAt = 0;
  return {
    arrive(key, nowMs) {
      const e = entries.get(key);
      if (e) {
        e.count = decay(e.count, e.atMs, nowMs) + 1;
        e.atMs = nowMs;
      } else {
        entries.set(key, { count: 1, atMs: nowMs });
      }
      if (nowMs - sweepAt > 10 * halfLifeMs) {
        sweepAt = nowMs;
        for (const [k, v] of entries) if (decay(v.count, v.atMs, nowMs) < FORGET_BELOW) entries.delete(k);
      }
    },
    ratePerS(key, nowMs) {
      const e = entries.get(key);
      return e ? decay(e.count, e.atMs, nowMs) * perS : 0;
    },
  };
}
