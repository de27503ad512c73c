import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../../platform/cli/api-client.js';
import { deployFunction } from '../../../platform/cli/deploy-function.js';
import { prepareFunctionDir } from '../../../platform/cli/function-dir.js';
import { ENGINE_BIN, ENGINE_BUILT, startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';

if (!ENGINE_BUILT) console.log(`skip: engine-api tests need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// The real app on PGlite, the filesystem store and the real CPU engine, with the synthesized tiny-chat model.
describe.skipIf(!ENGINE_BUILT)('API on the real CPU engine', () => {
  let server: E2eServer;
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
  });
  afterAll(async () => server?.close());

  it('chats through the native invoke route, greedy and repeatable', async () => {
    const body = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0 };
    const a = await request(server.url).post('/v1/functions/tiny-chat/invoke').send(body).expect(200);
    const b = await request(server.url).post('/v1/functions/tiny-chat/invoke').send(body).expect(200);
    expect(a.body.text.length).toBeGreaterThan(0);
    expect(b.body.text).toBe(a.body.text);
    expect(a.body.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('cancels the generation when the client disconnects and records it', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/functions/tiny-chat/invoke`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ prompt: 'a', max_tokens: 1500, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await new Promise((r) => setTimeout(r, 500));
    await server.plane.recorder.flush();
    const rows = await server.database.db.selectFrom('invocations').selectAll().where('status', '=', 'cancelled').execute();
    expect(rows.length).toBe(1);
    expect(rows[0]!.completion_tokens).toBeLessThan(1500);
  });

  it('shows the function resident after use', async () => {
    const show = await request(server.url).get('/v1/functions/tiny-chat').expect(200);
    expect(['gpu', 'host']).toContain(show.body.residency[0].tier);
  });
});
