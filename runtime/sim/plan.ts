import type { PolicyName } from '../scheduler/types.js';
import { simulateCluster } from './cluster.js';
import type { ClusterResult } from './cluster.js';
import type { RateRun } from './plan-charts.js';
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
  /**
   * Bisection steps after the grid: between the last rate that reached the target and the first that did
   * not (or between 0 and the lowest rate, when even that one missed), each step halving the gap. Default 0.
   */
  readonly refineSteps?: number;
  readonly target?: number;
  readonly gpu?: SimGpuSpec;
  readonly onRun?: (r: ClusterResult, rate: number) => void;
}

export interface GoodputResult {
  /** The highest rate tried whose attainment reached the target; undefined when none did. */
  readonly rate: number | undefined;
  /** The lowest rate tried above `rate` that missed it; undefined when the top of the grid still passed
   *  (then `rate` is only a lower bound). Goodput lies in [rate, missed). */
  readonly missed: number | undefined;
  /** Every run, by rate. */
  readonly runs: RateRun[];
}

/**
 * Goodput (BENCHMARKS.md): per policy, the highest rate whose attainment reaches the target on `gpus` GPUs.
 * The grid is walked upwards until the first miss (attainment falls with rate), then the gap between the
 * last pass and that miss is bisected `refineSteps` times. Each run also reports the requests per second
 * offered and the requests per second that met the SLO, for the goodput-vs-load chart.
 */
export async function goodput(o: GoodputOptions): Promise<Record<string, GoodputResult>> {
  const target = o.target ?? 0.9;
  const out: Record<string, GoodputResult> = {};
  for (const policy of o.policies) {
    const runs: RateRun[] = [];
    const passes = async (rate: number): Promise<boolean> => {
      const wl = o.workloadAt(rate);
      const r = await simulateCluster({ workload: wl, policy, gpus: o.gpus, ...(o.gpu ? { gpu: o.gpu } : {}) });
      o.onRun?.(r, rate);
      const seconds = wl.durationMs / 1000;
      runs.push({ rate, attainment: r.attainment, offeredReqPerS: r.requests / seconds, goodputReqPerS: r.onTime / seconds });
      return r.attainment >= target;
    };
    let best: number | undefined;
    let missed: number | undefined;
    for (const rate of o.rates) {
      if (await passes(rate)) best = rate;
      else {
        missed = rate;
        break;
      }
    }
    for (let i = 0; i < (o.refineSteps ?? 0) && missed !== undefined; i++) {
      const mid = ((best ?? 0) + missed) / 2;
      if (await passes(mid)) best = mid;
      else missed = mid;
    }
    out[policy] = { rate: best, missed, runs: runs.sort((a, b) => a.rate - b.rate) };
  }
  return out;
}
