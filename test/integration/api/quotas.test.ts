import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import type { Database } from '../../../platform/db/database.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { NodeEvent, NodeGenerateRequest, NodeRuntime } from '../../../protocol/node-runtime.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';

// Per-key and per-function quotas on both APIs (429 + Retry-After naming the limit and whose it is), and the
// invocation records that attribute every request, refused or not, to its key.
describe('quotas', () => {
  let database: Database;
  let plane: ControlPlane;
  const BOOT = 'bootstrap-secret';
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  beforeEach(async () => {
    database = await openDatabase({});
  });
  afterEach(async () => {
    await plane?.close();
    await database.close();
  });

  async function setup(node: NodeRuntime, manifests: readonly Record<string, unknown>[] = [{ name: 'alpha' }]): Promise<void> {
    const blobs = memoryBlobs();
    plane = createControlPlane({ database, blobs, nodes: [node], recorder: { flushIntervalMs: 10 }, apiKey: BOOT });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    for (const manifest of manifests) {
      const res = await request(plane.app)
        .post('/v1/functions')
        .set(bearer(BOOT))
        .send({ manifest: { model: { path: '.' }, ...manifest }, files });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  }

  async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const res = await request(plane.app)
      .post('/v1/keys')
      .set(bearer(BOOT))
      .send({ scope: 'invoke', ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; key: string };
  }

  async function records() {
    await plane.recorder.flush();
    return database.db.selectFrom('invocations').selectAll().orderBy('created_at').execute();
  }

  it('creates keys with limits, lists them, and refuses bad ones naming the field', async () => {
    await setup(scriptedNode());
    const created = await request(plane.app).post('/v1/keys').set(bearer(BOOT)).send({ name: 'app', scope: 'invoke', rpm: 60, tpm: 100000, concurrency: 4 });
    expect(created.body).toMatchObject({ name: 'app', rpm: 60, tpm: 100000, concurrency: 4 });
    await createKey({ name: 'free' });
    const list = await request(plane.app).get('/v1/keys').set(bearer(BOOT));
    expect(list.body.data.map((k: Record<string, unknown>) => [k.name, k.rpm, k.tpm, k.concurrency])).toEqual([
      ['app', 60, 100000, 4],
      ['free', null, null, null],
    ]);
    for (const [field, value] of [
      ['rpm', -1],
      ['tpm', 1.5],
      ['concurrency', 0],
      ['rpm', '60'],
      ['tpm', 2 ** 31],
    ] as const) {
      const res = await request(plane.app)
        .post('/v1/keys')
        .set(bearer(BOOT))
        .send({ name: 'bad', scope: 'invoke', [field]: value });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'invalid_parameter',
        param: field,
        message: `${field}: must be a positive integer (at most 2147483647) or null for unlimited`,
      });
    }
  });

  it('gives a key with rpm 2 a 429 with Retry-After on its third request, on either API, and records all three', async () => {
    await setup(scriptedNode());
    const limited = await createKey({ name: 'limited', rpm: 2 });
    const h = bearer(limited.key);
    const chat = await request(plane.app)
      .post('/v1/chat/completions')
      .set(h)
      .send({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(chat.status).toBe(200);
    expect((await request(plane.app).post('/v1/functions/alpha/invoke').set(h).send({ prompt: 'hi', max_tokens: 2 })).status).toBe(200);
    const third = await request(plane.app).post('/v1/completions').set(h).send({ model: 'alpha', prompt: 'hi', max_tokens: 2 });
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    expect(Number(third.headers['retry-after'])).toBeLessThanOrEqual(61);
    expect(third.headers['x-ratelimit-scope']).toBe('key');
    expect(third.body).toEqual({
      error: {
        type: 'rate_limit_error',
        code: 'rate_limit_rpm',
        param: null,
        message: expect.stringMatching(`^rate limit reached: API key ${limited.id}'s limit is 2 requests per minute \\(rpm\\); retry in \\d+ s$`),
      },
    });
    const native = await request(plane.app).post('/v1/functions/alpha/invoke').set(h).send({ prompt: 'hi', max_tokens: 2 });
    expect(native.status).toBe(429);
    expect(native.body.error.code).toBe('rate_limit_rpm');
    // The bootstrap key and other keys are not held to this key's limit.
    for (let i = 0; i < 3; i++)
      expect((await request(plane.app).post('/v1/completions').set(bearer(BOOT)).send({ model: 'alpha', prompt: 'hi', max_tokens: 2 })).status).toBe(200);

    const rows = await records();
    expect(rows).toHaveLength(7);
    const mine = rows.filter((r) => r.api_key_id === limited.id);
    expect(mine.map((r) => r.status).sort()).toEqual(['length', 'length', 'rejected', 'rejected']);
    for (const rejected of mine.filter((r) => r.status === 'rejected')) {
      expect(rejected).toMatchObject({ function_name: 'alpha', node_id: null, prompt_tokens: 2, completion_tokens: 0, slo_met: null, slo_attainment: null });
      expect(rejected.error).toMatch(/^rate_limit_rpm \(key\): rate limit reached: API key /);
    }
    expect(rows.filter((r) => r.api_key_id === null)).toHaveLength(3);
  });

  it('charges prompt + max_tokens at admission and refunds what the generation did not use (tpm)', async () => {
    await setup(scriptedNode({ text: ' hello world' }));
    const metered = await createKey({ name: 'metered', tpm: 40 });
    const h = bearer(metered.key);
    // Each request may use 2 + 30 = 32 tokens; the stop string ends it after 6 (" hello"), so 8 are used.
    const body = { model: 'alpha', prompt: 'hi', max_tokens: 30, stop: ['lo'] };
    const first = await request(plane.app).post('/v1/completions').set(h).send(body);
    expect(first.body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
    // 8 used + 32 charged = 40: admitted only because the first request's unused 24 were refunded.
    const second = await request(plane.app)
      .post('/v1/functions/alpha/invoke')
      .set(h)
      .send({ prompt: 'hi', max_tokens: 30, stop: ['lo'] });
    expect(second.body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
    const over = await request(plane.app).post('/v1/completions').set(h).send(body);
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'rate_limit_tpm', type: 'rate_limit_error' });
    expect(over.body.error.message).toContain('limit is 40 tokens per minute (tpm) and this request needs 32 (prompt + max_tokens)');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(50);
    // A request larger than the whole budget can never pass: no Retry-After, and the message says why.
    const huge = await request(plane.app).post('/v1/completions').set(h).send({ model: 'alpha', prompt: 'hi', max_tokens: 39 });
    expect(huge.status).toBe(429);
    expect(huge.headers['retry-after']).toBeUndefined();
    expect(huge.body.error.message).toMatch(/request too large: it needs 41 tokens .* whole limit is 40 tokens per minute/);
  });

  it('holds a concurrency slot for a whole stream: the second request gets 429 until the first finishes', async () => {
    const node = gatedNode();
    await setup(node);
    const single = await createKey({ name: 'single', concurrency: 1 });
    const h = bearer(single.key);
    const url = await plane.listen(0, '127.0.0.1');
    const stream = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { ...h, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'alpha', prompt: 'hi', max_tokens: 5, stream: true }),
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    await reader.read();
    const second = await request(plane.app).post('/v1/functions/alpha/invoke').set(h).send({ prompt: 'hi', max_tokens: 2 });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body.error).toMatchObject({
      code: 'concurrency_limit',
      message: expect.stringContaining(`API key ${single.id}'s limit is 1 request(s) at once`),
    });
    node.release();
    let text = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
    expect(text).toContain('data: [DONE]');
    expect((await request(plane.app).post('/v1/functions/alpha/invoke').set(h).send({ prompt: 'hi', max_tokens: 2 })).status).toBe(200);
    const rows = await records();
    expect(rows.map((r) => `${r.api_key_id} ${r.status}`).sort()).toEqual([`${single.id} rejected`, `${single.id} stop`, `${single.id} stop`]);
  });

  it('applies function limits from the manifest to all callers together, and names the function', async () => {
    await setup(scriptedNode(), [{ name: 'capped', limits: { rpm: 2 } }, { name: 'metered', limits: { tpm: 20, concurrency: 3 } }, { name: 'alpha' }]);
    const a = await createKey({ name: 'a' });
    const b = await createKey({ name: 'b', rpm: 100 });
    const call = (key: string, model = 'capped', maxTokens = 2) =>
      request(plane.app).post('/v1/completions').set(bearer(key)).send({ model, prompt: 'hi', max_tokens: maxTokens });
    expect((await call(a.key)).status).toBe(200);
    expect((await call(b.key)).status).toBe(200);
    for (const key of [a.key, b.key, BOOT]) {
      const refused = await call(key);
      expect(refused.status).toBe(429);
      expect(refused.headers['x-ratelimit-scope']).toBe('function');
      expect(refused.body.error).toMatchObject({
        code: 'rate_limit_rpm',
        message: expect.stringContaining("function capped's limit is 2 requests per minute"),
      });
    }
    // Other functions keep their own budgets.
    expect((await call(a.key, 'alpha')).status).toBe(200);
    const tooBig = await request(plane.app).post('/v1/functions/metered/invoke').set(bearer(b.key)).send({ prompt: 'hi', max_tokens: 19 });
    expect(tooBig.status).toBe(429);
    expect(tooBig.body.error.message).toContain("function metered's whole limit is 20 tokens per minute");
    expect((await call(b.key, 'metered', 18)).status).toBe(200);
    const shown = await request(plane.app).get('/v1/functions/metered').set(bearer(a.key));
    expect(shown.body.manifest.limits).toEqual({ rpm: null, tpm: 20, concurrency: 3 });

    const rows = await records();
    expect(rows).toHaveLength(8);
    const rejected = rows.filter((r) => r.status === 'rejected').map((r) => `${r.function_name} ${r.api_key_id} ${r.error?.split(':')[0]}`);
    expect(rejected.sort()).toEqual(
      [
        `capped ${a.id} rate_limit_rpm (function)`,
        `capped ${b.id} rate_limit_rpm (function)`,
        'capped null rate_limit_rpm (function)',
        `metered ${b.id} rate_limit_tpm (function)`,
      ].sort(),
    );
    const metrics = await request(plane.app).get('/metrics').set(bearer(BOOT));
    expect(metrics.text).toContain('tidepool_quota_rejections_total{function="capped",scope="function",limit="rpm"} 3');
  });

  it('refuses a deploy whose limits are invalid, naming each field', async () => {
    await setup(scriptedNode(), []);
    const files = await putModelFiles(memoryBlobs(), FIXTURE_QWEN);
    const res = await request(plane.app)
      .post('/v1/functions')
      .set(bearer(BOOT))
      .send({ manifest: { name: 'bad', model: { path: '.' }, limits: { rpm: -1, tpm: 2.5 } }, files });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'invalid_manifest',
      message: 'limits.rpm: must be a positive integer; limits.tpm: must be a positive integer',
    });
  });
});

/** A node whose generations send one token, then wait for `release()` before finishing. */
function gatedNode(): NodeRuntime & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    nodeId: 'gated-node',
    release: () => release(),
    async *generate(request: NodeGenerateRequest): AsyncGenerator<NodeEvent> {
      yield { type: 'token', token: 'h'.charCodeAt(0) };
      await gate;
      yield { type: 'done', reason: 'stop', promptTokens: request.promptTokens.length, completionTokens: 1 };
    },
    residency: async () => [],
    close: async () => {},
  };
}
