import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait-for.js';
import { createLogger } from '../../../protocol/logger.js';
import type { DoneReason } from '../../../runtime/engine/engine.js';
import type { EngineClient } from '../../../runtime/engine/engine-client.js';
import { startEngineSupervisor, type EngineSupervisor } from '../../../runtime/engine/engine-supervisor.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { digest } from '../../helpers/weights-digest.js';

const stubEngine = fileURLToPath(new URL('./stub-engine.mjs', import.meta.url));

describe('engine supervisor', () => {
  let supervisor: EngineSupervisor | undefined;
  afterEach(async () => {
    await supervisor?.close();
    delete process.env.STUB_ENGINE_MODE;
  });

  it('starts the engine, waits for its ready line and connects', async () => {
    supervisor = await startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1 << 20 });
    const engine = await supervisor.ready();
    expect(engine.backend).toBe('cpu');
    expect(await engine.stats()).toMatchObject({ models: [] });
  });

  it('fails the first start with the exit status and stderr when the engine cannot start', async () => {
    process.env.STUB_ENGINE_MODE = 'crash';
    await expect(startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1 })).rejects.toMatchObject({
      code: 'engine_down',
      message: expect.stringMatching(/exited with code 3.*told to crash/),
    });
  });

  it('forwards engine warning and fatal lines whatever the log level, other lines only to the debug log', async () => {
    process.env.STUB_ENGINE_MODE = 'warn';
    const logged: string[] = [];
    const warnings: string[] = [];
    let sawWarning!: () => void;
    const warned = new Promise<void>((resolve) => (sawWarning = resolve));
    supervisor = await startEngineSupervisor({
      engineBin: stubEngine,
      backend: 'cpu',
      memoryBudgetBytes: 1,
      log: createLogger({ level: 'debug', format: 'json', write: (line) => logged.push(JSON.parse(line).msg) }),
      onWarning: (line) => {
        warnings.push(line);
        sawWarning();
      },
    });
    await warned;
    expect(warnings).toEqual(['tidepool-engine: warning: stub mappings go through the staging ring']);
    expect(logged).toEqual(['stub engine: starting']);

    process.env.STUB_ENGINE_MODE = 'crash';
    const fatal: string[] = [];
    await expect(
      startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1, onWarning: (line) => fatal.push(line) }),
    ).rejects.toMatchObject({ code: 'engine_down' });
    expect(fatal).toEqual(['tidepool-engine: fatal: internal: stub engine told to crash']);
  });

  it('fails the first start clearly when the binary does not exist', async () => {
    await expect(startEngineSupervisor({ engineBin: '/nonexistent/tidepool-engine', backend: 'cpu', memoryBudgetBytes: 1 })).rejects.toMatchObject({
      code: 'engine_down',
      message: expect.stringMatching(/could not start \/nonexistent\/tidepool-engine.*ENOENT/),
    });
  });

  it('ends in-flight sequences with an error when the engine dies, then restarts it', async () => {
    process.env.STUB_ENGINE_STEP_MS = '20';
    supervisor = await startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1, initialBackoffMs: 10 });
    const engine = await supervisor.ready();
    await engine.load({ weightsDigest: digest('m'), dir: '/nowhere', bytes: 1 });
    let tokens = 0;
    const done = new Promise<{ reason: DoneReason; message?: string }>((resolve) =>
      engine.add(
        { id: 1, weightsDigest: digest('m'), promptTokens: [1], sampling: samplingWith({ max_tokens: 1000 }), stopTokenIds: [] },
        { onToken: () => void tokens++, onDone: (reason, _usage, error) => resolve({ reason, message: error?.message }) },
      ),
    );
    const turn = engine.runTurn(digest('m'), 1000);
    const restarted = new Promise<EngineClient>((resolve) => supervisor!.onRestart(resolve));
    await waitFor(() => tokens > 0, { message: 'the turn to produce a token before the engine is killed' });
    process.kill(supervisor.pid()!, 'SIGKILL');

    expect(await done).toMatchObject({ reason: 'error', message: expect.stringMatching(/engine/) });
    await expect(turn).rejects.toMatchObject({ code: 'engine_down' });
    const next = await restarted;
    expect(next).not.toBe(engine);
    expect(supervisor.restarts).toBe(1);
    expect(await supervisor.ready()).toBe(next);
    await expect(next.load({ weightsDigest: digest('m'), dir: '/nowhere', bytes: 1 })).resolves.toMatchObject({ bytes: 1 });
    delete process.env.STUB_ENGINE_STEP_MS;
  });

  it('reports a crash at the default level with how it ended, its uptime and its last stderr, then the recovery', async () => {
    process.env.STUB_ENGINE_SAY = 'stub engine: warming up';
    const lines: { level: string; msg: string; device?: string }[] = [];
    let said: () => void = () => {};
    const saidIt = new Promise<void>((resolve) => (said = resolve));
    let recovered: () => void = () => {};
    const back = new Promise<void>((resolve) => (recovered = resolve));
    const log = createLogger({
      level: 'debug',
      format: 'json',
      write: (text) => {
        const line = JSON.parse(text) as { level: string; msg: string; device?: string };
        lines.push(line);
        if (line.msg.includes('warming up')) said();
        if (line.msg.includes('is back')) recovered();
      },
    }).child({ device: 'cpu engine 0' });
    supervisor = await startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1, initialBackoffMs: 10, log });
    await saidIt;
    process.kill(supervisor.pid()!, 'SIGKILL');
    await back;
    delete process.env.STUB_ENGINE_SAY;
    // Engine stderr is debug; the crash and the recovery are what the default level (info) shows.
    const report = lines.filter((line) => line.level !== 'debug');
    expect(report).toHaveLength(2);
    expect(report[0]).toMatchObject({ level: 'warn', device: 'cpu engine 0' });
    expect(report[0]!.msg).toMatch(
      /^engine crashed: engine process was killed by SIGKILL \(pid \d+\) after \d+\.\d s up; last stderr: stub engine: warming up; restarting in 10 ms$/,
    );
    expect(report[1]).toMatchObject({ level: 'info', device: 'cpu engine 0' });
    expect(report[1]!.msg).toMatch(/^engine is back \(pid \d+\) \d+ ms after the crash$/);
  });

  it('puts its socket in a directory named for its own pid, removed on close', async () => {
    supervisor = await startEngineSupervisor({ engineBin: stubEngine, backend: 'cpu', memoryBudgetBytes: 1 });
    const dirs = (await readdir(tmpdir())).filter((name) => name.startsWith(`tidepool-engine-${process.pid}-`));
    expect(dirs.length).toBeGreaterThan(0);
    await supervisor.close();
    const after = (await readdir(tmpdir())).filter((name) => name.startsWith(`tidepool-engine-${process.pid}-`));
    expect(after.length).toBe(dirs.length - 1);
    supervisor = undefined;
  });
});
