import type { TimelineSpan } from '../../protocol/timeline-types.js';

/**
 * Turns spans into marks measured in pixels, so that what is drawn stays legible at any zoom: a turn too
 * short for the window still gets a minimum width, marks of different functions never touch, and where turns
 * are too dense to draw one by one they are pooled into a column that records each function's share.
 * Pure (no DOM), so it is unit-tested beside the browser test.
 */

export interface LayoutOptions {
  /** Narrowest mark drawn, px: a 5 ms turn in a 2 s window is still a visible bar. */
  readonly minPx: number;
  /** Empty space kept between marks of different functions, px. */
  readonly gapPx: number;
  /** How far right a mark may be pushed to keep `gapPx` before it is pooled instead, px. */
  readonly maxShiftPx: number;
  /** Width a pooled column grows to before the next one starts, px; also the bin for instants. */
  readonly binPx: number;
}

export const LAYOUT: LayoutOptions = { minPx: 3, gapPx: 1, maxShiftPx: 3, binPx: 6 };

/** A time window mapped onto `widthPx` pixels. */
export interface PxScale {
  readonly startMs: number;
  readonly endMs: number;
  readonly widthPx: number;
}

export function toPx(scale: PxScale, ms: number): number {
  const x = ((ms - scale.startMs) / (scale.endMs - scale.startMs)) * scale.widthPx;
  return Math.min(scale.widthPx, Math.max(0, x));
}

/** One function's part of a run mark. */
export interface RunShare {
  readonly function: string;
  ms: number;
  tokens: number;
  steps: number;
  turns: number;
  /** Why its last turn in this mark ended. */
  reason: string;
}

/** One bar in the run lane: a single function's turn(s) when `shares` has one entry, else a pooled column. */
export interface RunMark {
  x0: number;
  x1: number;
  startMs: number;
  endMs: number;
  readonly shares: RunShare[];
}

type RunSpan = Extract<TimelineSpan, { kind: 'run' }>;

function addShare(mark: RunMark, run: RunSpan): void {
  const ms = run.endMs - run.startMs;
  const share = mark.shares.find((s) => s.function === run.function);
  if (share) {
    share.ms += ms;
    share.tokens += run.tokens;
    share.steps += run.steps;
    share.turns += 1;
    share.reason = run.reason;
  } else {
    mark.shares.push({ function: run.function, ms, tokens: run.tokens, steps: run.steps, turns: 1, reason: run.reason });
  }
  mark.startMs = Math.min(mark.startMs, run.startMs);
  mark.endMs = Math.max(mark.endMs, run.endMs);
}

/**
 * Two pooled columns in a row are one stretch of dense turns: the gap kept between different functions would
 * only stripe it, so the newer one is drawn touching the older.
 */
function joinPooled(marks: RunMark[], options: LayoutOptions): void {
  const last = marks.at(-1)!;
  const before = marks.at(-2);
  if (before && before.shares.length > 1 && last.shares.length > 1 && last.x0 - before.x1 <= options.gapPx + 1e-9) last.x0 = before.x1;
}

/**
 * Lays out run spans (any order) inside the window. Each run becomes its own bar when it can start at most
 * `maxShiftPx` after its true position with `gapPx` clear of the previous bar; a run of the same function as
 * the previous bar extends it; otherwise it joins the previous bar, which becomes a pooled column until it is
 * `binPx` wide. A mark therefore never starts more than `maxShiftPx` after its first run, nor more than
 * `gapPx` before it (pooled columns in a row touch).
 */
export function layoutRuns(spans: readonly TimelineSpan[], scale: PxScale, options: LayoutOptions = LAYOUT): RunMark[] {
  const runs = spans
    .filter((s): s is RunSpan => s.kind === 'run' && s.endMs >= scale.startMs && s.startMs <= scale.endMs)
    .sort((a, b) => a.startMs - b.startMs);
  const marks: RunMark[] = [];
  for (const run of runs) {
    const a = toPx(scale, run.startMs);
    const b = toPx(scale, run.endMs);
    const last = marks.at(-1);
    const single = last?.shares.length === 1 ? last.shares[0]!.function : undefined;
    if (last && single === run.function && a <= last.x1 + options.gapPx) {
      last.x1 = Math.max(last.x1, b);
      addShare(last, run);
      continue;
    }
    const shift = last ? last.x1 + options.gapPx - a : 0;
    const pooledRoom = last !== undefined && last.shares.length > 1 && last.x1 - last.x0 < options.binPx;
    if (last && shift > 0 && (shift > options.maxShiftPx || pooledRoom)) {
      last.x1 = Math.max(last.x1, b, last.x0 + options.minPx);
      addShare(last, run);
      joinPooled(marks, options);
      continue;
    }
    const x0 = a + Math.max(0, shift);
    const mark: RunMark = { x0, x1: Math.max(b, x0 + options.minPx), startMs: run.startMs, endMs: run.endMs, shares: [] };
    addShare(mark, run);
    marks.push(mark);
  }
  return marks;
}

/** A switch, evict or error mark; `count` of them fell within one bin. */
export interface InstantMark {
  readonly x: number;
  /** Where the bin's latest instant lies (`x` when `count` is 1). */
  lastX: number;
  count: number;
  /** The latest span in the bin, for its details. */
  span: TimelineSpan;
}

/** Instants of the given kinds, one mark per `binPx`: dense switching shows as a band, not a smear of lines. */
export function layoutInstants(
  spans: readonly TimelineSpan[],
  kinds: readonly TimelineSpan['kind'][],
  scale: PxScale,
  options: LayoutOptions = LAYOUT,
): InstantMark[] {
  const marks: InstantMark[] = [];
  const instants = spans.filter((s) => kinds.includes(s.kind) && s.startMs >= scale.startMs && s.startMs <= scale.endMs).sort((a, b) => a.startMs - b.startMs);
  for (const span of instants) {
    const x = toPx(scale, span.startMs);
    const last = marks.at(-1);
    if (last && x - last.x < options.binPx) {
      last.count += 1;
      last.lastX = x;
      last.span = span;
    } else {
      marks.push({ x, lastX: x, count: 1, span });
    }
  }
  return marks;
}

/** A weight copy or KV move: its own bar, at least `minPx` wide (these are rare next to turns). */
export interface SpanBar {
  readonly x0: number;
  readonly x1: number;
  readonly span: TimelineSpan;
}

export function layoutBars(spans: readonly TimelineSpan[], kinds: readonly TimelineSpan['kind'][], scale: PxScale, options: LayoutOptions = LAYOUT): SpanBar[] {
  return spans
    .filter((s) => kinds.includes(s.kind) && s.endMs >= scale.startMs && s.startMs <= scale.endMs)
    .map((span) => {
      const x0 = toPx(scale, span.startMs);
      return { x0, x1: Math.max(toPx(scale, span.endMs), x0 + options.minPx), span };
    });
}
