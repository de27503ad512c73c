import type { SequenceGroupSpec, SequenceSink } from '../engine/engine.js';
import type { ModelState, RequestGroup, RequestState } from './state.js';
import type { GenerationGroup, GenerationRequest } from './types.js';

/**
 * A request's n choices on one prompt (`GenerationGroup`) in the scheduler's records: one `RequestState` per
 * member, each with the request it would be alone (its sequence id, its seed), joined by one `RequestGroup`.
 * Pure helpers; the loop owns the records.
 */

/** The members' records, choice 0 first, queued at `nowMs`. */
export function groupStates(group: GenerationGroup, sinks: readonly SequenceSink[], nowMs: number): RequestState[] {
  const { members, ...shared } = group;
  const states: RequestState[] = [];
  const joined: RequestGroup = { members: states };
  members.forEach((member, i) => {
    const request: GenerationRequest = { ...shared, id: member.id, sampling: { ...shared.sampling, seed: member.seed } };
    states.push({ request, sink: sinks[i]!, arrivalMs: nowMs, phase: 'queued', tokens: 0, lastTokenMs: undefined, group: joined });
  });
  return states;
}

/**
 * What admitting `r` hands to the engine: `r` alone, or every member of its group still queued (`live`: not
 * cancelled meanwhile), in choice order, so the prompt is prefilled once for all of them.
 */
export function admittedWith(r: RequestState, live: (id: number) => boolean): RequestState[] {
  if (!r.group) return [r];
  return r.group.members.filter((m) => m.phase === 'queued' && live(m.request.id));
}

/** The engine's `addGroup` for members of one group (their shared request, each one's id and seed). */
export function engineGroup(members: readonly RequestState[]): SequenceGroupSpec {
  const q = members[0]!.request;
  return {
    weightsDigest: q.model.weightsDigest,
    modelDir: q.model.dir,
    promptTokens: q.promptTokens,
    sampling: q.sampling,
    stopTokenIds: q.stopTokenIds,
    members: members.map((m) => ({ id: m.request.id, seed: m.request.sampling.seed })),
  };
}

/** Prompt tokens a model's queued requests will prefill: a group's prompt once, however many members wait. */
export function queuedPrefillTokens(model: Readonly<ModelState>): number {
  let tokens = 0;
  let counted: Set<RequestGroup> | undefined;
  for (const r of model.requests.values()) {
    if (r.phase !== 'queued') continue;
    if (r.group) {
      counted ??= new Set();
      if (counted.has(r.group)) continue;
      counted.add(r.group);
    }
    tokens += r.request.promptTokens.length;
  }
  return tokens;
}
