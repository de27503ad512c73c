import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../../platform/quota/sliding-window.js';

describe('sliding window', () => {
  it('admits up to the limit, then says how long until the oldest charge leaves the window', () => {
    const w = new SlidingWindow({ windowMs: 60_000, slotMs: 1000 });
    expect(w.waitMs(1, 2, 10_500)).toBe(0);
    w.charge(1, 10_500);
    w.charge(1, 20_000);
    expect(w.used(20_000)).toBe(2);
    // The charge made in slot [10 s, 11 s) counts until 11 s + 60 s.
    expect(w.waitMs(1, 2, 20_000)).toBe(71_000 - 20_000);
    expect(w.waitMs(1, 2, 70_999)).toBe(1);
    expect(w.waitMs(1, 2, 71_000)).toBe(0);
    expect(w.used(71_000)).toBe(1);
  });

  it('never lets the charges of any 60 s interval sum past the limit', () => {
    const w = new SlidingWindow();
    const admitted: number[] = [];
    // A client that retries every 250 ms for five minutes.
    for (let t = 0; t < 300_000; t += 250) {
      if (w.waitMs(1, 10, t) === 0) {
        w.charge(1, t);
        admitted.push(t);
      }
    }
    for (const start of admitted) expect(admitted.filter((t) => t >= start && t < start + 60_000).length).toBeLessThanOrEqual(10);
    // ...and it still gets nearly its whole rate (one slot of rounding per window).
    expect(admitted.length).toBeGreaterThanOrEqual(45);
  });

  it('waits for enough slots to expire to fit a large cost, and never for a cost above the limit', () => {
    const w = new SlidingWindow();
    w.charge(30, 0);
    w.charge(30, 5_000);
    w.charge(30, 9_000);
    expect(w.waitMs(10, 100, 10_000)).toBe(0);
    // 90 used + 50 = 140: the first two charges (expiring at 61 s and 66 s) must leave.
    expect(w.waitMs(50, 100, 10_000)).toBe(66_000 - 10_000);
    expect(w.waitMs(101, 100, 10_000)).toBe(Infinity);
  });

  it('refunds at most what was charged, and not after the charge left the window', () => {
    const w = new SlidingWindow();
    const a = w.charge(40, 0);
    a.refund(30);
    expect(w.used(1)).toBe(10);
    a.refund(30);
    expect(w.used(1)).toBe(0);
    const b = w.charge(40, 1000);
    w.charge(5, 1500);
    b.refund(-3);
    expect(w.used(1600)).toBe(45);
    expect(w.isEmpty(200_000)).toBe(true);
    b.refund(40);
    expect(w.used(200_000)).toBe(0);
    w.charge(1, 200_000);
    b.refund(40);
    expect(w.used(200_000)).toBe(1);
  });
});
