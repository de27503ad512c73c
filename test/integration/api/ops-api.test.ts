import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../../cli/api-client.js';
import { deployFunction } from '../../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../../cli/function-dir.js';
import type { OpsInvocation, OpsState } from '../../../platform/ops/ops-types.js';
import { ENGINE_BIN, ENGINE_BUILT, startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { waitFor } from '../../helpers/wait-for.js';

if (!ENGINE_BUILT) console.log(`skip: operator API tests need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// The operator API on the real app: PGlite, the filesystem store and the real CPU engine serving tiny-chat.
describe.skipIf(!ENGINE_BUILT)('operator API (/v1/ops/state, /v1/invocations)', () => {
  let server: E2eServer;
  let admin: Record<string, string>;
  let invokeOnly: Record<string, string>;

  const invoke = (maxTokens: number) =>
    request(server.url).post('/v1/functions/tiny-chat/invoke').set(admin).send({ prompt: 'tide', max_tokens: maxTokens, temperature: 0 }).expect(200);
  const state = async (): Promise<OpsState> => (await request(server.url).get('/v1/ops/state').set(admin).expect(200)).body as OpsState;
  const invocations = (query: string) => request(server.url).get(`/v1/invocations?${query}`).set(admin);

  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    admin = { Authorization: `Bearer ${(await server.plane.keys.create({ name: 'ops', scope: 'admin', functions: null, limits: {} })).key}` };
    invokeOnly = { Authorization: `Bearer ${(await server.plane.keys.create({ name: 'app', scope: 'invoke', functions: null, limits: {} })).key}` };
    for (const maxTokens of [3, 4, 5]) await invoke(maxTokens);
    await server.plane.recorder.flush();
  });
  afterAll(async () => server?.close());

  it('needs the admin scope: an invoke key gets 403, no key 401', async () => {
    for (const path of ['/v1/ops/state', '/v1/invocations']) {
      const refused = await request(server.url).get(path).set(invokeOnly);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('insufficient_scope');
      expect((await request(server.url).get(path)).status).toBe(401);
    }
  });

  it('reports the engine memory split, host pool and residency of the node', async () => {
    const snapshot = await state();
    expect(Date.now() - Date.parse(snapshot.generatedAt)).toBeLessThan(10_000);
    expect(snapshot.nodes).toHaveLength(1);
    const node = snapshot.nodes[0]!;
    expect(node).toMatchObject({ id: server.node.nodeId, status: 'ready' });
    expect(node.url).toBeUndefined();
    expect(node.hostPool.capacityBytes).toBe(2 ** 30);
    expect(node.hostPool.usedBytes).toBeGreaterThan(0);
    const gpu = node.gpus[0]!;
    expect(gpu.up).toBe(true);
    expect(gpu.memoryBytes).toBe(2 ** 30);
    expect(gpu.weightsBytes).toBeGreaterThan(0);
    expect(gpu.kvBytes).toBeGreaterThan(0);
    expect(gpu.weightsBytes + gpu.kvBytes + gpu.scratchBytes + gpu.freeBytes).toBe(gpu.memoryBytes);
    expect(gpu.resident).toEqual(['tiny-chat']);
  });

  it('summarizes each function: tier, SLO, last-5-minute attainment and medians, idle queue', async () => {
    const fn = (await state()).functions.find((f) => f.name === 'tiny-chat')!;
    expect(fn).toMatchObject({ version: 1, tier: 'gpu', slo: { ttft_ms: 10_000, tpot_ms: 100 }, invocations5m: 3, queueDepth: 0, running: 0 });
    // The tiny model answers in milliseconds, far inside a 10 s / 100 ms SLO.
    expect(fn.attainment).toBe(1);
    expect(fn.ttftP50Ms).toBeGreaterThan(0);
    expect(fn.tpotP50Ms).toBeGreaterThan(0);
  });

  it('counts a generation in flight as running on its node', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/functions/tiny-chat/invoke`, {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({ prompt: 'a', max_tokens: 1500, ignore_eos: true, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    const running = (await state()).functions.find((f) => f.name === 'tiny-chat')!;
    controller.abort();
    expect(running.running + running.queueDepth).toBe(1);
    await waitFor(async () => (await state()).functions.every((f) => f.running + f.queueDepth === 0), { message: 'the cancelled request to leave the node' });
    await server.plane.recorder.flush();
  });

  it('lists invocations newest first with keyset paging and every field', async () => {
    const first = await invocations('function=tiny-chat&limit=2&status=length').expect(200);
    const rows = first.body.data as OpsInvocation[];
    expect(rows.map((r) => r.completion_tokens)).toEqual([5, 4]);
    expect(rows[0]).toMatchObject({ function: 'tiny-chat', version: 1, node: server.node.nodeId, status: 'length', slo_met: true, error: null });
    expect(rows[0]!.prompt_tokens).toBeGreaterThan(0);
    expect(rows[0]!.ttft_ms).toBeGreaterThan(0);
    expect(Date.parse(rows[0]!.finished_at!)).toBeGreaterThanOrEqual(Date.parse(rows[0]!.started_at));
    expect(first.body.next_cursor).toBe(rows[1]!.id);
    const next = await invocations(`function=tiny-chat&limit=2&status=length&after=${first.body.next_cursor}`).expect(200);
    expect((next.body.data as OpsInvocation[]).map((r) => r.completion_tokens)).toEqual([3]);
    expect(next.body.next_cursor).toBeNull();
    const cancelled = await invocations('function=tiny-chat&status=cancelled').expect(200);
    expect(cancelled.body.data).toHaveLength(1);
  });

  it('follows with since (an id or a time): rows finished later, oldest first', async () => {
    const all = (await invocations('function=tiny-chat&status=length').expect(200)).body.data as OpsInvocation[];
    const oldest = all[all.length - 1]!;
    const after = await invocations(`function=tiny-chat&status=length&since=${oldest.id}`).expect(200);
    expect((after.body.data as OpsInvocation[]).map((r) => r.completion_tokens)).toEqual([4, 5]);
    expect(after.body.next_cursor).toBeUndefined();
    const byTime = await invocations(`function=tiny-chat&status=length&since=${encodeURIComponent(oldest.finished_at!)}`).expect(200);
    expect((byTime.body.data as OpsInvocation[]).map((r) => r.completion_tokens)).toEqual([4, 5]);
    expect((await invocations(`since=${new Date(Date.now() + 60_000).toISOString()}`).expect(200)).body.data).toEqual([]);
  });

  it('answers bad parameters with 400 naming the parameter, and an unknown function with 404', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1001', 'limit'],
      ['status=done', 'status'],
      ['fn=tiny-chat', 'fn'],
      ['after=nope', 'after'],
      ['since=nope', 'since'],
      ['since=2026-13-45T00:00:00Z', 'since'],
      ['limit=1&limit=2', 'limit'],
      ['after=x&since=2026-01-01T00:00:00Z', 'since'],
    ];
    for (const [query, param] of cases) {
      const res = await invocations(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error, query).toMatchObject({ code: 'invalid_parameter', param });
    }
    const missing = await invocations('function=no-such-fn');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'function_not_found', param: 'function' });
  });
});
