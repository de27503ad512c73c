/**
 * The routing core: which of several candidates serves a request for a model. The control plane's cluster
 * router (candidates: nodes), a node's device router (candidates: its GPUs or CPU engines) and the simulator
 * (candidates: simulated GPUs, routed as one node's devices) are each a configuration of it: they say how close
 * each candidate is to the model (`tier`) and how much work it holds (`load`), and pick a spill rule. Pure:
 * no state, no I/O.
 *
 * The choice, in order:
 * 1. Candidates that are up; all of them when none is.
 * 2. The lowest tier, then the lowest load, then the lowest `tiebreak`, then the earliest candidate.
 * 3. The spill rule may move the request from that choice to the least loaded candidate.
 */
export interface RouteCandidate {
  /**
   * How close the model is, lower first. The configurations use, for a device: 0 requests of the model in
   * flight there (joining the batch), 1 its weights resident, 2 its home, 3 none of these; for a node: 0
   * weights on a GPU, 1 in host memory, 2 only in the object store.
   */
  readonly tier: number;
  /** Work already placed there, in the configuration's unit (output tokens owed, requests in flight). */
  readonly load: number;
  /** Orders equal tier and load, lower first (e.g. models held, so idle GPUs fill evenly). Default 0. */
  readonly tiebreak?: number;
  /** The model's requests in flight there (the `model-load` spill rule reads it). Default 0. */
  readonly modelLoad?: number;
  /** Default true. */
  readonly up?: boolean;
}

export type SpillRule =
  /** Never move off the first choice. */
  | { readonly kind: 'none' }
  /**
   * Move to the least loaded candidate when the choice's load exceeds max(`meanFactor` × the mean load,
   * the least load) + `slack`. A node's devices use the least load (`meanFactor` 0); a factor of the mean
   * never fires on two devices.
   */
  | { readonly kind: 'overloaded'; readonly slack: number; readonly meanFactor: number }
  /**
   * Spread a popular model: when the choice is below `belowTier` and already holds `at` of the model's
   * requests, move to the least loaded other candidate if its load is lower.
   */
  | { readonly kind: 'model-load'; readonly at: number; readonly belowTier: number };

export interface RouteChoice {
  /** Index into the candidates given. */
  readonly index: number;
  /** The spill rule moved the request off the first choice. */
  readonly spilled: boolean;
}

/** The candidate that serves the request; undefined when there are none. */
export function chooseRoute(candidates: readonly RouteCandidate[], spill: SpillRule): RouteChoice | undefined {
  if (candidates.length === 0) return undefined;
  const up = indices(candidates).filter((i) => candidates[i]!.up !== false);
  const pool = up.length > 0 ? up : indices(candidates);
  const ranked = [...pool].sort((a, b) => compare(candidates, a, b));
  const first = ranked[0]!;
  const moved = spillTarget(candidates, pool, ranked, spill);
  return moved === undefined ? { index: first, spilled: false } : { index: moved, spilled: true };
}

function compare(c: readonly RouteCandidate[], a: number, b: number): number {
  const x = c[a]!;
  const y = c[b]!;
  return x.tier - y.tier || x.load - y.load || (x.tiebreak ?? 0) - (y.tiebreak ?? 0) || a - b;
}

/** The least loaded of `order`, the earliest in that order among equals, optionally leaving one out. */
function leastLoaded(c: readonly RouteCandidate[], order: readonly number[], except?: number): number | undefined {
  let best: number | undefined;
  for (const i of order) if (i !== except && (best === undefined || c[i]!.load < c[best]!.load)) best = i;
  return best;
}

/** Where the spill rule moves the request from `ranked[0]`, if anywhere. */
function spillTarget(c: readonly RouteCandidate[], pool: readonly number[], ranked: readonly number[], rule: SpillRule): number | undefined {
  const first = ranked[0]!;
  if (rule.kind === 'none') return undefined;
  if (rule.kind === 'overloaded') {
    const least = leastLoaded(c, pool)!;
    const mean = pool.reduce((s, i) => s + c[i]!.load, 0) / pool.length;
    return c[first]!.load > Math.max(rule.meanFactor * mean, c[least]!.load) + rule.slack ? least : undefined;
  }
  if (c[first]!.tier >= rule.belowTier || (c[first]!.modelLoad ?? 0) < rule.at) return undefined;
  const other = leastLoaded(c, ranked, first);
  return other !== undefined && c[other]!.load < c[first]!.load ? other : undefined;
}

function indices(c: readonly unknown[]): number[] {
  return Array.from({ length: c.length }, (_, i) => i);
}
