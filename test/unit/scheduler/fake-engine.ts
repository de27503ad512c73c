import type { WeightsDigest } from '../../../protocol/weights-digest.js';
import type { ModelRef, SequenceSink } from '../../../runtime/engine/engine.js';
import type { SchedulerPolicy, TurnPlan } from '../../../runtime/scheduler/policy.js';
import { VirtualClock } from '../../../runtime/scheduler/clock.js';
import type { GenerationRequest } from '../../../runtime/scheduler/types.js';
import { SimulatedEngine } from '../../../runtime/sim/simulated-engine.js';
import type { StepCostModel } from '../../../runtime/sim/sim-types.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { digest } from '../../helpers/weights-digest.js';

/** Round numbers so expected times can be worked out by hand: prefill 20 ms, decode 10 ms, load 100 ms per GB. */
export const FLAT_COSTS: StepCostModel = { prefillMs: () => 20, decodeMs: () => 10 };

export const GB = 1e9;

export function model(key: string, gb = 1): ModelRef {
  return { weightsDigest: digest(key), dir: `/dev/shm/${key}`, bytes: gb * GB };
}

/** A simulated engine with flat costs on a virtual clock: the scheduler tests' fake engine. */
export function fakeEngine(
  options: {
    arenaGb?: number;
    kvGb?: number;
    costs?: StepCostModel;
    loadOverheadMs?: number;
    h2dGbPerMs?: number;
    kvBytesPerToken?: number;
    /** A decode instance: sequences arrive prefilled, their KV copied in at admission (SimulatedEngineOptions). */
    prefilledElsewhere?: boolean;
  } = {},
) {
  const clock = new VirtualClock();
  const arena = (options.arenaGb ?? 10) * GB;
  const engine = new SimulatedEngine({
    clock,
    gpu: {
      name: 'fake',
      memoryBytes: arena + (options.kvGb ?? 10) * GB,
      h2dBytesPerMs: (options.h2dGbPerMs ?? 0.01) * GB,
      loadOverheadMs: options.loadOverheadMs ?? 0,
      memBytesPerMs: GB,
    },
    costs: options.costs ?? FLAT_COSTS,
    weightsArenaBytes: arena,
    describe: (ref) => ({ shape: 'flat', weightBytes: ref.bytes || GB, kvBytesPerToken: options.kvBytesPerToken ?? 1000 }),
    prefilledElsewhere: options.prefilledElsewhere ?? false,
  });
  return { clock, engine };
}

let nextId = 1;

export function request(m: ModelRef, maxTokens: number, slo = { ttftMs: 1000, tpotMs: 100 }, prompt = 16): GenerationRequest {
  return {
    id: nextId++,
    functionName: `fn-${m.weightsDigest}`,
    model: m,
    promptTokens: Array.from({ length: prompt }, (_, i) => i + 1),
    sampling: samplingWith({ max_tokens: maxTokens, seed: 7 }),
    stopTokenIds: [],
    slo,
  };
}

export interface Recorded {
  readonly times: number[];
  done?: string;
  completion?: number;
}

/** A sink that records token times on `clock`. */
export function recorder(clock: VirtualClock): { sink: SequenceSink; rec: Recorded } {
  const rec: Recorded = { times: [] };
  return {
    rec,
    sink: {
      onToken: () => rec.times.push(clock.now()),
      onDone: (reason, usage) => {
        rec.done = reason;
        rec.completion = usage.completionTokens;
      },
    },
  };
}

/** What the scheduler asked of the engine, on the fake clock. `end` is set when a turn returns. */
export type EngineCall =
  | { readonly op: 'load'; readonly at: number; readonly model: string; done?: number }
  | { readonly op: 'evict'; readonly at: number; readonly model: string }
  | { readonly op: 'add'; readonly at: number; readonly model: string; readonly id: number }
  | { readonly op: 'park' | 'restore'; readonly at: number; readonly id: number }
  | {
      readonly op: 'turn';
      readonly at: number;
      readonly model: string;
      readonly maxSteps: number;
      /** Sequences of other models with KV on the device, and of this model parked, when the turn began. */
      readonly othersRunning: number;
      readonly ownParked: number;
      end?: number;
      steps?: number;
      reason?: string;
    };

/**
 * Records every call the scheduler makes on `engine` (wrapping its methods in place), with fake-clock times:
 * the tests observe the policy through what it makes the engine do, not through its own reports.
 */
export function recordCalls(engine: SimulatedEngine, clock: VirtualClock): EngineCall[] {
  const calls: EngineCall[] = [];
  const e = engine as unknown as Record<string, (...args: never[]) => Promise<unknown>>;
  const wrap = <A extends unknown[], R>(name: string, before: (...args: A) => ((result: R) => void) | undefined) => {
    const original = (e[name] as unknown as (...args: A) => Promise<R>).bind(engine);
    e[name] = (async (...args: A) => {
      const after = before(...args);
      const result = await original(...args);
      if (after) after(result);
      return result;
    }) as never;
  };
  const modelOfSeq = new Map<number, string>();
  wrap('load', (ref: ModelRef) => {
    const call: EngineCall = { op: 'load', at: clock.now(), model: ref.weightsDigest };
    calls.push(call);
    return () => (call.done = clock.now());
  });
  wrap('evict', (key: string) => void calls.push({ op: 'evict', at: clock.now(), model: key }));
  wrap('add', (spec: { id: number; weightsDigest: string }) => {
    modelOfSeq.set(spec.id, spec.weightsDigest);
    calls.push({ op: 'add', at: clock.now(), model: spec.weightsDigest, id: spec.id });
  });
  wrap('park', (id: number) => void calls.push({ op: 'park', at: clock.now(), id }));
  wrap('restore', (id: number) => void calls.push({ op: 'restore', at: clock.now(), id }));
  wrap('runTurn', (key: WeightsDigest, maxSteps: number) => {
    const othersRunning = engine.sequenceCount('running') - engine.sequenceCount('running', key);
    const call: EngineCall = { op: 'turn', at: clock.now(), model: key, maxSteps, othersRunning, ownParked: engine.sequenceCount('parked', key) };
    calls.push(call);
    return (r: { steps: number; reason: string }) => Object.assign(call, { end: clock.now(), steps: r.steps, reason: r.reason });
  });
  return calls;
}

export type TurnCall = Extract<EngineCall, { op: 'turn' }>;

export const turnsOf = (calls: readonly EngineCall[]): TurnCall[] => calls.filter((c): c is TurnCall => c.op === 'turn');

/** Wraps a policy so every plan it returns is kept with the clock time and the model's residency at planning. */
export function recordPlans(policy: SchedulerPolicy): { policy: SchedulerPolicy; plans: { at: number; plan: TurnPlan; wasResident: boolean }[] } {
  const plans: { at: number; plan: TurnPlan; wasResident: boolean }[] = [];
  return {
    plans,
    policy: {
      ...policy,
      planTurn(view) {
        const plan = policy.planTurn(view);
        if (plan) plans.push({ at: view.nowMs, plan, wasResident: view.models.get(plan.weightsDigest)?.residency === 'resident' });
        return plan;
      },
      shouldPreempt: (view, running, arrival) => policy.shouldPreempt(view, running, arrival),
    },
  };
}
