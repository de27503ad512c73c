// Load run (hardening): `tidepool up` as a child process (embedded PGlite, filesystem store, CPU engine) takes
// N non-streaming chat completions from C concurrent keep-alive connections over loopback. Every request must
// be answered (200, or 429 when the node's queue is full), the invocation records read back from the data
// dir's database after a clean SIGTERM exit must equal N, and the control plane's resident memory should stay
// flat: every 1000 answers it is read as found and again after a full GC, with the V8 heap, external memory
// and PGlite's WASM memory beside it; the bar (growth under 10% from the 2nd thousand to the last) is judged
// on RSS after GC, since RSS as found swings with when V8 last collected.
// Sizes: full N=10000, tiny N=2000 (CI smoke); C=256 for both.
import { spawn, type ChildProcess } from 'node:child_process';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    ...process.env,
    TIDEPOOL_DATA_DIR: dataDir,
    TIDEPOOL_SHM_DIR: join(dataDir, 'shm'),
    TIDEPOOL_HOST_POOL_BYTES: '1GiB',
    TIDEPOOL_ENGINE_BACKEND: 'cpu',
    TIDEPOOL_ENGINE_THREADS: String(ENGINE_THREADS),
    TIDEPOOL_GPU_MEMORY_BYTES: '1GiB',
    TIDEPOOL_QUEUE_LIMIT: String(QUEUE_LIMIT),
    TIDEPOOL_SHUTDOWN_GRACE_MS: '30000',
    TIDEPOOL_HOST: '127.0.0.1',
    TIDEPOOL_API_KEY: '',
    // The records are counted in the embedded database afterwards, whatever the caller's environment says.
    DATABASE_URL: '',
  };
  delete env.TIDEPOOL_S3_BUCKET;
  const probe = join(dataDir, 'memory-probe.mjs');
  await writeFile(probe, MEMORY_PROBE);
  env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --expose-gc --import=${pathToFileURL(probe).href}`.trim();
  const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ url: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    void exited.then((code) => reject(new Error(`tidepool up exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, url: ready.url, stderr: () => stderr, exited };
}

/**
 * Loaded into the child with --import (bench only; nothing in the product changes): on request it runs a full
 * GC and answers with process.memoryUsage(), so the JS live set is measured rather than the garbage not yet
 * collected. The channel is unref'd so it never keeps the process alive.
 */
const MEMORY_PROBE = `
process.on('message', (message) => {
  if (message !== 'memory') return;
  globalThis.gc?.();
  process.send({ memory: process.memoryUsage() });
});
process.channel?.unref();
`;

interface MemorySample {
  readonly answered: number;
  /** VmRSS as found, with whatever garbage V8 has not collected yet: it rises and falls with GC timing. */
  readonly rssBytes: number;
  /** VmRSS right after a full GC: what the process retains. The growth bar is judged on this. */
  readonly rssAfterGcBytes: number;
  /** V8 heap in use after a full GC: the JS objects still reachable. */
  readonly heapUsedBytes: number;
  /** Memory V8 tracks outside its heap after a full GC: Buffers, ArrayBuffers and the WASM memories. */
  readonly externalBytes: number;
  /** Resident bytes of the WebAssembly memories: PGlite's Postgres heap, which only ever grows. */
  readonly wasmRssBytes: number;
  /** Entries in the node's timeline ring (bounded: 10 minutes or 50,000 entries), which fills during a run. */
  readonly timelineSpans: number;
}

async function sampleMemory(up: Upness, answered: number): Promise<MemorySample> {
  const child = up.child;
  const before = rssBytes(child.pid!);
  const reply = new Promise<NodeJS.MemoryUsage>((resolve) => {
    const onMessage = (message: { memory?: NodeJS.MemoryUsage }) => {
      if (!message.memory) return;
      child.off('message', onMessage);
      resolve(message.memory);
    };
    child.on('message', onMessage);
  });
  child.send('memory');
  const memory = await reply;
  const timeline = (await (await fetch(new URL('/v1/ops/timeline', up.url))).json()) as { nodes: { spans: unknown[] }[] };
  return {
    answered,
    rssBytes: before,
    rssAfterGcBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    wasmRssBytes: wasmRssBytes(child.pid!),
    timelineSpans: timeline.nodes.reduce((sum, node) => sum + node.spans.length, 0),
  };
}

/**
 * Resident bytes of the process's WebAssembly memories (PGlite's, plus undici's small HTTP parser), read from
 * /proc/<pid>/smaps: V8 reserves each 32-bit WASM memory as one ~10 GiB region, the pages in use (rw-p)
 * followed by an inaccessible guard (---p), so an anonymous rw-p mapping directly followed by a guard of
 * 4 GiB or more is a WASM memory.
 */
function wasmRssBytes(pid: number): number {
  const mappings: { perms: string; anonymous: boolean; size: number; rss: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) mappings.push({ perms: header[1]!, anonymous: header[2] === '', size: 0, rss: 0 });
    const field = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (field && mappings.length > 0) mappings.at(-1)![field[1] === 'Size' ? 'size' : 'rss'] = Number(field[2]) * 1024;
  }
  let bytes = 0;
  for (let i = 0; i + 1 < mappings.length; i++) {
    const [used, guard] = [mappings[i]!, mappings[i + 1]!];
    if (used.anonymous && used.perms === 'rw-p' && guard.anonymous && guard.perms === '---p' && guard.size >= 4 * 2 ** 30) bytes += used.rss;
  }
  return bytes;
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
  // One probe at a time: each sample waits for the previous one's reply.
  let sampling: Promise<MemorySample[]> = Promise.resolve([]);
  const sample = (answered: number) => (sampling = sampling.then(async (done) => [...done, await sampleMemory(up, answered)]));
  const errors: string[] = [];
  let dispatched = 0;
  const started = performance.now();
  const worker = async () => {
    while (dispatched < total) {
      dispatched++;
      const outcome = await post(agent, url, body);
      if (outcome.error && errors.length < 5) errors.push(outcome.error);
      outcomes.push(outcome);
      if (outcomes.length % RSS_EVERY === 0 || outcomes.length === total) void sample(outcomes.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { outcomes, memory: await sampling, errors, seconds };
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
        .selectFrom('invocations')
        .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
        .where('function_name', '=', 'tiny-chat')
        .groupBy('status')
        .execute();
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
  const latencies = run.outcomes
    .filter((o) => o.status !== 0)
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const okLatencies = run.outcomes
    .filter((o) => o.status === 200)
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const memory = memoryFigures(run.memory, total);
  const figures = {
    requests: total,
    concurrency: CONCURRENCY,
    maxTokens: MAX_TOKENS,
    queueLimit: QUEUE_LIMIT,
    engineThreads: ENGINE_THREADS,
    answered: byStatus,
    refusals: otherCodes,
    records,
    recordStatuses,
    seconds: Number(run.seconds.toFixed(2)),
    requestsPerSec: Number((total / run.seconds).toFixed(1)),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? Number.NaN) },
    latency200Ms: { p50: round(percentile(okLatencies, 50)), p99: round(percentile(okLatencies, 99)) },
    memoryMiB: memory.table,
    memoryGrowth2ndToLast: { fromAnswered: memory.from, toAnswered: memory.to, ...memory.growth },
    rssGrowthJudgedOn: 'RSS after a full GC (rssAfterGc)',
    rssGrowth2ndToLast: memory.growth.rssAfterGc,
    rssGrowthBar: RSS_GROWTH_BAR,
    rssGrowthMet: memory.growth.rssAfterGc === null ? null : memory.growth.rssAfterGc < RSS_GROWTH_BAR,
    // The same bar on the JS live set: ~40 MiB against ~550 MiB of RSS, so a leak of JS objects shows here long before it moves RSS.
    heapGrowthMet: memory.growth.heapUsed === null ? null : memory.growth.heapUsed < RSS_GROWTH_BAR,
  };
  console.log(
    `tidepool up (PGlite, CPU engine, ${ENGINE_THREADS} engine threads, TIDEPOOL_QUEUE_LIMIT=${QUEUE_LIMIT}); ${total} requests, concurrency ${CONCURRENCY}, max_tokens ${MAX_TOKENS}`,
  );
  console.table([
    {
      ...byStatus,
      records,
      'req/s': figures.requestsPerSec,
      'p50 ms': figures.latencyMs.p50,
      'p99 ms': figures.latencyMs.p99,
      'max ms': figures.latencyMs.max,
    },
  ]);
  console.log(`invocation records by status: ${JSON.stringify(recordStatuses)}`);
  if (Object.keys(otherCodes).length > 0) console.log(`non-200 answers by status and code: ${JSON.stringify(otherCodes)}`);
  console.table(
    memory.table.map((m) => ({
      answered: m.answered,
      'RSS MiB': m.rss,
      'RSS after GC': m.rssAfterGc,
      'JS heap after GC': m.heapUsed,
      'external after GC': m.external,
      'PGlite WASM': m.wasm,
      'timeline spans': m.timelineSpans,
    })),
  );
  const percent = (g: number | null) => (g === null ? 'n/a' : `${(g * 100).toFixed(1)}%`);
  const g = memory.growth;
  const verdict = (met: boolean | null) => (met ? 'met' : 'MISSED');
  console.log(
    g.rssAfterGc === null
      ? `memory growth: n/a (needs samples beyond the 2nd thousand under full load; run --size full)`
      : `growth ${memory.from} -> ${memory.to} answers (last sample with all ${CONCURRENCY} connections busy): ` +
          `RSS after GC ${percent(g.rssAfterGc)} (bar < ${RSS_GROWTH_BAR * 100}%: ${verdict(figures.rssGrowthMet)}), ` +
          `JS heap after GC ${percent(g.heapUsed)} (same bar: ${verdict(figures.heapGrowthMet)}); ` +
          `RSS as found ${percent(g.rss)}, external ${percent(g.external)}, PGlite WASM ${percent(g.wasm)}`,
  );
  console.log(
    `timeline ring: ${memory.table.at(-1)?.timelineSpans ?? 0} spans at the end (bounded at 10 minutes or 50,000 spans; still filling during this run, part of the JS heap)`,
  );
  await writeResults(args, figures);
  if (byStatus.unanswered > 0) throw new Error(`${byStatus.unanswered} of ${total} requests got no answer (first errors: ${run.errors.join('; ')})`);
  if (records !== total) throw new Error(`${records} invocation records for ${total} requests`);
}

/** MiB per sample and each column's growth from the 2nd thousand (after cold start and warm-up) to the last under full load. */
function memoryFigures(samples: readonly MemorySample[], total: number) {
  const mib = (bytes: number) => round(bytes / 2 ** 20);
  const table = samples.map((s) => ({
    answered: s.answered,
    rss: mib(s.rssBytes),
    rssAfterGc: mib(s.rssAfterGcBytes),
    heapUsed: mib(s.heapUsedBytes),
    external: mib(s.externalBytes),
    wasm: mib(s.wasmRssBytes),
    timelineSpans: s.timelineSpans,
  }));
  // The final sample is taken with nothing in flight, and 256 requests in flight hold a few MiB: compare like
  // with like, the 2nd thousand with the last sample taken while every connection still had a request out.
  const second = samples.find((s) => s.answered === 2 * RSS_EVERY);
  const last = samples.filter((s) => s.answered <= total - CONCURRENCY).at(-1);
  const growthOf = (pick: (s: MemorySample) => number) =>
    second && last && last.answered > second.answered ? Math.round(((pick(last) - pick(second)) / pick(second)) * 1000) / 1000 : null;
  const growth = {
    rssAfterGc: growthOf((s) => s.rssAfterGcBytes),
    rss: growthOf((s) => s.rssBytes),
    heapUsed: growthOf((s) => s.heapUsedBytes),
    external: growthOf((s) => s.externalBytes),
    wasm: growthOf((s) => s.wasmRssBytes),
  };
  return { table, growth, from: second?.answered ?? null, to: last?.answered ?? null };
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
    bench: 'load',
    size: args.size,
    device: cpus()[0]?.model ?? 'unknown cpu',
    cores: cpus().length,
    engine: 'cpu',
    date: new Date().toISOString(),
    commit,
    note:
      'server (tidepool up), its engine and the load generator share this machine over loopback; RSS is the up process (control plane + node runtime), not the engine; ' +
      'every 1000 answers the bench reads VmRSS, then has the up process run a full GC (--expose-gc, bench only) and reads RSS, V8 heap and external memory again',
    ...figures,
  };
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
