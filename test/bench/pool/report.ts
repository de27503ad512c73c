import { execFileSync } from 'node:child_process';
import type { ClusterResult } from '../../../runtime/sim/cluster.js';

/** Helpers for the pool benchmark's printed tables and result files. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return '∞';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${v.toFixed(0)}ms`;
}

export function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function spread(values: readonly number[]): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

/** A result without fields that do not belong in a result file. */
export function slim(r: ClusterResult): Record<string, unknown> {
  const { wallMs: _wall, ...rest } = r;
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'number' ? finiteOrNull(v) : v]));
}

export function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

/** Mean with its spread, for a figure taken over seeds. */
export interface Spread {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export function meanSpread(values: readonly number[]): Spread {
  return { mean: mean(values), min: Math.min(...values), max: Math.max(...values) };
}

/** A JSON-safe copy: non-finite numbers (an unreached TTFT) become null. */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
