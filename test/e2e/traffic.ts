/**
 * Steady chat traffic for end-to-end tests: `workersPerFunction` loops per function, each sending one
 * non-streaming chat completion after another, interleaved across functions. Bounded: it stops by itself
 * after `maxMs` or `maxRequests`. `stop()` sends nothing more and lets requests in flight finish (so the
 * server's connections are idle and close at once), aborting them only past `drainMs`.
 */
export interface Traffic {
  /** Completed requests per function so far (any status). */
  readonly sent: ReadonlyMap<string, number>;
  /** Non-2xx answers and network failures, with the last message seen. */
  readonly failures: { count: number; last?: string };
  stop(drainMs?: number): Promise<void>;
}

export function startTraffic(options: {
  readonly url: string;
  readonly key?: string;
  readonly functions: readonly string[];
  readonly workersPerFunction: number;
  readonly maxTokens: number;
  readonly maxMs: number;
  readonly maxRequests?: number;
}): Traffic {
  const abort = new AbortController();
  let stopping = false;
  const deadline = Date.now() + options.maxMs;
  const maxRequests = options.maxRequests ?? 5_000;
  const sent = new Map(options.functions.map((f) => [f, 0]));
  const failures: Traffic['failures'] = { count: 0 };
  let total = 0;

  async function worker(fn: string, worker: number): Promise<void> {
    while (!stopping && Date.now() < deadline && total < maxRequests) {
      total++;
      try {
        const res = await fetch(`${options.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(options.key ? { Authorization: `Bearer ${options.key}` } : {}) },
          body: JSON.stringify({ model: fn, messages: [{ role: 'user', content: `hello ${worker}` }], max_tokens: options.maxTokens, seed: total }),
          signal: abort.signal,
        });
        const body = await res.text();
        if (!res.ok) {
          failures.count++;
          failures.last = `${res.status} ${body.slice(0, 200)}`;
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        failures.count++;
        failures.last = (error as Error).message;
      }
      sent.set(fn, (sent.get(fn) ?? 0) + 1);
    }
  }

  const loops = options.functions.flatMap((fn) => Array.from({ length: options.workersPerFunction }, (_, i) => worker(fn, i)));
  return {
    sent,
    failures,
    async stop(drainMs = 10_000) {
      stopping = true;
      const timer = setTimeout(() => abort.abort(), drainMs);
      await Promise.allSettled(loops);
      clearTimeout(timer);
    },
  };
}
