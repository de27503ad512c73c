import { CliError } from './cli-error.js';

/** The control plane as the CLI reaches it: `TIDEPOOL_API_URL` (default http://127.0.0.1:8080), optional key. */
export interface ApiClient {
  readonly baseUrl: string;
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The raw response for streaming bodies and HEAD; non-2xx responses (other than `allow`) throw CliError. */
  raw(method: string, path: string, init?: RequestInit & { readonly allow?: readonly number[] }): Promise<Response>;
}

export function createApiClient(options: { readonly baseUrl?: string; readonly apiKey?: string } = {}): ApiClient {
  const baseUrl = (options.baseUrl ?? process.env.TIDEPOOL_API_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const apiKey = options.apiKey ?? process.env.TIDEPOOL_API_KEY;
  const auth: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};

  const raw: ApiClient['raw'] = async (method, path, init = {}) => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, { ...init, method, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`cannot reach the control plane at ${baseUrl} (${cause}); start it with \`tidepool up\` or set TIDEPOOL_API_URL`);
    }
    if (!res.ok && !(init.allow ?? []).includes(res.status)) throw new CliError(await errorMessage(res));
    return res;
  };

  return {
    baseUrl,
    raw,
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const init: RequestInit = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
      const res = await raw(method, path, init);
      return (await res.json()) as T;
    },
  };
}

/** The server's OpenAI-shaped error message, or the status line when the body is not one. */
async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message) return `${body.error.message} (HTTP ${res.status} ${body.error.code ?? ''})`.replace(' )', ')');
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

/** Parses an SSE body into its `data:` payloads, yielding each JSON object until `[DONE]`. */
export async function* sseData(res: Response): AsyncGenerator<Record<string, unknown>> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of frame.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') return;
        yield JSON.parse(data) as Record<string, unknown>;
      }
    }
  }
}
