import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';

// API keys: scopes, per-function restriction, revocation, open mode and the off-loopback refusal.
describe('API keys', () => {
  let database: Database;
  let plane: ControlPlane;
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  async function deploy(name: string, headers: Record<string, string> = {}) {
    const blobs = memoryBlobs();
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    return {
      blobs,
      files,
      res: await request(plane.app)
        .post('/v1/functions')
        .set(headers)
        .send({ manifest: { name, model: { path: '.' } }, files }),
    };
  }

  async function createKey(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ id: string; key: string }> {
    const res = await request(plane.app).post('/v1/keys').set(headers).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; key: string };
  }

  beforeEach(async () => {
    database = await openDatabase({});
  });
  afterEach(async () => {
    await plane?.close();
    await database.close();
  });

  async function setup(apiKey?: string): Promise<void> {
    const blobs = memoryBlobs();
    plane = createControlPlane({ database, blobs, nodes: [scriptedNode()], recorder: { flushIntervalMs: 10 }, apiKey });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    for (const name of ['alpha', 'beta']) {
      const res = await request(plane.app)
        .post('/v1/functions')
        .set(apiKey ? bearer(apiKey) : {})
        .send({ manifest: { name, model: { path: '.' } }, files });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  }

  it('runs open until the first key exists, then requires a key (401 in the OpenAI error shape)', async () => {
    await setup();
    expect((await request(plane.app).get('/v1/models')).status).toBe(200);
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    expect(admin.key).toMatch(/^tp_[A-Za-z0-9_-]{43}$/);
    const missing = await request(plane.app).get('/v1/models');
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({
      error: { message: expect.stringContaining('missing API key'), type: 'authentication_error', code: 'invalid_api_key', param: null },
    });
    const wrong = await request(plane.app)
      .post('/v1/chat/completions')
      .set(bearer('tp_not-a-key'))
      .send({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }] });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect((await request(plane.app).get('/v1/models').set(bearer(admin.key))).body.data).toHaveLength(2);
    // Only the hash is stored, and listing never shows the key.
    const rows = await database.db.selectFrom('api_keys').selectAll().execute();
    expect(rows.map((r) => r.key_hash)).not.toContain(admin.key);
    const list = await request(plane.app).get('/v1/keys').set(bearer(admin.key));
    expect(JSON.stringify(list.body)).not.toContain(admin.key);
    expect(list.body.data[0]).toMatchObject({ name: 'ops', scopes: ['admin'], functions: null, revoked_at: null });
  });

  it('an invoke key cannot deploy, delete or manage keys (403)', async () => {
    await setup();
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    const invoke = await createKey({ name: 'app', scope: 'invoke' }, bearer(admin.key));
    const { res } = await deploy('gamma', bearer(invoke.key));
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'insufficient_scope' });
    expect((await request(plane.app).delete('/v1/functions/alpha').set(bearer(invoke.key))).status).toBe(403);
    expect((await request(plane.app).post('/v1/keys').set(bearer(invoke.key)).send({ name: 'x', scope: 'admin' })).status).toBe(403);
    expect((await request(plane.app).get('/v1/keys').set(bearer(invoke.key))).status).toBe(403);
    expect(
      (
        await request(plane.app)
          .put(`/v1/blobs/sha256:${'0'.repeat(64)}`)
          .set(bearer(invoke.key))
          .send('x')
      ).status,
    ).toBe(403);
    // An unrestricted invoke key calls any function.
    const ok = await request(plane.app).post('/v1/completions').set(bearer(invoke.key)).send({ model: 'beta', prompt: 'x', max_tokens: 2 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await deploy('gamma', bearer(admin.key))).res.status).toBe(201);
  });

  it('an invoke key restricted to alpha neither sees nor invokes beta (404, same as a missing function)', async () => {
    await setup();
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    const onlyAlpha = await createKey({ name: 'alpha-app', scope: 'invoke', functions: ['alpha'] }, bearer(admin.key));
    const h = bearer(onlyAlpha.key);
    expect((await request(plane.app).get('/v1/models').set(h)).body.data.map((m: { id: string }) => m.id)).toEqual(['alpha']);
    expect((await request(plane.app).get('/v1/functions').set(h)).body.data.map((f: { name: string }) => f.name)).toEqual(['alpha']);
    const chat = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
    expect(
      (
        await request(plane.app)
          .post('/v1/chat/completions')
          .set(h)
          .send({ model: 'alpha', ...chat })
      ).status,
    ).toBe(200);
    const denied = await request(plane.app)
      .post('/v1/chat/completions')
      .set(h)
      .send({ model: 'beta', ...chat });
    const missing = await request(plane.app)
      .post('/v1/chat/completions')
      .set(h)
      .send({ model: 'nosuch', ...chat });
    expect(denied.status).toBe(404);
    expect(denied.body.error).toEqual({ ...missing.body.error, message: 'function beta does not exist' });
    expect((await request(plane.app).post('/v1/functions/beta/invoke').set(h).send({ prompt: 'x' })).status).toBe(404);
    expect((await request(plane.app).get('/v1/functions/beta').set(h)).status).toBe(404);
    expect((await request(plane.app).get('/v1/models/beta').set(h)).status).toBe(404);
    expect((await request(plane.app).post('/v1/functions/alpha/invoke').set(h).send({ prompt: 'x', max_tokens: 2 })).status).toBe(200);
  });

  it('a revoked key gets 401', async () => {
    await setup();
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    const invoke = await createKey({ name: 'app', scope: 'invoke' }, bearer(admin.key));
    expect((await request(plane.app).get('/v1/models').set(bearer(invoke.key))).status).toBe(200);
    expect((await request(plane.app).delete(`/v1/keys/${invoke.id}`).set(bearer(admin.key))).body).toEqual({ id: invoke.id, revoked: true });
    const res = await request(plane.app).get('/v1/models').set(bearer(invoke.key));
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ message: 'API key revoked', type: 'authentication_error' });
    expect((await request(plane.app).delete(`/v1/keys/${invoke.id}`).set(bearer(admin.key))).status).toBe(404);
  });

  it('the bootstrap key (TIDEPOOL_API_KEY) is an admin key and closes open mode', async () => {
    await setup('bootstrap-secret');
    expect((await request(plane.app).get('/v1/models')).status).toBe(401);
    const k = await createKey({ name: 'app', scope: 'invoke', functions: ['beta'] }, bearer('bootstrap-secret'));
    expect((await request(plane.app).get('/v1/models').set(bearer(k.key))).body.data.map((m: { id: string }) => m.id)).toEqual(['beta']);
    expect(
      (
        await request(plane.app)
          .post('/v1/keys')
          .set(bearer('bootstrap-secret'))
          .send({ name: 'bad', scope: 'admin', functions: ['a'] })
      ).status,
    ).toBe(400);
  });

  it('needs an admin key for /metrics once keys are in use (its labels name functions), unless TIDEPOOL_METRICS_PUBLIC; probes stay public', async () => {
    await setup();
    expect((await request(plane.app).get('/metrics')).status).toBe(200); // open mode, loopback only
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    const onlyAlpha = await createKey({ name: 'alpha-app', scope: 'invoke', functions: ['alpha'] }, bearer(admin.key));
    expect((await request(plane.app).post('/v1/completions').set(bearer(admin.key)).send({ model: 'beta', prompt: 'x', max_tokens: 2 })).status).toBe(200);

    const anonymous = await request(plane.app).get('/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toMatchObject({ code: 'invalid_api_key', type: 'authentication_error' });
    const invoke = await request(plane.app).get('/metrics').set(bearer(onlyAlpha.key));
    expect(invoke.status).toBe(403);
    expect(invoke.body.error).toMatchObject({ code: 'insufficient_scope', message: 'this API key has the invoke scope; GET /metrics needs admin' });
    expect(invoke.text).not.toContain('beta');
    const scraped = await request(plane.app).get('/metrics').set(bearer(admin.key));
    expect(scraped.status).toBe(200);
    expect(scraped.text).toMatch(/tidepool_invocations_total\{function="beta",status="length"\} 1/);
    for (const probe of ['/healthz', '/readyz']) expect((await request(plane.app).get(probe)).status, probe).toBe(200);

    // The opt-out: keys still guard /v1, but /metrics answers anyone.
    await plane.close();
    plane = createControlPlane({ database, blobs: memoryBlobs(), nodes: [scriptedNode()], metricsPublic: true });
    const open = await request(plane.app).get('/metrics');
    expect(open.status).toBe(200);
    expect(open.text).toContain('tidepool_invocations_total');
    expect((await request(plane.app).get('/v1/models')).status).toBe(401);
  });

  it('refuses a non-loopback bind without a usable key and accepts it with one', async () => {
    await setup();
    await expect(plane.listen(0, '0.0.0.0')).rejects.toThrow(/refusing to listen on 0.0.0.0 without API keys: set TIDEPOOL_API_KEY/);
    const admin = await createKey({ name: 'ops', scope: 'admin' });
    await request(plane.app).delete(`/v1/keys/${admin.id}`).set(bearer(admin.key));
    await expect(plane.listen(0, '0.0.0.0')).rejects.toThrow(/refusing/);
    await plane.close();
    plane = createControlPlane({ database, blobs: memoryBlobs(), nodes: [scriptedNode()], apiKey: 'boot' });
    expect(await plane.listen(0, '0.0.0.0')).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });
});
