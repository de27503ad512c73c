import { SseParser } from './sse-parser.js';

const KEY_STORAGE = 'tidepool.adminKey';

/** A refusal from the control plane, with its error code (`invalid_api_key`, `insufficient_scope`, ...). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The key is missing, wrong, revoked, or lacks the admin scope: ask for another. */
  get needsKey(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** The admin key lives in sessionStorage: it survives reloads, not the closing of the tab. */
export const adminKey = {
  get: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key.trim()),
  forget: () => sessionStorage.removeItem(KEY_STORAGE),
};

function authHeaders(): Record<string, string> {
  const key = adminKey.get();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function refusal(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new ApiError(res.status, body.error?.code ?? `http_${res.status}`, body.error?.message ?? `${res.status} ${res.statusText}`);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: authHeaders(), signal });
  if (!res.ok) throw await refusal(res);
  return (await res.json()) as T;
}

/**
 * Reads an SSE stream with fetch (EventSource cannot send an Authorization header) and calls `onEvent`
 * with each event's name and parsed JSON data. Resolves when the server ends the stream; rejects with
 * `ApiError` on a refusal, or when the connection breaks.
 */
export async function readEvents(path: string, onEvent: (name: string, data: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: { ...authHeaders(), Accept: 'text/event-stream' }, signal });
  if (!res.ok) throw await refusal(res);
  if (!res.body) throw new Error('the events response has no body');
  const parser = new SseParser();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const message of parser.push(value)) onEvent(message.event, JSON.parse(message.data));
  }
}
