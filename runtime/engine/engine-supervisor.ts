import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EngineError } from './engine.js';
import { EngineClient } from './engine-client.js';
import { makeSocketDir } from './engine-socket-dir.js';
import { engineError } from './engine-wire.js';
import type { Logger } from '../../protocol/logger.js';

export interface EngineSupervisorOptions {
  /** Path of the `tidepool-engine` binary. */
  readonly engineBin: string;
  readonly backend: 'cpu' | 'cuda';
  /** `--memory-budget-bytes`: weights arena + KV pool + scratch; the engine sizes itself when absent. */
  readonly memoryBudgetBytes?: number;
  /** `--kv-budget-bytes`; the engine picks a share of the budget when absent. */
  readonly kvBudgetBytes?: number;
  /** `--threads` for the CPU backend; all cores when absent. */
  readonly threads?: number;
  /** `--device` for the CUDA backend. */
  readonly device?: number;
  /**
   * Where the socket lives; by default a fresh `<tmp>/tidepool-engine-<pid>-*` directory, which a later start
   * removes if this process dies without doing so (`engine-socket-dir.ts`). Unix socket paths must stay
   * under ~100 bytes.
   */
  readonly socketDir?: string;
  /** How long a start may take before it counts as failed. */
  readonly startTimeoutMs?: number;
  /** First restart delay; doubles per consecutive failure up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** An engine that stayed up this long resets the backoff. */
  readonly stableAfterMs?: number;
  /**
   * Engine stderr lines go to it at `debug` (the last lines are also kept for error messages). Crashes (how
   * the process ended, its uptime, the tail of its stderr) and failed restarts at `warn`, recoveries at
   * `info`: what an operator must see at the default level. Give it a `device` field (a child logger).
   */
  readonly log?: Logger;
  /**
   * Engine stderr lines starting `tidepool-engine: warning:` or `tidepool-engine: fatal:` (a slow fallback, a
   * device fault, the reason the engine exits). An operator must see them whatever the log level: by default
   * they go to `log` at `warn`, or to this process's stderr when there is no logger.
   */
  readonly onWarning?: (line: string) => void;
  readonly spawn?: typeof nodeSpawn;
}

/**
 * Keeps one engine process alive. It owns the process and its socket; `current()` is the live connection.
 * When the process dies, the connection's sequences end with `error` and its pending commands reject with
 * `engine_down` (the client does that); the supervisor then restarts the engine with backoff and tells
 * `onRestart` listeners about the new connection, which starts with no models loaded.
 */
export interface EngineSupervisor {
  readonly backend: 'cpu' | 'cuda';
  /** Restarts since start (not counting the first start). */
  readonly restarts: number;
  /** The live connection, or undefined while the engine is restarting. */
  current(): EngineClient | undefined;
  /** Resolves with a live connection, waiting for a restart if needed; rejects with `engine_down` after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<EngineClient>;
  /** Called with each new connection after a restart. Returns an unsubscribe function. */
  onRestart(listener: (engine: EngineClient) => void): () => void;
  /** The engine process id, for operators and tests. */
  pid(): number | undefined;
  /** Stops restarting, ends the process with SIGTERM (SIGKILL after 5 s) and removes the socket. */
  close(): Promise<void>;
}

const STDERR_TAIL_LINES = 20;
const WARNING_LINE = /^tidepool-engine: (warning|fatal):/;
/** Stderr lines a crash report quotes. */
const CRASH_REPORT_LINES = 5;

/** Starts the engine and resolves once it is ready. A failed first start rejects: that is a setup problem. */
export async function startEngineSupervisor(options: EngineSupervisorOptions): Promise<EngineSupervisor> {
  const supervisor = new Supervisor(options);
  await supervisor.startFirst();
  return supervisor;
}

class Supervisor implements EngineSupervisor {
  restarts = 0;
  private client: EngineClient | undefined;
  private child: ChildProcess | undefined;
  private generation = 0;
  private closed = false;
  private backoffMs: number;
  private readonly stderrTail: string[] = [];
  private readonly restartListeners = new Set<(engine: EngineClient) => void>();
  private readyWaiters: { resolve(engine: EngineClient): void; reject(error: EngineError): void }[] = [];
  private readonly socketDir: string;
  private readonly ownsSocketDir: boolean;

  constructor(private readonly options: EngineSupervisorOptions) {
    this.backoffMs = options.initialBackoffMs ?? 200;
    this.ownsSocketDir = options.socketDir === undefined;
    this.socketDir = options.socketDir ?? makeSocketDir();
  }

  get backend(): 'cpu' | 'cuda' {
    return this.options.backend;
  }

  current(): EngineClient | undefined {
    return this.client && !this.client.isDown ? this.client : undefined;
  }

  pid(): number | undefined {
    return this.child?.pid;
  }

  ready(timeoutMs = 30_000): Promise<EngineClient> {
    const live = this.current();
    if (live) return Promise.resolve(live);
    if (this.closed) return Promise.reject(engineError('engine_down', 'engine supervisor is closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (engine: EngineClient) => {
          clearTimeout(timer);
          resolve(engine);
        },
        reject: (error: EngineError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(engineError('engine_down', `engine did not come back within ${timeoutMs} ms${this.lastError()}`));
      }, timeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  onRestart(listener: (engine: EngineClient) => void): () => void {
    this.restartListeners.add(listener);
    return () => this.restartListeners.delete(listener);
  }

  async startFirst(): Promise<void> {
    try {
      await this.launch();
    } catch (error) {
      this.closed = true;
      this.cleanupSocketDir();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(engineError('engine_down', 'engine supervisor is closed'));
    await this.client?.close();
    await stopProcess(this.child);
    this.cleanupSocketDir();
  }

  /** One start: spawn, wait for the ready line, connect. Throws with the stderr tail when any step fails. */
  private async launch(): Promise<void> {
    const generation = ++this.generation;
    const socketPath = join(this.socketDir, `engine-${generation}.sock`);
    rmSync(socketPath, { force: true });
    const child = (this.options.spawn ?? nodeSpawn)(this.options.engineBin, this.args(socketPath), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    createInterface({ input: child.stderr! }).on('line', (line) => this.onStderr(line));
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(describeExit(code, signal)));
      child.once('error', (error) => resolve(`could not start ${this.options.engineBin}: ${error.message}`));
    });
    try {
      await waitForReady(child, exited, this.options.startTimeoutMs ?? 60_000);
      const client = await EngineClient.connect({ socketPath });
      this.adopt(client, child, exited, generation);
    } catch (error) {
      child.kill('SIGKILL');
      const message = error instanceof Error ? error.message : String(error);
      throw engineError('engine_down', `engine failed to start: ${message}${this.lastError()}`);
    }
  }

  private adopt(client: EngineClient, child: ChildProcess, exited: Promise<string>, generation: number): void {
    void exited.then(() => {
      // A process that dies without closing the socket cleanly still counts as a drop.
      setTimeout(() => void client.close(), 50).unref();
    });
    client.setCloseDetail(async () => `${await exited} (pid ${child.pid})${this.lastError()}; restarting it`);
    const startedAt = Date.now();
    client.onClose((reason) => {
      if (generation !== this.generation || this.closed) return;
      if (Date.now() - startedAt >= (this.options.stableAfterMs ?? 30_000)) this.backoffMs = this.options.initialBackoffMs ?? 200;
      void this.reportCrash(child, exited, reason, Date.now() - startedAt);
      // Whatever dropped the connection, the process is no longer trusted: end it and start afresh.
      void stopProcess(child).then(() => this.restartLoop());
    });
    this.client = client;
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve(client);
  }

  /** One line at the default level: how the engine ended, after how long, its last words, what next (the logger names the device). */
  private async reportCrash(child: ChildProcess, exited: Promise<string>, reason: string, uptimeMs: number): Promise<void> {
    const tail = this.stderrTail.slice(-CRASH_REPORT_LINES);
    // The connection can drop a moment before the exit is reaped; a second is plenty for the status.
    const how = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve(`${reason}; the process is being stopped`), 1_000).unref()),
    ]);
    this.options.log?.warn(
      `engine crashed: ${how} (pid ${child.pid}) after ${(uptimeMs / 1000).toFixed(1)} s up; ` +
        `${tail.length > 0 ? `last stderr: ${tail.join(' | ')}` : 'no stderr'}; restarting in ${this.backoffMs} ms`,
    );
  }

  private async restartLoop(): Promise<void> {
    const downSince = Date.now();
    while (!this.closed) {
      await new Promise((resolve) => setTimeout(resolve, this.backoffMs));
      if (this.closed) return;
      try {
        await this.launch();
        if (this.closed) {
          // close() ran while this start was under way: do not leave the new process behind.
          await this.client?.close();
          await stopProcess(this.child);
          return;
        }
        this.restarts++;
        const client = this.client!;
        this.options.log?.info(`engine is back (pid ${this.child?.pid}) ${Date.now() - downSince} ms after the crash`);
        for (const listener of this.restartListeners) listener(client);
        return;
      } catch (error) {
        this.options.log?.warn(
          `engine restart failed: ${(error as Error).message}; next try in ${Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 10_000)} ms`,
        );
        this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 10_000);
      }
    }
  }

  private args(socketPath: string): string[] {
    const args = ['serve', '--backend', this.options.backend, '--socket', socketPath];
    if (this.options.memoryBudgetBytes !== undefined) args.push('--memory-budget-bytes', String(this.options.memoryBudgetBytes));
    if (this.options.kvBudgetBytes !== undefined) args.push('--kv-budget-bytes', String(this.options.kvBudgetBytes));
    if (this.options.threads !== undefined) args.push('--threads', String(this.options.threads));
    if (this.options.device !== undefined) args.push('--device', String(this.options.device));
    return args;
  }

  private onStderr(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    if (!WARNING_LINE.test(line)) this.options.log?.debug(line, { source: 'engine stderr' });
    else if (this.options.onWarning) this.options.onWarning(line);
    else if (this.options.log) this.options.log.warn(line, { source: 'engine stderr' });
    else process.stderr.write(`${line}\n`);
  }

  private lastError(): string {
    const last = this.stderrTail.at(-1);
    return last ? ` (engine stderr: ${last})` : '';
  }

  private cleanupSocketDir(): void {
    if (this.ownsSocketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }
}

/** Resolves on the `{"ready":true,...}` stdout line; rejects if the process exits or the timeout passes. */
function waitForReady(child: ChildProcess, exited: Promise<string>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        if ((JSON.parse(line) as { ready?: unknown }).ready === true) {
          clearTimeout(timer);
          resolve();
        }
      } catch {
        // Only the ready line is JSON on stdout; anything else is not ours to interpret.
      }
    });
    void exited.then((description) => {
      clearTimeout(timer);
      reject(new Error(`${description} before it was ready`));
    });
  });
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `engine process was killed by ${signal}` : `engine process exited with code ${code}`;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}
