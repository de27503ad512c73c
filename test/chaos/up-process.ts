import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ENGINE_BIN } from '../e2e/e2e-server.js';

/**
 * `tidepool up` as a real process for the chaos scenarios: its own data directory and shared-memory root,
 * the CPU engine with one thread, port 0. Everything a scenario observes goes through its HTTP API, its
 * stderr, its files and /proc, as an operator would.
 */
export const BIN = join(import.meta.dirname, '../../bin/tidepool.mjs');

export interface UpOptions {
  readonly dataDir: string;
  readonly shmRoot: string;
  /** Deploy tiny-chat and tiny-qwen at start; default true. */
  readonly examples?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

export interface UpProcess {
  readonly pid: number;
  readonly url: string;
  readonly dataDir: string;
  /** Every stderr line so far (the log). */
  readonly log: readonly string[];
  readonly exited: Promise<number | null>;
  /** The engine processes it supervises now (children named tidepool-engine). */
  enginePids(): number[];
  /** SIGTERM, then its exit code once it is gone. */
  stop(): Promise<number | null>;
  /** SIGKILL: no cleanup of any kind runs. Resolves once the process is gone. */
  kill9(): Promise<void>;
}

export function upEnv(options: UpOptions): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    TIDEPOOL_DATA_DIR: options.dataDir,
    TIDEPOOL_SHM_DIR: options.shmRoot,
    TIDEPOOL_PORT: '0',
    TIDEPOOL_HOST: '127.0.0.1',
    TIDEPOOL_ENGINE_BACKEND: 'cpu',
    TIDEPOOL_ENGINE_BIN: ENGINE_BIN,
    TIDEPOOL_ENGINE_THREADS: '1',
    TIDEPOOL_GPU_MEMORY_BYTES: '1GiB',
    TIDEPOOL_HOST_POOL_BYTES: '1GiB',
    TIDEPOOL_API_KEY: '',
    TIDEPOOL_API_URL: '',
    DATABASE_URL: '',
    TIDEPOOL_S3_BUCKET: '',
    TIDEPOOL_S3_ENDPOINT: '',
    TIDEPOOL_SHUTDOWN_GRACE_MS: '5000',
    TIDEPOOL_DEPLOY_EXAMPLES: options.examples === false ? 'false' : 'true',
    ...options.env,
  };
}

/** Starts `tidepool up --json` and resolves once it printed its ready line; rejects with its log if it exits. */
export async function startUp(options: UpOptions): Promise<UpProcess> {
  const child = spawn(process.execPath, [BIN, 'up', '--json'], { env: upEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => log.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ url: string }>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as { url: string }));
    void exited.then((code) => reject(new Error(`tidepool up exited ${code} before it was ready:\n${log.join('\n')}`)));
  });
  const pid = child.pid!;
  return {
    pid,
    url: ready.url,
    dataDir: options.dataDir,
    log,
    exited,
    enginePids: () => childrenOf(pid).filter((p) => commOf(p) === 'tidepool-engine'),
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs `tidepool up` expecting it to refuse to start: its exit code and stderr. */
export function upRefused(options: UpOptions): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'up', '--json'], { env: upEnv(options), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

/** Pids of the processes whose parent is `pid`, from /proc. */
export function childrenOf(pid: number): number[] {
  return pids().filter((p) => parentOf(p) === pid);
}

/** Processes whose command line contains `text` (e.g. an engine's socket path naming its platform's pid). */
export function processesWith(text: string): number[] {
  return pids().filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  });
}

/** Engines started by platform process `platformPid`: their socket path carries its pid. */
export function enginesOf(platformPid: number): number[] {
  return processesWith(`tidepool-engine-${platformPid}-`).filter((p) => commOf(p) === 'tidepool-engine');
}

/** Engine socket directories of platform process `platformPid` still on disk. */
export function socketDirsOf(platformPid: number): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`tidepool-engine-${platformPid}-`));
}

/**
 * What a stopped or killed instance may not leave behind (after a restart for a killed one): its engines,
 * its socket directories, a lock on its data directory, an in-flight journal, partial uploads.
 */
export function leftoversOf(platformPid: number, dataDir: string): string[] {
  const found: string[] = [];
  for (const pid of enginesOf(platformPid)) found.push(`engine process ${pid}`);
  for (const dir of socketDirsOf(platformPid)) found.push(`socket directory ${dir}`);
  for (const name of ['tidepool.lock', 'inflight.json']) if (existsSync(join(dataDir, name))) found.push(`${name} in ${dataDir}`);
  const incoming = join(dataDir, 'objects', '.incoming');
  if (existsSync(incoming)) for (const part of readdirSync(incoming)) found.push(`partial upload ${part}`);
  return found;
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
