import { describe, expect, it } from 'vitest';
import { HttpNodeRuntime, NodeLostError } from '../../../platform/router/http-node.js';
import { startNodeServer } from '../../../runtime/cluster/node-server.js';
import type { NodeEvent, NodeGenerateRequest } from '../../../protocol/node-runtime.js';
import { scriptedNode } from '../api/api-helpers.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { realDigest } from '../../helpers/weights-digest.js';

// The node API's graceful stop over real HTTP, with a scripted node (one token per tick) so the timing is
// the test's: refusals during the drain, a stream that finishes inside the grace period, one cut after it.
const TOKEN = 'drain-test-token';

function request(maxTokens: number): NodeGenerateRequest {
  return {
    id: `r-${maxTokens}`,
    functionName: 'fn',
    version: 1,
    artifact: { weightsDigest: realDigest('a'), files: [], bytes: 0 },
    promptTokens: [1],
    sampling: samplingWith({ max_tokens: maxTokens }),
    stopTokenIds: [],
    slo: { ttftMs: 1000, tpotMs: 100 },
    keepWarmMs: 0,
  };
}

async function collect(events: AsyncIterable<NodeEvent>): Promise<NodeEvent[]> {
  const out: NodeEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function started(tokenDelayMs: number) {
  const server = await startNodeServer({ node: scriptedNode({ tokenDelayMs }), token: TOKEN, host: '127.0.0.1', port: 0 });
  return { server, client: new HttpNodeRuntime('scripted-node', server.url, TOKEN) };
}

describe('node server drain', () => {
  it('refuses new generations as a retryable engine_down and lets a stream in flight finish within the grace period', async () => {
    const { server, client } = await started(5);
    const events = client.generate(request(40))[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: 'token' });
    const drained = server.drain(10_000);
    await expect(collect(client.generate(request(3)))).rejects.toMatchObject({
      name: 'NodeError',
      code: 'engine_down',
      message: 'node scripted-node is draining (shutting down) and takes no new generations',
    });
    const rest: NodeEvent[] = [];
    for (let next = await events.next(); !next.done; next = await events.next()) rest.push(next.value);
    expect(rest.at(-1)).toMatchObject({ type: 'done', reason: 'length', completionTokens: 40 });
    expect(await drained).toEqual({ cut: 0 });
  });

  it('cuts a generation still running when the grace period ends, and closes', async () => {
    const { server, client } = await started(20);
    const events = client.generate(request(10_000))[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: 'token' });
    const signalledAt = Date.now();
    expect(await server.drain(300)).toEqual({ cut: 1 });
    const waitedMs = Date.now() - signalledAt;
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(3000);
    const torn = (async () => {
      for (let next = await events.next(); !next.done; next = await events.next());
    })();
    await expect(torn).rejects.toBeInstanceOf(NodeLostError);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
