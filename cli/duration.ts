import { CliError } from './cli-error.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `24h`, `30m`, `90s`, `1.5d`, `250ms` or `0` as milliseconds; anything else is a `CliError` naming `option`.
 * A unit is required except for 0, so `--min-age 24` cannot silently mean 24 ms.
 */
export function parseDurationMs(option: string, text: string): number {
  if (text.trim() === '0') return 0;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[match[2]!]!) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw new CliError(`${option}: expected a duration such as 24h, 30m, 90s or 0, got ${JSON.stringify(text)}`);
  return ms;
}

/** Milliseconds in the largest whole unit that divides them (`90000` → `90s`, `86400000` → `24h`); days from 3 on. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 86_400_000 === 0 && ms >= 3 * 86_400_000) return `${ms / 86_400_000}d`;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
