import { describe, expect, it } from 'vitest';
import type { DoneReason, SequenceSink } from '../../../runtime/engine/engine.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { queuedPrefillTokens, groupStates } from '../../../runtime/scheduler/request-groups.js';
import { newModelState } from '../../../runtime/scheduler/state.js';
import type { GenerationGroup, GenerationRequest, SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { samplingWith } from '../../../protocol/sampling.js';
import type { VirtualClock } from '../../../runtime/scheduler/clock.js';
import { fakeEngine, model } from './fake-engine.js';

// A request's n choices as one group (n > 1): handed to the engine together, the prompt prefilled once, each
// member its own sequence for tokens, cancel and park. Prefill here costs 1 ms per prompt token, so a prompt
// prefilled once or four times shows on the clock.
const PER_TOKEN = { prefillMs: (_shape: string, tokens: number) => tokens, decodeMs: () => 10 };

interface Output {
  readonly tokens: number[];
  readonly times: number[];
  reason?: DoneReason;
}

function output(clock: VirtualClock): { sink: SequenceSink; out: Output } {
  const out: Output = { tokens: [], times: [] };
  return {
    out,
    sink: {
      onToken: (token) => {
        out.tokens.push(token);
        out.times.push(clock.now());
      },
      onDone: (reason) => (out.reason = reason),
    },
  };
}

let nextId = 1;

function group(seeds: readonly number[], prompt = 100, maxTokens = 3): GenerationGroup {
  return {
    functionName: 'fn-a',
    model: model('a'),
    promptTokens: Array.from({ length: prompt }, (_, i) => i + 1),
    sampling: samplingWith({ max_tokens: maxTokens, seed: seeds[0]! }),
    stopTokenIds: [],
    slo: { ttftMs: 10_000, tpotMs: 1000 },
    members: seeds.map((seed) => ({ id: nextId++, seed })),
  };
}

function alone(g: GenerationGroup, member: number): GenerationRequest {
  const { members, ...shared } = g;
  return { ...shared, id: nextId++, sampling: { ...shared.sampling, seed: members[member]!.seed } };
}

describe("a request's choices as one group on the scheduler", () => {
  it("hands the group to the engine at once, prefills its prompt once, and each member gets its own seed's tokens", async () => {
    const { clock, engine } = fakeEngine({ costs: PER_TOKEN });
    const s = createGpuScheduler({ engine, clock });
    const g = group([7, 8, 9, 10]);
    const outs = g.members.map(() => output(clock));
    s.submitGroup(
      g,
      outs.map((o) => o.sink),
    );
    await clock.run();
    // Load 100 ms, then one prefill of the 100-token prompt for all four: every first token at 200 ms.
    expect(outs.map((o) => o.out.times[0])).toEqual([200, 200, 200, 200]);
    expect(outs.map((o) => o.out.reason)).toEqual(['length', 'length', 'length', 'length']);
    expect((await engine.stats()).prefillTokensSaved).toBe(300);

    const single = fakeEngine({ costs: PER_TOKEN });
    const lone = createGpuScheduler({ engine: single.engine, clock: single.clock });
    const solos = g.members.map((_, i) => {
      const o = output(single.clock);
      lone.submit(alone(g, i), o.sink);
      return o.out;
    });
    await single.clock.run();
    expect(outs.map((o) => o.out.tokens)).toEqual(solos.map((o) => o.tokens));
    expect(new Set(solos.map((o) => o.tokens.join())).size).toBe(4);
    // Alone, the same prompt is prefilled four times (400 ms of prefill after the load).
    expect(solos.map((o) => o.times[0])).toEqual([500, 500, 500, 500]);
    await Promise.all([s.close(), lone.close()]);
  });

  it('leaves out a member cancelled while queued; the others still share one prefill', async () => {
    const { clock, engine } = fakeEngine({ costs: PER_TOKEN });
    const s = createGpuScheduler({ engine, clock });
    const g = group([1, 2, 3]);
    const outs = g.members.map(() => output(clock));
    s.submitGroup(
      g,
      outs.map((o) => o.sink),
    );
    s.cancel(g.members[0]!.id);
    await clock.run();
    expect(outs.map((o) => [o.out.reason, o.out.tokens.length])).toEqual([
      ['cancelled', 0],
      ['length', 3],
      ['length', 3],
    ]);
    expect((await engine.stats()).prefillTokensSaved).toBe(100);
    await s.close();
  });

  it("parks and restores every member across another model's turns, none losing a token", async () => {
    // aegaeon-unified parks every other model's KV for each turn, so both models' turns alternate with parks.
    const { clock, engine } = fakeEngine({ arenaGb: 2, costs: PER_TOKEN });
    const parked: number[] = [];
    const onEvent = (e: SchedulerEvent) => void (e.type === 'park' && e.weightsDigest === 'a' && parked.push(e.sequences));
    const s = createGpuScheduler({ engine, clock, policy: 'aegaeon-unified', onEvent });
    const g = group([4, 5, 6, 7], 16, 600);
    const outs = g.members.map(() => output(clock));
    s.submitGroup(
      g,
      outs.map((o) => o.sink),
    );
    const other = output(clock);
    s.submit({ ...alone(g, 0), model: model('b'), functionName: 'fn-b', slo: { ttftMs: 500, tpotMs: 20 } }, other.sink);
    await clock.run();
    for (const o of [...outs, other]) expect([o.out.reason, o.out.tokens.length]).toEqual(['length', 600]);
    expect(parked).toContain(4);
    expect(engine.sequenceCount('parked')).toBe(0);
    await s.close();
  });

  it('refuses a group with repeated ids or a missing sink, ending every member it was given', async () => {
    const { clock, engine } = fakeEngine();
    const s = createGpuScheduler({ engine, clock });
    const g = group([1, 2]);
    const outs = [output(clock), output(clock)];
    s.submitGroup(
      { ...g, members: [g.members[0]!, g.members[0]!] },
      outs.map((o) => o.sink),
    );
    const short = output(clock);
    s.submitGroup(g, [short.sink]);
    expect([...outs, short].map((o) => o.out.reason)).toEqual(['error', 'error', 'error']);
    await s.close();
  });

  it("counts a queued group's prompt once in the prefill a model must pay before its next token", () => {
    const m = newModelState(model('a'), 'fn-a', 0);
    const g = group([1, 2, 3, 4], 50);
    for (const r of groupStates(
      g,
      g.members.map(() => output({ now: () => 0 } as VirtualClock).sink),
      0,
    ))
      m.requests.set(r.request.id, r);
    const lone = alone(g, 0);
    m.requests.set(lone.id, {
      request: lone,
      sink: output({ now: () => 0 } as VirtualClock).sink,
      arrivalMs: 0,
      phase: 'queued',
      tokens: 0,
      lastTokenMs: undefined,
    });
    expect(queuedPrefillTokens(m)).toBe(100);
  });
});
