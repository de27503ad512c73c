import type { Clock } from './clock.js';

/** Why the loop cut a running turn short (the engine itself reports only `preempted`). */
export type TurnCut = 'quota' | 'prefetched' | 'prefetch_failed';

export interface TurnTimersOptions {
  readonly clock: Clock;
  /** Ends the engine's running turn at its next token boundary. */
  readonly preempt: () => void;
  /** True while this turn is still the one running: a timer that fires later must not cut the next turn. */
  readonly stillRunning: () => boolean;
  readonly startedMs: number;
  /** The turn's time quota, ms; infinite or 0 arms no quota timer. */
  readonly quotaMs: number;
  /**
   * A turn that keeps the GPU busy while another model's weights load (`TurnPlan.whileLoading`): it is cut
   * once `loaded` settles (true: the weights are in; false: the load found no room), but not before `minMs`.
   */
  readonly whileLoading?: { readonly minMs: number; readonly loaded: Promise<boolean> };
}

/**
 * The two timers of a running turn. The quota is a time, and `maxSteps` converts it at the estimated step
 * time, which is only a prior until the model's first turn is observed (and an average after): when steps
 * run slower than estimated, the quota timer cuts the turn at the token boundary after `quotaMs`, so no turn
 * outlasts its quota. A turn run while another model loads is cut when the load ends. `cut()` says which
 * fired first, for the turn's reported reason.
 */
export function armTurnTimers(o: TurnTimersOptions): { cut(): TurnCut | undefined } {
  let byLoad: 'prefetched' | 'prefetch_failed' | undefined;
  let byQuota = false;
  const whileLoading = o.whileLoading;
  if (whileLoading) {
    const cut = (why: 'prefetched' | 'prefetch_failed') => {
      if (!o.stillRunning()) return;
      byLoad = why;
      o.preempt();
    };
    void whileLoading.loaded.then(async (loaded) => {
      if (!loaded) return cut('prefetch_failed');
      const leftMs = o.startedMs + whileLoading.minMs - o.clock.now();
      if (leftMs > 0) await o.clock.sleep(leftMs);
      cut('prefetched');
    });
  }
  if (Number.isFinite(o.quotaMs) && o.quotaMs > 0) {
    void o.clock.sleep(o.quotaMs).then(() => {
      if (!o.stillRunning()) return;
      byQuota = true;
      o.preempt();
    });
  }
  return { cut: () => byLoad ?? (byQuota ? 'quota' : undefined) };
}
