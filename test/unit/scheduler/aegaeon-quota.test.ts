import { describe, expect, it } from 'vitest';
import { AEGAEON_QUOTA_DEFAULTS, aegaeonQuotas, aegaeonSwitchEstimateMs } from '../../../runtime/scheduler/aegaeon-quota.js';

/** The artifact's own form: q_i = c0·(Πn/n_i) / (Πn·alpha − Σ_k Πn/n_k). */
function productForm(n: readonly number[], c0: number, alpha: number): number[] {
  const prod = n.reduce((p, v) => p * v, 1);
  const sum = n.reduce((s, v) => s + prod / v, 0);
  return n.map((v) => (c0 * (prod / v)) / (prod * alpha - sum));
}

describe("aegaeon decode quotas (the artifact's formula)", () => {
  it('takes the 0.5 floor on alpha when switches are cheap beside QMAX', () => {
    // n = 100/10 = 10 for both; Σ 1/n = 0.2; c0/(min n · QMAX) = 600/40000 = 0.015 → alpha = max(0.215, 0.5) = 0.5.
    // q = 600 · 0.1 / (0.5 − 0.2) = 200 ms each.
    const q = aegaeonQuotas(
      [
        { stepMs: 10, tpotMs: 100 },
        { stepMs: 10, tpotMs: 100 },
      ],
      600,
    );
    expect(q.n).toEqual([10, 10]);
    expect(q.alpha).toBe(0.5);
    expect(q.quotasMs.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([200, 200]);
  });

  it("caps the largest quota at QMAX through alpha when the round's switch estimate is large", () => {
    // n = 10, 5, 10; Σ 1/n = 0.4; c0 = 30 s: c0/(5 · 4000) = 1.5 → alpha = 1.9; q = 30000 · (1/n) / 1.5.
    const q = aegaeonQuotas(
      [
        { stepMs: 10, tpotMs: 100 },
        { stepMs: 20, tpotMs: 100 },
        { stepMs: 10, tpotMs: 100 },
      ],
      30_000,
    );
    expect(q.alpha).toBeCloseTo(1.9, 12);
    expect(q.quotasMs.map((v) => Math.round(v * 1e6) / 1e6)).toEqual([2000, AEGAEON_QUOTA_DEFAULTS.qmaxMs, 2000]);
  });

  it('gives a lone batch a quota from its own switch estimate, not QMAX', () => {
    // One 7B model: c0 = 2953 ms; n = 10 → alpha = max(2953/40000 + 0.1, 0.5) = 0.5; q = 295.3 / 0.4 = 738.25 ms.
    const q = aegaeonQuotas([{ stepMs: 10, tpotMs: 100 }], 2953);
    expect(q.alpha).toBe(0.5);
    expect(q.quotasMs[0]).toBeCloseTo(738.25, 9);
  });

  it("equals the artifact's product form on uneven rounds", () => {
    const batches = [
      { stepMs: 9.3, tpotMs: 100 },
      { stepMs: 13.7, tpotMs: 100 },
      { stepMs: 12.4, tpotMs: 100 },
      { stepMs: 31, tpotMs: 100 },
    ];
    for (const c0 of [100, 2953, 12_000, 90_000]) {
      const q = aegaeonQuotas(batches, c0);
      const expected = productForm(q.n, c0, q.alpha);
      for (const [i, v] of q.quotasMs.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
      expect(Math.max(...q.quotasMs)).toBeLessThanOrEqual(AEGAEON_QUOTA_DEFAULTS.qmaxMs + 1e-9);
    }
  });

  it('prices a switch at 15% of the PCIe bandwidth, and refuses a round without switch cost', () => {
    // 15.23 GB over 0.15 × 32 GiB/s (the artifact's H100 figure) = 2955 ms.
    expect(aegaeonSwitchEstimateMs(15.23e9, (32 * 2 ** 30) / 1000)).toBeCloseTo(2955.0, 1);
    expect(() => aegaeonQuotas([{ stepMs: 10, tpotMs: 100 }], 0)).toThrow(/switch estimate must be positive/);
  });
});
