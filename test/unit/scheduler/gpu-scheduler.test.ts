import { describe, expect, it } from 'vitest';
import { TidepoolError } from '../../../protocol/errors.js';
import type { SequenceSink } from '../../../runtime/engine/engine.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import type { SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { fakeEngine, model, recorder, request } from './fake-engine.js';

describe('gpu scheduler loop', () => {
  it('loads the model, prefills, then decodes every token of a request', async () => {
    const { clock, engine } = fakeEngine();
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => events.push(e) });
    const { sink, rec } = recorder(clock);
    s.submit(request(model('a'), 5), sink);
    await clock.run();
    expect(rec.done).toBe('length');
    // load 1 GB at 0.01 GB/ms = 100 ms, prefill 20 ms gives token 1, then four 10 ms decode steps.
    expect(rec.times).toEqual([120, 130, 140, 150, 160]);
    expect(events.map((e) => e.type)).toContain('load');
    expect(s.snapshot().models.find((m) => m.weightsDigest === 'a')?.resident).toBe(true);
    await s.close();
  });

  it('evicts the least recently run idle model when the weights arena is full', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => events.push(e) });
    const a = recorder(clock);
    const b = recorder(clock);
    s.submit(request(model('a'), 3), a.sink);
    await clock.run();
    s.submit(request(model('b'), 3), b.sink);
    await clock.run();
    expect(a.rec.done).toBe('length');
    expect(b.rec.done).toBe('length');
    expect(events.filter((e) => e.type === 'evict').map((e) => (e as { weightsDigest: string }).weightsDigest)).toEqual(['a']);
    const snap = s.snapshot();
    expect(snap.policy).toBe('tidepool');
    expect(snap.models.map((m) => [m.weightsDigest, m.resident])).toEqual([['b', true]]);
    await s.close();
  });

  it('serves two models whose weights cannot both be resident, parking KV across switches', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const s = createGpuScheduler({ engine, clock });
    const recs = ['a', 'b', 'a', 'b'].map((k) => {
      const r = recorder(clock);
      s.submit(request(model(k), 40, { ttftMs: 500, tpotMs: 20 }), r.sink);
      return r.rec;
    });
    await clock.run();
    for (const r of recs) expect([r.done, r.times.length]).toEqual(['length', 40]);
    expect(engine.sequenceCount('parked')).toBe(0);
    await s.close();
  });

  it('cancels a queued request without touching the engine, and reports a duplicate id as an error', async () => {
    const { clock, engine } = fakeEngine();
    const s = createGpuScheduler({ engine, clock });
    const first = recorder(clock);
    const req = request(model('a'), 3);
    s.submit(req, first.sink);
    const dup = recorder(clock);
    s.submit(req, dup.sink);
    expect(dup.rec.done).toBe('error');
    s.cancel(req.id);
    await clock.run();
    expect(first.rec.done).toBe('cancelled');
    expect(first.rec.times).toEqual([]);
    await s.close();
  });

  it('fails the requests of a model that can never fit, and keeps serving others', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const s = createGpuScheduler({ engine, clock });
    const big = recorder(clock);
    const ok = recorder(clock);
    s.submit(request(model('huge', 2), 3), big.sink);
    s.submit(request(model('a'), 3), ok.sink);
    await clock.run();
    expect(big.rec.done).toBe('error');
    expect(ok.rec.done).toBe('length');
    await s.close();
  });

  it('ends the queued requests of every model at once with the error it was closed with', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const s = createGpuScheduler({ engine, clock });
    const ends: { model: string; reason: string; error?: TidepoolError }[] = [];
    const sinkFor = (name: string): SequenceSink => ({ onToken: () => {}, onDone: (reason, _usage, error) => void ends.push({ model: name, reason, error }) });
    const running = recorder(clock);
    s.submit(request(model('a'), 400), running.sink);
    await clock.run(200);
    expect(running.rec.times.length).toBeGreaterThan(0);
    for (const name of ['b', 'c', 'b']) s.submit(request(model(name), 3), sinkFor(name));
    const closedWith = new TidepoolError('engine_down', 'engine connection closed');
    const closing = s.close(closedWith);
    // Before the loop has even stopped: nothing queued waits for a turn that will not come.
    expect(ends).toEqual(['b', 'c', 'b'].map((name) => ({ model: name, reason: 'error', error: closedWith })).sort((x, y) => x.model.localeCompare(y.model)));
    await clock.run();
    await closing;
    const late: { error?: TidepoolError } = {};
    s.submit(request(model('d'), 3), { onToken: () => {}, onDone: (_r, _u, error) => void (late.error = error) });
    expect(late.error).toBe(closedWith);
  });
});
