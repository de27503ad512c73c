/**
 * Time as the scheduler sees it. Production passes `realClock`; the simulator and unit tests pass a
 * `VirtualClock`, so the same scheduler code runs an hour of traffic in seconds and deterministically.
 */
export interface Clock {
  /** Milliseconds on this clock's timeline (monotonic for the real clock, virtual otherwise). */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. Never rejects. */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  // Unref'd: a scheduler waiting out an idle timeout must not keep a finished process alive.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref()),
};

interface Timer {
  readonly at: number;
  /** Insertion order breaks ties, so equal-time timers fire in the order they were set (determinism). */
  readonly order: number;
  readonly resolve: () => void;
}

/**
 * A discrete-event clock. Time only moves inside `run`: it fires the earliest timer, lets every promise
 * chain that the firing unblocked settle (one macrotask turn), and repeats. Nothing here touches real time.
 */
export class VirtualClock implements Clock {
  private time = 0;
  private order = 0;
  private readonly heap: Timer[] = [];

  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.push({ at: this.time + Math.max(0, ms), order: this.order++, resolve }));
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.heap.length;
  }

  /**
   * Fires timers in time order until none are left or the next one lies beyond `untilMs`; then sets the
   * clock to `untilMs` when given. Safe to call again later to continue.
   */
  async run(untilMs = Number.POSITIVE_INFINITY): Promise<void> {
    await settle();
    while (this.heap.length > 0 && this.heap[0]!.at <= untilMs) {
      const at = this.heap[0]!.at;
      this.time = Math.max(this.time, at);
      while (this.heap.length > 0 && this.heap[0]!.at === at) this.pop().resolve();
      await settle();
    }
    if (Number.isFinite(untilMs)) this.time = Math.max(this.time, untilMs);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Timer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** One macrotask turn: every microtask queued so far (and those they queue) runs before it resolves. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
