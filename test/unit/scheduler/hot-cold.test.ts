import { describe, expect, it } from 'vitest';
import { createDemandTracker } from '../../../runtime/scheduler/demand.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { chooseVictim } from '../../../runtime/scheduler/residency.js';
import { newModelState } from '../../../runtime/scheduler/state.js';
import type { SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { fakeEngine, model, recorder, request } from './fake-engine.js';

const evicted = (events: SchedulerEvent[]) => events.filter((e) => e.type === 'evict').map((e) => (e as { weightsDigest: string }).weightsDigest);

describe('hot and cold models on one GPU (tidepool)', () => {
  it('estimates a steady arrival rate and lets it decay when the model goes quiet', () => {
    const d = createDemandTracker(60_000);
    for (let t = 0; t < 600_000; t += 2000) d.arrive('hot', t); // 0.5 req/s for 10 min
    d.arrive('cold', 598_000);
    expect(d.ratePerS('hot', 600_000)).toBeCloseTo(0.5, 1);
    expect(d.ratePerS('cold', 600_000)).toBeLessThan(0.02);
    expect(d.ratePerS('hot', 600_000 + 120_000)).toBeCloseTo(0.125, 1); // two half-lives later
    expect(d.ratePerS('never', 0)).toBe(0);
  });

  it('picks idle before busy, the least asked-for first, then the least recently run', () => {
    const m = (key: string, lastRunMs: number, busy = false) => {
      const s = newModelState(model(key), key, lastRunMs);
      s.residency = 'resident';
      if (busy) s.requests.set(1, {} as never);
      return s;
    };
    const rate: Record<string, number> = { hot: 1, cold: 0.01, older: 0.01, busy: 0 };
    const value = (s: { ref: { weightsDigest: string } }) => rate[s.ref.weightsDigest]!;
    const models = [m('hot', 0), m('cold', 500), m('older', 100), m('busy', 0, true)];
    expect(chooseVictim(models, new Set(), true, value)?.ref.weightsDigest).toBe('older');
    expect(chooseVictim(models, new Set(['older']), true, value)?.ref.weightsDigest).toBe('cold');
    expect(chooseVictim(models, new Set(['older', 'cold', 'hot']), false, value)).toBeUndefined();
    expect(chooseVictim(models, new Set(['older', 'cold', 'hot']), true, value)?.ref.weightsDigest).toBe('busy');
  });

  it('does not evict a hot model for a cold one while a colder model holds a slot', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => events.push(e) });
    const hot = model('hot');
    for (let i = 0; i < 6; i++) {
      s.submit(request(hot, 3), recorder(clock).sink);
      await clock.run(clock.now() + 1000);
    }
    // A cold model runs after the hot one, so least-recently-run alone would now pick the hot model.
    s.submit(request(model('cold-1'), 3), recorder(clock).sink);
    await clock.run(clock.now() + 1000);
    const late = recorder(clock);
    s.submit(request(model('cold-2'), 3), late.sink);
    await clock.run();
    expect(late.rec.done).toBe('length');
    expect(evicted(events)).toEqual(['cold-1']);
    const resident = s
      .snapshot()
      .models.filter((m) => m.resident)
      .map((m) => m.weightsDigest)
      .sort();
    expect(resident).toEqual(['cold-2', 'hot']);
    await s.close();
  });

  it('never prefetches by pushing out a model with work that runs before the prefetched one', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => events.push(e) });
    const loose = { ttftMs: 20_000, tpotMs: 1000 };
    const recs = ['a', 'b'].map((k) => {
      const r = recorder(clock);
      s.submit(request(model(k), 200, { ttftMs: 1000, tpotMs: 25 }), r.sink); // a and b must take turns
      return r;
    });
    await clock.run(clock.now() + 500); // a and b resident, both decoding, each turn planned with c absent
    const c = recorder(clock);
    s.submit(request(model('c'), 5, loose), c.sink);
    await clock.run();
    expect([...recs, c].map((r) => r.rec.done)).toEqual(['length', 'length', 'length']);
    // c's own turn comes after a and b are done (its SLO is loose), so both run before it: a prefetch of c
    // may only use room that a finished model left, and nothing is evicted while both still decode.
    const firstDone = Math.min(...recs.map((r) => r.rec.times[r.rec.times.length - 1]!));
    const evicts = events.filter((e) => e.type === 'evict');
    expect(evicts.length).toBeGreaterThan(0);
    for (const e of evicts) expect(e.atMs).toBeGreaterThanOrEqual(firstDone);
    await s.close();
  });

  it('lets an arrival with slack wait for the turn boundary instead of cutting the turn', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => events.push(e) });
    const a = model('a');
    const b = model('b');
    s.submit(request(b, 1), recorder(clock).sink);
    await clock.run(); // b resident, idle
    const long = recorder(clock);
    s.submit(request(a, 300, { ttftMs: 10_000, tpotMs: 100 }), long.sink);
    await clock.run(clock.now() + 500);
    const relaxed = recorder(clock);
    s.submit(request(b, 5, { ttftMs: 10_000, tpotMs: 100 }), relaxed.sink);
    await clock.run();
    expect(events.some((e) => e.type === 'turn' && e.reason === 'preempted')).toBe(false);
    expect(relaxed.rec.done).toBe('length');
    expect(relaxed.rec.times[0]! - 500).toBeLessThan(10_000);
    await s.close();
  });
});
