import { describe, expect, it } from 'vitest';
import { createCostEstimator } from '../../../runtime/scheduler/cost-estimator.js';
import { createDemandTracker } from '../../../runtime/scheduler/demand.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { createResidency } from '../../../runtime/scheduler/kv-and-weights.js';
import { createPolicy } from '../../../runtime/scheduler/policies/index.js';
import type { SchedulerView } from '../../../runtime/scheduler/policy.js';
import { newModelState } from '../../../runtime/scheduler/state.js';
import type { ModelState, Residency } from '../../../runtime/scheduler/state.js';
import type { SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { FLAT_COSTS, fakeEngine, model, recordCalls, recordPlans, recorder, request, turnsOf } from './fake-engine.js';
import type { EngineCall } from './fake-engine.js';
import { digest } from '../../helpers/weights-digest.js';

type LoadCall = Extract<EngineCall, { op: 'load' }>;
const loadsOf = (calls: readonly EngineCall[]): LoadCall[] => calls.filter((c): c is LoadCall => c.op === 'load');

/**
 * Tidepool's weight moves on a fake engine (decode 10 ms, prefill 20 ms, 1 GB loads in 100 ms): a load goes
 * behind useful work whenever a resident model has some, a prefetch may push out a model with work that runs
 * only after the prefetched one, and neither can keep a model from its turn.
 */
const COSTS = { h2dBytesPerMs: 0.01e9, switchOverheadMs: 0 };
const STEP = FLAT_COSTS.decodeMs('flat', 1, 1);
const PREFILL = FLAT_COSTS.prefillMs('flat', 16, 1);
const LOAD = 100;

/**
 * A model whose next token is due `dueInMs` from now (one queued-free request that has produced a token),
 * or one with no requests when `dueInMs` is undefined.
 */
function state(key: string, residency: Residency, dueInMs: number | undefined): ModelState {
  const m = newModelState(model(key), key, 0);
  m.residency = residency;
  if (dueInMs !== undefined) {
    // token 2 is due at arrival + ttft + 2 · tpot = 1000 + dueInMs with arrival = 1000 + dueInMs − 1200
    m.requests.set(m.requests.size + 1, {
      request: request(m.ref, 100),
      sink: { onToken: () => undefined, onDone: () => undefined },
      arrivalMs: 1000 + dueInMs - 1200,
      phase: 'added',
      tokens: 1,
      lastTokenMs: 1000,
    });
  }
  return m;
}

function viewOf(models: ModelState[]): SchedulerView {
  return {
    nowMs: 1000,
    models: new Map(models.map((m) => [m.ref.weightsDigest, m])),
    current: models[0]!.ref.weightsDigest,
    stalled: new Set(),
    costs: createCostEstimator(COSTS),
    demand: createDemandTracker(),
  };
}

describe('what tidepool plans to page in and what it lets go (plans on hand-made states)', () => {
  it('prefetches the next absent model and may push out only models with work that run after it, the last-needed first', () => {
    const plan = createPolicy('tidepool').planTurn(
      viewOf([
        state('running', 'resident', 100),
        state('before', 'resident', 2000),
        state('next', 'absent', 3000),
        state('later', 'resident', 5000),
        state('last', 'resident', 9000),
        state('idle', 'resident', undefined),
      ]),
    )!;
    expect(plan).toMatchObject({ weightsDigest: 'running', prefetch: 'next', prefetchEvictable: ['last', 'later'] });
    expect(plan.whileLoading).toBeUndefined();
  });

  it('fills the GPU with the most urgent resident model while the most urgent of all loads', () => {
    const minTurnMs = createCostEstimator(COSTS).options.minTurnMs;
    expect(LOAD).toBeLessThan(minTurnMs);
    const plan = createPolicy('tidepool').planTurn(
      viewOf([state('urgent', 'absent', 400), state('filler', 'resident', 2000), state('later', 'resident', 5000)]),
    )!;
    // With slack to spare, the filler goes on for the shortest turn, longer than the load.
    expect(plan).toMatchObject({
      weightsDigest: 'filler',
      prefetch: 'urgent',
      prefetchEvictable: ['later'],
      whileLoading: { minMs: minTurnMs },
      quotaMs: minTurnMs,
    });
    // With less, only until the urgent model must start; the quota still covers the load.
    const tight = createPolicy('tidepool').planTurn(viewOf([state('urgent', 'absent', 160), state('filler', 'resident', 2000)]))!;
    expect(tight.weightsDigest).toBe('filler');
    expect(tight.whileLoading!.minMs).toBeLessThan(160 - createCostEstimator(COSTS).decodeStepMs(digest('urgent'), 1e9) + 1e-9);
    expect(tight.whileLoading!.minMs).toBeGreaterThan(LOAD);
    expect(tight.quotaMs).toBe(tight.whileLoading!.minMs);
    // With none, the turn still lasts for the load.
    const late = createPolicy('tidepool').planTurn(viewOf([state('urgent', 'absent', -50), state('filler', 'resident', 2000)]))!;
    expect([late.weightsDigest, late.whileLoading!.minMs, late.quotaMs]).toEqual(['filler', 0, LOAD]);
  });

  it('loads the most urgent model with its own turn once a prefetch of it found no room', () => {
    const urgent = state('urgent', 'absent', 300);
    urgent.prefetchBlocked = true;
    const plan = createPolicy('tidepool').planTurn(viewOf([urgent, state('filler', 'resident', 2000)]))!;
    expect(plan.weightsDigest).toBe('urgent');
    expect(plan.whileLoading).toBeUndefined();
  });
});

describe('prefetch past a model with work (tidepool)', () => {
  it('pushes out a model with work that runs after the prefetched one, so the prefetched model never waits for its load', async () => {
    // A 2 GB arena holds two of the three 1 GB models. b decodes far ahead of loose deadlines, a keeps pace with
    // tight ones, c arrives with a TTFT that lets it wait: whenever c or a must come in, the resident model that
    // runs last has work, and only pushing it out makes room ahead of time.
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const calls = recordCalls(engine, clock);
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, costs: COSTS, onEvent: (e) => events.push(e) });
    const recs = [recorder(clock), recorder(clock), recorder(clock)];
    s.submit(request(model('b'), 3000, { ttftMs: 1000, tpotMs: 100 }), recs[0]!.sink);
    await clock.run(500);
    s.submit(request(model('a'), 3000, { ttftMs: 300, tpotMs: 25 }), recs[1]!.sink);
    await clock.run(2000);
    s.submit(request(model('c'), 200, { ttftMs: 5000, tpotMs: 100 }), recs[2]!.sink);
    await clock.run();
    await s.close();
    expect(recs.map((r) => r.rec.done)).toEqual(['length', 'length', 'length']);
    const turns = turnsOf(calls);
    const evictsWithWork = events
      .filter((e) => e.type === 'evict' && e.atMs > 2000)
      .map((e) => {
        const key = (e as { weightsDigest: string }).weightsDigest;
        const next = turns.find((t) => t.model === key && t.at > e.atMs);
        return { key, atMs: e.atMs, nextTurnAt: next?.at, running: turns.find((t) => t.at <= e.atMs && (t.end === undefined || t.end > e.atMs))?.model };
      })
      .filter((e) => e.nextTurnAt !== undefined);
    expect(evictsWithWork.length).toBeGreaterThan(0);
    for (const e of evictsWithWork) {
      // The victim's next turn comes after the turn of the model it made room for ...
      const loaded = loadsOf(calls).find((c) => c.at >= e.atMs)!;
      const loadedTurn = turns.find((t) => t.model === loaded.model && t.at >= e.atMs)!;
      expect(e.nextTurnAt!, JSON.stringify(e)).toBeGreaterThan(loadedTurn.at);
      // ... and it went while another model's turn kept the GPU busy: a prefetch, not a turn's own load.
      expect(e.running, JSON.stringify(e)).toBeDefined();
      expect(e.running).not.toBe(e.key);
    }
    // Every switch after c's arrival found its weights in: no turn waited for a copy.
    const late = events.filter((e) => e.type === 'switch' && e.atMs > 2000);
    expect(late.length).toBeGreaterThan(1);
    for (const e of late) expect(e.type === 'switch' && e.ms, JSON.stringify(e)).toBe(0);
  });
});

describe('loading behind a resident model with work (tidepool)', () => {
  it('keeps decoding the resident model while the urgent model loads, and the urgent model stays on time', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const calls = recordCalls(engine, clock);
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({ engine, clock, costs: COSTS, onEvent: (e) => events.push(e) });
    const long = recorder(clock);
    s.submit(request(model('a'), 2000, { ttftMs: 1000, tpotMs: 100 }), long.sink);
    await clock.run(1000); // a resident, decoding far ahead of its deadlines
    const arrival = clock.now();
    const urgent = recorder(clock);
    s.submit(request(model('b'), 3, { ttftMs: 300, tpotMs: 50 }), urgent.sink);
    await clock.run();
    await s.close();
    const load = loadsOf(calls).find((c) => c.model === 'b')!;
    expect(load.done! - load.at).toBe(LOAD);
    // a kept the GPU busy for the whole copy: one token per step from the load's start to its end.
    const during = long.rec.times.filter((t) => t > load.at && t <= load.done!);
    expect(during.length).toBeGreaterThanOrEqual(LOAD / STEP - 1);
    // It went on past the copy for the shortest turn, b having the slack for it (a turn ending at every copy
    // would give turns of a few steps) ...
    const filling = turnsOf(calls).find((t) => t.model === 'a' && t.at <= load.at && t.end! >= load.done!)!;
    expect(filling.end! - filling.at).toBeGreaterThanOrEqual(createCostEstimator(COSTS).options.minTurnMs);
    // ... and b's turn found its weights in and met every deadline.
    const turnB = turnsOf(calls).find((c) => c.model === 'b')!;
    expect(turnB.at).toBeGreaterThanOrEqual(load.done!);
    expect(events.find((e) => e.type === 'switch' && e.to === 'b')).toMatchObject({ ms: 0 });
    for (const [i, t] of urgent.rec.times.entries()) expect(t).toBeLessThanOrEqual(arrival + 300 + (i + 1) * 50);
    expect([long.rec.done, urgent.rec.done]).toEqual(['length', 'length']);
  });

  it('ends the filling turn when the weights are in, once the shortest turn has passed (here 0: token-level turns)', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const calls = recordCalls(engine, clock);
    const events: SchedulerEvent[] = [];
    // The scheduler prices the load 50 ms above what the copy takes, so the turn's quota outlasts the copy.
    const s = createGpuScheduler({ engine, clock, costs: { ...COSTS, switchOverheadMs: 50, minTurnMs: 0 }, onEvent: (e) => events.push(e) });
    s.submit(request(model('a'), 2000, { ttftMs: 1000, tpotMs: 100 }), recorder(clock).sink);
    await clock.run(1000);
    const urgent = recorder(clock);
    s.submit(request(model('b'), 3, { ttftMs: 3000, tpotMs: 50 }), urgent.sink);
    await clock.run();
    await s.close();
    const load = loadsOf(calls).find((c) => c.model === 'b')!;
    // a's step in flight when the weights landed, then b's prefill.
    expect(urgent.rec.times[0]! - load.done!).toBeLessThanOrEqual(STEP + PREFILL);
    expect(events.some((e) => e.type === 'turn' && e.weightsDigest === 'a' && e.reason === 'prefetched')).toBe(true);
  });

  it('loads the urgent model with its own turn when the weights cannot go beside the filler (no wait behind it)', async () => {
    // One 1 GB slot: b's weights only fit once a's are out, so the prefetch behind a finds no room. b must not
    // then wait behind a's turns for as long as a keeps getting requests.
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const calls = recordCalls(engine, clock);
    const recorded = recordPlans(createPolicy('tidepool'));
    // What the policy is told about b's prefetch, at every plan.
    const blocked: { at: number; b: boolean }[] = [];
    const policy = {
      ...recorded.policy,
      planTurn: (view: SchedulerView) => {
        blocked.push({ at: view.nowMs, b: view.models.get('b')?.prefetchBlocked === true });
        return recorded.policy.planTurn(view);
      },
    };
    const s = createGpuScheduler({ engine, clock, costs: COSTS, policy });
    const hot = model('a');
    const urgent = recorder(clock);
    let arrival = 0;
    for (let t = 0; t < 10_000; t += 100) {
      s.submit(request(hot, 30, { ttftMs: 10_000, tpotMs: 1000 }), recorder(clock).sink);
      if (t === 2000) {
        arrival = clock.now();
        s.submit(request(model('b'), 3, { ttftMs: 500, tpotMs: 50 }), urgent.sink);
      }
      await clock.run(clock.now() + 100);
    }
    await clock.run();
    await s.close();
    // At most one turn of a filled in for b (its prefetch found no room), then b's own turn loaded it.
    const fillers = recorded.plans.filter((p) => p.at >= arrival && p.at < urgent.rec.times[0]! && p.plan.weightsDigest === 'a');
    expect(fillers.length).toBeLessThanOrEqual(1);
    const turnB = turnsOf(calls).find((c) => c.model === 'b')!;
    expect(turnB.at - arrival).toBeLessThanOrEqual(2 * STEP + LOAD + PREFILL);
    expect(urgent.rec.done).toBe('length');
    // The scheduler said so between the failed prefetch and b's load, and only then.
    const loadB = loadsOf(calls).find((c) => c.model === 'b' && c.done !== undefined)!; // the prefetch's attempt failed
    const said = blocked.filter((x) => x.b);
    expect(said.length).toBeGreaterThan(0);
    for (const b of said) expect(b.at >= arrival && b.at <= loadB.at, JSON.stringify(b)).toBe(true);
  });
});

describe('residency: what a prefetch may push out', () => {
  async function arenaOfTwo(running: string | undefined) {
    const { clock, engine } = fakeEngine({ arenaGb: 2 });
    const models = new Map<string, ModelState>();
    const loaded = Promise.all(['r', 'y'].map((key) => engine.load(model(key))));
    await clock.run();
    await loaded;
    for (const key of ['r', 'y']) models.set(key, state(key, 'resident', 5000)); // both resident, both with work
    const target = state('p', 'absent', 1000);
    models.set('p', target);
    const events: SchedulerEvent[] = [];
    const residency = createResidency({
      engine,
      clock,
      policy: createPolicy('tidepool'),
      models,
      emit: (e) => events.push(e),
      demand: createDemandTracker(),
      runningModel: () => running,
    });
    const fetched = residency.ensureResident(target, new Set(['r']), true, ['y']);
    await clock.run();
    const ok = await fetched;
    return { ok, evicted: events.filter((e) => e.type === 'evict').map((e) => (e as { weightsDigest: string }).weightsDigest) };
  }

  it('pushes out a listed model with work when nothing idle makes room', async () => {
    expect(await arenaOfTwo(undefined)).toEqual({ ok: true, evicted: ['y'] });
  });

  it('never the model whose turn is running when the prefetch gets the copy stream (it was planned before that turn)', async () => {
    expect(await arenaOfTwo('y')).toEqual({ ok: false, evicted: [] });
  });
});
