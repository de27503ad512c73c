// Load run (hardening): `tidepool up` as a child process (embedded PGlite, filesystem store, CPU engine) takes
// N non-streaming chat completions from C concurrent keep-alive connections over loopback. Every request must
// be answered (200, or 429 when the node's queue is full), the invocation records read back from the data
// dir's database after a clean SIGTERM exit must equal N, and the control plane's resident memory, sampled
// from /proc every 1000 answers, should stay flat (growth under 10% from the 2nd thousand to the last).
// Sizes: full N=10000, tiny N=2000 (CI smoke); C=256 for both.
import { spawn, type ChildProcess } from 'node:child_process';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openDatabase } from '../../platform/db/open-database.js';

const BIN = join(import.meta.dirname, '../../bin/tidepool.mjs');
const CONCURRENCY = 256;
const MAX_TOKENS = 6;
/** Held per function before 429: one per connection, so a client pool this size is queued, not refused. */
const QUEUE_LIMIT = 256;
const ENGINE_THREADS = 2;
const RSS_EVERY = 1000;
const RSS_GROWTH_BAR = 0.1;

interface Upness {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

async function startUp(dataDir: string): Promise<Upness> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, TIDEPOOL_DATA_DIR: dataDir, TIDEPOOL_SHM_DIR: join(dataDir, 'shm'), TIDEPOOL_HOST_POOL_BYTES: '1GiB',
    TIDEPOOL_ENGINE_BACKEND: 'cpu', TIDEPOOL_ENGINE_THREADS: String(ENGINE_THREADS), TIDEPOOL_GPU_MEMORY_BYTES: '1GiB',
    TIDEPOOL_QUEUE_LIMIT: String(QUEUE_LIMIT), TIDEPOOL_SHUTDOWN_GRACE_MS: '30000', TIDEPOOL_HOST: '127.0.0.1', TIDEPOOL_API_KEY: '',
    // The records are counted in the embedded database afterwards, whatever the caller's environment says.
    DATABASE_URL: '',
  };
  delete env.TIDEPOOL_S3_BUCKET;
  const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ url: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    void exited.then((code) => reject(new Error(`tidepool up exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, url: ready.url, stderr: () => stderr, exited };
}

/** VmRSS of a process in bytes (Linux /proc). */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

interface Outcome {
  readonly status: number;
  readonly ms: number;
  /** The error code of a non-200 answer (`queue_full`, `cold_start_timeout`, ...). */
  readonly code?: string;
}

/** POSTs one completion on the keep-alive agent; status 0 with the error when no answer came. */
function post(agent: Agent, url: URL, body: string): Promise<Outcome & { error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      if (res.statusCode === 200) res.resume();
      else res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, ...(text && { code: errorCode(text) }) }));
      res.once('error', (error) => resolve({ status: 0, ms: performance.now() - started, error: error.message }));
    });
    req.once('error', (error) => resolve({ status: 0, ms: performance.now() - started, error: error.message }));
    req.end(body);
  });
}

function errorCode(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: { code?: string } }).error?.code ?? 'unknown');
  } catch {
    return 'unparsable';
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Fires `total` requests from `concurrency` workers; samples the server's RSS after every RSS_EVERY answers. */
async function fire(up: Upness, total: number, concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL('/v1/chat/completions', up.url);
  const body = JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hello' }], max_tokens: MAX_TOKENS });
  const outcomes: Outcome[] = [];
  const rss: { answered: number; bytes: number }[] = [];
  const errors: string[] = [];
  let dispatched = 0;
  const started = performance.now();
  const worker = async () => {
    while (dispatched < total) {
      dispatched++;
      const outcome = await post(agent, url, body);
      if (outcome.error && errors.length < 5) errors.push(outcome.error);
      outcomes.push(outcome);
      if (outcomes.length % RSS_EVERY === 0 || outcomes.length === total) rss.push({ answered: outcomes.length, bytes: rssBytes(up.child.pid!) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { outcomes, rss, errors, seconds };
}

export default async function loadBench(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const total = args.size === 'full' ? 10_000 : 2_000;
  const dataDir = await mkdtemp(join(tmpdir(), 'tidepool-load-'));
  try {
    const up = await startUp(dataDir);
    let run: Awaited<ReturnType<typeof fire>>;
    try {
      run = await fire(up, total, CONCURRENCY);
    } finally {
      up.child.kill('SIGTERM');
    }
    const code = await up.exited;
    if (code !== 0) throw new Error(`tidepool up exited ${code} after SIGTERM: ${up.stderr().slice(-2000)}`);
    const database = await openDatabase({ dataDir });
    const recordStatuses: Record<string, number> = {};
    try {
      const rows = await database.db
        .selectFrom('invocations').select((eb) => ['status', eb.fn.countAll<number>().as('n')]).where('function_name', '=', 'tiny-chat').groupBy('status').execute();
      for (const row of rows) recordStatuses[row.status] = Number(row.n);
    } finally {
      await database.close();
    }
    await report(args, total, run, recordStatuses);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function report(
  args: { size: 'tiny' | 'full'; outDir: string },
  total: number,
  run: Awaited<ReturnType<typeof fire>>,
  recordStatuses: Record<string, number>,
): Promise<void> {
  const records = Object.values(recordStatuses).reduce((sum, n) => sum + n, 0);
  const byStatus = { ok200: 0, tooMany429: 0, other: 0, unanswered: 0 };
  for (const o of run.outcomes) {
    if (o.status === 200) byStatus.ok200++;
    else if (o.status === 429) byStatus.tooMany429++;
    else if (o.status === 0) byStatus.unanswered++;
    else byStatus.other++;
  }
  const otherCodes: Record<string, number> = {};
  for (const o of run.outcomes) if (o.status !== 200 && o.status !== 0) otherCodes[`${o.status} ${o.code}`] = (otherCodes[`${o.status} ${o.code}`] ?? 0) + 1;
  const latencies = run.outcomes.filter((o) => o.status !== 0).map((o) => o.ms).sort((a, b) => a - b);
  const okLatencies = run.outcomes.filter((o) => o.status === 200).map((o) => o.ms).sort((a, b) => a - b);
  // The first thousand includes the cold start and warm-up; growth is judged from the second to the last.
  const second = run.rss.find((s) => s.answered === 2 * RSS_EVERY);
  const last = run.rss.at(-1)!;
  const growth = second && last.answered > second.answered ? (last.bytes - second.bytes) / second.bytes : null;
  const figures = {
    requests: total, concurrency: CONCURRENCY, maxTokens: MAX_TOKENS, queueLimit: QUEUE_LIMIT, engineThreads: ENGINE_THREADS,
    answered: byStatus, refusals: otherCodes, records, recordStatuses, seconds: Number(run.seconds.toFixed(2)), requestsPerSec: Number((total / run.seconds).toFixed(1)),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? Number.NaN) },
    latency200Ms: { p50: round(percentile(okLatencies, 50)), p99: round(percentile(okLatencies, 99)) },
    rssMiB: run.rss.map((s) => ({ answered: s.answered, mib: round(s.bytes / 2 ** 20) })),
    rssGrowth2ndToLast: growth === null ? null : round(growth * 100) / 100,
    rssGrowthBar: RSS_GROWTH_BAR,
    rssGrowthMet: growth === null ? null : growth < RSS_GROWTH_BAR,
  };
  console.log(`tidepool up (PGlite, CPU engine, ${ENGINE_THREADS} engine threads, TIDEPOOL_QUEUE_LIMIT=${QUEUE_LIMIT}); ${total} requests, concurrency ${CONCURRENCY}, max_tokens ${MAX_TOKENS}`);
  console.table([{ ...byStatus, records, 'req/s': figures.requestsPerSec, 'p50 ms': figures.latencyMs.p50, 'p99 ms': figures.latencyMs.p99, 'max ms': figures.latencyMs.max }]);
  console.log(`invocation records by status: ${JSON.stringify(recordStatuses)}`);
  if (Object.keys(otherCodes).length > 0) console.log(`non-200 answers by status and code: ${JSON.stringify(otherCodes)}`);
  console.table(figures.rssMiB.map((s) => ({ answered: s.answered, 'RSS MiB': s.mib })));
  console.log(
    growth === null
      ? `RSS growth: n/a (needs samples beyond the 2nd thousand; run --size full)`
      : `RSS growth 2nd thousand -> last: ${(growth * 100).toFixed(1)}% (bar < ${RSS_GROWTH_BAR * 100}%: ${figures.rssGrowthMet ? 'met' : 'MISSED'})`,
  );
  await writeResults(args, figures);
  if (byStatus.unanswered > 0) throw new Error(`${byStatus.unanswered} of ${total} requests got no answer (first errors: ${run.errors.join('; ')})`);
  if (records !== total) throw new Error(`${records} invocation records for ${total} requests`);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

async function writeResults(args: { size: string; outDir: string }, figures: Record<string, unknown>): Promise<void> {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the result still says everything else.
  }
  await mkdir(args.outDir, { recursive: true });
  const file = join(args.outDir, `load-${args.size}.json`);
  const result = {
    bench: 'load', size: args.size, device: cpus()[0]?.model ?? 'unknown cpu', cores: cpus().length, engine: 'cpu', date: new Date().toISOString(), commit,
    note: 'server (tidepool up), its engine and the load generator share this machine over loopback; RSS is the up process (control plane + node runtime), not the engine',
    ...figures,
  };
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
