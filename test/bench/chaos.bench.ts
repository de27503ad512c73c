// Recovery times under faults (docs/operations.md, Faults and recovery), measured on real processes: a
// `tidepool up` (embedded PGlite, filesystem store, CPU engine with 1 thread) serving tiny-chat and
// tiny-qwen, and for each fault the time from the fault to the first request answered 200 after it:
//   engine killed (SIGKILL)    -> next request served (restart, reload)
//   platform killed (SIGKILL)  -> new `up` on the data directory ready, then its first request served
//   shared memory wiped        -> next request served (refetch from the store)
//   hostile model deployed     -> its 422
//   second `up` on a data dir in use -> its refusal
// The anchors beside them are the physical floors here: a bare engine process from spawn to its ready line
// (plus the supervisor's first restart delay, 200 ms), and a warm request on a healthy instance.
// Sizes: full repeats each fault 5 times, tiny once (CI smoke). Prints min/median/max; never fails for speed.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { collectModelFiles } from '../../platform/functions/artifact.js';
import { enginesOf, startUp, upRefused, type UpProcess } from '../chaos/up-process.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');

interface Row {
  readonly fault: string;
  readonly measured: string;
  readonly samplesMs: readonly number[];
}

export default async function run({ size, outDir }: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  if (!ENGINE_BUILT) return console.log(`skip: chaos bench needs the engine binary at ${ENGINE_BIN}`);
  const repeats = size === 'full' ? 5 : 1;
  const root = await mkdtemp(join(tmpdir(), 'tidepool-chaos-bench-'));
  const options = { dataDir: join(root, 'data'), shmRoot: join(root, 'shm') };
  const rows: Row[] = [];
  let up = await startUp(options);
  try {
    await served(up.url, 'tiny-chat');
    await served(up.url, 'tiny-qwen');
    rows.push({
      fault: 'none (anchor)',
      measured: 'warm request, tiny-chat, 4 tokens',
      samplesMs: await repeat(repeats, () => timed(() => served(up.url, 'tiny-chat'))),
    });
    rows.push({ fault: 'none (anchor)', measured: 'bare engine process: spawn to ready line', samplesMs: await repeat(repeats, engineStartMs) });
    rows.push({ fault: 'engine killed (SIGKILL)', measured: 'kill to the next request served', samplesMs: await repeat(repeats, () => engineKill(up)) });
    rows.push({
      fault: 'shared memory wiped',
      measured: 'wipe to the next request served (refetch)',
      samplesMs: await repeat(repeats, () => shmWipe(up, options.shmRoot)),
    });
    rows.push({
      fault: 'hostile model deployed',
      measured: 'POST /v1/functions to its 422',
      samplesMs: await repeat(repeats, () => hostileDeploy(up.url, root)),
    });
    rows.push({
      fault: 'second up on a data dir in use',
      measured: 'start to its refusal (exit 1)',
      samplesMs: await repeat(repeats, () => timed(async () => void (await upRefused(options)))),
    });
    const restarts: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const [ms, next] = await platformKill(up, options);
      restarts.push(ms);
      up = next;
    }
    rows.push({ fault: 'platform killed (SIGKILL)', measured: 'restart of up to its first request served', samplesMs: restarts });
  } finally {
    await up.stop();
    await rm(root, { recursive: true, force: true });
  }
  report(rows, size, outDir);
  await mkdir(outDir, { recursive: true });
  await writeFile(
    join(outDir, `chaos-${size}.json`),
    `${JSON.stringify({ device: device(), date: new Date().toISOString(), size, rows: rows.map(summary) }, null, 2)}\n`,
  );
}

async function served(url: string, model: string): Promise<void> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'The tide', max_tokens: 4 }),
  });
  if (res.status !== 200) throw new Error(`${model}: ${res.status} ${await res.text()}`);
  await res.text();
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function repeat(times: number, fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(await fn());
  return out;
}

async function engineKill(up: UpProcess): Promise<number> {
  const [pid] = up.enginePids();
  const started = performance.now();
  process.kill(pid!, 'SIGKILL');
  await served(up.url, 'tiny-chat');
  return performance.now() - started;
}

async function shmWipe(up: UpProcess, shmRoot: string): Promise<number> {
  const [namespace] = await readdir(shmRoot);
  const started = performance.now();
  await rm(join(shmRoot, namespace!), { recursive: true, force: true });
  await served(up.url, 'tiny-chat');
  return performance.now() - started;
}

async function hostileDeploy(url: string, root: string): Promise<number> {
  const dir = join(root, 'hostile');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), await readFile(join(FIXTURES, 'hostile/config.json')));
  await writeFile(join(dir, 'model.safetensors'), await readFile(join(FIXTURES, 'models/tiny-qwen2/model.safetensors')));
  const files = await collectModelFiles(dir);
  for (const f of files) await fetch(`${url}/v1/blobs/${f.digest}`, { method: 'PUT', body: await readFile(join(dir, f.name)) });
  return timed(async () => {
    const res = await fetch(`${url}/v1/functions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ manifest: { name: 'hostile', model: { path: '.' } }, files }),
    });
    if (res.status !== 422) throw new Error(`hostile deploy answered ${res.status}`);
    await res.text();
  });
}

async function platformKill(up: UpProcess, options: { dataDir: string; shmRoot: string }): Promise<[number, UpProcess]> {
  await up.kill9();
  // Until engines exit when their platform dies, the bench ends the orphan itself so runs stay comparable.
  for (const pid of enginesOf(up.pid)) process.kill(pid, 'SIGKILL');
  const started = performance.now();
  const next = await startUp({ ...options, examples: false });
  await served(next.url, 'tiny-chat');
  return [performance.now() - started, next];
}

/** A bare engine process from spawn to its `{"ready":true}` line. */
async function engineStartMs(): Promise<number> {
  const dir = join(tmpdir(), `tidepool-bench-engine-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const started = performance.now();
  const child = spawn(ENGINE_BIN, ['serve', '--backend', 'cpu', '--socket', join(dir, 'e.sock'), '--memory-budget-bytes', String(2 ** 30), '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve) => createInterface({ input: child.stdout! }).on('line', (line) => line.includes('"ready":true') && resolve()));
  const ms = performance.now() - started;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  await rm(dir, { recursive: true, force: true });
  return ms;
}

function summary(row: Row) {
  const sorted = [...row.samplesMs].sort((a, b) => a - b);
  return {
    fault: row.fault,
    measured: row.measured,
    samples: sorted.length,
    min_ms: round(sorted[0]!),
    median_ms: round(sorted[Math.floor(sorted.length / 2)]!),
    max_ms: round(sorted.at(-1)!),
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

function device(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  return `${model}, ${cpus().length} cores visible (shared), CPU engine 1 thread`;
}

function report(rows: readonly Row[], size: string, outDir: string): void {
  console.log(`chaos recovery (${size}) on ${device()}, ${new Date().toISOString()}`);
  console.log('fault | measured | min / median / max ms');
  for (const row of rows.map(summary)) console.log(`${row.fault} | ${row.measured} | ${row.min_ms} / ${row.median_ms} / ${row.max_ms} (${row.samples} run(s))`);
  console.log(`results: ${join(outDir, `chaos-${size}.json`)}`);
}
