// Benchmark 4 (BENCHMARKS.md §4): control-plane overhead. autocannon, in a process of its own, drives
// /v1/chat/completions (tiny-chat, 8 tokens), non-streaming and streaming, at concurrency 1, 16 and 64, against
// three targets in one run: a bare express handler (the anchor and physical bound), Tidepool over the real
// CPU engine, and Tidepool over an instant in-process node (the control plane alone; the CPU engine bounds the
// real rows on this machine). Concurrency-64 cells run `repeats` times, interleaved across targets.
// "Added latency" is client latency minus engine time. Non-streaming, over the engine: per request, client
// latency minus the server's `Server-Timing: engine;dur=` (submit to the node to last token), then p50/p99.
// Streaming responses carry no Server-Timing (headers go out before the engine ends), so there the engine
// time is measured around the node's generate() (call to `done`) and the added p50/p99 are differences of
// the two distributions' percentiles. Over the instant node, engine time is zero: added = client latency.
import { execSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { buildTinyTokenizer } from '../../platform/models/tiny-tokenizer.js';
import type { NodeRuntime } from '../../protocol/node-runtime.js';
import { startE2eServer, type E2eServer } from '../e2e/e2e-server.js';
import { instantNode } from './api/instant-node.js';
import { forkLoadGenerator, type LoadGenerator, type LoadResult } from './api/load-generator.js';
import { BARS, judge, percentile, summarize, tableRows, verdictLines, type Row, type Target } from './api/report.js';

const MAX_TOKENS = 8;
const CONCURRENCIES = [1, 16, 64] as const;
const BODY = (stream: boolean) =>
  JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hello' }], max_tokens: MAX_TOKENS, temperature: 0, stream });

/**
 * Wraps a node so every generate() that runs to its end records its duration (call to `done`) in `times`.
 * Generations cancelled because autocannon hung up at a cell's end are left out: the client's latencies hold
 * only answered requests, and the two distributions must cover the same ones.
 */
function timeEngine(node: NodeRuntime, times: number[]): void {
  const generate = node.generate.bind(node);
  (node as { generate: NodeRuntime['generate'] }).generate = (request, signal) =>
    (async function* () {
      const start = performance.now();
      for await (const event of generate(request, signal)) {
        if (event.type === 'done' && (event.reason === 'length' || event.reason === 'stop')) times.push(performance.now() - start);
        yield event;
      }
    })();
}

interface Targets {
  readonly load: LoadGenerator;
  readonly bareUrl: string;
  readonly engine: E2eServer;
  readonly instant: E2eServer;
  /** Filled by `timeEngine` on the engine server's node. */
  readonly engineTimes: number[];
}

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const seconds = args.size === 'tiny' ? 2 : 10;
  const repeatsAt64 = args.size === 'tiny' ? 1 : 3;
  const synthDir = await mkdtemp(join(tmpdir(), 'tidepool-api-bench-'));
  const load = forkLoadGenerator();
  const bare = express().post('/bare', express.json(), (_req, res) => res.json({ choices: [{ message: { content: 'x'.repeat(40) } }] }));
  const bareServer: Server = bare.listen(0, '127.0.0.1');
  // Production recorder batching ({}: the 250 ms default), not the e2e tests' 20 ms flush.
  const engine = await startE2eServer({ requireEngine: true, recorder: {} });
  const instant = await startE2eServer({ node: instantNode(buildTinyTokenizer().wordTokenIds), recorder: {} });
  const rows: Row[] = [];
  try {
    for (const server of [engine, instant]) {
      await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', synthDir), { progress: false });
    }
    const targets: Targets = { load, bareUrl: `http://127.0.0.1:${(bareServer.address() as { port: number }).port}/bare`, engine, instant, engineTimes: [] };
    timeEngine(engine.node, targets.engineTimes);
    // Warm: weights onto the engine, JIT on every path.
    for (const url of [`${engine.url}/v1/chat/completions`, `${instant.url}/v1/chat/completions`]) {
      for (const stream of [false, true]) await load.run({ url, body: BODY(stream), concurrency: 4, seconds: 1 });
    }
    for (const concurrency of CONCURRENCIES) {
      const repeats = concurrency === BARS.concurrency ? repeatsAt64 : 1;
      for (let repeat = 0; repeat < repeats; repeat++) rows.push(...(await measureRound(targets, concurrency, repeat, seconds)));
    }
  } finally {
    load.close();
    bareServer.close();
    await engine.close();
    await instant.close();
    await rm(synthDir, { recursive: true, force: true });
  }
  const summaries = summarize(rows);
  const verdicts = judge(summaries);
  console.table(tableRows(summaries, MAX_TOKENS));
  console.log(`bars (BENCHMARKS.md §4; median over ${repeatsAt64} repeat(s) at c=${BARS.concurrency}):`);
  for (const line of verdictLines(verdicts)) console.log(`  ${line}`);
  await writeResults(args, { seconds, repeatsAt64, rows, summaries, verdicts });
}

/**
 * Waits until the node runs and queues nothing. autocannon stops at the cell's end with requests in flight;
 * their clients are gone, but the engine cancels them only at its next token boundary, and a cell that
 * started before that would queue behind them (or be refused with 429 queue_full).
 */
async function drained(node: NodeRuntime, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = (await node.residency()).reduce((sum, m) => sum + m.queued + m.running, 0);
    if (busy === 0) return;
    if (Date.now() > deadline) throw new Error(`node ${node.nodeId} still busy (${busy} sequences) ${timeoutMs} ms after a cell`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One repeat at one concurrency: the bare handler, then each Tidepool target, non-streaming and streaming. */
async function measureRound(t: Targets, concurrency: number, repeat: number, seconds: number): Promise<Row[]> {
  const cell = async (url: string, stream: boolean) => {
    await drained(t.engine.node);
    t.engineTimes.length = 0;
    return t.load.run({ url, body: BODY(stream), concurrency, seconds });
  };
  const rows = [toRow('bare express', false, concurrency, repeat, await cell(t.bareUrl, false), null)];
  for (const stream of [false, true]) {
    const result = await cell(`${t.engine.url}/v1/chat/completions`, stream);
    rows.push(
      toRow(
        'tidepool',
        stream,
        concurrency,
        repeat,
        result,
        [...t.engineTimes].sort((a, b) => a - b),
      ),
    );
  }
  for (const stream of [false, true]) {
    rows.push(toRow('tidepool (instant node)', stream, concurrency, repeat, await cell(`${t.instant.url}/v1/chat/completions`, stream), 'instant'));
  }
  return rows;
}

/**
 * `engine`: sorted engine times (the CPU engine), `instant` (zero by construction) or null (bare handler).
 * Added latency per request where Server-Timing paired with the response, else as percentile differences.
 */
function toRow(target: Target, stream: boolean, concurrency: number, repeat: number, r: LoadResult, engine: number[] | 'instant' | null): Row {
  const latencies = [...r.latenciesMs].sort((a, b) => a - b);
  const latencyP50Ms = percentile(latencies, 50);
  const latencyP99Ms = percentile(latencies, 99);
  const base = {
    target,
    stream,
    concurrency,
    repeat,
    requests: r.requests,
    errors: r.errors,
    requestsPerSec: r.requestsPerSec,
    tokensPerSec: engine === null ? null : r.requestsPerSec * MAX_TOKENS,
    latencyP50Ms,
    latencyP99Ms,
  };
  if (engine === null) return { ...base, engineP50Ms: null, engineP99Ms: null, addedP50Ms: null, addedP99Ms: null };
  if (engine === 'instant') return { ...base, engineP50Ms: 0, engineP99Ms: 0, addedP50Ms: latencyP50Ms, addedP99Ms: latencyP99Ms };
  const engineP50Ms = percentile(engine, 50);
  const engineP99Ms = percentile(engine, 99);
  const added = [...r.addedMs].sort((a, b) => a - b);
  const perRequest = !stream && added.length > 0;
  return {
    ...base,
    engineP50Ms,
    engineP99Ms,
    addedP50Ms: perRequest ? percentile(added, 50) : latencyP50Ms - engineP50Ms,
    addedP99Ms: perRequest ? percentile(added, 99) : latencyP99Ms - engineP99Ms,
  };
}

async function writeResults(args: { size: string; outDir: string }, body: Record<string, unknown>): Promise<void> {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the result still says everything else.
  }
  await mkdir(args.outDir, { recursive: true });
  const file = join(args.outDir, `api-${args.size}.json`);
  const result = {
    bench: 'api',
    size: args.size,
    device: cpus()[0]?.model ?? 'unknown cpu',
    cores: cpus().length,
    engine: 'cpu',
    date: new Date().toISOString(),
    commit,
    maxTokens: MAX_TOKENS,
    bars: BARS,
    note:
      'server, CPU engine and load generator (its own process) share this machine. target "tidepool": over the real CPU engine; ' +
      '"tidepool (instant node)": over an in-process node that returns the requested tokens at once (no engine), so its rows measure the control plane alone. ' +
      'Added latency: non-streaming rows over the engine, p50/p99 of per-request client latency minus Server-Timing engine time; streaming rows over the engine, ' +
      'client percentile minus engine-time percentile; instant-node rows, client latency (engine time 0). Spread: min/median/max over repeats.',
    ...body,
  };
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
