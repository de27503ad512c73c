/**
 * Counts the node's generations in flight and, once draining, waits for them: the node half of a graceful
 * stop. `admit` is false from `drain` on; `drain` resolves once the count is zero or `graceMs` passed, with
 * how many were still running (the caller cuts those).
 */
export interface GenerationDrain {
  readonly draining: boolean;
  /** True when a new generation may start; it then counts until `done` is called once. */
  admit(): boolean;
  done(): void;
  drain(graceMs: number): Promise<{ readonly unfinished: number }>;
}

export function createGenerationDrain(): GenerationDrain {
  let draining = false;
  let running = 0;
  let onIdle: (() => void) | undefined;
  return {
    get draining() {
      return draining;
    },
    admit() {
      if (draining) return false;
      running++;
      return true;
    },
    done() {
      running--;
      if (running === 0) onIdle?.();
    },
    async drain(graceMs) {
      draining = true;
      if (running === 0) return { unfinished: 0 };
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (onIdle = resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      onIdle = undefined;
      return { unfinished: running };
    },
  };
}
