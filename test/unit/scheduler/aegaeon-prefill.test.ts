import { describe, expect, it } from 'vitest';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { createAegaeonPrefillPolicy } from '../../../runtime/scheduler/policies/aegaeon-prefill.js';
import { GB, fakeEngine, model, recordCalls, recorder, request, turnsOf } from './fake-engine.js';
import type { EngineCall } from './fake-engine.js';
import { digest } from '../../helpers/weights-digest.js';

/** A prefill instance of the published Aegaeon on the fake engine: prefill steps 20 ms, 1 GB loads in 225 ms. */
function prefillInstance() {
  const { clock, engine } = fakeEngine({ arenaGb: 2, h2dGbPerMs: 1 / 225 });
  const calls = recordCalls(engine, clock);
  const policy = createAegaeonPrefillPolicy();
  const s = createGpuScheduler({ engine, clock, policy, costs: { h2dBytesPerMs: GB / 225, switchOverheadMs: 0 } });
  const ids: Record<string, number> = {};
  const submit = (label: string) => {
    const key = digest(label[0]!);
    const req = request(model(key), 1, { ttftMs: 10_000, tpotMs: 100 });
    ids[label] = req.id;
    policy.enqueue(req.id, key);
    const r = recorder(clock);
    s.submit(req, r.sink);
    return r.rec;
  };
  return { clock, calls, policy, s, submit, ids };
}

describe('aegaeon prefill instance', () => {
  it('queues groups of up to 8 requests of one model first come first served, and prefills one request a batch', async () => {
    const { clock, calls, policy, s, submit, ids } = prefillInstance();
    // a1–a8 fill a group; a9 opens a second a-group behind it; b1 a group of its own; a10 joins the second
    // a-group (it has room), ahead of b1 although it came later; c1 last.
    const labels = [...Array.from({ length: 9 }, (_, i) => `a${i + 1}`), 'b1', 'a10', 'c1'];
    const recs = labels.map((l) => submit(l));
    expect([policy.waiting(), policy.hasOpenGroup(digest('a')), policy.hasOpenGroup(digest('z'))]).toEqual([12, true, false]);
    await clock.run();
    await s.close();
    const admitted = calls.filter((c): c is Extract<EngineCall, { op: 'add' }> => c.op === 'add').map((c) => c.id);
    const order = [...Array.from({ length: 8 }, (_, i) => `a${i + 1}`), 'a9', 'a10', 'b1', 'c1'];
    expect(admitted).toEqual(order.map((l) => ids[l]));
    const turns = turnsOf(calls);
    expect(turns.map((t) => [t.model, t.maxSteps, t.steps])).toEqual(order.map((l) => [l[0], 1, 1]));
    expect(recs.every((r) => r.done === 'length' && r.times.length === 1)).toBe(true);
    expect(policy.waiting()).toBe(0);
  });

  it("switches only when the next request's model differs, prefetching the first later group of another model", async () => {
    const { clock, calls, s, submit } = prefillInstance();
    for (const l of ['a1', 'a2', 'b1', 'b2', 'c1']) submit(l);
    await clock.run();
    await s.close();
    const loads = calls.filter((c): c is Extract<EngineCall, { op: 'load' }> => c.op === 'load');
    expect(loads.map((l) => l.model)).toEqual(['a', 'b', 'c']);
    const turns = turnsOf(calls);
    // b's weights were fetched behind a's prefills (the switch to a named b), and c's behind b's.
    const turnOf = (m: string) => turns.find((t) => t.model === m)!;
    expect(loads[1]!.at).toBeLessThan(turnOf('a').end!);
    expect(loads[2]!.at).toBeLessThan(turns.filter((t) => t.model === 'b').at(-1)!.end!);
    expect(loads[2]!.at).toBeGreaterThanOrEqual(turnOf('b').at);
  });
});
