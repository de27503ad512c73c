import type { OpsInvocation } from '../platform/ops/ops-types.js';
import { paint, type Color } from './ansi.js';

/** A function's token-deadline SLO, for marking slow invocations; undefined when unknown (function deleted). */
export interface LogSlo {
  readonly ttft_ms: number;
  readonly tpot_ms: number;
}

/**
 * Fixed column widths, so rows printed later by `--follow` line up with the first screen.
 * STARTED is local time; TOKENS is prompt/completion.
 */
const COLUMNS = [
  ['STARTED', 23],
  ['STATUS', 9],
  ['TOKENS', 11],
  ['TTFT', 11],
  ['TPOT', 11],
  ['NODE', 0],
] as const;

/** Marks a latency over its SLO in text as well as color, so it shows without a color terminal too. */
export const OVER_SLO_MARK = '!';

const STATUS_COLORS: Readonly<Record<string, Color>> = { stop: 'green', length: 'green', cancelled: 'yellow', error: 'red', rejected: 'red' };

export function logHeader(color: boolean): string {
  return paint(line(COLUMNS.map(([name]) => ({ text: name }))), 'bold', color);
}

/** One invocation as a table line (pure). */
export function logLine(row: OpsInvocation, slo: LogSlo | undefined, color: boolean): string {
  const ttftOver = slo !== undefined && row.ttft_ms !== null && row.ttft_ms > slo.ttft_ms;
  const tpotOver = slo !== undefined && row.tpot_ms !== null && row.tpot_ms > slo.tpot_ms;
  const cells: { text: string; color?: Color }[] = [
    { text: localTime(row.started_at) },
    { text: row.status, color: STATUS_COLORS[row.status] },
    { text: `${row.prompt_tokens}/${row.completion_tokens}` },
    { text: latency(row.ttft_ms, ttftOver), ...(ttftOver && { color: 'red' as const }) },
    { text: latency(row.tpot_ms, tpotOver), ...(tpotOver && { color: 'red' as const }) },
    { text: `${row.node ?? '-'}${row.error ? `  ${oneLine(row.error)}` : ''}` },
  ];
  return line(cells, color);
}

function line(cells: readonly { text: string; color?: Color }[], color = false): string {
  return cells
    .map((cell, i) => paint(i === cells.length - 1 ? cell.text : cell.text.padEnd(COLUMNS[i]![1]), cell.color, color))
    .join(' ')
    .trimEnd();
}

function latency(ms: number | null, over: boolean): string {
  if (ms === null) return '-';
  return `${ms >= 100 ? Math.round(ms) : ms.toFixed(1)} ms${over ? ` ${OVER_SLO_MARK}` : ''}`;
}

/** `2026-11-24 07:54:38.123` in the viewer's time zone. */
function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}
