import { lineChartSvg } from './svg-chart.js';

/**
 * The two capacity-planning charts, shared by `tidepool plan` and the pool benchmark: attainment vs GPUs per
 * policy, and attainment vs offered rate at a fixed GPU count (the goodput curve).
 */

export interface GpuPoint {
  readonly policy: string;
  readonly gpus: number;
  readonly attainment: number;
}

/**
 * Attainment vs GPUs. The x axis stops at the largest count any shared-GPU policy was tried at; `dedicated`
 * (one GPU per model) lies far right and is named in the legend with its count instead of being drawn.
 */
export function attainmentVsGpusSvg(points: readonly GpuPoint[], policies: readonly string[], title: string, target: number): string {
  const shared = points.filter((p) => p.policy !== 'dedicated').map((p) => p.gpus);
  const series = policies.map((name) => ({ name, points: points.filter((x) => x.policy === name).map((x) => [x.gpus, x.attainment] as const) }));
  return lineChartSvg({
    title, xLabel: 'GPUs', yLabel: 'token-deadline attainment', series, targetY: target, integerX: true,
    ...(shared.length > 0 ? { xMax: Math.max(...shared) } : {}),
  });
}

export interface GoodputRuns {
  readonly runs: readonly { readonly rate: number; readonly attainment: number }[];
}

/** Attainment vs offered rate per policy on a fixed GPU count; where each line crosses the target is its goodput. */
export function goodputSvg(byPolicy: Readonly<Record<string, GoodputRuns>>, title: string, xLabel: string, target: number): string {
  const series = Object.entries(byPolicy).map(([name, g]) => ({ name, points: g.runs.map((r) => [r.rate, r.attainment] as const) }));
  return lineChartSvg({ title, xLabel, yLabel: 'token-deadline attainment', series, targetY: target });
}
