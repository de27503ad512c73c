import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { resolve } from 'node:path';
import { dataDirLockPath, liveLockHolderSync } from '../protocol/dir-lock.js';
import { CliError } from './cli-error.js';

/** Where the CLI sends its requests, and how it came to that address (for error messages). */
export interface ApiTarget {
  readonly url: string;
  readonly source: string;
}

/**
 * The control plane the CLI talks to, first match wins:
 * 1. `TIDEPOOL_API_URL`;
 * 2. the `tidepool up` running on the data directory (`TIDEPOOL_DATA_DIR`, default `.tidepool`), whose URL
 *    its lock file records, whatever port it was given;
 * 3. `TIDEPOOL_HOST` (0.0.0.0 and :: read as loopback) and `TIDEPOOL_PORT`, default 127.0.0.1:8080.
 */
export function resolveApiTarget(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ApiTarget {
  if (env.TIDEPOOL_API_URL) return { url: env.TIDEPOOL_API_URL, source: 'TIDEPOOL_API_URL' };
  const dataDir = resolve(cwd, env.TIDEPOOL_DATA_DIR || '.tidepool');
  const running = liveLockHolderSync(dataDirLockPath(dataDir));
  if (running && typeof running.url === 'string') return { url: running.url, source: `the tidepool up (pid ${running.pid}) on ${dataDir}` };
  const host = !env.TIDEPOOL_HOST || env.TIDEPOOL_HOST === '0.0.0.0' || env.TIDEPOOL_HOST === '::' ? '127.0.0.1' : env.TIDEPOOL_HOST;
  const port = env.TIDEPOOL_PORT || '8080';
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, source: env.TIDEPOOL_PORT ? 'TIDEPOOL_PORT' : 'the default address' };
}

/** The control plane as the CLI reaches it (see `resolveApiTarget`), with an optional key. */
export interface ApiClient {
  readonly baseUrl: string;
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The raw response for streaming bodies and HEAD; non-2xx responses (other than `allow`) throw CliError. */
  raw(method: string, path: string, init?: RequestInit & { readonly allow?: readonly number[] }): Promise<Response>;
}

export function createApiClient(options: { readonly baseUrl?: string; readonly apiKey?: string } = {}): ApiClient {
  const target = options.baseUrl !== undefined ? { url: options.baseUrl, source: 'the caller' } : resolveApiTarget();
  const baseUrl = target.url.replace(/\/+$/, '');
  const apiKey = options.apiKey ?? process.env.TIDEPOOL_API_KEY;
  const auth: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};

  const unreachable = (cause: string) =>
    new CliError(
      `cannot reach the control plane at ${baseUrl} (${cause}; address from ${target.source}); start it with \`tidepool up\` or set TIDEPOOL_API_URL`,
    );

  const raw: ApiClient['raw'] = async (method, path, init = {}) => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, { ...init, method, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    } catch (error) {
      throw unreachable((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message);
    }
    if (!res.ok && !(init.allow ?? []).includes(res.status)) throw new CliError(errorMessage(res.status, res.statusText, await res.text().catch(() => '')));
    return res;
  };

  return {
    baseUrl,
    raw,
    // Over node:http rather than fetch: most commands make this one call, and loading fetch's HTTP client
    // costs a command about as long as starting Node does (docs/cli.md, start-up).
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = {
        ...auth,
        ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
      };
      const res = await sendJson(`${baseUrl}${path}`, method, headers, payload).catch((error: NodeJS.ErrnoException) => {
        throw unreachable(error.code ?? error.message);
      });
      if (res.status < 200 || res.status > 299) throw new CliError(errorMessage(res.status, res.statusText, res.text));
      return JSON.parse(res.text) as T;
    },
  };
}

/** One request with a small body, answered with its whole body as text. */
function sendJson(
  url: string,
  method: string,
  headers: Record<string, string>,
  payload: string | undefined,
): Promise<{ status: number; statusText: string; text: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/** The server's OpenAI-shaped error message, or the status line when the body is not one. */
function errorMessage(status: number, statusText: string, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message) return `${body.error.message} (HTTP ${status} ${body.error.code ?? ''})`.replace(' )', ')');
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `HTTP ${status} ${statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
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
