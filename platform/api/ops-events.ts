import type { Response } from 'express';
import type { NodeRuntime } from '../../protocol/node-runtime.js';
import { TimelineCursor } from './ops-timeline.js';
import { startSse } from './sse.js';

export interface OpsEventsOptions {
  readonly nodes: () => readonly NodeRuntime[];
  /** The body of `GET /v1/ops/state`; absent, the stream carries no `state` events. */
  readonly state?: () => Promise<unknown>;
  /** Recent invocations (the body of `GET /v1/invocations`); absent, no `invocations` events. */
  readonly invocations?: () => Promise<unknown>;
  readonly timelinePollMs: number;
  readonly statePollMs: number;
  /** First `timeline` event starts here (epoch ms). */
  readonly sinceMs: number;
}

/** A named Server-Sent Event: `event: <name>` then one `data:` line of JSON. */
function sendEvent(res: Response, name: string, data: unknown): void {
  if (!res.writableEnded) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Streams `timeline` events (new spans from every node, polled every `timelinePollMs`; the first one carries
 * the backlog since `sinceMs`) and `state` / `invocations` events every `statePollMs`, until the client goes
 * away. Polls never overlap: the next one is scheduled when the previous one has been written, so a slow
 * node slows this stream down instead of piling up requests.
 */
export function streamOpsEvents(res: Response, options: OpsEventsOptions): void {
  startSse(res);
  const cursor = new TimelineCursor(options.sinceMs);
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  res.on('close', () => {
    closed = true;
    for (const timer of timers) clearTimeout(timer);
  });

  function every(ms: number, work: () => Promise<void>): void {
    const tick = async () => {
      if (closed) return;
      try {
        await work();
      } catch (error) {
        sendEvent(res, 'problem', { message: (error as Error).message });
      }
      if (closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        void tick();
      }, ms);
      timers.add(timer);
    };
    void tick();
  }

  every(options.timelinePollMs, async () => sendEvent(res, 'timeline', await cursor.next(options.nodes())));
  const { state, invocations } = options;
  if (state) every(options.statePollMs, async () => sendEvent(res, 'state', await state()));
  if (invocations) every(options.statePollMs, async () => sendEvent(res, 'invocations', await invocations()));
}
