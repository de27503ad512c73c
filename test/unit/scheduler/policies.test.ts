import { describe, expect, it } from 'vitest';
import { createCostEstimator } from '../../../runtime/scheduler/cost-estimator.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import type { PolicyName, SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { GB, fakeEngine, model, recorder, request } from './fake-engine.js';

describe('scheduling policies on a fake engine', () => {
  it('preempts a loose-SLO function at the next token when a tight-SLO one arrives (tidepool)', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 4 });
    const s = createGpuScheduler({ engine, clock });
    const a = model('loose');
    const b = model('tight');
    s.submit(request(a, 1), recorder(clock).sink);
    s.submit(request(b, 1), recorder(clock).sink);
    await clock.run(); // both resident now
    const long = recorder(clock);
    s.submit(request(a, 1000, { ttftMs: 100_000, tpotMs: 1000 }), long.sink);
    await clock.run(clock.now() + 505);
    const arrival = clock.now();
    const tight = recorder(clock);
    s.submit(request(b, 3, { ttftMs: 50, tpotMs: 20 }), tight.sink);
    await clock.run();
    // At most the decode step in flight (10 ms) plus the prefill (20 ms) before the tight request's first token.
    expect(tight.rec.times[0]! - arrival).toBeLessThanOrEqual(30);
    expect(long.rec.done).toBe('length');
    await s.close();
  });

  for (const policy of ['tidepool', 'aegaeon', 'request-level'] as PolicyName[]) {
    it(`does not starve a model under a steady stream for another (${policy})`, async () => {
      const { clock, engine } = fakeEngine({ arenaGb: 2 });
      const s = createGpuScheduler({ engine, clock, policy, costs: { h2dBytesPerMs: 0.01 * GB, switchOverheadMs: 0 } });
      const hot = model('hot', 2);
      const cold = model('cold', 2);
      const victim = recorder(clock);
      s.submit(request(cold, 20, { ttftMs: 2000, tpotMs: 200 }), victim.sink);
      // A new hot request every 100 ms for 20 s, each 30 tokens long: the hot model always has work.
      const hotRecs = [];
      for (let i = 0; i < 200; i++) {
        const r = recorder(clock);
        hotRecs.push(r.rec);
        s.submit(request(hot, 30, { ttftMs: 2000, tpotMs: 200 }), r.sink);
        await clock.run(clock.now() + 100);
      }
      await clock.run();
      expect(victim.rec.done).toBe('length');
      expect(victim.rec.times).toHaveLength(20);
      if (policy !== 'request-level') expect(victim.rec.times[0]!).toBeLessThan(10_000);
      expect(hotRecs.every((r) => r.done === 'length')).toBe(true);
      await s.close();
    });
  }

  it('never lets a switch exceed its bandwidth estimate by more than the configured slack', async () => {
    const slackMs = 5;
    const { clock, engine } = fakeEngine({ arenaGb: 2, loadOverheadMs: 20 });
    const costOptions = { h2dBytesPerMs: 0.01 * GB, switchOverheadMs: 20 };
    const estimator = createCostEstimator(costOptions);
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, policy: 'aegaeon', costs: costOptions, onEvent: (e) => events.push(e) });
    for (let i = 0; i < 30; i++) {
      s.submit(request(model(`m${i % 3}`, 1 + (i % 3 === 1 ? 1 : 0)), 10), recorder(clock).sink);
      await clock.run(clock.now() + 300);
    }
    await clock.run();
    const loads = events.filter((e) => e.type === 'load' && !e.cached);
    expect(loads.length).toBeGreaterThan(3);
    for (const e of loads) {
      if (e.type !== 'load') continue;
      const bytes = e.model === 'm1' ? 2 * GB : GB;
      expect(e.ms).toBeLessThanOrEqual(estimator.loadMs(bytes) + slackMs);
    }
    await s.close();
  });
});
