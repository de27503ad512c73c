import { describe, expect, it } from 'vitest';
import { attainmentVsGpusSvg, attainmentVsRateSvg, goodputSvg } from '../../../runtime/sim/plan-charts.js';
import { niceCeil, niceTicks } from '../../../runtime/sim/svg-chart.js';

const run = (rate: number, attainment: number, offeredReqPerS: number, goodputReqPerS: number) => ({ rate, attainment, offeredReqPerS, goodputReqPerS });
const byPolicy = {
  tidepool: { rate: 0.1, runs: [run(0.1, 0.95, 1.6, 1.4), run(0.2, 0.7, 3.2, 1.5)] },
  aegaeon: { rate: undefined, runs: [run(0.1, 0.8, 1.6, 0.9)] },
};

describe('plan charts', () => {
  it('puts ticks on a 1-2-5 step, whole numbers for GPU counts', () => {
    expect(niceTicks(1, 80, true)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(1, 12, true)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(niceTicks(1, 3, true)).toEqual([1, 2, 3]);
    expect(niceTicks(0.05, 0.3, false)).toEqual([0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(niceTicks(0, 1, false)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect([niceCeil(3.2), niceCeil(0.07), niceCeil(20), niceCeil(0), niceCeil(2.5)]).toEqual([4, 0.08, 20, 1, 2.5]);
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

  it('plots goodput (requests/s meeting the SLO) against offered load, ringing each policy’s goodput', () => {
    const svg = goodputSvg(byPolicy, 'W1 goodput', 0.9);
    expect(svg).toContain('goodput: requests/s meeting the SLO'); // y axis
    expect(svg).toContain('offered load (requests/s)'); // x axis
    // One line per policy plus the dashed "every request on time" diagonal.
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(svg).toContain('every request on time');
    expect(svg).toContain('tidepool: 1.6 req/s'); // its goodput: the offered rate of its last run at ≥ 90%
    expect(svg).toContain('aegaeon: &lt; 1.6 req/s');
    expect(svg.match(/r="7"/g)).toHaveLength(1); // the ring on tidepool's goodput point
    // The y axis runs to a round number at or above the largest offered load (3.2 → 4), like the x data.
    expect(svg).toMatch(/>4<\/text>/);
    // Points are (offered, met the SLO), not attainment: tidepool's second run sits at y = 1.5 of 4.
    const plotTop = 52;
    const plotBottom = 420 - 50;
    const y15 = (plotBottom - (1.5 / 4) * (plotBottom - plotTop)).toFixed(1);
    expect(svg).toContain(`,${y15}`);
  });

  it('keeps an attainment-vs-offered-load chart with the target line', () => {
    const svg = attainmentVsRateSvg(byPolicy, 'W1', 0.9);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('token-deadline attainment');
    expect(svg).toContain('stroke-dasharray="5,4"'); // the 90% target
  });
});
