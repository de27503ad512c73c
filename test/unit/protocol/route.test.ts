import { describe, expect, it } from 'vitest';
import { chooseRoute } from '../../../protocol/routing/route.js';
import type { RouteCandidate } from '../../../protocol/routing/route.js';

const none = { kind: 'none' } as const;
const c = (tier: number, load: number, extra: Partial<RouteCandidate> = {}): RouteCandidate => ({ tier, load, ...extra });

describe('routing core', () => {
  it('takes the lowest tier, then the least load, then the tiebreak, then the earliest candidate', () => {
    expect(chooseRoute([c(2, 0), c(1, 9), c(1, 5)], none)).toEqual({ index: 2, spilled: false });
    expect(chooseRoute([c(3, 5, { tiebreak: 2 }), c(3, 5, { tiebreak: 1 }), c(3, 6)], none)!.index).toBe(1);
    expect(chooseRoute([c(0, 1), c(0, 1)], none)!.index).toBe(0);
    expect(chooseRoute([], none)).toBeUndefined();
  });

  it('avoids candidates that are down while one is up, and uses them when none is', () => {
    expect(chooseRoute([c(0, 0, { up: false }), c(3, 100)], none)!.index).toBe(1);
    expect(chooseRoute([c(1, 0, { up: false }), c(0, 100, { up: false })], none)!.index).toBe(1);
  });

  it('spills an overloaded choice to the least loaded candidate: past the least load, or a multiple of the mean', () => {
    const node = { kind: 'overloaded', slack: 4000, meanFactor: 0 } as const;
    expect(chooseRoute([c(0, 4000), c(3, 0)], node)).toEqual({ index: 0, spilled: false });
    expect(chooseRoute([c(0, 4001), c(3, 0)], node)).toEqual({ index: 1, spilled: true });
    // 2 × the mean of (9000, 0, 0, 3000) = 6000: 9000 is not past 6000 + 4000; 2 × the mean of (12000, 0, 0, 0)
    // is 6000 too, and 12000 is.
    const mean = { kind: 'overloaded', slack: 4000, meanFactor: 2 } as const;
    expect(chooseRoute([c(0, 9000), c(3, 0), c(3, 0), c(3, 3000)], mean)).toEqual({ index: 0, spilled: false });
    expect(chooseRoute([c(0, 12_000), c(3, 0), c(3, 0), c(3, 0)], mean)).toEqual({ index: 1, spilled: true });
  });

  it('spreads a popular model off its hot candidate once it holds enough of its requests and another is less loaded', () => {
    const spread = { kind: 'model-load', at: 4, belowTier: 2 } as const;
    expect(chooseRoute([c(0, 9, { modelLoad: 3 }), c(2, 1)], spread)).toEqual({ index: 0, spilled: false });
    expect(chooseRoute([c(0, 9, { modelLoad: 4 }), c(2, 1), c(1, 1)], spread)).toEqual({ index: 2, spilled: true });
    expect(chooseRoute([c(0, 1, { modelLoad: 9 }), c(2, 1)], spread)).toEqual({ index: 0, spilled: false });
    // Not for a candidate at or past `belowTier` (the model is nowhere near).
    expect(chooseRoute([c(2, 9, { modelLoad: 9 }), c(2, 10)], spread)).toEqual({ index: 0, spilled: false });
  });
});
