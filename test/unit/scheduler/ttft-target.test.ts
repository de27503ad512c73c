import { describe, expect, it } from 'vitest';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { createTidepoolPolicy } from '../../../runtime/scheduler/policies/tidepool.js';
import type { TidepoolOptions } from '../../../runtime/scheduler/policies/tidepool.js';
import { GB, fakeEngine, model, recorder, request } from './fake-engine.js';
import type { Recorded } from './fake-engine.js';

const SLO = { ttftMs: 10_000, tpotMs: 100 };
const ARRIVAL_MS = 2000;

/** A busy model streams requests; a second model's request arrives at 2 s. When does its first token come? */
async function coldFirstToken(options: Partial<TidepoolOptions>): Promise<{ cold: Recorded; hot: Recorded[] }> {
  const { clock, engine } = fakeEngine({ arenaGb: 4 });
  const s = createGpuScheduler({ engine, clock, policy: createTidepoolPolicy(options), costs: { h2dBytesPerMs: 0.01 * GB, switchOverheadMs: 0 } });
  const hot: Recorded[] = [];
  const cold = recorder(clock);
  for (let t = 0; t < 12_000; t += 200) {
    if (t === ARRIVAL_MS) s.submit(request(model('cold'), 20, SLO), cold.sink);
    const r = recorder(clock);
    hot.push(r.rec);
    s.submit(request(model('hot'), 40, SLO), r.sink);
    await clock.run(clock.now() + 200);
  }
  await clock.run();
  await s.close();
  return { cold: cold.rec, hot };
}

describe('tidepool TTFT target', () => {
  it('lets a cold model wait while it has slack by default, and serves it within the target when one is set', async () => {
    // By default the hot model keeps its turn until its 4 s solo quota ends: the cold request has 10 s of slack.
    const lazy = await coldFirstToken({});
    expect(lazy.cold.times[0]! - ARRIVAL_MS).toBeGreaterThan(2000);
    // Planned against a 1 s TTFT, its arrival cuts the hot turn: the switch (100 ms) and its prefill follow.
    const prompt = await coldFirstToken({ ttftTargetMs: 1000 });
    expect(prompt.cold.times[0]! - ARRIVAL_MS).toBeLessThanOrEqual(1000);
    // Both still meet the SLO: every token of every request by its deadline.
    for (const run of [lazy, prompt]) {
      expect(run.cold.times.length).toBe(20);
      expect(run.cold.times.every((t, k) => t <= ARRIVAL_MS + SLO.ttftMs + (k + 1) * SLO.tpotMs)).toBe(true);
      expect(run.hot.every((r) => r.done === 'length' && r.times.length === 40)).toBe(true);
    }
  });
});
