import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { FIXTURE_QWEN, putModelFiles } from './api-helpers.js';

// Regressions on the invoke path, over real HTTP and PGlite (and the CPU engine when built): a function
// deployed without `defaults` on a 256-token model serves requests that omit max_tokens, and the id an
// OpenAI client gets back is the invocation's id in the records (each choice's, when there are several).
describe('invocation defaults and ids', () => {
  let server: E2eServer;

  beforeAll(async () => {
    server = await startE2eServer();
    const files = await putModelFiles(server.blobs, FIXTURE_QWEN);
    // No defaults: max_tokens defaults to 256, the whole context of tiny-qwen2.
    await request(server.url)
      .post('/v1/functions')
      .send({ manifest: { name: 'short-context', model: { path: '.' } }, files })
      .expect(201);
    console.log(`invocation defaults: node is ${server.engine}`);
  });
  afterAll(async () => server?.close());

  it('clamps the default max_tokens to what the context leaves after the prompt', async () => {
    const res = await request(server.url).post('/v1/completions').send({ model: 'short-context', prompt: 'abc' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.usage.prompt_tokens + res.body.usage.completion_tokens).toBeLessThanOrEqual(256);
  });

  it('names the max_tokens the caller sent when it does not fit', async () => {
    const res = await request(server.url).post('/v1/completions').send({ model: 'short-context', prompt: 'abc', max_tokens: 254 });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'context_length_exceeded',
      param: 'max_tokens',
      message: 'prompt (3 tokens) + max_tokens (254) = 257 exceeds the context length 256 of function short-context',
    });
  });

  it('answers an OpenAI request with the invocation id it is recorded under', async () => {
    const chat = await request(server.url)
      .post('/v1/chat/completions')
      .send({ model: 'short-context', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    const text = await request(server.url).post('/v1/completions').send({ model: 'short-context', prompt: 'hi', max_tokens: 3 });
    expect(chat.body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(text.body.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    await server.plane.recorder.flush();
    const ids = ((await request(server.url).get('/v1/invocations?function=short-context&limit=10').expect(200)).body.data as { id: string }[]).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([chat.body.id, text.body.id]));
  });

  it('records each choice under the response id, choice i as <id>-<i>', async () => {
    const chat = await request(server.url)
      .post('/v1/chat/completions')
      .send({ model: 'short-context', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, n: 2 });
    const batch = await request(server.url)
      .post('/v1/completions')
      .send({ model: 'short-context', prompt: ['a', 'b'], max_tokens: 2 });
    const response = await request(server.url).post('/v1/responses').send({ model: 'short-context', input: 'hi', max_output_tokens: 2 });
    for (const res of [chat, batch, response]) expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(response.body.id).toMatch(/^resp_[0-9a-f]{32}$/);
    await server.plane.recorder.flush();
    const ids = ((await request(server.url).get('/v1/invocations?function=short-context&limit=50').expect(200)).body.data as { id: string }[]).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([chat.body.id, `${chat.body.id}-1`, batch.body.id, `${batch.body.id}-1`, response.body.id]));
  });
});
