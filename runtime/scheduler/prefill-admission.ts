import type { ModelState } from './state.js';

/**
 * Grouped first-come-first-served prefill: the oldest queued request anywhere picks the model, and up to
 * `groupSize` queued requests of that model (oldest first) form the group. Pure.
 */
export interface PrefillGroup {
  readonly model: Readonly<ModelState>;
  readonly ids: readonly number[];
}

export function nextPrefillGroup(models: Iterable<Readonly<ModelState>>, stalled: ReadonlySet<string>, groupSize: number): PrefillGroup | undefined {
  let oldest: { model: Readonly<ModelState>; arrival: number; id: number } | undefined;
  for (const m of models) {
    if (stalled.has(m.ref.weightsDigest)) continue;
    for (const r of m.requests.values()) {
      if (r.phase !== 'queued') continue;
      if (!oldest || r.arrivalMs < oldest.arrival || (r.arrivalMs === oldest.arrival && r.request.id < oldest.id)) {
        oldest = { model: m, arrival: r.arrivalMs, id: r.request.id };
      }
      break; // requests are in arrival order: the first queued one is this model's oldest
    }
  }
  if (!oldest) return undefined;
  const ids: number[] = [];
  for (const r of oldest.model.requests.values()) {
    if (ids.length >= groupSize) break;
    if (r.phase === 'queued') ids.push(r.request.id);
  }
  return { model: oldest.model, ids };
}
