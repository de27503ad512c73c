import { costsFor } from './catalogue.js';
import type { StepFit } from './cost-model.js';
import { DEFAULT_DRAIN_MS } from './cluster-types.js';
import { SIM_ENGINE_DEFAULTS } from './simulated-engine.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';

/**
 * The fewest GPUs on which any schedule could reach an attainment target, under the simulator's own step
 * costs: a lower bound no policy can beat by construction (the derivation, step by step, is in
 * docs/scheduler.md, "A lower bound on GPUs"). In short:
 * - A request's on-time tokens are produced inside its window, from its arrival to its last token's deadline
 *   (or the end of the run). Each GPU computes for at most the length of an interval within that interval.
 * - A step's cost splits exactly into per-sequence shares (the fitted decode step is d0 + Σ(d1 + d2·context),
 *   the prefill step at least p0 + p1·tokens). Every token of a request up to its last on-time one is made
 *   inside its window, and a step holds at most as many such tokens of a model as that model has requests
 *   whose windows overlap, so no share is below d0 / (that overlap) — switches, KV moves, memory and every
 *   other constraint are free here, which only lowers the bound.
 * - Mean attainment ≥ target lets a schedule give up at most (1 − target) × requests of attainment, and each
 *   request's cost is at least its attainment times its full cost at the best batch (`fullCost`).
 * For every interval of a grid, the requests whose windows lie inside it must, taken together, deliver at
 * least their count less the give-up allowance: the cheapest way (cheapest requests first, the last one in
 * part) needs some GPU time, and that over the interval's length, rounded up, is a bound. The answer is the
 * largest over the grid (the whole run included). Pure.
 */
export interface BoundOptions {
  readonly gpu: SimGpuSpec;
  /** Mean attainment to reach, 0..1. */
  readonly target: number;
  /** How long the run goes on after the last arrival, ms (the simulator's drain). */
  readonly drainMs?: number;
  /** Interval grid points over the run; default 24. */
  readonly gridPoints?: number;
}

export interface GpuBound {
  /** Fewest GPUs that can reach the target; 0 when the target asks for nothing. */
  readonly gpus: number;
  /** The interval that gives the bound, ms, and the GPU time it needs there, ms. */
  readonly intervalMs: readonly [number, number];
  readonly workMs: number;
}

interface Priced {
  readonly startMs: number;
  readonly endMs: number;
  /** GPU ms to deliver every token of the request on time at its best batch. */
  readonly cost: number;
}

/** One interval of the grid and the costs of the requests inside it, cheapest first, as prefix sums. */
interface GridInterval {
  readonly fromMs: number;
  readonly toMs: number;
  /** prefix[k]: the k cheapest requests' costs together; prefix.length − 1 requests lie inside. */
  readonly prefix: Float64Array;
}

interface Prepared {
  readonly requests: number;
  readonly intervals: readonly GridInterval[];
}

/** Per workload, GPU, run length and grid: the requests priced once (a bound is asked for at many targets). */
const prepared = new WeakMap<Workload, Map<string, Prepared>>();

export function gpuLowerBound(wl: Workload, o: BoundOptions): GpuBound {
  const runEndMs = wl.durationMs + (o.drainMs ?? DEFAULT_DRAIN_MS);
  const p = prepare(wl, o.gpu, runEndMs, o.gridPoints ?? 24);
  const allowance = (1 - o.target) * p.requests;
  let best: GpuBound = { gpus: 0, intervalMs: [0, runEndMs], workMs: 0 };
  let bestRate = 0;
  for (const interval of p.intervals) {
    const workMs = cheapestWork(interval.prefix, allowance);
    const rate = workMs / (interval.toMs - interval.fromMs);
    if (rate > bestRate) {
      bestRate = rate;
      best = { gpus: Math.ceil(rate - 1e-9), intervalMs: [interval.fromMs, interval.toMs], workMs };
    }
  }
  return best;
}

/**
 * GPU time the requests inside an interval need at least: they must deliver their count less `allowance`
 * of attainment, cheapest first, the last one in part.
 */
function cheapestWork(prefix: Float64Array, allowance: number): number {
  const need = prefix.length - 1 - allowance;
  if (need <= 0) return 0;
  const whole = Math.floor(need);
  const part = need - whole;
  return prefix[whole]! + (part > 0 ? part * (prefix[whole + 1]! - prefix[whole]!) : 0);
}

function prepare(wl: Workload, gpu: SimGpuSpec, runEndMs: number, points: number): Prepared {
  const key = `${gpu.name}:${runEndMs}:${points}`;
  const byKey = prepared.get(wl) ?? new Map<string, Prepared>();
  prepared.set(wl, byKey);
  const hit = byKey.get(key);
  if (hit) return hit;
  const priced = pricedRequests(wl, gpu, runEndMs);
  const grid = Array.from({ length: points + 1 }, (_, i) => (runEndMs * i) / points);
  const intervals: GridInterval[] = [];
  for (let i = 0; i < grid.length; i++) {
    for (let j = i + 1; j < grid.length; j++) {
      const [fromMs, toMs] = [grid[i]!, grid[j]!];
      const inside = priced.filter((r) => r.startMs >= fromMs && r.endMs <= toMs);
      const prefix = new Float64Array(inside.length + 1);
      for (const [k, r] of inside.entries()) prefix[k + 1] = prefix[k]! + r.cost;
      intervals.push({ fromMs, toMs, prefix });
    }
  }
  const result = { requests: priced.length, intervals };
  byKey.set(key, result);
  return result;
}

function pricedRequests(wl: Workload, gpu: SimGpuSpec, runEndMs: number): Priced[] {
  const fits = costsFor(gpu).fits;
  const windows = wl.requests.map((r) => ({
    startMs: r.atMs,
    endMs: Math.min(runEndMs, r.atMs + wl.slo.ttftMs + r.output * wl.slo.tpotMs),
  }));
  const overlap = sameModelOverlap(wl, windows);
  const priced = wl.requests.map((r, i) => {
    const fit = fits.get(r.weightsDigest.split('/')[0]!);
    if (!fit) throw new Error(`no step-cost fit for ${r.weightsDigest} on ${gpu.name}`);
    const batch = Math.min(SIM_ENGINE_DEFAULTS.maxBatch, overlap[i]!);
    return { ...windows[i]!, cost: fullCost(fit, r.prompt, r.output, batch) };
  });
  return priced.sort((a, b) => a.cost - b.cost);
}

/**
 * The least GPU time that delivers a fraction a of a request's tokens costs at least a × this: its prefill P
 * and its decode steps at their cheapest share c (context prompt + 1, batch `batch`), or out × P when a
 * prefill is cheaper than a decode share (then serving one token is the cheapest per unit of attainment).
 */
export function fullCost(fit: StepFit, prompt: number, output: number, batch: number): number {
  const [p0, p1] = fit.prefill;
  const [d0, d1, d2] = fit.decode;
  const perBatch = (fixed: number) => (fixed >= 0 ? fixed / batch : fixed);
  const prefill = perBatch(p0) + p1 * prompt;
  const decode = perBatch(d0) + d1 + d2 * (prompt + 1);
  return prefill >= decode ? prefill + (output - 1) * decode : output * prefill;
}

/**
 * For each request, the most requests of its model whose windows contain one instant of its own window: no
 * step can hold more of that model's on-time tokens while this request's token is among them.
 */
function sameModelOverlap(wl: Workload, windows: readonly { startMs: number; endMs: number }[]): number[] {
  const byModel = new Map<string, number[]>();
  for (const [i, r] of wl.requests.entries()) byModel.set(r.weightsDigest, [...(byModel.get(r.weightsDigest) ?? []), i]);
  const out = Array<number>(windows.length).fill(1);
  for (const ids of byModel.values()) {
    // Concurrency just after each window start (a maximum is always reached at some start).
    const starts = ids.map((i) => windows[i]!.startMs).sort((a, b) => a - b);
    const ends = ids.map((i) => windows[i]!.endMs).sort((a, b) => a - b);
    const level = starts.map((t) => upperBound(starts, t) - upperBound(ends, t));
    const table = sparseMax(level);
    for (const i of ids) {
      const w = windows[i]!;
      const lo = lowerBound(starts, w.startMs);
      const hi = upperBound(starts, w.endMs) - 1;
      out[i] = Math.max(1, table(lo, hi));
    }
  }
  return out;
}

/** Index of the first element > x in sorted `a`. */
function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element ≥ x in sorted `a`. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Range maximum over `v` in O(1) per query after O(n log n) preparation; an empty range gives 0. */
function sparseMax(v: readonly number[]): (lo: number, hi: number) => number {
  const levels: number[][] = [[...v]];
  for (let k = 1; 1 << k <= v.length; k++) {
    const prev = levels[k - 1]!;
    const half = 1 << (k - 1);
    levels.push(prev.slice(0, v.length - (1 << k) + 1).map((x, i) => Math.max(x, prev[i + half]!)));
  }
  return (lo, hi) => {
    if (hi < lo) return 0;
    const k = 31 - Math.clz32(hi - lo + 1);
    return Math.max(levels[k]![lo]!, levels[k]![hi - (1 << k) + 1]!);
  };
}
