/** ANSI styling for live terminal views; every helper returns the text unchanged when `enabled` is false. */
export type Color = 'red' | 'yellow' | 'green' | 'blue' | 'magenta' | 'cyan' | 'dim' | 'bold';

const CODES: Readonly<Record<Color, string>> = {
  red: '31',
  yellow: '33',
  green: '32',
  blue: '34',
  magenta: '35',
  cyan: '36',
  dim: '2',
  bold: '1',
};

export function paint(text: string, color: Color | undefined, enabled: boolean): string {
  return enabled && color && text ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** Cursor to the top-left and clear the screen: redraws a live view in place. */
export const HOME_AND_CLEAR = '\x1b[H\x1b[2J';
export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';

/** Color is for terminals that did not opt out (https://no-color.org). */
export function colorWanted(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

/** A table cell with an optional color; width is measured on the text, so styled cells still align. */
export interface Cell {
  readonly text: string;
  readonly color?: Color;
}

/** Left-aligned columns two spaces apart, like `table` in output.ts, but with per-cell color. */
export function styledTable(rows: readonly (readonly Cell[])[], color: boolean): string[] {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col]?.text ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, col) => paint(col === row.length - 1 ? cell.text : cell.text.padEnd(widths[col]!), cell.color, color))
      .join('  ')
      .trimEnd(),
  );
}

/** Milliseconds for people: `850 ms`, `12.4 ms`, `3.2 s`; `-` when unknown. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}
