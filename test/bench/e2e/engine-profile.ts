// Step-time profile of our own engine on this machine, in the calibration file's row format
// (../shared/calibration/vllm-step-profiles.jsonl), so the simulator's cost model fits it the way it fits
// vLLM's: prefill of B prompts of L tokens, and a decode step of B sequences at context ≈ L. Each step is
// one `run` turn of one step; its time is the engine's own (the turn's `ms`), which is what the scheduler
// waits for. Also the cost of a first load (map + copy) and of a reload of a mapped model.
import type { WeightsDigest } from '../../../protocol/weights-digest.js';
import type { CalibrationRow } from '../../../runtime/sim/cost-model.js';
import type { EngineClient } from '../../../runtime/engine/engine-client.js';
import type { SequenceSink } from '../../../runtime/engine/engine.js';
import { samplingWith } from '../../../protocol/sampling.js';

export interface EngineProfile {
  readonly rows: readonly CalibrationRow[];
  /** map + copy of a model never seen, ms (median over the models loaded). */
  readonly firstLoadMs: number;
  /** load of a model the engine still has mapped after an evict, ms. */
  readonly reloadMs: number;
  readonly modelBytes: number;
}

export interface ProfileOptions {
  readonly engine: EngineClient;
  /** Distinct models of one shape (weights digests and directories); the first is profiled, all are loaded once. */
  readonly models: readonly { readonly weightsDigest: WeightsDigest; readonly dir: string; readonly bytes: number }[];
  readonly shape: string;
  readonly device: string;
  readonly vocabSize: number;
  readonly batches: readonly number[];
  readonly lengths: readonly number[];
  /** Decode steps timed per configuration. */
  readonly decodeSteps: number;
}

const sink: SequenceSink = { onToken: () => {}, onDone: () => {} };

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function profileEngine(o: ProfileOptions): Promise<EngineProfile> {
  const first: number[] = [];
  const reload: number[] = [];
  for (const model of o.models) {
    first.push((await o.engine.load(model)).ms);
    await o.engine.evict(model.weightsDigest);
    reload.push((await o.engine.load(model)).ms);
  }
  for (const model of o.models.slice(1)) await o.engine.evict(model.weightsDigest);
  const target = o.models[0]!;
  const rows: CalibrationRow[] = [];
  let id = 1_000_000;
  for (const length of o.lengths) {
    for (const batch of o.batches) {
      const prefill: number[] = [];
      const decode: number[] = [];
      for (let rep = 0; rep < 2; rep++) {
        for (let b = 0; b < batch; b++) {
          const prompt = Array.from({ length }, (_, i) => (i * 31 + b * 7 + rep) % o.vocabSize);
          await o.engine.add(
            {
              id: id++,
              weightsDigest: target.weightsDigest,
              promptTokens: prompt,
              sampling: samplingWith({ max_tokens: o.decodeSteps + 1 }),
              stopTokenIds: [],
            },
            sink,
          );
        }
        prefill.push((await o.engine.runTurn(target.weightsDigest, 1)).ms);
        for (let s = 0; s < o.decodeSteps; s++) decode.push((await o.engine.runTurn(target.weightsDigest, 1)).ms);
        while ((await o.engine.runTurn(target.weightsDigest, 64)).steps > 0) {
          // drain: nothing left to time
        }
      }
      rows.push({ model: o.shape, gpu: o.device, input_len: length, batch, prefill_s_p50: median(prefill) / 1000, decode_s_p50: median(decode) / 1000 });
    }
  }
  await o.engine.evict(target.weightsDigest);
  return { rows, firstLoadMs: median(first), reloadMs: median(reload), modelBytes: target.bytes };
}
