import { describe, expect, it } from 'vitest';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { AEGAEON_UNIFIED_DEFAULTS } from '../../../runtime/scheduler/policies/aegaeon-unified.js';
import type { SchedulerEvent } from '../../../runtime/scheduler/types.js';
import type { StepCostModel } from '../../../runtime/sim/sim-types.js';
import { GB, fakeEngine, model, recordCalls, recorder, request, turnsOf } from './fake-engine.js';
import type { EngineCall, Recorded, TurnCall } from './fake-engine.js';

/**
 * The aegaeon-unified policy, observed through what it makes the (simulated) engine do on the fake clock. Every
 * step costs 10 ms, and the scheduler's step prior says so, so quotas can be worked out by hand: the
 * estimate of a step is exact from the first turn on, and the switch estimate is bytes / bandwidth.
 */
const STEP_MS = 10;
const EXACT_STEPS = { prefillMs: () => STEP_MS, decodeMs: () => STEP_MS };

/** 1 GB loads in 225 ms: quotas below come out between whole steps, clear of rounding. */
const LOAD_MS = 225;

function aegaeonOn(options: { readonly steps?: StepCostModel; readonly exactPrior?: boolean } = {}) {
  const h2dGbPerMs = 1 / LOAD_MS;
  const { clock, engine } = fakeEngine({ arenaGb: 2, h2dGbPerMs, costs: options.steps ?? EXACT_STEPS });
  const calls = recordCalls(engine, clock);
  const events: SchedulerEvent[] = [];
  const costs = {
    h2dBytesPerMs: h2dGbPerMs * GB,
    switchOverheadMs: 0,
    ...(options.exactPrior === false ? {} : { decodeMsPerWeightByte: STEP_MS / GB, prefillMsPerTokenWeightByte: 0 }),
  };
  const s = createGpuScheduler({ engine, clock, policy: 'aegaeon-unified', costs, onEvent: (e) => events.push(e) });
  const submit = (key: string, maxTokens: number, slo = { ttftMs: 10_000, tpotMs: 100 }) => {
    const r = recorder(clock);
    s.submit(request(model(key), maxTokens, slo), r.sink);
    return r.rec;
  };
  return { clock, engine, calls, events, s, submit };
}

/** The requests handed to the engine just before each turn: the turn's prefill admissions. */
function admissionsPerTurn(calls: readonly EngineCall[]): { turn: TurnCall; ids: number[]; models: string[] }[] {
  const out: { turn: TurnCall; ids: number[]; models: string[] }[] = [];
  let ids: number[] = [];
  let models: string[] = [];
  for (const c of calls) {
    if (c.op === 'add') {
      ids.push(c.id);
      models.push(c.model);
    } else if (c.op === 'turn') {
      out.push({ turn: c, ids, models });
      ids = [];
      models = [];
    }
  }
  return out;
}

/** Turns that began after every request had its first token and ended before the first request finished. */
function steadyWindow(turns: readonly TurnCall[], recs: Record<string, Recorded>): TurnCall[] {
  const allStarted = Math.max(...Object.values(recs).map((r) => r.times[0]!));
  const firstDone = Math.min(...Object.values(recs).map((r) => r.times.at(-1)!));
  return turns.filter((t) => t.at >= allStarted && t.end !== undefined && t.end < firstDone);
}

describe('aegaeon-unified: grouped FCFS prefill', () => {
  it('prefills in groups of at most 8 same-model requests, the oldest queued request choosing the model', async () => {
    const { clock, calls, s, submit } = aegaeonOn();
    // z decodes alone (4 s turns) while the others arrive 1 ms apart, so they queue in a known arrival order.
    submit('z', 1000);
    await clock.run(500);
    // One-token requests: each is done at its prefill, so they never form decode batches of their own.
    const order = [...Array(11).fill('a'), 'b', 'b', 'b', 'c', 'c', ...Array(6).fill('a')] as string[];
    const recs: { key: string; rec: Recorded }[] = [];
    for (const k of order) {
      recs.push({ key: k, rec: submit(k, 1) });
      await clock.run(clock.now() + 1);
    }
    await clock.run();
    await s.close();
    const ids = calls
      .filter((c): c is Extract<EngineCall, { op: 'add' }> => c.op === 'add' && c.model !== 'z')
      .sort((x, y) => x.id - y.id)
      .map((c) => c.id);
    const idOf = (i: number) => ids[i]!; // submission order i → sequence id
    const groups = admissionsPerTurn(calls).filter((g) => g.ids.length > 0 && g.turn.model !== 'z');
    // a1–a8, then a9–a11 with the next five a's (a group takes the model's oldest queued requests, up to 8),
    // then b's three, c's two, and the last a.
    const aIdx = order.flatMap((k, i) => (k === 'a' ? [i] : []));
    expect(groups.map((g) => g.ids)).toEqual([
      aIdx.slice(0, 8).map(idOf),
      aIdx.slice(8, 16).map(idOf),
      [11, 12, 13].map(idOf),
      [14, 15].map(idOf),
      aIdx.slice(16).map(idOf),
    ]);
    for (const g of groups) {
      expect(g.ids.length).toBeLessThanOrEqual(AEGAEON_UNIFIED_DEFAULTS.groupSize);
      expect(new Set(g.models)).toEqual(new Set([g.turn.model]));
      expect(g.turn.maxSteps).toBe(1); // one prefill step per group
    }
    expect(recs.every((r) => r.rec.done === 'length')).toBe(true);
    // A group is one prefill step: its requests get their first token together.
    for (const g of groups) {
      const first = g.ids.map((id) => recs[ids.indexOf(id)]!.rec.times[0]);
      expect(new Set(first).size).toBe(1);
    }
  });
});

describe('aegaeon-unified: weighted round-robin decode', () => {
  // Three models, two weight slots. TPOT SLOs 50 / 100 / 100 ms → t/d = 0.2, 0.1, 0.1 (Σ 0.4); the round's
  // switch estimate C = 3 loads × 225 ms = 675 ms. q = C·(t/d) / (1 − Σ): 225 ms for a, 112.5 ms for b and c,
  // i.e. 22 and 11 whole steps of 10 ms.
  async function threeModelRound() {
    const h = aegaeonOn();
    const recs = {
      a: h.submit('a', 1000, { ttftMs: 10_000, tpotMs: 50 }),
      b: h.submit('b', 300, { ttftMs: 10_000, tpotMs: 100 }),
      c: h.submit('c', 300, { ttftMs: 10_000, tpotMs: 100 }),
    };
    await h.clock.run();
    await h.s.close();
    const window = steadyWindow(turnsOf(h.calls), recs);
    return { ...h, recs, window };
  }

  it('visits the decoding batches in one fixed cyclic order, each turn sized by the quota formula', async () => {
    const { recs, window } = await threeModelRound();
    expect(Object.values(recs).map((r) => [r.done, r.times.length])).toEqual([
      ['length', 1000],
      ['length', 300],
      ['length', 300],
    ]);
    expect(window.length).toBeGreaterThanOrEqual(30);
    const cycle = window.slice(0, 3).map((t) => t.model);
    expect([...cycle].sort()).toEqual(['a', 'b', 'c']);
    expect(window.map((t) => t.model)).toEqual(window.map((_, i) => cycle[i % 3]));
    const quotaSteps: Record<string, number> = { a: 22, b: 11, c: 11 };
    for (const t of window) {
      expect([t.model, t.maxSteps]).toEqual([t.model, quotaSteps[t.model]]);
      expect([t.model, t.steps]).toEqual([t.model, quotaSteps[t.model]]);
      expect(t.end! - t.at).toBeLessThanOrEqual(quotaSteps[t.model]! * STEP_MS + 1e-6);
    }
  });

  it('prefetches the next model of the round during the running turn, and holds at most two models', async () => {
    const { calls, window } = await threeModelRound();
    const loads = calls.filter((c): c is Extract<EngineCall, { op: 'load' }> => c.op === 'load');
    for (let i = 0; i + 1 < window.length; i++) {
      const [cur, next] = [window[i]!, window[i + 1]!];
      // The next model's load was started while this turn ran (behind it, on the copy stream), not after.
      const load = loads.filter((l) => l.model === next.model && l.at <= next.at).at(-1)!;
      expect([next.model, load.at >= cur.at && load.at < cur.end!]).toEqual([next.model, true]);
      // ... so the next turn starts as soon as the load completes, or at once when it already had.
      expect(next.at).toBeLessThanOrEqual(Math.max(cur.end!, load.done!) + 1);
    }
    const resident = new Set<string>();
    let most = 0;
    for (const c of calls) {
      if (c.op === 'load') resident.add(c.model);
      if (c.op === 'evict') resident.delete(c.model);
      most = Math.max(most, resident.size);
    }
    expect(most).toBe(2);
  });

  it('caps every turn at 4 s when the round is over-committed (Σ t/d ≥ 1)', async () => {
    const { clock, calls, s, submit } = aegaeonOn();
    // t/d = 10/15 per batch: two batches cannot both keep pace, so each gets the cap: 400 steps of 10 ms.
    const recs = { a: submit('a', 1500, { ttftMs: 10_000, tpotMs: 15 }), b: submit('b', 1500, { ttftMs: 10_000, tpotMs: 15 }) };
    await clock.run();
    await s.close();
    const decode = turnsOf(calls).filter((t) => t.maxSteps > 1);
    expect(decode.length).toBeGreaterThanOrEqual(6);
    for (const t of decode) {
      expect(t.maxSteps).toBe(AEGAEON_UNIFIED_DEFAULTS.capMs / STEP_MS);
      expect(t.end! - t.at).toBeLessThanOrEqual(AEGAEON_UNIFIED_DEFAULTS.capMs);
    }
    expect(decode.filter((t) => t.steps === AEGAEON_UNIFIED_DEFAULTS.capMs / STEP_MS).length).toBeGreaterThanOrEqual(4);
    expect(Object.values(recs).every((r) => r.done === 'length')).toBe(true);
  });

  it('ends every turn at its 4 s quota even when the step estimate is far too low', async () => {
    // Prefill steps take 1 ms and decode steps 10 ms: after the prefill turn the estimate is 1 ms a step, so
    // the lone batch's 4 s turn is planned as 4000 steps, 40 s at the real pace. The loop cuts each turn at
    // the token boundary after its quota, while the estimate catches up.
    const { clock, calls, events, s, submit } = aegaeonOn({ steps: { prefillMs: () => 1, decodeMs: () => STEP_MS }, exactPrior: false });
    const rec = submit('a', 2000);
    await clock.run();
    await s.close();
    const decode = turnsOf(calls).filter((t) => t.maxSteps > 1);
    expect(decode[0]!.maxSteps * STEP_MS).toBeGreaterThan(5 * AEGAEON_UNIFIED_DEFAULTS.capMs);
    for (const t of decode) expect(t.end! - t.at).toBeLessThanOrEqual(AEGAEON_UNIFIED_DEFAULTS.capMs + STEP_MS);
    // The engine saw a preemption; the scheduler reports the turn as ended by its quota.
    expect(decode[0]!.reason).toBe('preempted');
    expect(events.find((e) => e.type === 'turn' && e.quotaSteps === decode[0]!.maxSteps)).toMatchObject({
      reason: 'quota',
      steps: AEGAEON_UNIFIED_DEFAULTS.capMs / STEP_MS,
    });
    expect([rec.done, rec.times.length]).toEqual(['length', 2000]);
  });
});

describe('aegaeon-unified: KV between turns', () => {
  it("parks every other model's KV in host memory for a turn and restores the model's own, even with both resident", async () => {
    // Two 1 GB models in two slots: no weight loads after the first two, yet every turn moves KV. t/d = 0.25
    // each, C = 2 × 225 ms: the round's switch estimate counts every batch, resident or not, so
    // q = 450·0.25/0.5 = 225 ms, 22 steps (were only absent models counted, C = 0 and turns one step long).
    const { clock, calls, s, submit } = aegaeonOn();
    const recs = { a: submit('a', 800, { ttftMs: 10_000, tpotMs: 40 }), b: submit('b', 800, { ttftMs: 10_000, tpotMs: 40 }) };
    await clock.run();
    await s.close();
    const window = steadyWindow(turnsOf(calls), recs);
    expect(window.length).toBeGreaterThanOrEqual(20);
    expect(calls.filter((c) => c.op === 'load' && c.at >= window[0]!.at)).toEqual([]);
    for (const t of window) {
      expect([t.model, t.othersRunning, t.ownParked]).toEqual([t.model, 0, 0]);
      expect(t.maxSteps).toBe(22);
    }
    // Between two turns of different models, the outgoing model's sequence was parked and the incoming one's restored.
    for (let i = 0; i + 1 < window.length; i++) {
      const between = calls.filter((c) => c.at >= window[i]!.end! && c.at <= window[i + 1]!.at);
      expect(between.map((c) => c.op)).toEqual(expect.arrayContaining(['park', 'restore']));
    }
  });
});
