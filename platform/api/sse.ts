import type { Response } from 'express';

/** Starts a Server-Sent Events response; proxies must not buffer it. */
export function startSse(res: Response): void {
  res.status(200);
  res.set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
}

/** One `data: {...}\n\n` frame. */
export function sendSse(res: Response, data: unknown): void {
  if (!res.writableEnded) res.write(`data: ${JSON.stringify(data)}\n\n`);
}

/** Ends the stream the way OpenAI clients expect: `data: [DONE]`. */
export function endSse(res: Response): void {
  if (res.writableEnded) return;
  res.write('data: [DONE]\n\n');
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
