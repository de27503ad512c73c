import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNodeRuntime } from '../../../runtime/node.js';
import type { Artifact, NodeEvent } from '../../../protocol/node-runtime.js';
import { collect, eventually, request, skipReason, startFixtureNode, tokensOf, type FixtureNode, type Reference } from './node-engine-fixtures.js';
import { messageLogger } from '../../helpers/message-logger.js';
import { samplingWith } from '../../../protocol/sampling.js';

// The node runtime with the real engine binary (CPU backend) on the committed tiny fixture models: greedy
// output must match the transformers reference, two models interleave, cancel frees the sequence, and a
// killed engine fails its streams clearly and comes back for the next request.
if (skipReason) console.warn(`skipping node runtime engine tests: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('node runtime with the real engine', () => {
  let fixture: FixtureNode;
  let node: LocalNodeRuntime;
  let llama: Artifact;
  let qwen: Artifact;
  let llamaRef: Reference;
  let qwenRef: Reference;

  beforeAll(async () => {
    fixture = await startFixtureNode('tp-node-engine-');
    ({ node, llama, qwen, llamaRef, qwenRef } = fixture);
  });
  afterAll(async () => fixture?.close());

  it('generates the reference greedy tokens for a fixture model', async () => {
    const events = await collect(node.generate(request('a', llama, llamaRef)));
    expect(tokensOf(events)).toEqual(llamaRef.greedy);
    expect(events.at(-1)).toEqual({ type: 'done', reason: 'length', promptTokens: llamaRef.prompt.length, completionTokens: llamaRef.greedy.length });
  });

  it('serves two models at once on one engine and keeps each one exact', async () => {
    const arrivals: string[] = [];
    const run = async (id: string, artifact: Artifact, ref: Reference) => {
      const events: NodeEvent[] = [];
      for await (const event of node.generate(request(id, artifact, ref, { sampling: samplingWith({ max_tokens: 96 }) }))) {
        events.push(event);
        arrivals.push(id);
      }
      return events;
    };
    const [first, second] = await Promise.all([run('b', llama, llamaRef), run('c', qwen, qwenRef)]);
    expect(tokensOf(first).slice(0, 16)).toEqual(llamaRef.greedy);
    expect(tokensOf(second).slice(0, 16)).toEqual(qwenRef.greedy);
    expect(tokensOf(first)).toHaveLength(96);
    const switches = arrivals.filter((id, i) => i > 0 && id !== arrivals[i - 1]).length;
    // A tiny model finishes 96 tokens inside one 250 ms turn, so the policy may well run them one after the
    // other; token-level interleaving is checked with slower steps in test/unit/runtime/node-runtime.test.ts.
    console.log(`two models, 96 tokens each: ${switches} switches between their streams`);
    const residency = await node.residency();
    for (const fn of ['fn-b', 'fn-c']) expect(['gpu', 'host']).toContain(residency.find((m) => m.functionName === fn)?.tier);
  });

  it('cancels mid-stream and frees the sequence for the next request', async () => {
    // The engine is its own process: on a loaded machine the 200 tokens can all be produced before this
    // process gets to the abort. Such a run says nothing about cancelling, so it is tried again.
    let events: NodeEvent[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const controller = new AbortController();
      events = [];
      for await (const event of node.generate(request('d', llama, llamaRef, { sampling: samplingWith({ max_tokens: 200 }) }), controller.signal)) {
        events.push(event);
        if (events.length === 3) controller.abort();
      }
      if ((events.at(-1) as { reason?: string }).reason !== 'length') break;
      console.log(`attempt ${attempt}: the stream ended before the abort landed; trying again`);
    }
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'cancelled' });
    expect(events.length).toBeLessThan(50);
    const stats = await node.engineStats();
    expect(stats.models.reduce((n, m) => n + m.running + m.waiting + m.parked, 0)).toBe(0);
    expect(stats.memory.kvBlocksUsed).toBe(0);
    const residency = await node.residency();
    expect(residency.find((m) => m.functionName === 'fn-d')).toMatchObject({ queued: 0, running: 0 });
    expect(tokensOf(await collect(node.generate(request('e', llama, llamaRef))))).toEqual(llamaRef.greedy);
  });

  it('ends streams with a clear error when the engine is killed, then serves the next request', async () => {
    const events: NodeEvent[] = [];
    for await (const event of node.generate(request('f', llama, llamaRef, { sampling: samplingWith({ max_tokens: 200 }) }))) {
      events.push(event);
      if (events.length === 2) process.kill(node.enginePid()!, 'SIGKILL');
    }
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'error', error: { code: 'engine_down', message: expect.stringMatching(/engine/) } });
    console.log(`engine death message: ${(events.at(-1) as Extract<NodeEvent, { type: 'done' }>).error?.message}`);
    expect(tokensOf(await collect(node.generate(request('g', qwen, qwenRef))))).toEqual(qwenRef.greedy);
  });
});

// Scale to zero through every tier with the real engine: GPU idle eviction leaves the engine's host
// mapping (a reload only copies), and the host pool's keep-warm expiry deletes the files and has the engine
// drop that mapping too, so nothing of the model stays behind.
describe.skipIf(skipReason !== undefined)('node runtime scale-to-zero with the real engine', () => {
  let fixture: FixtureNode;
  let node: LocalNodeRuntime;
  let llama: Artifact;
  let llamaRef: Reference;
  const engineLog: string[] = [];

  beforeAll(async () => {
    fixture = await startFixtureNode('tp-node-zero-', { gpuIdleEvictMs: 100, log: messageLogger(engineLog) });
    ({ node, llama, llamaRef } = fixture);
  });
  afterAll(async () => fixture?.close());

  const engineState = async (key: string) => (await node.engineStats()).models.find((m) => m.weightsDigest === key)?.state;
  const tier = async () => (await node.residency()).find((m) => m.functionName === 'fn-z')?.tier;

  it('goes gpu -> host (engine keeps the mapping) -> store (engine drops it), then serves again', async () => {
    const run = () => collect(node.generate(request('z', llama, llamaRef, { keepWarmMs: 400 })));
    expect(tokensOf(await run())).toEqual(llamaRef.greedy);
    await eventually('the model left the GPU', async () => (await engineState(llama.weightsDigest)) === 'mapped');
    expect(await tier()).toBe('host');
    expect((await node.engineStats()).memory.mappedBytes).toBeGreaterThan(0);
    await eventually('the host pool let the files go and the engine unmapped them', async () => (await engineState(llama.weightsDigest)) === undefined);
    expect(await tier()).toBe('store');
    expect((await node.engineStats()).memory.mappedBytes).toBe(0);
    // The runtime unmapped it when the files went; the engine's own once-a-second sweep had nothing to do.
    expect(engineLog.filter((line) => line.includes('dropped the mapping'))).toEqual([]);
    expect(tokensOf(await run())).toEqual(llamaRef.greedy);
  });
});
