import { describe, expect, it } from 'vitest';
import { calibrationGaps, costsFor } from '../../../runtime/sim/catalogue.js';
import { simulateCluster } from '../../../runtime/sim/cluster.js';
import { goodput } from '../../../runtime/sim/plan.js';
import { GPUS } from '../../../runtime/sim/sim-types.js';
import { w1, w2, w3 } from '../../../runtime/sim/workloads.js';
import { lineChartSvg } from '../../../runtime/sim/svg-chart.js';

describe('cluster simulator', () => {
  it('is deterministic for a seed', async () => {
    const wl = w1({ models: 6, ratePerModel: 0.2, durationS: 60, seed: 42 });
    const a = await simulateCluster({ workload: wl, policy: 'tidepool', gpus: 2 });
    const b = await simulateCluster({ workload: w1({ models: 6, ratePerModel: 0.2, durationS: 60, seed: 42 }), policy: 'tidepool', gpus: 2 });
    const { wallMs: _a, ...ra } = a;
    const { wallMs: _b, ...rb } = b;
    expect(ra).toEqual(rb);
    expect(a.requests).toBeGreaterThan(30);
  });

  it('reaches ~100% attainment with dedicated GPUs to spare', async () => {
    const wl = w1({ models: 4, ratePerModel: 0.1, durationS: 60, seed: 3 });
    const r = await simulateCluster({ workload: wl, policy: 'dedicated', gpus: 8 });
    expect(r.unplaced).toBe(0);
    expect(r.attainment).toBeGreaterThan(0.99);
  });

  it('fits the calibration profiles within 12% (prefill) and 5% (decode) on H100', () => {
    const fits = [...costsFor(GPUS.H100!).fits.values()].filter((f) => f.points > 0);
    expect(fits.length).toBe(3);
    for (const f of fits) {
      expect(f.prefillError).toBeLessThan(0.12);
      expect(f.decodeError).toBeLessThan(0.05);
    }
    // The published anchor: qwen2.5-7b decode at batch 1, context 128 ≈ 9.3 ms.
    expect(costsFor(GPUS.H100!).decodeMs('qwen2_5_7b', 1, 128)).toBeCloseTo(9.3, 0);
  });

  it('builds W2 and W3 from the traces', () => {
    const a = w2({ totalRate: 2, durationS: 300, seed: 1 });
    const b = w3({ functions: 10, totalRate: 2, durationS: 300, seed: 1 });
    for (const wl of [a, b]) {
      expect(wl.requests.length).toBeGreaterThan(100);
      expect(wl.requests.every((r, i) => i === 0 || r.atMs >= wl.requests[i - 1]!.atMs)).toBe(true);
    }
    expect(b.functions).toHaveLength(10);
  });

  it('writes an SVG line chart', () => {
    const svg = lineChartSvg({
      title: 'a < b',
      xLabel: 'GPUs',
      yLabel: 'attainment',
      targetY: 0.9,
      series: [
        {
          name: 'tidepool',
          points: [
            [1, 0.5],
            [2, 0.95],
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('<path');
  });

  it('names the shapes a GPU has no calibration for, and refuses to simulate them', async () => {
    // On an A10 only qwen2_5_7b (and the shapes scaled from it) is profiled.
    expect(calibrationGaps(GPUS.A10!, ['qwen2_5_7b', 'yi1_5_9b_chat', 'qwen2_5_3b', 'llama2_13b_chat', 'yi1_5_9b_chat'])).toEqual([
      'llama2_13b_chat',
      'yi1_5_9b_chat',
    ]);
    expect(calibrationGaps(GPUS.H100!, ['qwen2_5_7b', 'yi1_5_9b_chat', 'qwen2_5_14b'])).toEqual([]);
    const wl = w1({ models: 5, ratePerModel: 0.1, durationS: 30, seed: 1 });
    await expect(simulateCluster({ workload: wl, policy: 'tidepool', gpus: 1, gpu: GPUS.A10! })).rejects.toThrow(
      /no step-time calibration for llama2_13b_chat, yi1_5_9b_chat on A10/,
    );
  });

  it('refines goodput by bisection between the last passing and the first failing rate', async () => {
    const workloadAt = (rate: number) => w1({ models: 4, ratePerModel: rate, durationS: 60, seed: 5 });
    const gp = await goodput({ policies: ['tidepool'], gpus: 1, rates: [0.05, 8], refineSteps: 3, workloadAt });
    const g = gp.tidepool!;
    // 0.05 passes, 8 req/s per model cannot: three halvings of that gap, ending 7.95 / 8 apart.
    expect(g.runs.map((r) => r.rate)).toEqual([...g.runs.map((r) => r.rate)].sort((a, b) => a - b));
    expect(g.runs).toHaveLength(5);
    expect(g.missed! - g.rate!).toBeCloseTo((8 - 0.05) / 8, 9);
    for (const r of g.runs) {
      expect(r.attainment >= 0.9).toBe(r.rate <= g.rate!);
      expect(r.goodputReqPerS).toBeLessThanOrEqual(r.offeredReqPerS);
    }
    // When even the lowest rate misses, the bisection runs between 0 and it.
    const low = await goodput({ policies: ['tidepool'], gpus: 1, rates: [8], refineSteps: 2, workloadAt });
    expect(low.tidepool!.missed! - (low.tidepool!.rate ?? 0)).toBeCloseTo(2, 9);
    expect(low.tidepool!.runs).toHaveLength(3);
  });
});
