import { describe, expect, it } from 'vitest';
import { roundRobinQuotas } from '../../../runtime/scheduler/quota.js';

describe('aegaeon round-robin quotas', () => {
  it('matches a hand-worked two-batch round', () => {
    // t/d = 0.1 each, C = 600: q = 600·0.1 / (1 − 0.2) = 75 ms. Round = 150 + 600 = 750 ms; each batch makes
    // 7.5 tokens, which buy 7.5 · 100 = 750 ms of deadline: exactly the round.
    expect(
      roundRobinQuotas([
        { stepMs: 10, tpotMs: 100, switchMs: 300 },
        { stepMs: 10, tpotMs: 100, switchMs: 300 },
      ]),
    ).toEqual([75, 75]);
  });

  it('weights quotas by step time over TPOT', () => {
    // ratios 0.1, 0.2, 0.2 → load 0.5; C = 300 → q = 300·r / 0.5 = 60, 120, 120.
    const q = roundRobinQuotas([
      { stepMs: 10, tpotMs: 100, switchMs: 100 },
      { stepMs: 20, tpotMs: 100, switchMs: 100 },
      { stepMs: 10, tpotMs: 50, switchMs: 100 },
    ]);
    expect(q.map((v) => Math.round(v * 1e6) / 1e6)).toEqual([60, 120, 120]);
  });

  it('caps at 4 s, and gives the cap to an over-committed round and a lone batch', () => {
    expect(
      roundRobinQuotas([
        { stepMs: 10, tpotMs: 100, switchMs: 30_000 },
        { stepMs: 10, tpotMs: 100, switchMs: 30_000 },
      ]),
    ).toEqual([4000, 4000]);
    expect(
      roundRobinQuotas([
        { stepMs: 60, tpotMs: 100, switchMs: 10 },
        { stepMs: 50, tpotMs: 100, switchMs: 10 },
      ]),
    ).toEqual([4000, 4000]);
    expect(roundRobinQuotas([{ stepMs: 10, tpotMs: 100, switchMs: 300 }])).toEqual([4000]);
  });
});
