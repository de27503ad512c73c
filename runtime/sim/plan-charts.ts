import { lineChartSvg, niceCeil } from './svg-chart.js';
import type { ChartSeries } from './svg-chart.js';

/**
 * The capacity-planning charts, shared by `tidepool plan` and the pool benchmark: attainment vs GPUs per
 * policy; and, at a fixed GPU count, goodput vs offered rate and attainment vs offered rate.
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
    title,
    xLabel: 'GPUs',
    yLabel: 'token-deadline attainment',
    series,
    targetY: target,
    integerX: true,
    ...(shared.length > 0 ? { xMax: Math.max(...shared) } : {}),
  });
}

/** One simulation of a goodput search: the offered rate and what came of it. */
export interface RateRun {
  /** The rate knob the search turned (its unit is the caller's, e.g. req/s per model). */
  readonly rate: number;
  readonly attainment: number;
  /** Requests offered per second of the horizon, all functions together. */
  readonly offeredReqPerS: number;
  /** Requests per second that met the SLO (every token by its deadline), all functions together. */
  readonly goodputReqPerS: number;
  /** Latency of the run, ms (TTFT: Infinity when over 1% of requests never got a first token). */
  readonly ttftP50?: number;
  readonly ttftP99?: number;
  readonly tpotP50?: number;
  readonly tpotP99?: number;
}

export interface GoodputRuns {
  /** The highest rate knob at which attainment reached the target (BENCHMARKS.md's goodput), if any. */
  readonly rate?: number | undefined;
  readonly runs: readonly RateRun[];
}

/**
 * Goodput vs offered load per policy on a fixed GPU count: x is the requests offered per second, y the
 * requests per second that met the SLO (every output token by its token deadline). A dashed diagonal is
 * "every request on time". Each policy's BENCHMARKS.md goodput — the highest offered rate at which its mean
 * attainment still reached the target — is ringed on its line and given in the legend.
 */
export function goodputSvg(byPolicy: Readonly<Record<string, GoodputRuns>>, title: string, target: number, xLabel = 'offered load (requests/s)'): string {
  const all = Object.values(byPolicy).flatMap((g) => g.runs);
  const top = niceCeil(Math.max(0, ...all.map((r) => r.offeredReqPerS)));
  const series: ChartSeries[] = Object.entries(byPolicy).map(([name, g]) => {
    const at = g.rate === undefined ? undefined : g.runs.find((r) => r.rate === g.rate);
    return {
      name: at ? `${name}: ${fmt(at.offeredReqPerS)} req/s` : `${name}: < ${fmt(Math.min(...g.runs.map((r) => r.offeredReqPerS)))} req/s`,
      points: g.runs.map((r) => [r.offeredReqPerS, r.goodputReqPerS] as const),
      ...(at ? { marks: [[at.offeredReqPerS, at.goodputReqPerS] as const] } : {}),
    };
  });
  series.push({
    name: 'every request on time',
    points: [
      [0, 0],
      [top, top],
    ],
    color: '#999',
    dashed: true,
  });
  return lineChartSvg({
    title,
    subtitle: `ring: the policy's goodput, the highest offered rate with ≥ ${Math.round(100 * target)}% token-deadline attainment`,
    xLabel,
    yLabel: 'goodput: requests/s meeting the SLO',
    series,
    yMax: top,
    legendWidth: 250,
    width: 820,
  });
}

/** Attainment vs offered load per policy on a fixed GPU count; where each line crosses the target is its goodput. */
export function attainmentVsRateSvg(
  byPolicy: Readonly<Record<string, GoodputRuns>>,
  title: string,
  target: number,
  xLabel = 'offered load (requests/s)',
): string {
  const series = Object.entries(byPolicy).map(([name, g]) => ({ name, points: g.runs.map((r) => [r.offeredReqPerS, r.attainment] as const) }));
  return lineChartSvg({ title, xLabel, yLabel: 'token-deadline attainment', series, targetY: target });
}

function fmt(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** Latency of one policy at one GPU count, ms (mean over seeds). */
export interface LatencyPoint {
  readonly policy: string;
  readonly gpus: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * TTFT or TPOT against GPUs per policy: p99 as a solid line, p50 dashed in the same colour, so policies are
 * compared at equal GPU counts beside their attainment. Points without a finite value (over 1% of requests
 * never got a first token) are left out. `unitMs` scales the axis (1000 for seconds); `capMs` ends the axis
 * there when some p99 lies far above (request-level's TTFT at few GPUs), so the rest stays readable.
 */
export function latencyVsGpusSvg(
  points: readonly LatencyPoint[],
  policies: readonly string[],
  title: string,
  yLabel: string,
  unitMs = 1,
  capMs = Number.POSITIVE_INFINITY,
): string {
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  const finite = points.filter((p) => Number.isFinite(p.p99) && Number.isFinite(p.p50));
  const series: ChartSeries[] = policies.flatMap((name, i) => {
    const mine = finite.filter((p) => p.policy === name).sort((a, b) => a.gpus - b.gpus);
    if (mine.length === 0) return [];
    const color = palette[i % palette.length]!;
    return [
      { name: `${name} p99`, color, points: mine.map((p) => [p.gpus, p.p99 / unitMs] as const) },
      { name: `${name} p50`, color, dashed: true, points: mine.map((p) => [p.gpus, p.p50 / unitMs] as const) },
    ];
  });
  const highest = Math.max(0, ...finite.map((p) => p.p99));
  const top = niceCeil(Math.min(highest, capMs) / unitMs);
  const clipped = highest > capMs ? `; values above ${fmt(top)} drawn at the top` : '';
  return lineChartSvg({
    title,
    subtitle: `solid: p99, dashed: p50 (mean over seeds)${clipped}`,
    xLabel: 'GPUs',
    yLabel,
    series,
    yMax: top,
    integerX: true,
    legendWidth: 210,
    width: 780,
  });
}
