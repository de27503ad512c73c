import type { WeightsDigest } from '../../protocol/weights-digest.js';
import type { ModelRef } from '../engine/engine.js';
import type { Slo } from '../../protocol/slo.js';
import type { GenerationRequest } from '../scheduler/types.js';
import { shapeOfKey } from './catalogue.js';
import { samplingWith } from '../../protocol/sampling.js';

/** What the simulated clusters hand their schedulers: a model ref priced by its shape, and a generation. */
export function simModelRef(key: WeightsDigest): ModelRef {
  return { weightsDigest: key, dir: `/sim/${key}`, bytes: shapeOfKey(key).weightBytes };
}

export function simGeneration(id: number, key: WeightsDigest, promptTokens: number, maxTokens: number, slo: Slo): GenerationRequest {
  return {
    id,
    functionName: key,
    model: simModelRef(key),
    promptTokens: syntheticPrompt(promptTokens),
    sampling: samplingWith({ max_tokens: maxTokens, seed: id }),
    stopTokenIds: [],
    slo,
  };
}

const promptCache = new Map<number, number[]>();

/** Token ids only matter for their count in the simulator; share one array per length. */
function syntheticPrompt(length: number): number[] {
  let p = promptCache.get(length);
  if (!p) {
    p = Array<number>(length).fill(1);
    promptCache.set(length, p);
  }
  return p;
}
