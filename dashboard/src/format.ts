/** Display helpers shared by the panels. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(fraction >= 0.999 ? 0 : 1)}%`;
}

export function formatClock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour12: false });
}

/** Colors for functions, in an order where neighbours differ in hue; marker colors stay out of it. */
const PALETTE = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04', '#4f46e5', '#65a30d', '#0d9488'];
const assigned = new Map<string, string>();

/**
 * Gives each function its own color. Names are registered sorted (from the state and the timeline), so
 * with the same functions deployed a function keeps its color across reloads; past ten, colors repeat.
 */
export function registerFunctions(names: readonly string[]): void {
  for (const name of [...names].sort()) if (!assigned.has(name)) assigned.set(name, PALETTE[assigned.size % PALETTE.length]!);
}

export function functionColor(name: string): string {
  registerFunctions([name]);
  return assigned.get(name)!;
}

/** Wall-clock time with milliseconds, for marks a few ms apart. */
export function formatClockMs(epochMs: number): string {
  return `${formatClock(epochMs)}.${String(Math.floor(epochMs % 1000)).padStart(3, '0')}`;
}
