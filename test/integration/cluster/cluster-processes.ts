import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../../platform/config.js';

/**
 * Real `tidepool serve` and `tidepool node` processes for the loopback cluster tests: spawning and stopping
 * them, a throwaway PostgreSQL schema they share, a deployed fixture function, and one streaming invocation.
 */

export const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');
export const CLUSTER_TOKEN = 'cluster-test-token';

/** Why the process tests cannot run here, or undefined when they can. */
export function clusterSkipReason(): string | undefined {
  if (!process.env.DATABASE_URL) return 'DATABASE_URL is not set (run `eval "export $(scripts/postgres.sh)"`; PGlite cannot be shared between processes)';
  if (!existsSync(loadConfig({}).engineBin)) return 'the engine binary is not built (npm install builds it)';
  return undefined;
}

export interface Proc {
  readonly child: ChildProcessWithoutNullStreams;
  /** The first stdout line as JSON (`--json` commands print one once started). */
  readonly firstLine: Promise<Record<string, unknown>>;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** A long-running CLI process (`serve`, `node`). */
export function startProcess(args: readonly string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  const proc: Proc = {
    child,
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    firstLine: new Promise((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const newline = stdout.indexOf('\n');
        if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)) as Record<string, unknown>);
      });
      child.on('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${proc.stderr.slice(-2000)}`)));
    }),
  };
  proc.firstLine.catch(() => {});
  child.stderr.on('data', (d: Buffer) => (proc.stderr += d.toString()));
  return proc;
}

/** A CLI command run to completion. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function isRunning(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** SIGTERM, newest first, then SIGKILL for any process still up after 5 s. */
export async function stopProcesses(procs: readonly Proc[]): Promise<void> {
  for (const proc of [...procs].reverse()) {
    if (!isRunning(proc)) continue;
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (isRunning(proc)) proc.child.kill('SIGKILL');
  }
}

export interface ClusterDatabase {
  /** `DATABASE_URL` for the processes: the shared server, with the schema on the search path. */
  readonly url: string;
  /** A client on that schema, for checking records. */
  connect(): Promise<pg.Client>;
  drop(): Promise<void>;
}

/** A throwaway schema that every process selects through the connection's search_path. */
export async function createClusterDatabase(prefix: string): Promise<ClusterDatabase> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async connect() {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      return client;
    },
    async drop() {
      await admin.query(`drop schema if exists ${schema} cascade`).catch(() => {});
      await admin.end();
    },
  };
}

/** The variables every process of a loopback cluster shares: fast heartbeats, the CPU engine, small pools. */
export function clusterEnv(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    TIDEPOOL_DATA_DIR: dataDir,
    TIDEPOOL_CLUSTER_TOKEN: CLUSTER_TOKEN,
    TIDEPOOL_HOST: '127.0.0.1',
    TIDEPOOL_NODE_ADVERTISE_HOST: '127.0.0.1',
    TIDEPOOL_NODE_HEARTBEAT_MS: '300',
    TIDEPOOL_NODE_DOWN_AFTER_MS: '1500',
    TIDEPOOL_ENGINE_BACKEND: 'cpu',
    TIDEPOOL_ENGINE_THREADS: '1',
    TIDEPOOL_GPU_MEMORY_BYTES: '256MiB',
    TIDEPOOL_HOST_POOL_BYTES: '64MiB',
    TIDEPOOL_LOG_LEVEL: 'info',
  };
}

/** Starts a `tidepool serve` replica on a free port; resolves with its URL once it listens. */
export async function startServe(env: Record<string, string>, procs: Proc[]): Promise<string> {
  const serve = startProcess(['serve', '--port', '0', '--json'], env);
  procs.push(serve);
  return (await serve.firstLine).url as string;
}

export interface StartedNode {
  readonly proc: Proc;
  readonly id: string;
  readonly address: string;
}

/** Starts a `tidepool node` on a free port; resolves once it is registered with `controlPlane`. */
export async function startNode(controlPlane: string, env: Record<string, string>, procs: Proc[]): Promise<StartedNode> {
  const proc = startProcess(['node', '--control-plane', controlPlane, '--port', '0', '--json'], env);
  procs.push(proc);
  const line = await proc.firstLine;
  return { proc, id: line.node as string, address: line.address as string };
}

/** Deploys the tiny-llama fixture as `name`; `manifestExtra` is YAML appended to function.yaml. */
export async function deployFixture(dir: string, name: string, env: Record<string, string>, apiUrl: string, manifestExtra = ''): Promise<void> {
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, 'test/fixtures/models/tiny-llama'), join(dir, 'model'), { recursive: true });
  await writeFile(join(dir, 'function.yaml'), `name: ${name}\nmodel: {path: ./model}\nslo: {ttft_ms: 20000, tpot_ms: 1000}\n${manifestExtra}`);
  const deploy = await runCli(['deploy', dir, '--json'], { ...env, TIDEPOOL_API_URL: apiUrl });
  if (deploy.code !== 0) throw new Error(`deploy ${name} failed (${deploy.code}): ${deploy.stderr}`);
}

export interface Outcome {
  readonly status: number;
  /** The invocation id from the stream's `start` event: the id of its invocation record. */
  readonly id?: string;
  readonly tokens: number;
  readonly done: boolean;
  readonly error?: string;
}

/** One streaming native invocation: its id, the token events, and whether it ended with [DONE] or an error frame. */
export async function invoke(url: string, fn: string, i: number, maxTokens = 160): Promise<Outcome> {
  const res = await fetch(`${url}/v1/functions/${fn}/invoke`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: `request ${i}: the tide comes in`, max_tokens: maxTokens, stream: true, seed: i }),
  });
  if (res.status !== 200) return { status: res.status, tokens: 0, done: false, error: await res.text() };
  let id: string | undefined;
  let tokens = 0;
  let done = false;
  let error: string | undefined;
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const data = line.slice(6);
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const frame = JSON.parse(data) as { type?: string; id?: string; error?: { message: string } };
    if (frame.error) error = frame.error.message;
    else if (frame.type === 'start') id = frame.id;
    else if (frame.type === 'token') tokens++;
  }
  return { status: res.status, tokens, done, ...(id !== undefined && { id }), ...(error !== undefined && { error }) };
}

/** Polls `probe` every 100 ms until it returns a value other than undefined; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
