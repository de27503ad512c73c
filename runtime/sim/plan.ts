import type { PolicyName } from '../scheduler/types.js';
import { simulateCluster } from './cluster.js';
import type { ClusterResult } from './cluster.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';

/**
 * Capacity planning on the simulator: for each policy, the fewest GPUs whose simulated token-deadline
 * attainment reaches `target`, found by doubling then bisection (attainment grows with GPUs). Every run is
 * kept as a point for charts. `tidepool plan` calls this; so does the pool benchmark.
 */
export interface PlanOptions {
  readonly workload: Workload;
  readonly policies: readonly PolicyName[];
  /** Attainment to reach, 0..1. Default 0.9. */
  readonly target?: number;
  readonly gpu?: SimGpuSpec;
  /** Search range of GPU counts. Defaults: 1 and 4 × the function count. */
  readonly minGpus?: number;
  readonly maxGpus?: number;
  /** Called after every simulation, e.g. for progress output. */
  readonly onRun?: (r: ClusterResult) => void;
}

export interface PlanResult {
  readonly target: number;
  /** Fewest GPUs reaching the target per policy; undefined when even `maxGpus` does not. */
  readonly minGpus: Readonly<Record<string, number | undefined>>;
  /** The run at each policy's minimum (or at `maxGpus` when the target was not reached). */
  readonly atMin: Readonly<Record<string, ClusterResult>>;
  /** Every simulation made, for charts. */
  readonly points: readonly ClusterResult[];
  /** GPUs needed if switching and KV movement were free: total busy time of the best run (among those that
   *  placed every function) over the horizon. */
  readonly freeSwitchBound: number;
}

export async function planCapacity(o: PlanOptions): Promise<PlanResult> {
  const target = o.target ?? 0.9;
  const points: ClusterResult[] = [];
  const minGpus: Record<string, number | undefined> = {};
  const atMin: Record<string, ClusterResult> = {};
  for (const policy of o.policies) {
    const cache = new Map<number, ClusterResult>();
    const run = async (gpus: number): Promise<ClusterResult> => {
      const hit = cache.get(gpus);
      if (hit) return hit;
      const r = await simulateCluster({ workload: o.workload, policy, gpus, ...(o.gpu ? { gpu: o.gpu } : {}) });
      cache.set(gpus, r);
      points.push(r);
      o.onRun?.(r);
      return r;
    };
    const lowest = o.minGpus ?? (policy === 'dedicated' ? o.workload.functions.length : 1);
    const found = await searchMin(run, lowest, o.maxGpus ?? 4 * o.workload.functions.length, target);
    minGpus[policy] = found.gpus;
    atMin[policy] = found.result;
  }
  // Only runs that served every function: a static placement that left functions out did less work, and its
  // busy time would understate what the workload needs.
  const best = Object.values(atMin).filter((r) => r.attainment >= target && r.unplaced === 0);
  const busy = best.length > 0 ? Math.min(...best.map((r) => r.busyMs)) : Number.NaN;
  return { target, minGpus, atMin, points, freeSwitchBound: Math.ceil(busy / o.workload.durationMs) };
}

/** Doubling from `lo` until the target is met, then bisection; at most ~2·log2(hi) runs. */
async function searchMin(
  run: (gpus: number) => Promise<ClusterResult>,
  lo: number,
  hi: number,
  target: number,
): Promise<{ gpus: number | undefined; result: ClusterResult }> {
  let good: number | undefined;
  let bad = lo - 1;
  for (let g = Math.max(1, lo); ; g = Math.min(hi, g * 2)) {
    if ((await run(g)).attainment >= target) {
      good = g;
      break;
    }
    bad = g;
    if (g >= hi) return { gpus: undefined, result: await run(hi) };
  }
  while (good - bad > 1) {
    const mid = Math.floor((good + bad) / 2);
    if ((await run(mid)).attainment >= target) good = mid;
    else bad = mid;
  }
  return { gpus: good, result: await run(good) };
}

export interface GoodputOptions {
  readonly policies: readonly PolicyName[];
  readonly gpus: number;
  /** Builds the workload at a given rate (the unit is the caller's: per model for W1, total for W2/W3). */
  readonly workloadAt: (rate: number) => Workload;
  /** Rates to try, ascending. */
  readonly rates: readonly number[];
  readonly target?: number;
  readonly gpu?: SimGpuSpec;
  readonly onRun?: (r: ClusterResult, rate: number) => void;
}

/** Goodput: per policy, the highest tried rate whose attainment reaches the target on `gpus` GPUs. */
export async function goodput(o: GoodputOptions): Promise<Record<string, { rate: number | undefined; runs: { rate: number; attainment: number }[] }>> {
  const target = o.target ?? 0.9;
  const out: Record<string, { rate: number | undefined; runs: { rate: number; attainment: number }[] }> = {};
  for (const policy of o.policies) {
    const runs: { rate: number; attainment: number }[] = [];
    let best: number | undefined;
    for (const rate of o.rates) {
      const r = await simulateCluster({ workload: o.workloadAt(rate), policy, gpus: o.gpus, ...(o.gpu ? { gpu: o.gpu } : {}) });
      o.onRun?.(r, rate);
      runs.push({ rate, attainment: r.attainment });
      if (r.attainment >= target) best = rate;
      else break; // attainment falls with rate: stop at the first miss
    }
    out[policy] = { rate: best, runs };
  }
  return out;
}
