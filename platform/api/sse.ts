import type { Response } from 'express';

/** Responses whose writes are held until the end of the current tick (see `coalesceWrites`). */
const uncorkScheduled = new WeakSet<Response>();

/**
 * Holds a response's writes until the current tick's work is done, so the frames one event produces (the
 * headers and the role preamble; the last text, the finish chunk, usage and `[DONE]`) leave in one socket
 * write instead of one each. Nothing waits for a later event: tokens from the engine arrive in ticks of their
 * own, and `process.nextTick` runs before the loop goes back to I/O.
 */
function coalesceWrites(res: Response): void {
  if (uncorkScheduled.has(res)) return;
  uncorkScheduled.add(res);
  res.cork();
  process.nextTick(() => {
    uncorkScheduled.delete(res);
    // `end()` already uncorked fully; a second uncork could only touch whatever uses the socket next.
    if (!res.writableEnded) res.uncork();
  });
}

/** Starts a Server-Sent Events response; proxies must not buffer it. */
export function startSse(res: Response): void {
  coalesceWrites(res);
  res.status(200);
  res.set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
}

/** A frame's JSON, already encoded (see `chunkEncoder`); `sendSse` writes it as it is. */
export class EncodedJson {
  constructor(readonly text: string) {}
}

/**
 * Encodes `{...base, ...fields}` as JSON with `base` encoded once. Every chunk of a stream repeats the same
 * id, object, created, model and fingerprint; encoding them again per token was most of a frame's cost. The
 * text is exactly `JSON.stringify({...base, ...fields})` provided `fields` repeats no key of `base`.
 */
export function chunkEncoder(base: Readonly<Record<string, unknown>>): (fields: Readonly<Record<string, unknown>>) => EncodedJson {
  const head = JSON.stringify(base).slice(0, -1);
  const separator = head.length > 1 ? ',' : '';
  return (fields) => {
    const rest = JSON.stringify(fields);
    return new EncodedJson(rest.length > 2 ? `${head}${separator}${rest.slice(1)}` : `${head}}`);
  };
}

/** A frame with an event name (`event: <name>` before its data), as the Responses API streams. */
export class NamedEvent {
  constructor(
    readonly name: string,
    readonly data: unknown,
  ) {}
}

/** One `data: {...}\n\n` frame (with its `event:` line for a `NamedEvent`). */
export function sendSse(res: Response, data: unknown): void {
  if (res.writableEnded) return;
  coalesceWrites(res);
  if (data instanceof NamedEvent) {
    res.write(`event: ${data.name}\ndata: ${JSON.stringify(data.data)}\n\n`);
    return;
  }
  res.write(`data: ${data instanceof EncodedJson ? data.text : JSON.stringify(data)}\n\n`);
}

/** Ends the stream the way OpenAI clients expect: `data: [DONE]` (the Responses API ends without it). */
export function endSse(res: Response, done = true): void {
  if (res.writableEnded) return;
  if (done) res.write('data: [DONE]\n\n');
  res.end();
}

/** An abort signal that fires when the client goes away before the response has finished. */
export function disconnectSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
