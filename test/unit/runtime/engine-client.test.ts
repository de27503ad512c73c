import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { letTimePass } from '../../helpers/wait-for.js';
import { EngineClient } from '../../../runtime/engine/engine-client.js';
import { EngineError, type DoneReason, type SequenceSink } from '../../../runtime/engine/engine.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { ScriptedEngine } from './scripted-engine.js';
import { digest } from '../../helpers/weights-digest.js';

function recordingSink() {
  const tokens: number[] = [];
  let resolveDone!: (value: { reason: DoneReason; completionTokens: number; message?: string }) => void;
  const done = new Promise<{ reason: DoneReason; completionTokens: number; message?: string }>((r) => (resolveDone = r));
  const sink: SequenceSink = {
    onToken: (token) => tokens.push(token),
    onDone: (reason, usage, error) => resolveDone({ reason, completionTokens: usage.completionTokens, message: error?.message }),
  };
  return { sink, tokens, done };
}

const spec = (id: number, weightsDigest = digest('m')) => ({
  id,
  weightsDigest,
  promptTokens: [1, 2],
  sampling: samplingWith({ max_tokens: 4 }),
  stopTokenIds: [],
});

describe('engine client', () => {
  let dir: string;
  let engine: ScriptedEngine;
  let client: EngineClient;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tp-client-'));
    const server = createServer();
    const socketPath = join(dir, 'e.sock');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    engine = new ScriptedEngine(server);
    client = await EngineClient.connect({ socketPath });
  });

  afterEach(async () => {
    await client.close();
    engine.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the hello reply and maps its fields', () => {
    expect(client.backend).toBe('cpu');
    expect(client.hello.kvBlockTokens).toBe(16);
    expect(client.hello.memory.budgetBytes).toBe(1024);
  });

  it('matches replies to commands by id even when they arrive out of order', async () => {
    const load = client.load({ weightsDigest: digest('a'), dir: '/shm/a', bytes: 10 });
    const run = client.runTurn(digest('a'), 8);
    const loadCommand = await engine.next();
    const runCommand = await engine.next();
    expect(loadCommand).toMatchObject({ op: 'load', model: 'a', dir: '/shm/a' });
    expect(runCommand).toMatchObject({ op: 'run', model: 'a', max_steps: 8 });
    engine.send({ type: 'ok', re: runCommand.id, steps: 3, reason: 'idle', ms: 1.5 });
    engine.send({ type: 'ok', re: loadCommand.id, bytes: 10, ms: 2, cached: false });
    expect(await run).toEqual({ steps: 3, reason: 'idle', ms: 1.5 });
    expect(await load).toEqual({ bytes: 10, ms: 2, cached: false });
  });

  it('rejects with an EngineError carrying the protocol code', async () => {
    const load = client.load({ weightsDigest: digest('a'), dir: '/x', bytes: 1 });
    const command = await engine.next();
    engine.send({ type: 'error', re: command.id, code: 'out_of_memory', message: 'weights arena full' });
    await expect(load).rejects.toMatchObject({ name: 'EngineError', code: 'out_of_memory', message: expect.stringContaining('weights arena full') });
  });

  it('keeps device_lost as its own code, so a device fault is not taken for an internal error', async () => {
    const run = client.runTurn(digest('a'), 4);
    const command = await engine.next();
    engine.send({ type: 'error', re: command.id, code: 'device_lost', message: 'forward of slot 0: cudaErrorIllegalAddress' });
    await expect(run).rejects.toMatchObject({ code: 'device_lost', message: expect.stringMatching(/^device_lost: run: forward of slot 0/) });
    const error: unknown = await run.catch((e: unknown) => e);
    expect((error as EngineError).code).toBe('device_lost');
  });

  it('reads the pinned and staged host bytes of a stats reply', async () => {
    const stats = client.stats();
    const command = await engine.next();
    engine.send({ type: 'ok', re: command.id, models: [], memory: { host_pinned_bytes: 4096, host_staged_bytes: 1 << 30 } });
    expect((await stats).memory).toMatchObject({ hostPinnedBytes: 4096, hostStagedBytes: 1 << 30 });
  });

  it('routes step tokens and done events to each sequence sink', async () => {
    const first = recordingSink();
    const second = recordingSink();
    const addFirst = client.add(spec(1), first.sink);
    engine.send({ type: 'ok', re: (await engine.next()).id });
    await addFirst;
    const addSecond = client.add(spec(2), second.sink);
    engine.send({ type: 'ok', re: (await engine.next()).id });
    await addSecond;
    engine.send({
      type: 'step',
      model: 'm',
      ms: 1,
      tokens: [
        [1, 10],
        [2, 20],
      ],
    });
    engine.send({
      type: 'step',
      model: 'm',
      ms: 1,
      tokens: [
        [2, 21],
        [1, 11],
      ],
    });
    engine.send({ type: 'done', seq: 1, reason: 'length', prompt_tokens: 2, completion_tokens: 2 });
    engine.send({ type: 'done', seq: 2, reason: 'stop', prompt_tokens: 2, completion_tokens: 2 });
    expect(await first.done).toEqual({ reason: 'length', completionTokens: 2, message: undefined });
    expect(await second.done).toMatchObject({ reason: 'stop' });
    expect(first.tokens).toEqual([10, 11]);
    expect(second.tokens).toEqual([20, 21]);
  });

  it('ignores not_found from cancel because the sequence may already have ended', async () => {
    const cancel = client.cancel(99);
    engine.send({ type: 'error', re: (await engine.next()).id, code: 'not_found', message: 'no such sequence' });
    await expect(cancel).resolves.toBeUndefined();
  });

  it('ends live sequences and rejects pending commands with engine_down when the socket drops', async () => {
    const live = recordingSink();
    const add = client.add(spec(5), live.sink);
    engine.send({ type: 'ok', re: (await engine.next()).id });
    await add;
    engine.send({ type: 'step', model: 'm', ms: 1, tokens: [[5, 7]] });
    const run = client.runTurn(digest('m'), 100);
    await engine.next();
    const closed = new Promise<string>((resolve) => client.onClose(resolve));
    engine.socket!.destroy();
    await expect(run).rejects.toMatchObject({ code: 'engine_down' });
    const done = await live.done;
    expect(done.reason).toBe('error');
    expect(done.completionTokens).toBe(1);
    expect(done.message).toMatch(/engine connection closed/);
    expect(await closed).toMatch(/closed/);
    await expect(client.stats()).rejects.toBeInstanceOf(EngineError);
  });

  it('rejects an add that was in flight at the drop instead of ending its sink', async () => {
    const pending = recordingSink();
    let ended = false;
    pending.done.then(() => (ended = true));
    const add = client.add(spec(6), pending.sink);
    await engine.next();
    engine.socket!.destroy();
    await expect(add).rejects.toMatchObject({ code: 'engine_down' });
    await letTimePass(10); // a late end would arrive within a tick or two
    expect(ended).toBe(false);
  });
});
