import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StepCostModel } from './sim-types.js';
import { installRoot } from '../../protocol/install-root.js';

/**
 * Step costs fitted to measured vLLM step times (../shared/calibration/vllm-step-profiles.jsonl), one fit
 * per (model shape, GPU), prefill and decode separately, by least squares on the per-config medians:
 *
 *   prefill_ms(B prompts of L tokens) = p0 + p1·(B·L) + p2·(B·L²)     (linear GEMMs + quadratic attention)
 *   decode_ms(batch B, context L)     = d0 + d1·B     + d2·(B·L)      (weights read once + per-token KV reads)
 *
 * Points with B·L > 4096 tokens are left out of both fits: there the profile's time-to-first-token stops
 * growing with the token count and its decode time doubles (the profiler's batch was split in two), so they
 * do not measure one step. Beyond 4096 batched tokens the fits extrapolate.
 */
export interface CalibrationRow {
  readonly model: string;
  readonly gpu: string;
  readonly input_len: number;
  readonly batch: number;
  readonly prefill_s_p50: number;
  readonly decode_s_p50: number;
}

export interface StepFit {
  readonly shape: string;
  readonly gpu: string;
  readonly prefill: readonly [number, number, number];
  readonly decode: readonly [number, number, number];
  /** Mean absolute relative error of the fit over the points it was fitted on. */
  readonly prefillError: number;
  readonly decodeError: number;
  readonly points: number;
}

export const DEFAULT_CALIBRATION_PATH = resolve(installRoot(), '../shared/calibration/vllm-step-profiles.jsonl');

export function loadCalibration(path = DEFAULT_CALIBRATION_PATH): CalibrationRow[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as CalibrationRow);
}

const BATCHED_TOKEN_LIMIT = 4096;

/**
 * `kvReadMsPerToken` is the physical floor of the decode context term (KV bytes per token over device
 * bandwidth): the measured range is too narrow to pin that slope, and an unconstrained fit can make it
 * negative, which would make long contexts cheaper when extrapolated.
 */
export function fitShape(rows: readonly CalibrationRow[], shape: string, gpu: string, kvReadMsPerToken = 0): StepFit {
  const mine = rows.filter((r) => r.model === shape && r.gpu === gpu);
  if (mine.length === 0) throw new Error(`no calibration for ${shape} on ${gpu}`);
  const pre = mine.filter((r) => r.batch * r.input_len <= BATCHED_TOKEN_LIMIT);
  const preX = pre.map((r) => [1, r.batch * r.input_len, r.batch * r.input_len * r.input_len]);
  const preY = pre.map((r) => r.prefill_s_p50 * 1000);
  const decX = pre.map((r) => [1, r.batch, r.batch * r.input_len]);
  const decY = pre.map((r) => r.decode_s_p50 * 1000);
  const prefill = fitWithFloor(preX, preY, 0);
  const decode = fitWithFloor(decX, decY, kvReadMsPerToken);
  return {
    shape,
    gpu,
    prefill,
    decode,
    prefillError: meanRelError(preX, preY, prefill),
    decodeError: meanRelError(decX, decY, decode),
    points: pre.length,
  };
}

/** A derived shape priced as `base` scaled by `factor` (weight bytes ratio): for shapes not profiled. */
export interface DerivedShape {
  readonly shape: string;
  readonly base: string;
  readonly factor: number;
}

export function createCalibratedCosts(
  fits: readonly StepFit[],
  derived: readonly DerivedShape[] = [],
): StepCostModel & {
  readonly fits: ReadonlyMap<string, StepFit>;
} {
  const byShape = new Map(fits.map((f) => [f.shape, f]));
  for (const d of derived) {
    const base = byShape.get(d.base);
    if (!base) throw new Error(`derived shape ${d.shape}: no fit for ${d.base}`);
    const k = d.factor;
    byShape.set(d.shape, {
      ...base,
      shape: d.shape,
      // Fixed per-step costs (kernel launches, scheduling) shrink slower than the weights: scale by √k.
      prefill: [base.prefill[0] * Math.sqrt(k), base.prefill[1] * k, base.prefill[2] * k],
      decode: [base.decode[0] * Math.sqrt(k), base.decode[1] * k, base.decode[2] * k],
      points: 0,
    });
  }
  const get = (shape: string): StepFit => {
    const f = byShape.get(shape);
    if (!f) throw new Error(`no step-cost fit for shape ${shape}`);
    return f;
  };
  return {
    fits: byShape,
    prefillMs(shape, tokens, sequences) {
      const [a, b, c] = get(shape).prefill;
      const len = tokens / Math.max(1, sequences);
      return Math.max(1, a + b * tokens + c * tokens * len);
    },
    decodeMs(shape, batch, meanContext) {
      const [a, b, c] = get(shape).decode;
      return Math.max(1, a + b * batch + c * batch * meanContext);
    },
  };
}

/** Least squares; when the third coefficient falls below `floor`, it is pinned there and the rest refitted. */
function fitWithFloor(x: readonly number[][], y: readonly number[], floor: number): [number, number, number] {
  const free = leastSquares(x, y);
  if (free[2] >= floor) return free;
  const rest = y.map((v, i) => v - floor * x[i]![2]!);
  const pinned = leastSquares(
    x.map((r) => [r[0]!, r[1]!, 0]),
    rest,
  );
  return [pinned[0], pinned[1], floor];
}

function leastSquares(x: readonly number[][], y: readonly number[]): [number, number, number] {
  // Columns are scaled to unit norm first: B·L² spans ~1e1..1e7 and would swamp the normal equations.
  const scale = [0, 1, 2].map((j) => Math.sqrt(x.reduce((s, r) => s + r[j]! * r[j]!, 0)) || 1);
  const a = [0, 1, 2].map(() => [0, 0, 0, 0]);
  for (let i = 0; i < x.length; i++) {
    const r = x[i]!.map((v, j) => v / scale[j]!);
    for (let p = 0; p < 3; p++) {
      for (let q = 0; q < 3; q++) a[p]![q]! += r[p]! * r[q]!;
      a[p]![3]! += r[p]! * y[i]!;
    }
  }
  const sol = solve3(a);
  return [sol[0]! / scale[0]!, sol[1]! / scale[1]!, sol[2]! / scale[2]!];
}

/** Gaussian elimination with partial pivoting on a 3×4 augmented matrix. */
function solve3(m: number[][]): number[] {
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < 3; r++) {
      if (r === c || m[c]![c] === 0) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k < 4; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return [0, 1, 2].map((i) => (m[i]![i] === 0 ? 0 : m[i]![3]! / m[i]![i]!));
}

function meanRelError(x: readonly number[][], y: readonly number[], w: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const pred = x[i]!.reduce((acc, v, j) => acc + v * w[j]!, 0);
    s += Math.abs(pred - y[i]!) / y[i]!;
  }
  return s / Math.max(1, x.length);
}
