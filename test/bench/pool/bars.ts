import type { CellResult } from './cells.js';
import type { GoodputCell } from './goodput-cell.js';
import { pct, table } from './report.js';

export interface Bar {
  readonly bar: string;
  readonly measured: string;
  readonly verdict: 'met' | 'missed' | 'n/a';
}

/**
 * BENCHMARKS.md's bars for `tidepool`, each with its measured value and met/missed: goodput over aegaeon and
 * request-level on W1 (mean over seeds, with the per-seed range), fewer GPUs than dedicated on W2, and the
 * fewest GPUs against the lower bound on every cell (the bar is W2's; the rest are printed for reading).
 */
export function bars(cells: readonly CellResult[], gp: GoodputCell): Bar[] {
  const out: Bar[] = [];
  const goodputBar = (base: string, need: number) => {
    const r = gp.tidepoolOver[base];
    const name = `goodput ≥ ${need}× ${base} (W1, mean over seeds)`;
    if (!r || !Number.isFinite(r.mean)) return out.push({ bar: name, measured: '-', verdict: 'n/a' });
    out.push({ bar: name, measured: `${r.mean.toFixed(2)}× (per seed ${r.min.toFixed(2)}–${r.max.toFixed(2)}×)`, verdict: r.mean >= need ? 'met' : 'missed' });
  };
  goodputBar('aegaeon', 1.25);
  goodputBar('request-level', 2.5);
  for (const c of cells) {
    const ours = c.minGpus.tidepool;
    const ded = c.minGpus.dedicated;
    if (c.workload === 'W2') {
      const cut = ours !== undefined && ded !== undefined ? 1 - ours / ded : undefined;
      out.push({
        bar: '≥ 85% fewer GPUs than dedicated (W2)',
        measured: cut === undefined ? '-' : pct(cut),
        verdict: cut === undefined ? 'n/a' : cut >= 0.85 ? 'met' : 'missed',
      });
    }
    const ratio = ours === undefined ? undefined : ours / c.lowerBound.gpus;
    out.push({
      bar: `≤ 1.3× the lower bound (${c.workload}${c.workload === 'W2' ? '' : ', for reading'})`,
      measured: ratio === undefined ? '-' : `${ratio.toFixed(2)}× (${ours} vs ${c.lowerBound.gpus})`,
      verdict: ratio === undefined ? 'n/a' : ratio <= 1.3 ? 'met' : 'missed',
    });
  }
  return out;
}

export function printBars(list: readonly Bar[]): void {
  console.log(
    `\n## bars for tidepool\n${table(
      ['bar', 'measured', 'verdict'],
      list.map((b) => [b.bar, b.measured, b.verdict]),
    )}`,
  );
}
