import { describe, expect, it } from 'vitest';
import { attainmentVsGpusSvg, goodputSvg } from '../../../runtime/sim/plan-charts.js';
import { niceTicks } from '../../../runtime/sim/svg-chart.js';

describe('plan charts', () => {
  it('puts ticks on a 1-2-5 step, whole numbers for GPU counts', () => {
    expect(niceTicks(1, 80, true)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(1, 12, true)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(niceTicks(1, 3, true)).toEqual([1, 2, 3]);
    expect(niceTicks(0.05, 0.3, false)).toEqual([0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
  });

  it('keeps dedicated off the GPU axis and names its count in the legend', () => {
    const svg = attainmentVsGpusSvg(
      [
        { policy: 'tidepool', gpus: 2, attainment: 0.8 },
        { policy: 'tidepool', gpus: 3, attainment: 0.95 },
        { policy: 'dedicated', gpus: 16, attainment: 1 },
      ],
      ['tidepool', 'dedicated'],
      'W1',
      0.9,
    );
    expect(svg).toContain('dedicated → 16');
    expect(svg).not.toMatch(/>16<\/text>/);
    expect(svg).toMatch(/>3<\/text>/);
  });

  it('draws one attainment-vs-rate line per policy', () => {
    const svg = goodputSvg({ tidepool: { runs: [{ rate: 0.1, attainment: 0.95 }, { rate: 0.2, attainment: 0.7 }] }, aegaeon: { runs: [{ rate: 0.1, attainment: 0.8 }] } }, 'goodput', 'req/s', 0.9);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('aegaeon');
  });
});
