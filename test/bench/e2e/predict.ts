// The simulator's prediction for a replayed run: the same requests (arrival, prompt and output token counts
// as the client saw them) on one simulated engine whose step costs are fitted to our engine's own profile,
// driven by the production GPU scheduler with the same policy and the same cost priors the node uses, on a
// virtual clock.
import { simulatedWeightsDigest } from '../../../protocol/weights-digest.js';
import type { SequenceSink } from '../../../runtime/engine/engine.js';
import { createGpuScheduler, VirtualClock, type PolicyName } from '../../../runtime/scheduler/gpu-scheduler.js';
import type { Slo } from '../../../protocol/slo.js';
import { createCalibratedCosts, fitShape, type StepFit } from '../../../runtime/sim/cost-model.js';
import { RequestTally } from '../../../runtime/sim/metrics.js';
import { SimulatedEngine } from '../../../runtime/sim/simulated-engine.js';
import type { SimGpuSpec } from '../../../runtime/sim/sim-types.js';
import { DEFAULT_GPU_IDLE_EVICT_MS } from '../../../runtime/node-options.js';
import type { EngineProfile } from './engine-profile.js';
import type { ServedRequest } from './replay.js';
import { samplingWith } from '../../../protocol/sampling.js';

export interface DeviceModel {
  readonly shape: string;
  readonly device: string;
  /** The engine's memory budget and the part of it left for weights, bytes. */
  readonly memoryBytes: number;
  readonly weightsArenaBytes: number;
  readonly kvBytesPerToken: number;
}

export function fitProfile(profile: EngineProfile, d: DeviceModel): StepFit {
  return fitShape(profile.rows, d.shape, d.device, 0);
}

/** Per-request attainment the simulator predicts for `served`, in the same order. */
export async function predict(
  served: readonly ServedRequest[],
  fit: StepFit,
  profile: EngineProfile,
  d: DeviceModel,
  policy: PolicyName,
  slo: Slo,
): Promise<number[]> {
  const clock = new VirtualClock();
  // A load of a model never seen costs what the profile measured; the bytes part is what a reload saves.
  const copyMs = Math.max(1e-3, profile.firstLoadMs - profile.reloadMs);
  const gpu: SimGpuSpec = {
    name: d.device,
    memoryBytes: d.memoryBytes,
    h2dBytesPerMs: profile.modelBytes / copyMs,
    loadOverheadMs: profile.reloadMs,
    memBytesPerMs: Number.POSITIVE_INFINITY,
  };
  const engine = new SimulatedEngine({
    clock,
    gpu,
    costs: createCalibratedCosts([fit]),
    weightsArenaBytes: d.weightsArenaBytes,
    describe: () => ({ shape: d.shape, weightBytes: profile.modelBytes, kvBytesPerToken: d.kvBytesPerToken }),
  });
  // As the node's device lane builds it: only the idle-eviction time is set, the rest are the defaults.
  const scheduler = createGpuScheduler({ engine, clock, policy, costs: { gpuIdleEvictMs: DEFAULT_GPU_IDLE_EVICT_MS } });
  const tallies = served.map((r) => new RequestTally(r.sentMs, expectedTokens(r), slo));
  let id = 1;
  const arrivals = (async () => {
    for (const [i, r] of served.entries()) {
      if (r.sentMs > clock.now()) await clock.sleep(r.sentMs - clock.now());
      const tally = tallies[i]!;
      const sink: SequenceSink = { onToken: () => tally.token(clock.now()), onDone: () => void (tally.done = true) };
      scheduler.submit(
        {
          id: id++,
          functionName: r.fn,
          model: { weightsDigest: simulatedWeightsDigest(d.shape, r.fn), dir: `/sim/${r.fn}`, bytes: profile.modelBytes },
          promptTokens: Array<number>(Math.max(1, r.promptTokens)).fill(1),
          sampling: samplingWith({ max_tokens: expectedTokens(r) }),
          stopTokenIds: [],
          slo,
        },
        sink,
      );
    }
  })();
  const lastArrival = served.reduce((m, r) => Math.max(m, r.sentMs), 0);
  await clock.run(lastArrival + 120_000);
  await arrivals;
  await scheduler.close();
  return tallies.map((t) => t.attainment());
}

/** What the client measured, per request, on the same token-deadline metric. */
export function measuredAttainment(served: readonly ServedRequest[], slo: Slo): number[] {
  return served.map((r) => {
    const tally = new RequestTally(r.sentMs, expectedTokens(r), slo);
    if (r.status !== 200) return 0;
    for (const t of r.tokenMs) tally.token(t);
    // A piece of text can carry more than one token; the rest came with the last piece.
    for (let k = r.tokenMs.length; k < r.completionTokens; k++) tally.token(r.tokenMs.at(-1) ?? Number.POSITIVE_INFINITY);
    return tally.attainment();
  });
}

/** Tokens the request was due: what the engine produced (an end-of-sequence may stop it early), else asked. */
function expectedTokens(r: ServedRequest): number {
  return r.status === 200 && r.completionTokens > 0 ? r.completionTokens : r.maxTokens;
}
