/**
 * How the turn loop sleeps until something changes (an arrival, a sequence ending, a cancel). A wake with
 * nobody waiting is kept, so the next wait returns at once; `count` lets a turn tell whether anything woke
 * the loop while it ran. Single-threaded like the loop.
 */
export interface WakeSignal {
  /** Wakes so far. */
  readonly count: number;
  wake(): void;
  /** Resolves at the next wake, or at once when one is pending. */
  wait(): Promise<void>;
  /** Drops a wait that lost a race (to a timer), so a wake from now on is kept as pending, not lost. */
  abandonWait(): void;
}

export function createWakeSignal(): WakeSignal {
  let pending = false;
  let waiter: (() => void) | undefined;
  let count = 0;
  return {
    get count() {
      return count;
    },
    wake() {
      count++;
      if (waiter) {
        const resolve = waiter;
        waiter = undefined;
        resolve();
      } else {
        pending = true;
      }
    },
    wait() {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => (waiter = resolve));
    },
    abandonWait() {
      waiter = undefined;
    },
  };
}
