import { describe, expect, it } from 'vitest';
import { requestAttainment, slackMs, tokenDeadline } from '../../../protocol/slo.js';

const slo = { ttftMs: 1000, tpotMs: 100 };

describe('token-deadline attainment', () => {
  it('puts the k-th token at arrival + TTFT + k·TPOT', () => {
    expect(tokenDeadline(50, 1, slo)).toBe(1150);
    expect(tokenDeadline(50, 3, slo)).toBe(1350);
  });

  it('counts tokens delivered by their deadlines over the expected total', () => {
    // deadlines 1100, 1200, 1300, 1400: the second is late, the fourth never came.
    expect(requestAttainment(0, [900, 1250, 1300], 4, slo)).toBe(0.5);
    // a token exactly on its deadline counts as met.
    expect(requestAttainment(0, [1100, 1200], 2, slo)).toBe(1);
  });

  it('scores an unfinished request as missing every remaining token, and ignores extra tokens', () => {
    expect(requestAttainment(0, [], 10, slo)).toBe(0);
    expect(requestAttainment(0, [1, 2, 3], 2, slo)).toBe(1);
    expect(requestAttainment(0, [], 0, slo)).toBe(1);
  });

  it('gives slack to the next token', () => {
    expect(slackMs(0, 2, slo, 1000)).toBe(300);
  });
});
