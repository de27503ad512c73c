import type { SimFunction } from './workloads.js';

/**
 * Which GPU gets a request.
 * - Pooled policies: every function has a home GPU, assigned once by balancing expected load (`homeCost`:
 *   weight bytes × a rate that saturates, heaviest first, to the least loaded GPU), so each GPU sees a stable
 *   subset of functions and their weights stay warm. A function with requests in flight keeps going where they are (its weights are hot
 *   there). When that GPU owes far more tokens than average, the request spills to the least loaded GPU.
 * - Placed policies: the least loaded of the function's GPUs.
 * Mutated by `pick`, `progress` and `finished`.
 */
export interface Router {
  /** The GPU for a request of `key` owing `tokens` output tokens; undefined when the function has no GPU. */
  pick(key: string, tokens: number): number | undefined;
  /** `tokens` were delivered on `gpu`. */
  progress(gpu: number, tokens: number): void;
  /** A request of `key` on `gpu` ended with `undelivered` tokens never produced. */
  finished(gpu: number, key: string, undelivered: number): void;
}

/** Spill when the home owes more than this many times the mean, plus a constant of tokens. */
export const SPILL_FACTOR = 2;
export const SPILL_SLACK_TOKENS = 4000;

export function createRouter(
  gpus: number,
  functions: readonly SimFunction[],
  gpusOf: ((key: string) => readonly number[]) | undefined,
): Router {
  const owed = Array<number>(gpus).fill(0);
  const live = new Map<string, { gpu: number; count: number }>();
  const homes = assignHomes(gpus, functions);
  const all = Array.from({ length: gpus }, (_, i) => i);
  let totalOwed = 0;
  const leastLoaded = (choices: readonly number[]): number | undefined => {
    let best: number | undefined;
    for (const g of choices) if (best === undefined || owed[g]! < owed[best]!) best = g;
    return best;
  };
  const overloaded = (g: number) => owed[g]! > SPILL_FACTOR * (totalOwed / gpus) + SPILL_SLACK_TOKENS;
  const pooledPick = (key: string): number => {
    const l = live.get(key);
    const preferred = l && l.count > 0 ? l.gpu : (homes.get(key) ?? 0);
    return overloaded(preferred) ? leastLoaded(all)! : preferred;
  };
  return {
    pick(key, tokens) {
      const gpu = gpusOf ? leastLoaded(gpusOf(key)) : pooledPick(key);
      if (gpu === undefined) return undefined;
      const l = live.get(key);
      if (l && l.gpu === gpu) l.count++;
      else if (!l || l.count === 0) live.set(key, { gpu, count: 1 });
      owed[gpu]! += tokens;
      totalOwed += tokens;
      return gpu;
    },
    progress(gpu, tokens) {
      owed[gpu]! -= tokens;
      totalOwed -= tokens;
    },
    finished(gpu, key, undelivered) {
      const rest = Math.max(0, undelivered);
      owed[gpu]! -= rest;
      totalOwed -= rest;
      const l = live.get(key);
      if (l && l.gpu === gpu) l.count--;
    },
  };
}

function assignHomes(gpus: number, functions: readonly SimFunction[]): Map<string, number> {
  const load = Array<number>(gpus).fill(0);
  const homes = new Map<string, number>();
  const order = [...functions].sort((a, b) => homeCost(b) - homeCost(a) || (a.key < b.key ? -1 : 1));
  for (const f of order) {
    let best = 0;
    for (let g = 1; g < gpus; g++) if (load[g]! < load[best]!) best = g;
    load[best]! += homeCost(f);
    homes.set(f.key, best);
  }
  return homes;
}

/** Rate (req/s) at which a function's GPU time stops growing linearly with its rate: see `homeCost`. */
export const SATURATION_RATE = 0.3;

/**
 * Expected GPU load of a function, for home assignment. A cold function costs about its rate × weight bytes
 * (each request is a batch of one, often behind a load), but a hot one batches: its requests share decode
 * steps, so its cost grows far slower than its rate. Plain rate × bytes sent the hottest W2 model to a GPU of
 * its own (busy 58%) and every other model to the rest, which thrashed; the saturating rate spreads them.
 */
export function homeCost(f: Pick<SimFunction, 'rate' | 'bytes'>): number {
  return f.bytes * (f.rate / (1 + f.rate / SATURATION_RATE));
}
