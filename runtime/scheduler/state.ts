import type { ModelRef, SequenceSink } from '../engine/engine.js';
import type { GenerationRequest } from './types.js';

/**
 * Plain records of what one GPU's scheduler knows. The loop (loop.ts) is the only writer; policies read
 * them through `SchedulerView` and never mutate.
 */
export type RequestPhase =
  /** Submitted, not yet given to the engine. */
  | 'queued'
  /** Given to the engine; KV (if any yet) on the device. */
  | 'added'
  /** KV parked in host memory. */
  | 'parked';

export interface RequestState {
  readonly request: GenerationRequest;
  readonly sink: SequenceSink;
  readonly arrivalMs: number;
  phase: RequestPhase;
  /** Output tokens delivered so far. */
  tokens: number;
  /** Clock time of the latest delivered token, or undefined before the first. */
  lastTokenMs: number | undefined;
  /** The group it is a member of (a request's n choices on one prompt), absent for a lone request. */
  readonly group?: RequestGroup;
}

/** The members of a group, choice 0 first: handed to the engine together, when the first of them is admitted. */
export interface RequestGroup {
  readonly members: readonly RequestState[];
}

export type Residency = 'absent' | 'loading' | 'resident';

export interface ModelState {
  readonly ref: ModelRef;
  readonly functionName: string;
  /** Live requests of this model, in arrival order (Map keeps insertion order). */
  readonly requests: Map<number, RequestState>;
  residency: Residency;
  /** Clock time the model last ran a turn (or was loaded), for LRU eviction. */
  lastRunMs: number;
  /** Its latest prefetch found no room (nothing it may push out freed enough); cleared when its weights come in. */
  prefetchBlocked: boolean;
}

export function countPhase(model: ModelState, phase: RequestPhase): number {
  let n = 0;
  for (const r of model.requests.values()) if (r.phase === phase) n++;
  return n;
}

export function hasWork(model: ModelState): boolean {
  return model.requests.size > 0;
}

export function newModelState(ref: ModelRef, functionName: string, nowMs: number): ModelState {
  return { ref, functionName, requests: new Map(), residency: 'absent', lastRunMs: nowMs, prefetchBlocked: false };
}
