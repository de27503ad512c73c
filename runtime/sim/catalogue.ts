import { createCalibratedCosts, fitShape, loadCalibration } from './cost-model.js';
import type { DerivedShape, StepFit } from './cost-model.js';
import type { SimGpuSpec, SimModelShape, StepCostModel } from './sim-types.js';

/**
 * Model shapes the simulator knows. Weight bytes are fp16 parameter bytes; KV bytes per token are
 * layers × 2 (K, V) × kv heads × head dim × 2 bytes, from each model's config.json.
 */
export const SHAPES: Readonly<Record<string, SimModelShape>> = Object.freeze({
  qwen2_5_7b: { shape: 'qwen2_5_7b', weightBytes: 15.23e9, kvBytesPerToken: 28 * 2 * 4 * 128 * 2 },
  yi1_5_9b_chat: { shape: 'yi1_5_9b_chat', weightBytes: 17.66e9, kvBytesPerToken: 48 * 2 * 4 * 128 * 2 },
  llama2_13b_chat: { shape: 'llama2_13b_chat', weightBytes: 26.03e9, kvBytesPerToken: 40 * 2 * 40 * 128 * 2 },
  // Not profiled: priced from qwen2_5_7b scaled by weight bytes (see DERIVED).
  qwen2_5_1_5b: { shape: 'qwen2_5_1_5b', weightBytes: 3.09e9, kvBytesPerToken: 28 * 2 * 2 * 128 * 2 },
  qwen2_5_3b: { shape: 'qwen2_5_3b', weightBytes: 6.17e9, kvBytesPerToken: 36 * 2 * 2 * 128 * 2 },
  qwen2_5_14b: { shape: 'qwen2_5_14b', weightBytes: 29.54e9, kvBytesPerToken: 48 * 2 * 8 * 128 * 2 },
});

export const PROFILED = ['qwen2_5_7b', 'yi1_5_9b_chat', 'llama2_13b_chat'] as const;

/** Shapes priced by scaling a profiled one: an extrapolation, reported as such. */
export const DERIVED: readonly DerivedShape[] = [
  { shape: 'qwen2_5_1_5b', base: 'qwen2_5_7b', factor: 3.09 / 15.23 },
  { shape: 'qwen2_5_3b', base: 'qwen2_5_7b', factor: 6.17 / 15.23 },
  { shape: 'qwen2_5_14b', base: 'qwen2_5_7b', factor: 29.54 / 15.23 },
];

export interface SimCosts extends StepCostModel {
  readonly fits: ReadonlyMap<string, StepFit>;
  /** Catalogue shapes priced on this GPU: profiled there, or derived from a shape profiled there. */
  readonly calibrated: ReadonlySet<string>;
}

const cache = new Map<string, SimCosts>();

/**
 * Step costs for the catalogue shapes on `gpu`, fitted once per process from the calibration file. Only the
 * shapes with profile rows for this GPU are fitted (and the derived shapes whose base is among them); pricing
 * any other shape throws, so callers check `calibrationGaps` first.
 */
export function costsFor(gpu: SimGpuSpec, calibrationPath?: string): SimCosts {
  const key = `${gpu.name}:${calibrationPath ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const rows = loadCalibration(calibrationPath);
  const profiledHere = PROFILED.filter((s) => rows.some((r) => r.model === s && r.gpu === gpu.name));
  const fits = profiledHere.map((s) => fitShape(rows, s, gpu.name, SHAPES[s]!.kvBytesPerToken / gpu.memBytesPerMs));
  const derived = DERIVED.filter((d) => (profiledHere as readonly string[]).includes(d.base));
  const costs = { ...createCalibratedCosts(fits, derived), calibrated: new Set([...profiledHere, ...derived.map((d) => d.shape)]) };
  cache.set(key, costs);
  return costs;
}

/**
 * Shapes among `shapes` the simulator cannot price on `gpu`: no step-time profile of that shape on that GPU
 * in the calibration file (for a derived shape: none of its base). Sorted, without duplicates.
 */
export function calibrationGaps(gpu: SimGpuSpec, shapes: Iterable<string>, calibrationPath?: string): string[] {
  const calibrated = costsFor(gpu, calibrationPath).calibrated;
  return [...new Set(shapes)].filter((s) => !calibrated.has(s)).sort();
}

/** Model refs in the simulator carry their shape in the key: `<shape>/<name>`. */
export function shapeOfKey(key: string): SimModelShape {
  const shape = SHAPES[key.split('/')[0]!];
  if (!shape) throw new Error(`unknown model shape in key ${key}`);
  return shape;
}
