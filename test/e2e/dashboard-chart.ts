/**
 * What a person sees on the dashboard's device timeline, read from the drawn page rather than from data
 * attributes alone: which painted run mark is on top at each pixel of the run lane (so a bar hidden under
 * another, or narrower than a pixel, does not count), its fill colour, the switch marks' boxes, and the
 * legend's colours. Used by the browser test; the viewport must hold the whole chart.
 */

export interface DrawnRow {
  readonly key: string;
  readonly label: string;
  /**
   * Horizontal lines through the run lane, top to bottom, 2 px apart; per pixel column of the lane,
   * `function|fill` of the run mark on top there if it covers that whole pixel column (`fill` as
   * `rgb(r, g, b)`), or '' where none does.
   */
  readonly lines: readonly (readonly string[])[];
  readonly switches: readonly { readonly from: string; readonly to: string; readonly visible: boolean }[];
}

export interface DrawnChart {
  /** Function name → its legend swatch's computed background colour. */
  readonly legend: Readonly<Record<string, string>>;
  readonly rows: readonly DrawnRow[];
}

/** Runs in the page (passed to `page.evaluate`), so it is one self-contained arrow function reading one frame. */
export const readChart = (): DrawnChart => {
  const panel = document.querySelector('[data-panel=timeline]');
  const legend: Record<string, string> = {};
  if (!panel) return { legend, rows: [] };
  for (const li of panel.querySelectorAll('.legend li[data-function]')) {
    const swatch = li.querySelector('.swatch');
    if (swatch) legend[li.getAttribute('data-function') ?? ''] = getComputedStyle(swatch).backgroundColor;
  }
  const rows = [...panel.querySelectorAll('.gantt-row[data-row]')].map((row) => {
    const lane = row.querySelector('svg.gantt-lane')!.getBoundingClientRect();
    const seen = (r: DOMRect) => r.width >= 1 && r.height >= 1 && r.right > lane.left && r.left < lane.right;
    // The run lane's extent, from the run marks themselves.
    const runRects = [...row.querySelectorAll('[data-kind=run] > rect, [data-kind=run-mix] > rect')].map((el) => el.getBoundingClientRect());
    const top = Math.min(...runRects.map((r) => r.top));
    const bottom = Math.max(...runRects.map((r) => r.bottom));
    const lines: string[][] = [];
    for (let y = top + 1; runRects.length > 0 && y < bottom; y += 2) {
      const line: string[] = [];
      for (let x = Math.ceil(lane.left); x < lane.right; x++) {
        const el = document.elementFromPoint(x + 0.5, y);
        const mark = el?.closest('[data-kind=run], [data-kind=run-mix]');
        const fn = mark?.getAttribute('data-kind') === 'run' ? mark.getAttribute('data-function') : el?.getAttribute('data-function');
        // Seen only where the mark covers the whole pixel column: a sliver is at best a faint tint.
        const box = el?.getBoundingClientRect();
        const solid = box !== undefined && box.left <= x + 0.001 && box.right >= x + 0.999;
        line.push(el instanceof SVGRectElement && mark && fn && solid ? `${fn}|${getComputedStyle(el).fill}` : '');
      }
      lines.push(line);
    }
    return {
      key: row.getAttribute('data-row') ?? '',
      label: row.querySelector('.gantt-label strong')?.textContent ?? '',
      lines,
      switches: [...row.querySelectorAll('[data-kind=switch]')].map((el) => ({
        from: el.getAttribute('data-from') ?? '',
        to: el.getAttribute('data-function') ?? '',
        visible: seen(el.getBoundingClientRect()),
      })),
    };
  });
  return { legend, rows };
};

/** Runs of equal cells along a line, without the empty stretches: what a person reads left to right. */
interface Segment {
  fn: string;
  fill: string;
  startPx: number;
  widthPx: number;
  gapBefore: number;
}

function segments(line: readonly string[]): Segment[] {
  const out: Segment[] = [];
  let gap = 0;
  for (let i = 0; i < line.length; i++) {
    const cell = line[i]!;
    if (cell === '') {
      gap++;
      continue;
    }
    const last = out.at(-1);
    if (last && gap === 0 && `${last.fn}|${last.fill}` === cell) last.widthPx++;
    else {
      const [fn, fill] = cell.split('|') as [string, string];
      out.push({ fn, fill, startPx: i, widthPx: 1, gapBefore: gap });
    }
    gap = 0;
  }
  return out;
}

function colorProblems(chart: DrawnChart, names: readonly string[]): string | undefined {
  const colors = names.map((n) => chart.legend[n]);
  if (colors.some((c) => !c)) return `legend lacks some of ${names.join(', ')}: ${JSON.stringify(chart.legend)}`;
  if (new Set(colors).size !== names.length) return `functions share a legend colour: ${JSON.stringify(chart.legend)}`;
  return undefined;
}

/**
 * Whether one row shows two functions taking turns, along the middle of its run lane: bars of both in their
 * legend colours (the two distinct), alternating A, B, A (or B, A, B) left to right, with empty space between
 * bars of different functions, and a visible switch mark between them. Returns what is missing, or `ok`.
 */
export function turnTaking(chart: DrawnChart, [a, b]: readonly [string, string]): string {
  const colors = colorProblems(chart, [a, b]);
  if (colors) return colors;
  const problems: string[] = [];
  for (const row of chart.rows) {
    const middle = row.lines[Math.floor(row.lines.length / 2)] ?? [];
    const bars = segments(middle).filter((s) => s.fn === a || s.fn === b);
    const wrong = bars.find((s) => s.fill !== chart.legend[s.fn]);
    if (wrong) return `${row.key}: a ${wrong.fn} bar is painted ${wrong.fill}, its legend says ${chart.legend[wrong.fn]}`;
    const touching = bars.find((s, i) => i > 0 && s.fn !== bars[i - 1]!.fn && s.gapBefore === 0);
    if (touching) return `${row.key}: a ${touching.fn} bar touches the ${a === touching.fn ? b : a} bar before it`;
    const turns = bars.map((s) => s.fn).filter((fn, i, all) => i === 0 || fn !== all[i - 1]);
    const switched = row.switches.some((s) => s.visible && ((s.from === a && s.to === b) || (s.from === b && s.to === a)));
    if (turns.length >= 3 && switched) return 'ok';
    problems.push(`${row.key}: ${bars.length} bars seen, turns ${turns.slice(0, 6).join(',')}, switch drawn: ${switched}`);
  }
  return problems.join('; ') || 'no device rows drawn';
}

/** The narrowest bar of `fn` seen along the middle of the first row's run lane, px; bars cut by the lane's ends are left out. */
export function narrowestBar(chart: DrawnChart, fn: string): number {
  const lines = chart.rows[0]?.lines ?? [];
  const middle = lines[Math.floor(lines.length / 2)] ?? [];
  const bars = segments(middle).filter((s) => s.fn === fn && s.startPx > 0 && s.startPx + s.widthPx < middle.length);
  return Math.min(...bars.map((s) => s.widthPx));
}

/**
 * Whether a long window still shows both functions wherever the device was busy: cutting the run lane into
 * `slicePx` slices, at least 80% of the slices with any run paint show paint of both, in legend colours.
 */
export function bothPainted(chart: DrawnChart, names: readonly string[], slicePx = 40): string {
  const colors = colorProblems(chart, names);
  if (colors) return colors;
  const problems: string[] = [];
  for (const row of chart.rows) {
    const slices = new Map<number, Set<string>>();
    for (const line of row.lines) {
      for (const [x, cell] of line.entries()) {
        if (cell === '') continue;
        const [fn, fill] = cell.split('|') as [string, string];
        if (!names.includes(fn)) continue;
        if (fill !== chart.legend[fn]) return `${row.key}: ${fn} is painted ${fill}, its legend says ${chart.legend[fn]}`;
        const slice = Math.floor(x / slicePx);
        if (!slices.has(slice)) slices.set(slice, new Set());
        slices.get(slice)!.add(fn);
      }
    }
    const busy = [...slices.values()];
    const both = busy.filter((fns) => names.every((fn) => fns.has(fn))).length;
    if (busy.length > 0 && both / busy.length >= 0.8) return 'ok';
    problems.push(`${row.key}: both functions seen in ${both} of ${busy.length} busy ${slicePx} px slices`);
  }
  return problems.join('; ') || 'no device rows drawn';
}
