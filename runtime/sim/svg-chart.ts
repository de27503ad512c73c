/**
 * A line chart as a plain SVG string (no dependencies): one line per series, optional horizontal target
 * line. Used for the attainment-vs-GPUs, goodput-vs-rate and attainment-vs-rate charts of `tidepool plan`
 * and the pool benchmark.
 */
export interface ChartSeries {
  readonly name: string;
  /** [x, y] points; sorted by x here. */
  readonly points: readonly (readonly [number, number])[];
  /** Default: the next colour of the palette. */
  readonly color?: string;
  /** A dashed line without point dots (a reference line rather than measurements). */
  readonly dashed?: boolean;
  /** Points to ring, e.g. where a policy's goodput was read. */
  readonly marks?: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** Draws a dashed horizontal line at this y, e.g. the 0.9 attainment target. */
  readonly targetY?: number;
  /** Y range; default [0, 1]. */
  readonly yMin?: number;
  readonly yMax?: number;
  /**
   * Clips the x axis here: points beyond are not drawn, and their series' legend entry says where the series
   * lies instead ("dedicated → 80"). Keeps one far-off baseline from squashing the lines that matter.
   */
  readonly xMax?: number;
  /** Ticks on whole numbers only (GPU counts). */
  readonly integerX?: boolean;
  /** Room right of the plot for the legend, px; default 170. */
  readonly legendWidth?: number;
  /** A line of small print under the title. */
  readonly subtitle?: string;
  readonly width?: number;
  readonly height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export function lineChartSvg(o: ChartOptions): string {
  const w = o.width ?? 720;
  const h = o.height ?? 420;
  const m = { left: 60, right: o.legendWidth ?? 170, top: o.subtitle ? 52 : 40, bottom: 50 };
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = Math.min(xs.length ? Math.max(...xs) : 1, o.xMax ?? Infinity);
  const yMin = o.yMin ?? 0;
  const yMax = o.yMax ?? 1;
  const px = (x: number) => m.left + ((x - xMin) / (xMax - xMin || 1)) * (w - m.left - m.right);
  const py = (y: number) => h - m.bottom - ((Math.min(yMax, Math.max(yMin, y)) - yMin) / (yMax - yMin || 1)) * (h - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    ...(o.subtitle ? [`<text x="${w / 2}" y="38" text-anchor="middle" font-size="11" fill="#555">${esc(o.subtitle)}</text>`] : []),
    `<line x1="${m.left}" y1="${h - m.bottom}" x2="${w - m.right}" y2="${h - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${h - m.bottom}" stroke="black"/>`,
    `<text x="${(m.left + w - m.right) / 2}" y="${h - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="16" y="${h / 2}" text-anchor="middle" transform="rotate(-90 16 ${h / 2})">${esc(o.yLabel)}</text>`,
  ];
  for (const y of niceTicks(yMin, yMax, false)) {
    parts.push(`<text x="${m.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`);
  }
  for (const x of niceTicks(xMin, xMax, o.integerX ?? false)) {
    const tx = px(x).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${h - m.bottom}" x2="${tx}" y2="${h - m.bottom + 4}" stroke="black"/>`);
    parts.push(`<text x="${tx}" y="${h - m.bottom + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  if (o.targetY !== undefined) {
    parts.push(`<line x1="${m.left}" y1="${py(o.targetY)}" x2="${w - m.right}" y2="${py(o.targetY)}" stroke="#999" stroke-dasharray="5,4"/>`);
  }
  let palette = 0;
  o.series.forEach((s, i) => {
    const color = s.color ?? COLORS[palette++ % COLORS.length]!;
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    const pts = sorted.filter((p) => p[0] <= xMax);
    const offScale = sorted.length > pts.length ? ` → ${fmt(sorted.at(-1)![0])}` : '';
    if (pts.length > 0) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
      if (!s.dashed) for (const p of pts) parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    for (const p of (s.marks ?? []).filter((q) => q[0] <= xMax)) {
      parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="7" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    const ly = m.top + 10 + i * 18;
    parts.push(
      `<line x1="${w - m.right + 12}" y1="${ly}" x2="${w - m.right + 32}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`,
    );
    parts.push(`<text x="${w - m.right + 38}" y="${ly + 4}">${esc(s.name + offScale)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/** Smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above `v`, for an axis end; 1 for v ≤ 0. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  return Number(
    [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]
      .map((k) => k * magnitude)
      .find((k) => k >= v * (1 - 1e-12))!
      .toPrecision(12),
  );
}

/** About six ticks on a 1-2-5 step inside [min, max]; whole steps only when `integer`. */
export function niceTicks(min: number, max: number, integer: boolean): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / 6;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((k) => k * magnitude).find((k) => k >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step - 1e-9) * step; t <= max + 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
