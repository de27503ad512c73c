import type { ModelRef, SequenceSink } from '../../../runtime/engine/engine.js';
import { VirtualClock } from '../../../runtime/scheduler/clock.js';
import type { GenerationRequest } from '../../../runtime/scheduler/types.js';
import { SimulatedEngine } from '../../../runtime/sim/simulated-engine.js';
import type { StepCostModel } from '../../../runtime/sim/sim-types.js';

/** Round numbers so expected times can be worked out by hand: prefill 20 ms, decode 10 ms, load 100 ms per GB. */
export const FLAT_COSTS: StepCostModel = { prefillMs: () => 20, decodeMs: () => 10 };

export const GB = 1e9;

export function model(key: string, gb = 1): ModelRef {
  return { key, dir: `/dev/shm/${key}`, bytes: gb * GB };
}

/** A simulated engine with flat costs on a virtual clock: the scheduler tests' fake engine. */
export function fakeEngine(options: { arenaGb?: number; kvGb?: number; costs?: StepCostModel; loadOverheadMs?: number } = {}) {
  const clock = new VirtualClock();
  const arena = (options.arenaGb ?? 10) * GB;
  const engine = new SimulatedEngine({
    clock,
    gpu: { name: 'fake', memoryBytes: arena + (options.kvGb ?? 10) * GB, h2dBytesPerMs: 0.01 * GB, loadOverheadMs: options.loadOverheadMs ?? 0, memBytesPerMs: GB },
    costs: options.costs ?? FLAT_COSTS,
    weightsArenaBytes: arena,
    describe: (ref) => ({ shape: 'flat', weightBytes: ref.bytes || GB, kvBytesPerToken: 1000 }),
  });
  return { clock, engine };
}

let nextId = 1;

export function request(m: ModelRef, maxTokens: number, slo = { ttftMs: 1000, tpotMs: 100 }, prompt = 16): GenerationRequest {
  return {
    id: nextId++, functionName: `fn-${m.key}`, model: m, promptTokens: Array.from({ length: prompt }, (_, i) => i + 1),
    maxTokens, temperature: 0, topP: 1, seed: 7, stopTokenIds: [], slo,
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
