/**
 * Homes planned ahead, for a router that knows every model's mean rate up front (the simulator does; a node
 * learns its models as they come). Each model gets a home device, heaviest expected load first, on the device
 * with the least expected load so far, so each device sees a stable, balanced subset of models. Pure.
 */
import type { WeightsDigest } from '../weights-digest.js';
export interface PlannedModel {
  readonly weightsDigest: WeightsDigest;
  /** Mean arrival rate, requests/s. */
  readonly rate: number;
  /** Weight bytes. */
  readonly bytes: number;
}

/** Rate (req/s) at which a model's GPU time stops growing linearly with its rate: see `expectedLoad`. */
export const SATURATION_RATE = 0.3;

/**
 * Expected GPU load of a model, for planning homes. A cold model costs about its rate × weight bytes (each
 * request is a batch of one, often behind a load), but a hot one batches: its requests share decode steps, so
 * its cost grows far slower than its rate. Plain rate × bytes gave the hottest W2 model a GPU of its own (busy
 * 58%) and every other model the rest, which thrashed; the saturating rate spreads them.
 */
export function expectedLoad(m: Pick<PlannedModel, 'rate' | 'bytes'>): number {
  return m.bytes * (m.rate / (1 + m.rate / SATURATION_RATE));
}

export function planHomes(devices: number, models: readonly PlannedModel[]): Map<string, number> {
  const load = Array<number>(devices).fill(0);
  const homes = new Map<string, number>();
  const order = [...models].sort((a, b) => expectedLoad(b) - expectedLoad(a) || (a.weightsDigest < b.weightsDigest ? -1 : 1));
  for (const m of order) {
    let best = 0;
    for (let d = 1; d < devices; d++) if (load[d]! < load[best]!) best = d;
    load[best]! += expectedLoad(m);
    homes.set(m.weightsDigest, best);
  }
  return homes;
}
