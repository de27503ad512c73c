import type { SequenceChannel } from './engine/sequence-channel.js';
import { NodeError } from '../protocol/node-runtime.js';
import type { GpuScheduler } from './scheduler/gpu-scheduler.js';

/** A request queued on a device's scheduler: its sequence ids there (one per choice) and the channel their events arrive on. */
export interface LiveSequence {
  readonly scheduler: GpuScheduler;
  /** Choice i's sequence id is `ids[i]`. */
  readonly ids: readonly number[];
  readonly channel: SequenceChannel;
}

/**
 * Cancels the choices of `live` that are still running and that the caller gave up: every one once `signal`
 * is aborted, else those whose `choiceSignals[i]` is (`everything`: all of them, the caller stopped reading).
 */
export function cancelGivenUp(
  live: LiveSequence,
  signal: AbortSignal | undefined,
  choiceSignals: readonly AbortSignal[] | undefined,
  everything = false,
): void {
  live.ids.forEach((id, choice) => {
    if (live.channel.isChoiceEnded(choice)) return;
    if (everything || signal?.aborted || choiceSignals?.[choice]?.aborted) live.scheduler.cancel(id);
  });
}

/**
 * Tries a request gets when its engine dies before its first token: the first, and one on the restarted
 * engine. A request that kills the engine itself must not crash it forever, so there is no third.
 */
export const ENGINE_DOWN_ATTEMPTS = 2;

/**
 * An `engine_down` before the first token took nothing the caller saw, so the request may run again: once,
 * while it still has time, the caller still wants it and the node is not closing.
 */
export function mayResubmit(error: unknown, attempt: number, deadline: number, state: { readonly closed: boolean; readonly signal?: AbortSignal }): boolean {
  return (
    error instanceof NodeError &&
    error.code === 'engine_down' &&
    attempt < ENGINE_DOWN_ATTEMPTS &&
    !state.closed &&
    !state.signal?.aborted &&
    performance.now() < deadline
  );
}
