// The api bench's load generator, run as its own process (`forkLoadGenerator`): autocannon in the bench's
// process would share the event loop of the servers it measures, and its own CPU would show up in their
// latency. Each cell is one IPC message in and one out.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/** One autocannon run: POST `body` to `url` from `concurrency` keep-alive connections for `seconds`. */
export interface LoadCell {
  readonly url: string;
  readonly body: string;
  readonly concurrency: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly requests: number;
  /** Connection errors, timeouts and non-2xx answers. */
  readonly errors: number;
  /** autocannon's mean of per-second request counts. */
  readonly requestsPerSec: number;
  /** Per 2xx response: ms from sending the request to the last byte of the answer. */
  readonly latenciesMs: readonly number[];
  /** Per 2xx response that carried `Server-Timing: engine;dur=`: its latency minus that engine time (ms). */
  readonly addedMs: readonly number[];
}

/** The part of autocannon's result read here (the package ships no types). */
interface CannonResult {
  readonly requests: { readonly total: number; readonly average: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}
type CannonInstance = Promise<CannonResult> & {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void): void;
};
type Autocannon = (options: Record<string, unknown>) => CannonInstance;

/**
 * Runs one cell. autocannon calls a request's `onResponse` (which sees the headers) and then emits `response`
 * (which carries the latency) synchronously one after the other for the same response, so the two pair up.
 */
async function runCell(cell: LoadCell): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let engineMs: number | undefined;
  const latenciesMs: number[] = [];
  const addedMs: number[] = [];
  const request = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: cell.body,
    onResponse: (_status: number, _body: string, _context: unknown, headers: Record<string, string>) => {
      const match = /engine;dur=([\d.]+)/.exec(headers['server-timing'] ?? headers['Server-Timing'] ?? '');
      engineMs = match ? Number(match[1]) : undefined;
    },
  };
  const instance = autocannon({ url: cell.url, connections: cell.concurrency, duration: cell.seconds, requests: [request] });
  instance.on('response', (_client, status, _bytes, responseTimeMs) => {
    if (status >= 200 && status < 300) {
      latenciesMs.push(responseTimeMs);
      if (engineMs !== undefined) addedMs.push(responseTimeMs - engineMs);
    }
    engineMs = undefined;
  });
  const result = await instance;
  return {
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
    requestsPerSec: result.requests.average,
    latenciesMs,
    addedMs,
  };
}

/** The bench's handle on the load generator process. */
export interface LoadGenerator {
  run(cell: LoadCell): Promise<LoadResult>;
  close(): void;
}

/** Starts this file as a child process (with the tsx loader the bench runs under). */
export function forkLoadGenerator(): LoadGenerator {
  const child: ChildProcess = fork(import.meta.filename, ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`api bench load generator exited (${signal ?? code})`)));
  });
  exited.catch(() => undefined);
  return {
    run(cell) {
      const answer = new Promise<LoadResult>((resolve) => child.once('message', (message) => resolve(message as LoadResult)));
      child.send(cell);
      return Promise.race([answer, exited]);
    },
    close() {
      child.disconnect();
    },
  };
}

if (process.argv.includes('--serve') && process.send) {
  process.on('message', (cell: LoadCell) => {
    runCell(cell).then(
      (result) => process.send!(result),
      (error: unknown) => {
        console.error(`api bench load generator: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  });
}
