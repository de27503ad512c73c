import type { PolicyName } from '../scheduler/types.js';
import { simulateCluster } from './cluster.js';
import type { ClusterResult, ClusterSettings } from './cluster.js';
import { gpuLowerBound } from './lower-bound.js';
import type { RateRun } from './plan-charts.js';
import { GPUS } from './sim-types.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';

/**
 * Capacity planning on the simulator. A GPU count meets the target when the mean attainment over the seeds'
 * workloads reaches `target` and no seed falls below `seedFloor`; for each policy, the fewest GPUs that meet
 * it, searched from the lower bound (lower-bound.ts) up. Every run is checked against that bound at the
 * attainment it reached (`checkBound`), and kept as a point for charts. `tidepool plan` calls this; so does
 * the pool benchmark.
 */
export interface PlanOptions {
  /** The same workload drawn with each seed (one at least). */
  readonly workloads: readonly Workload[];
  readonly policies: readonly PolicyName[];
  /** Mean attainment over seeds to reach, 0..1. Default 0.9. */
  readonly target?: number;
  /** Least attainment any one seed may have, 0..1. Default 0.85. */
  readonly seedFloor?: number;
  readonly gpu?: SimGpuSpec;
  /** Search range of GPU counts. Defaults: the lower bound and 4 × the function count. */
  readonly minGpus?: number;
  readonly maxGpus?: number;
  /** Routing and policy options for every run. */
  readonly settings?: ClusterSettings;
  /** Called after every simulation, e.g. for progress output. */
  readonly onRun?: (r: ClusterResult, seed: number) => void;
}

/** One GPU count of one policy, over every seed. */
export interface SeedRuns {
  readonly policy: PolicyName;
  readonly gpus: number;
  /** By seed index (the order of `workloads`). */
  readonly runs: readonly ClusterResult[];
  readonly meanAttainment: number;
  readonly minAttainment: number;
}

export interface PlanResult {
  readonly target: number;
  readonly seedFloor: number;
  /** Fewest GPUs meeting the target per policy; undefined when even `maxGpus` does not. */
  readonly minGpus: Readonly<Record<string, number | undefined>>;
  /** The runs at each policy's minimum (or at `maxGpus` when the target was not reached). */
  readonly atMin: Readonly<Record<string, SeedRuns>>;
  /** Every GPU count tried, for charts. */
  readonly points: readonly SeedRuns[];
  /** Fewest GPUs any schedule could meet the target on (`cellLowerBound`), and each seed's own bound at the target. */
  readonly lowerBound: { readonly gpus: number; readonly perSeed: readonly number[] };
}

/** Attainment of `target` and no seed below `seedFloor` over the seeds. */
export function meets(s: Pick<SeedRuns, 'meanAttainment' | 'minAttainment'>, target: number, seedFloor: number): boolean {
  return s.meanAttainment >= target && s.minAttainment >= seedFloor;
}

/**
 * No GPU count below this meets the target over these seeds: the mean needs one seed at the target at
 * least (the least of the seeds' bounds at the target), and every seed needs the floor (the largest of their
 * bounds at the floor).
 */
export function cellLowerBound(workloads: readonly Workload[], gpu: SimGpuSpec, target: number, seedFloor: number): { gpus: number; perSeed: number[] } {
  const perSeed = workloads.map((wl) => gpuLowerBound(wl, { gpu, target }).gpus);
  const floor = Math.max(...workloads.map((wl) => gpuLowerBound(wl, { gpu, target: seedFloor }).gpus));
  return { gpus: Math.max(1, Math.min(...perSeed), floor), perSeed };
}

/**
 * Throws when a run reached, on its GPUs, an attainment that the lower bound says needs more GPUs: no policy
 * can, so a failure means the bound or the simulator is wrong. The pool benchmark and `tidepool plan` check
 * every run they make.
 */
export function checkBound(wl: Workload, r: ClusterResult, gpu: SimGpuSpec): void {
  const bound = gpuLowerBound(wl, { gpu, target: r.attainment });
  if (r.gpus < bound.gpus) {
    throw new Error(
      `${r.policy} reached ${(100 * r.attainment).toFixed(2)}% of ${wl.name} on ${r.gpus} GPUs, below the lower bound of ${bound.gpus} GPUs for that attainment`,
    );
  }
}

export async function planCapacity(o: PlanOptions): Promise<PlanResult> {
  const target = o.target ?? 0.9;
  const seedFloor = o.seedFloor ?? 0.85;
  const gpu = o.gpu ?? GPUS.H100!;
  const first = o.workloads[0]!;
  const bound = cellLowerBound(o.workloads, gpu, target, seedFloor);
  const points: SeedRuns[] = [];
  const minGpus: Record<string, number | undefined> = {};
  const atMin: Record<string, SeedRuns> = {};
  for (const policy of o.policies) {
    const cache = new Map<number, SeedRuns>();
    const run = async (gpus: number): Promise<SeedRuns> => {
      const hit = cache.get(gpus);
      if (hit) return hit;
      const runs: ClusterResult[] = [];
      for (const [seed, wl] of o.workloads.entries()) {
        const r = await simulateCluster({ ...o.settings, workload: wl, policy, gpus, gpu });
        checkBound(wl, r, gpu);
        runs.push(r);
        o.onRun?.(r, seed);
      }
      const atts = runs.map((r) => r.attainment);
      const s = { policy, gpus, runs, meanAttainment: atts.reduce((a, b) => a + b, 0) / atts.length, minAttainment: Math.min(...atts) };
      cache.set(gpus, s);
      points.push(s);
      return s;
    };
    const lowest = Math.max(o.minGpus ?? 1, policy === 'dedicated' ? first.functions.length : 1, bound.gpus);
    const hi = Math.max(lowest, o.maxGpus ?? 4 * first.functions.length);
    const ok = async (g: number) => meets(await run(g), target, seedFloor);
    let found = await searchMin(ok, lowest, hi);
    // The aegaeon split (3:5, rounded) makes attainment dip at some counts: a few counts below the one found
    // are tried as well, and the fewest that meets the target is kept.
    if (policy === 'aegaeon' && found !== undefined) found = await lowerIfMet(ok, found, Math.max(lowest, found - AEGAEON_LOOKBACK));
    minGpus[policy] = found;
    atMin[policy] = await run(found ?? hi);
  }
  return { target, seedFloor, minGpus, atMin, points, lowerBound: bound };
}

/** Doubling from `lo` until the target is met, then bisection; at most ~2·log2(hi) counts. Assumes more GPUs never hurt. */
async function searchMin(ok: (gpus: number) => Promise<boolean>, lo: number, hi: number): Promise<number | undefined> {
  let good: number | undefined;
  let bad = lo - 1;
  for (let g = lo; ; g = Math.min(hi, Math.max(g + 1, g * 2))) {
    if (await ok(g)) {
      good = g;
      break;
    }
    bad = g;
    if (g >= hi) return undefined;
  }
  while (good - bad > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (await ok(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/** Counts below `found` that `aegaeon`'s search also tries (see `planCapacity`). */
const AEGAEON_LOOKBACK = 3;

/** The fewest of `found` and the counts from `found − 1` down to `lo` that meet the target. */
async function lowerIfMet(ok: (gpus: number) => Promise<boolean>, found: number, lo: number): Promise<number> {
  let best = found;
  for (let g = found - 1; g >= lo; g--) if (await ok(g)) best = g;
  return best;
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
  /** What is held to the target; default the token-deadline attainment (BENCHMARKS.md). */
  readonly metric?: (r: ClusterResult) => number;
  /** Routing and policy options for every run. */
  readonly settings?: ClusterSettings;
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
 * Goodput (BENCHMARKS.md): per policy, the highest rate whose attainment reaches the target on `gpus` GPUs,
 * for one workload generator (one seed). The grid is walked upwards until the first miss (attainment falls
 * with rate), then the gap between the last pass and that miss is bisected `refineSteps` times. Each run
 * also reports the requests per second offered and the requests per second that met the SLO, for the
 * goodput-vs-load chart, and is checked against the lower bound.
 */
export async function goodput(o: GoodputOptions): Promise<Record<string, GoodputResult>> {
  const target = o.target ?? 0.9;
  const gpu = o.gpu ?? GPUS.H100!;
  const metric = o.metric ?? ((r: ClusterResult) => r.attainment);
  const out: Record<string, GoodputResult> = {};
  for (const policy of o.policies) {
    const runs: RateRun[] = [];
    const passes = async (rate: number): Promise<boolean> => {
      const wl = o.workloadAt(rate);
      const r = await simulateCluster({ ...o.settings, workload: wl, policy, gpus: o.gpus, gpu });
      checkBound(wl, r, gpu);
      o.onRun?.(r, rate);
      const seconds = wl.durationMs / 1000;
      runs.push({
        rate,
        attainment: metric(r),
        offeredReqPerS: r.requests / seconds,
        goodputReqPerS: r.onTime / seconds,
        ttftP50: r.ttftP50,
        ttftP99: r.ttftP99,
        tpotP50: r.tpotP50,
        tpotP99: r.tpotP99,
      });
      return metric(r) >= target;
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
