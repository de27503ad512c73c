import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAYOUT, layoutInstants, layoutRuns, type PxScale } from '../../../dashboard/src/timeline-layout.js';
import type { TimelineSpan } from '../../../protocol/timeline-types.js';

// The dashboard's Gantt layout: what decides whether a person can see two functions taking turns.

let seq = 0;
function run(fn: string, startMs: number, ms: number, tokens = 48): TimelineSpan {
  return { seq: seq++, gpu: 0, function: fn, kind: 'run', startMs, endMs: startMs + ms, steps: tokens / 2, tokens, reason: 'idle' };
}
function sw(from: string, to: string, atMs: number): TimelineSpan {
  return { seq: seq++, gpu: 0, function: to, kind: 'switch', from, startMs: atMs, endMs: atMs };
}

/** Turns as the CPU engine takes them with two tiny models: ~37 ms of one, ~6 ms of the other, 2.5 ms apart. */
function alternating(fromMs: number, cycles: number): TimelineSpan[] {
  const spans: TimelineSpan[] = [];
  let t = fromMs;
  for (let i = 0; i < cycles; i++) {
    spans.push(sw('b', 'a', t), run('a', t + 1, 37));
    t += 40.5;
    spans.push(sw('a', 'b', t), run('b', t + 1, 6));
    t += 9.5;
  }
  return spans;
}

const scale = (windowMs: number, widthPx = 1100): PxScale => ({ startMs: 0, endMs: windowMs, widthPx });

describe('timeline layout', () => {
  it('draws every turn of both functions as its own bar in a 2 s window, alternating, at least minPx wide and never touching', () => {
    const marks = layoutRuns(alternating(0, 40), scale(2_000));
    expect(marks.every((m) => m.shares.length === 1)).toBe(true);
    expect(marks.map((m) => m.shares[0]!.function).join('')).toBe('ab'.repeat(40));
    for (const [i, mark] of marks.entries()) {
      expect(mark.x1 - mark.x0).toBeGreaterThanOrEqual(LAYOUT.minPx);
      if (i > 0) expect(mark.x0 - marks[i - 1]!.x1).toBeGreaterThanOrEqual(LAYOUT.gapPx);
    }
  });

  it('pools turns too dense for a 1 min window into columns that keep each function and its share of run time', () => {
    const marks = layoutRuns(alternating(0, 1_200), scale(60_000));
    const pooled = marks.filter((m) => m.shares.length > 1);
    expect(pooled.length / marks.length).toBeGreaterThan(0.9);
    for (const mark of pooled) expect(mark.shares.map((s) => s.function).sort()).toEqual(['a', 'b']);
    const ms = (fn: string) =>
      marks
        .flatMap((m) => m.shares)
        .filter((s) => s.function === fn)
        .reduce((sum, s) => sum + s.ms, 0);
    expect(ms('a')).toBeCloseTo(1_200 * 37, 6);
    expect(ms('b')).toBeCloseTo(1_200 * 6, 6);
    // One stretch of pooled columns, not a barcode of them.
    const joined = pooled.filter((m, i) => i > 0 && m.x0 === pooled[i - 1]!.x1).length;
    expect(joined / pooled.length).toBeGreaterThan(0.8);
    // Columns stay narrow, so the chart still says when each function ran.
    for (const mark of marks) expect(mark.x1 - mark.x0).toBeLessThanOrEqual(LAYOUT.binPx + LAYOUT.minPx + LAYOUT.maxShiftPx);
  });

  it('draws back-to-back turns of one function as one bar with tokens added up', () => {
    const marks = layoutRuns([run('a', 0, 100, 10), run('a', 100.5, 100, 20), run('b', 400, 50)], scale(2_000));
    expect(marks).toHaveLength(2);
    expect(marks[0]!.shares).toEqual([expect.objectContaining({ function: 'a', turns: 2, tokens: 30 })]);
  });

  it('clips runs to the window and leaves out those wholly outside it', () => {
    const marks = layoutRuns([run('a', -500, 100), run('a', -50, 100), run('b', 1_990, 100), run('b', 2_100, 50)], scale(2_000));
    expect(marks.map((m) => [m.shares[0]!.function, Math.round(m.x0)])).toEqual([
      ['a', 0],
      ['b', 1095],
    ]);
    expect(marks.every((m) => m.x1 <= 1100 + LAYOUT.minPx)).toBe(true);
  });

  it('keeps marks apart, at least minPx wide, close to their true time, and accounts for every run, whatever the turns', () => {
    const turn = fc.record({
      fn: fc.constantFrom('a', 'b', 'c'),
      ms: fc.double({ min: 0, max: 500, noNaN: true }),
      gapMs: fc.double({ min: 0, max: 300, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(turn, { maxLength: 300 }), fc.constantFrom(2_000, 15_000, 60_000), (turns, windowMs) => {
        let t = 0;
        const spans = turns.map((x) => {
          const span = run(x.fn, t + x.gapMs, x.ms);
          t = span.endMs;
          return span;
        });
        const s = scale(windowMs, 900);
        const marks = layoutRuns(spans, s);
        const px = (ms: number) => (ms / windowMs) * 900;
        for (const [i, mark] of marks.entries()) {
          expect(mark.x1 - mark.x0).toBeGreaterThanOrEqual(LAYOUT.minPx - 1e-9);
          expect(mark.x0).toBeGreaterThanOrEqual(Math.min(900, px(mark.startMs)) - LAYOUT.gapPx - 1e-9);
          expect(mark.x0).toBeLessThanOrEqual(px(mark.startMs) + LAYOUT.maxShiftPx + 1e-9);
          const before = marks[i - 1];
          const bothPooled = before !== undefined && before.shares.length > 1 && mark.shares.length > 1;
          if (before) expect(mark.x0 - before.x1).toBeGreaterThanOrEqual(bothPooled ? 0 : LAYOUT.gapPx - 1e-9);
        }
        const inWindow = spans.filter((x) => x.startMs <= windowMs);
        expect(marks.reduce((n, m) => n + m.shares.reduce((k, x) => k + x.turns, 0), 0)).toBe(inWindow.length);
      }),
    );
  });

  it('bins switches closer than binPx into one mark with their count', () => {
    const spans = [sw('a', 'b', 0), sw('b', 'a', 1), sw('a', 'b', 2), sw('b', 'a', 1_000)];
    const marks = layoutInstants(spans, ['switch'], scale(2_000));
    expect(marks.map((m) => m.count)).toEqual([3, 1]);
    expect(marks[0]!.span).toMatchObject({ from: 'a', function: 'b' });
  });
});
