import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { upsertNode } from '../../../platform/db/repositories/node-repository.js';
import { createClusterRouter } from '../../../platform/router/cluster-router.js';
import { startNodeServer, type NodeServer } from '../../../runtime/cluster/node-server.js';
import { NodeError, type ModelResidency, type NodeEvent, type NodeGenerateRequest, type NodeRuntime } from '../../../protocol/node-runtime.js';
import { withDatabases } from '../../helpers/databases.js';
import { scriptedNode } from '../api/api-helpers.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { realDigest } from '../../helpers/weights-digest.js';

const TOKEN = 'router-test-token';
const DIGEST = realDigest('aaaa');

function request(id: string, maxTokens = 4): NodeGenerateRequest {
  return {
    id,
    functionName: 'fn',
    version: 1,
    artifact: { weightsDigest: DIGEST, files: [], bytes: 0 },
    promptTokens: [1, 2],
    sampling: samplingWith({ max_tokens: maxTokens, seed: 1 }),
    stopTokenIds: [],
    slo: { ttftMs: 1000, tpotMs: 100 },
    keepWarmMs: 1000,
  };
}

async function drain(node: NodeRuntime, req: NodeGenerateRequest): Promise<NodeEvent[]> {
  const events: NodeEvent[] = [];
  for await (const event of node.generate(req)) events.push(event);
  return events;
}

function residency(tier: ModelResidency['tier']): ModelResidency[] {
  return [{ weightsDigest: DIGEST, functionName: 'fn', tier, bytes: 100, queued: 0, running: 0 }];
}

/** A node that streams `tokens` tokens (per choice of a group) and then stalls until its server drops the connection. */
function stallingNode(tokens: number): NodeRuntime {
  return {
    nodeId: 'stalling',
    async *generate(req, signal) {
      for (let choice = 0; choice < (req.seeds?.length ?? 1); choice++)
        for (let i = 0; i < tokens; i++) yield req.seeds ? { type: 'token', token: 65 + i, choice } : { type: 'token', token: 65 + i };
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      yield { type: 'done', reason: 'cancelled', promptTokens: req.promptTokens.length, completionTokens: tokens };
    },
    residency: async () => [],
    close: async () => {},
  };
}

withDatabases(({ database }) => {
  const servers: NodeServer[] = [];
  async function serve(node: NodeRuntime): Promise<NodeServer> {
    const server = await startNodeServer({ node, token: TOKEN, host: '127.0.0.1', port: 0 });
    servers.push(server);
    return server;
  }
  async function register(id: string, address: string, models: ModelResidency[], load = 0, now = new Date()): Promise<void> {
    await upsertNode(database().db, { id, address, backend: 'cpu', gpus: [], hostPoolBytes: 1 << 20, state: 'ready', residency: models, load }, now);
  }
  function router(registry = new Registry()) {
    return { registry, router: createClusterRouter({ db: database().db, token: TOKEN, downAfterMs: 1000, registry, cacheMs: 0 }) };
  }
  async function reasons(registry: Registry): Promise<Record<string, number>> {
    const metric = await registry.getSingleMetric('tidepool_route_decisions_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.reason), v.value]));
  }

  it('prefers hot, then warm, then the least loaded node, and counts each decision', async () => {
    await database().db.deleteFrom('nodes').execute();
    const [a, b, c] = await Promise.all([serve(scriptedNode()), serve(scriptedNode()), serve(scriptedNode())]);
    await register('a', a!.url, [], 3);
    await register('b', b!.url, residency('host'), 5);
    await register('c', c!.url, [], 1);
    const { registry, router: r } = router();
    expect((await r.pick(DIGEST)).nodeId).toBe('b');
    await register('a', a!.url, residency('gpu'), 9);
    expect((await r.pick(DIGEST)).nodeId).toBe('a');
    expect((await r.pick(realDigest('other'))).nodeId).toBe('c');
    expect(await reasons(registry)).toMatchObject({ warm: 1, hot: 1, least_loaded: 1 });
    const events = await drain(await r.pick(DIGEST), request('r1'));
    expect(events.filter((e) => e.type === 'token')).toHaveLength(4);
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'length' });
  });

  it('spreads a function to another node when its hot node holds enough of its requests', async () => {
    await database().db.deleteFrom('nodes').execute();
    const [a, b] = await Promise.all([serve(scriptedNode()), serve(scriptedNode())]);
    await register('a', a!.url, [{ ...residency('gpu')[0]!, queued: 6, running: 2 }], 8);
    await register('b', b!.url, [], 0);
    const { registry, router: r } = router();
    expect((await r.pick(DIGEST)).nodeId).toBe('b');
    expect(await reasons(registry)).toMatchObject({ spread: 1 });
  });

  it('marks a silent node down, routes around it, and re-admits it on its next heartbeat', async () => {
    await database().db.deleteFrom('nodes').execute();
    const [a, b] = await Promise.all([serve(scriptedNode()), serve(scriptedNode())]);
    await register('a', a!.url, residency('gpu'), 0, new Date(Date.now() - 5000));
    await register('b', b!.url, [], 0);
    const { router: r } = router();
    expect((await r.pick(DIGEST)).nodeId).toBe('b');
    const row = await database().db.selectFrom('nodes').select('state').where('id', '=', 'a').executeTakeFirstOrThrow();
    expect(row.state).toBe('down');
    await register('a', a!.url, residency('gpu'));
    expect((await r.pick(DIGEST)).nodeId).toBe('a');
  });

  it('removes rows of nodes down and silent for longer than the retention, and keeps recently down ones', async () => {
    await database().db.deleteFrom('nodes').execute();
    const hour = 3_600_000;
    await register('gone', 'http://127.0.0.1:9', [], 0, new Date(Date.now() - 2 * hour));
    await register('recent', 'http://127.0.0.1:9', [], 0, new Date(Date.now() - 5000));
    await upsertNode(
      database().db,
      { id: 'drained', address: 'http://127.0.0.1:9', backend: 'cpu', gpus: [], hostPoolBytes: 1, state: 'draining' },
      new Date(Date.now() - 2 * hour),
    );
    const r = createClusterRouter({ db: database().db, token: TOKEN, downAfterMs: 1000, downRetentionMs: hour, registry: new Registry(), cacheMs: 0 });
    await r.refresh();
    const rows = await database().db.selectFrom('nodes').select(['id', 'state']).orderBy('id').execute();
    expect(rows).toEqual([{ id: 'recent', state: 'down' }]);
  });

  it('sums its decisions by reason for cluster status, every reason listed', async () => {
    await database().db.deleteFrom('nodes').execute();
    const a = await serve(scriptedNode());
    const { router: r } = router();
    await r.pick(DIGEST);
    await register('a', a.url, residency('gpu'));
    await r.pick(DIGEST);
    await r.pick(DIGEST);
    const summary = r.routing();
    expect(summary.decisions).toEqual({ hot: 2, warm: 0, least_loaded: 0, spread: 0, retry: 0, no_node: 1 });
    expect(summary.since.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('passes min_warm holds through its nodes to the node server, which checks the body and the token', async () => {
    await database().db.deleteFrom('nodes').execute();
    const holds: [string, string | undefined, number][] = [];
    const a = await serve({ ...scriptedNode(), holdWarm: async (fn, artifact, keepWarmMs) => void holds.push([fn, artifact?.weightsDigest, keepWarmMs]) });
    await register('a', a.url, []);
    const { router: r } = router();
    await r.refresh();
    const artifact = request('h').artifact;
    await Promise.all(r.nodes.map((node) => node.holdWarm?.('fn', artifact, 5000)));
    await Promise.all(r.nodes.map((node) => node.holdWarm?.('fn', undefined, 0)));
    expect(holds).toEqual([
      ['fn', DIGEST, 5000],
      ['fn', undefined, 0],
    ]);
    const post = (body: unknown, token = TOKEN) =>
      fetch(`${a.url}/internal/hold-warm`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    expect((await post({ functionName: 'fn', artifact: null, keepWarmMs: 0 }, 'nope')).status).toBe(401);
    const bad = await post({ functionName: 'fn', artifact: { digest: 'md5:x', files: [], bytes: 1 }, keepWarmMs: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^artifact\.digest must be a weights digest, sha256:<64 hex digits>/);
    expect((await post({ functionName: 'fn', artifact: null, keepWarmMs: -1 })).status).toBe(400);
    expect(holds).toHaveLength(2);
  });

  it('retries on another node when the first is unreachable before any token', async () => {
    await database().db.deleteFrom('nodes').execute();
    const b = await serve(scriptedNode());
    await register('a', 'http://127.0.0.1:9', residency('gpu'));
    await register('b', b.url, []);
    const { registry, router: r } = router();
    const node = await r.pick(DIGEST);
    expect(node.nodeId).toBe('a');
    const events = await drain(node, request('r2'));
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'length', completionTokens: 4 });
    expect(await reasons(registry)).toMatchObject({ hot: 1, retry: 1 });
    // This replica saw it fail and wrote it down; the next request goes straight to b.
    expect((await r.pick(DIGEST)).nodeId).toBe('b');
  });

  it('ends a stream whose node dies after tokens with an error event', async () => {
    await database().db.deleteFrom('nodes').execute();
    const a = await serve(stallingNode(2));
    const b = await serve(scriptedNode());
    await register('a', a.url, residency('gpu'));
    await register('b', b.url, []);
    const { router: r } = router();
    const events: NodeEvent[] = [];
    for await (const event of (await r.pick(DIGEST)).generate(request('r3'))) {
      events.push(event);
      if (events.length === 2) void a.close();
    }
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['token', 'token']);
    expect(events[2]).toMatchObject({ type: 'done', reason: 'error', completionTokens: 2 });
    expect((events[2] as Extract<NodeEvent, { type: 'done' }>).error?.message).toMatch(/node a was lost after 2 token/);
  });

  it('ends every choice of a group whose node dies after tokens, each with its own error event', async () => {
    await database().db.deleteFrom('nodes').execute();
    const a = await serve(stallingNode(1));
    await register('a', a.url, residency('gpu'));
    const { router: r } = router();
    const events: NodeEvent[] = [];
    const group = { ...request('r5'), seeds: [1, 2, 3] };
    for await (const event of (await r.pick(DIGEST)).generate(group)) {
      events.push(event);
      if (events.length === 3) void a.close();
    }
    expect(events.slice(3)).toEqual(
      [0, 1, 2].map((choice) => ({
        type: 'done',
        reason: 'error',
        promptTokens: 2,
        completionTokens: 1,
        choice,
        error: { code: 'engine_down', message: expect.stringMatching(/node a was lost after 3 token/) },
      })),
    );
  });

  it('refuses through generate when no node is ready, and node servers refuse calls without the token', async () => {
    await database().db.deleteFrom('nodes').execute();
    const { registry, router: r } = router();
    await expect(drain(await r.pick(DIGEST), request('r4'))).rejects.toBeInstanceOf(NodeError);
    expect(await reasons(registry)).toMatchObject({ no_node: 1 });
    const a = await serve(scriptedNode());
    expect((await fetch(`${a.url}/internal/residency`)).status).toBe(401);
    expect((await fetch(`${a.url}/internal/residency`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${a.url}/internal/residency`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    for (const server of servers.splice(0)) await server.close();
  });
});
