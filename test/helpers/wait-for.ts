import type { EventEmitter } from 'node:events';

export interface WaitOptions {
  /** Give up after this long, ms (default 5 s: generous for a loaded 2-core CI machine). */
  readonly timeoutMs?: number;
  /** Between two looks at the condition, ms (default 10). */
  readonly intervalMs?: number;
  /** What was awaited, for the failure: "the model to leave host memory". */
  readonly message: string;
}

/**
 * Waits for the event itself instead of sleeping: polls `condition` until it returns something truthy (that
 * value is returned), and fails with `timed out after N ms waiting for <message>` otherwise. The failure also
 * carries the condition's last value or error, so a test that times out says what it saw.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message} (last seen: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}

/** The arguments of the next `event` on `emitter`, or a failure naming `message` after `timeoutMs`. */
export function nextEvent<A extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, options: WaitOptions): Promise<A> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise<A>((resolve, reject) => {
    const onEvent = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${options.message} (no '${event}' event)`));
    }, timeoutMs);
    emitter.once(event, onEvent);
  });
}

/**
 * Lets `ms` of time pass where the passing of time is itself what a test checks: that something does NOT
 * happen within a window (a keep-warm window holds, a lease blocks). Never use it to wait for something to
 * happen; that is `waitFor`.
 */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
