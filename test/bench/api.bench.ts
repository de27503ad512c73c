// Benchmark 4 (BENCHMARKS.md §4): control-plane overhead. autocannon drives /v1/chat/completions on the tiny
// CPU model, non-streaming and streaming, at concurrency 1, 16 and 64, next to a bare express handler
// measured in the same run. "Added latency" is client latency minus engine time. Non-streaming: per request,
// the client's latency minus the server's `Server-Timing: engine;dur=` (submit to the node to last token),
// then p50/p99 of those differences. Streaming responses carry no Server-Timing (headers go out before the
// engine ends), so there the engine time is measured around the node's generate() (call to `done`) and the
// added p50/p99 are differences of the two distributions' percentiles.
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createApiClient } from '../../platform/cli/api-client.js';
import { deployFunction } from '../../platform/cli/deploy-function.js';
import { prepareFunctionDir } from '../../platform/cli/function-dir.js';
import type { NodeRuntime } from '../../runtime/node-runtime.js';
import { startE2eServer } from '../e2e/e2e-server.js';

/** The part of autocannon's result this benchmark reads (the package ships no types). */
interface CannonResult {
  readonly requests: { readonly total: number; readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly errors: number;
  readonly non2xx: number;
}
/** autocannon's instance: a promise of the result that also emits per-response events. */
type CannonInstance = Promise<CannonResult> & {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void): void;
};
type Autocannon = (options: Record<string, unknown>) => CannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const MAX_TOKENS = 8;
const BODY = (stream: boolean) => JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hello' }], max_tokens: MAX_TOKENS, temperature: 0, stream });

interface Row {
  readonly target: string;
  readonly stream: boolean;
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly requestsPerSec: number;
  readonly tokensPerSec: number | null;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly engineP50Ms: number | null;
  readonly engineP99Ms: number | null;
  readonly addedP50Ms: number | null;
  readonly addedP99Ms: number | null;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Wraps a node so every generate() records its duration (call to `done`) in `times`. */
function timeEngine(node: NodeRuntime, times: number[]): void {
  const generate = node.generate.bind(node);
  (node as { generate: NodeRuntime['generate'] }).generate = (request, signal) =>
    (async function* () {
      const start = performance.now();
      for await (const event of generate(request, signal)) {
        if (event.type === 'done') times.push(performance.now() - start);
        yield event;
      }
    })();
}

/**
 * Runs autocannon; with `added`, records per response its latency minus the `Server-Timing` engine duration.
 * autocannon calls a request's onResponse (which sees the headers) and then emits 'response' (which carries
 * the latency) synchronously one after the other for the same response, so the two are paired in order.
 */
async function cannon(url: string, body: string, concurrency: number, seconds: number, added?: number[]): Promise<CannonResult> {
  let engineMs: number | undefined;
  const request = {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
    onResponse: (_status: number, _body: string, _context: unknown, headers: Record<string, string>) => {
      const match = /engine;dur=([\d.]+)/.exec(headers['server-timing'] ?? headers['Server-Timing'] ?? '');
      engineMs = match ? Number(match[1]) : undefined;
    },
  };
  const instance = autocannon({ url, connections: concurrency, duration: seconds, requests: [request] });
  instance.on('response', (_client, status, _bytes, responseTimeMs) => {
    if (added && status === 200 && engineMs !== undefined) added.push(responseTimeMs - engineMs);
    engineMs = undefined;
  });
  return instance;
}

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const seconds = args.size === 'tiny' ? 2 : 15;
  const server = await startE2eServer({ requireEngine: true });
  const engineTimes: number[] = [];
  const rows: Row[] = [];
  const bare = express().post('/bare', express.json(), (_req, res) => res.json({ choices: [{ message: { content: 'x'.repeat(40) } }] }));
  const bareServer = bare.listen(0, '127.0.0.1');
  try {
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    timeEngine(server.node, engineTimes);
    await cannon(`${server.url}/v1/chat/completions`, BODY(false), 1, 1); // warm: load weights onto the engine
    const barePort = (bareServer.address() as { port: number }).port;
    for (const concurrency of [1, 16, 64]) {
      const b = await cannon(`http://127.0.0.1:${barePort}/bare`, BODY(false), concurrency, seconds);
      rows.push(row('bare express', false, concurrency, b, null));
      for (const stream of [false, true]) {
        engineTimes.length = 0;
        const added: number[] = [];
        const r = await cannon(`${server.url}/v1/chat/completions`, BODY(stream), concurrency, seconds, stream ? undefined : added);
        rows.push(row('tidepool', stream, concurrency, r, [...engineTimes].sort((x, y) => x - y), stream ? null : added.sort((x, y) => x - y)));
      }
    }
  } finally {
    bareServer.close();
    await server.close();
  }
  console.table(rows.map((r) => ({ ...r, requestsPerSec: r.requestsPerSec.toFixed(1), tokensPerSec: r.tokensPerSec?.toFixed(0) ?? '-' })));
  await writeResults(args, rows, seconds);
}

/** `added`: per-request added latencies, sorted (non-streaming); null: percentile differences. */
function row(target: string, stream: boolean, concurrency: number, r: CannonResult, engine: number[] | null, added: number[] | null = null): Row {
  const engineP50 = engine ? percentile(engine, 50) : null;
  const engineP99 = engine ? percentile(engine, 99) : null;
  return {
    target, stream, concurrency,
    requests: r.requests.total,
    errors: r.errors + r.non2xx,
    requestsPerSec: r.requests.average,
    tokensPerSec: engine ? r.requests.average * MAX_TOKENS : null,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    engineP50Ms: engineP50,
    engineP99Ms: engineP99,
    addedP50Ms: added && added.length > 0 ? percentile(added, 50) : engineP50 === null ? null : r.latency.p50 - engineP50,
    addedP99Ms: added && added.length > 0 ? percentile(added, 99) : engineP99 === null ? null : r.latency.p99 - engineP99,
  };
}

async function writeResults(args: { size: string; outDir: string }, rows: readonly Row[], seconds: number): Promise<void> {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the result still says everything else.
  }
  await mkdir(args.outDir, { recursive: true });
  const file = join(args.outDir, `api-${args.size}.json`);
  const result = {
    bench: 'api', size: args.size, device: cpus()[0]?.model ?? 'unknown cpu', cores: cpus().length, engine: 'cpu',
    date: new Date().toISOString(), commit, secondsPerCell: seconds, maxTokens: MAX_TOKENS,
    note:
      'server, engine and load generator share this machine; added latency: non-streaming rows, p50/p99 of per-request client latency minus Server-Timing engine time; streaming rows, client percentile minus engine-time percentile',
    rows,
  };
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
