import { describe, expect, it } from 'vitest';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { createAegaeonDecodePolicy } from '../../../runtime/scheduler/policies/aegaeon-decode.js';
import type { DecodeRound } from '../../../runtime/scheduler/policies/aegaeon-decode.js';
import { GB, fakeEngine, model, recordCalls, recorder, request, turnsOf } from './fake-engine.js';
import type { EngineCall, Recorded, TurnCall } from './fake-engine.js';

/**
 * A decode instance of the published Aegaeon on the fake engine, its requests arriving prefilled. Steps take
 * 10 ms and the policy is told so; every model's switch estimate is 1010 ms, so rounds can be worked out by
 * hand: n = 100 ms / 10 ms = 10 per batch, and quotas come out between whole steps.
 */
const STEP_MS = 10;
const SWITCH_ESTIMATE_MS = 1010;
const SLO = { ttftMs: 10_000, tpotMs: 100 };

function decodeInstance(options: { kvBytesPerToken?: number } = {}) {
  const { clock, engine } = fakeEngine({
    arenaGb: 2,
    h2dGbPerMs: 1 / 225,
    prefilledElsewhere: true,
    costs: { prefillMs: () => 20, decodeMs: () => STEP_MS },
    ...(options.kvBytesPerToken === undefined ? {} : { kvBytesPerToken: options.kvBytesPerToken }),
  });
  const calls = recordCalls(engine, clock);
  const rounds: DecodeRound[] = [];
  const policy = createAegaeonDecodePolicy({ stepEstimateMs: () => STEP_MS, switchEstimateMs: () => SWITCH_ESTIMATE_MS, onRound: (r) => rounds.push(r) });
  const s = createGpuScheduler({ engine, clock, policy, costs: { h2dBytesPerMs: GB / 225, switchOverheadMs: 0 } });
  const submit = (key: string, maxTokens: number, prompt = 16) => {
    const r = recorder(clock);
    s.submit(request(model(key), maxTokens, SLO, prompt), r.sink);
    return r.rec;
  };
  return { clock, engine, calls, rounds, s, submit };
}

/** Turns that began after every request had its first token and ended before the first request finished. */
function steadyWindow(turns: readonly TurnCall[], recs: readonly Recorded[]): TurnCall[] {
  const allStarted = Math.max(...recs.map((r) => r.times[0]!));
  const firstDone = Math.min(...recs.map((r) => r.times.at(-1)!));
  return turns.filter((t) => t.at >= allStarted && t.end !== undefined && t.end < firstDone);
}

describe('aegaeon decode instance: rounds and quotas', () => {
  // Three batches: c0 = 3 × 1010 = 3030 ms, Σ 1/n = 0.3, alpha = max(3030 / (10 · 4000) + 0.3, 0.5) = 0.5,
  // q = 3030 · 0.1 / (0.5 − 0.3) = 1515 ms. A turn ends at the first step boundary 1515 ms after its first
  // step: 1 + ceil(1515 / 10) = 153 steps.
  async function threeBatches() {
    const h = decodeInstance();
    const recs = [h.submit('a', 700), h.submit('b', 700), h.submit('c', 700)];
    await h.clock.run();
    await h.s.close();
    return { ...h, recs, window: steadyWindow(turnsOf(h.calls), recs) };
  }

  it('forms each round in a fixed model order and sizes its turns by the formula', async () => {
    const { rounds, recs, window } = await threeBatches();
    expect(recs.map((r) => [r.done, r.times.length])).toEqual([
      ['length', 700],
      ['length', 700],
      ['length', 700],
    ]);
    expect(rounds[0]).toMatchObject({ c0Ms: 3 * SWITCH_ESTIMATE_MS, alpha: 0.5 });
    expect(rounds[0]!.batches.map((b) => [b.weightsDigest, b.stepMs, Math.round(b.quotaMs * 1e6) / 1e6])).toEqual([
      ['a', 10, 1515],
      ['b', 10, 1515],
      ['c', 10, 1515],
    ]);
    expect(window.length).toBeGreaterThanOrEqual(6);
    expect(window.map((t) => t.model)).toEqual(window.map((_, i) => ['a', 'b', 'c'][(['a', 'b', 'c'].indexOf(window[0]!.model) + i) % 3]));
    for (const t of window) expect([t.model, t.steps]).toEqual([t.model, 153]);
  });

  it("moves a batch's KV out when another batch of the round runs, and prefetches the round's next model", async () => {
    const { calls, window } = await threeBatches();
    for (let i = 0; i + 1 < window.length; i++) {
      const [cur, next] = [window[i]!, window[i + 1]!];
      const between = calls.filter((c) => c.at >= cur.end! && c.at <= next.at).map((c) => c.op);
      expect(between).toEqual(expect.arrayContaining(['park', 'restore']));
      expect([next.othersRunning, next.ownParked]).toEqual([0, 0]);
      const load = calls.filter((c): c is Extract<EngineCall, { op: 'load' }> => c.op === 'load' && c.model === next.model && c.at <= next.at).at(-1)!;
      // Within a round the next model loads behind the running turn; the artifact looks no further than the
      // round, so the first model of the next round (a) loads when its turn comes.
      const prefetched = load.at >= cur.at && load.at < cur.end!;
      expect([cur.model, next.model, prefetched]).toEqual([cur.model, next.model, next.model !== 'a']);
    }
    let resident = 0;
    let most = 0;
    for (const c of calls) {
      if (c.op === 'load') resident++;
      if (c.op === 'evict') resident--;
      most = Math.max(most, resident);
    }
    expect(most).toBe(2);
  });

  it("keeps a lone batch's KV on the device, with a quota from its own switch estimate", async () => {
    // One batch: c0 = 1010, alpha = 0.5, q = 1010 · 0.1 / 0.4 = 252.5 ms: 1 + ceil(252.5 / 10) = 27 steps a turn.
    const { clock, calls, rounds, s, submit } = decodeInstance();
    const rec = submit('a', 300);
    await clock.run();
    await s.close();
    expect([rec.done, rec.times.length]).toEqual(['length', 300]);
    expect(calls.filter((c) => c.op === 'park' || c.op === 'restore')).toEqual([]);
    expect(rounds[0]!.batches.map((b) => b.quotaMs)).toEqual([252.5]);
    const turns = turnsOf(calls);
    expect(turns.slice(0, -1).every((t) => t.steps === 27)).toBe(true);
    expect(rounds.length).toBe(turns.length); // every turn is a round of its own, formed again at its top
  });
});

describe('aegaeon decode instance: requests handed over', () => {
  it('joins a request of a model in the round to its batch at once, and starts a new model at the next round', async () => {
    const { clock, rounds, s, submit, calls } = decodeInstance();
    submit('a', 900);
    submit('b', 900);
    await clock.run(500); // a's first turn is running (it lasts 1 + 152 steps)
    const turnA = turnsOf(calls).at(-1)!;
    expect([turnA.model, turnA.end]).toEqual(['a', undefined]);
    const joined = submit('a', 50);
    const late = submit('c', 50);
    await clock.run();
    await s.close();
    const turns = turnsOf(calls);
    // a's new request decodes in the running turn; c waits for the round (a, b) to end and runs in the next.
    expect(joined.times[0]!).toBeLessThan(turnA.end!);
    const afterB = turns.find((t) => t.model === 'b')!.end!;
    expect(late.times[0]!).toBeGreaterThan(afterB);
    expect(rounds[1]!.batches.map((b) => b.weightsDigest)).toEqual(['a', 'b', 'c']);
  });

  it("copies a handed-over request's KV in before its first decode step, and never prefills", async () => {
    // 100 prompt tokens × 1 MB of KV each: 100 MB copied in at 1 GB / 225 ms = 22.5 ms, after the 225 ms load.
    const { clock, engine, s, submit } = decodeInstance({ kvBytesPerToken: 1e6 });
    const rec = submit('a', 20, 100);
    await clock.run();
    await s.close();
    expect(rec.times.length).toBe(20);
    expect(rec.times[0]!).toBeCloseTo(225 + 22.5 + STEP_MS, 6);
    expect(engine.busyMs).toBe(20 * STEP_MS); // decode steps only: no 20 ms prefill step
  });
});
