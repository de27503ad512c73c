import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait-for.js';
import type { DoneReason } from '../../../runtime/engine/engine.js';
import type { EngineClient } from '../../../runtime/engine/engine-client.js';
import { startEngineSupervisor, type EngineSupervisor } from '../../../runtime/engine/engine-supervisor.js';
import { samplingWith } from '../../../protocol/sampling.js';

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
    await engine.load({ key: 'm', dir: '/nowhere', bytes: 1 });
    let tokens = 0;
    const done = new Promise<{ reason: DoneReason; message?: string }>((resolve) =>
      engine.add(
        { id: 1, modelKey: 'm', promptTokens: [1], sampling: samplingWith({ max_tokens: 1000 }), stopTokenIds: [] },
        { onToken: () => void tokens++, onDone: (reason, _usage, error) => resolve({ reason, message: error?.message }) },
      ),
    );
    const turn = engine.runTurn('m', 1000);
    const restarted = new Promise<EngineClient>((resolve) => supervisor!.onRestart(resolve));
    await waitFor(() => tokens > 0, { message: 'the turn to produce a token before the engine is killed' });
    process.kill(supervisor.pid()!, 'SIGKILL');

    expect(await done).toMatchObject({ reason: 'error', message: expect.stringMatching(/engine/) });
    await expect(turn).rejects.toMatchObject({ code: 'engine_down' });
    const next = await restarted;
    expect(next).not.toBe(engine);
    expect(supervisor.restarts).toBe(1);
    expect(await supervisor.ready()).toBe(next);
    await expect(next.load({ key: 'm', dir: '/nowhere', bytes: 1 })).resolves.toMatchObject({ bytes: 1 });
    delete process.env.STUB_ENGINE_STEP_MS;
  });
});
