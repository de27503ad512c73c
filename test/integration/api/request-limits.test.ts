import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';

// Every request limit answers with a 400 (413 for the body) that names the limit, on both APIs.
describe('request limits', () => {
  let database: Database;
  let plane: ControlPlane;
  let node: ReturnType<typeof scriptedNode>;

  beforeAll(async () => {
    database = await openDatabase({});
    const blobs = memoryBlobs();
    node = scriptedNode();
    plane = createControlPlane({ database, blobs, nodes: [node], maxBodyBytes: 4096 });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    const res = await request(plane.app)
      .post('/v1/functions')
      .send({ manifest: { name: 'small', model: { path: '.' }, context_length: 64 }, files });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
  afterAll(async () => {
    await plane?.close();
    await database?.close();
  });

  const completion = (extra: Record<string, unknown>) =>
    request(plane.app)
      .post('/v1/completions')
      .send({ model: 'small', prompt: 'hi', ...extra });
  const invoke = (extra: Record<string, unknown>) =>
    request(plane.app)
      .post('/v1/functions/small/invoke')
      .send({ prompt: 'hi', ...extra });

  it('caps the JSON body with 413 naming the byte limit', async () => {
    const res = await completion({ prompt: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'body_too_large', message: 'request body exceeds the 4096-byte limit (TIDEPOOL_MAX_BODY_BYTES)' });
  });

  it('refuses max_tokens past the context, and a prompt that alone fills it', async () => {
    const over = await completion({ max_tokens: 63 });
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({
      code: 'context_length_exceeded',
      param: 'max_tokens',
      message: 'prompt (2 tokens) + max_tokens (63) = 65 exceeds the context length 64 of function small',
    });
    const huge = await invoke({ max_tokens: 2_000_000 });
    expect(huge.body.error).toMatchObject({ code: 'invalid_parameter', param: 'max_tokens', message: 'max_tokens: must be an integer in [1, 1000000]' });
    const long = await invoke({ prompt: 'y'.repeat(64), max_tokens: 1 });
    expect(long.status).toBe(400);
    expect(long.body.error).toMatchObject({
      code: 'context_length_exceeded',
      param: 'prompt',
      message: 'prompt (64 tokens) leaves no room in the context length 64 of function small',
    });
    const ok = await completion({ max_tokens: 62 });
    expect(ok.status).toBe(200);
    // Per-request engine time for clients and the api benchmark (non-streaming responses).
    expect(ok.headers['server-timing']).toMatch(/^engine;dur=\d+\.\d{3}$/);
    expect((await invoke({ max_tokens: 2 })).headers['server-timing']).toMatch(/^engine;dur=/);
  });

  it('allows at most 4 stop sequences, each non-empty', async () => {
    const five = await completion({ stop: ['a', 'b', 'c', 'd', 'e'] });
    expect(five.status).toBe(400);
    expect(five.body.error).toMatchObject({ param: 'stop', message: 'stop: at most 4 stop sequences are allowed, got 5' });
    expect((await completion({ stop: [''] })).body.error.param).toBe('stop');
    expect((await invoke({ stop: 7 })).status).toBe(400);
    expect((await completion({ stop: ['a', 'b', 'c', 'd'], max_tokens: 2 })).status).toBe(200);
  });

  it.each([
    [{ temperature: -0.1 }, 'temperature: must be a number in [0, 2]'],
    [{ temperature: 2.5 }, 'temperature: must be a number in [0, 2]'],
    [{ top_p: 0 }, 'top_p: must be a number in'],
    [{ top_p: 1.01 }, 'top_p: must be a number in'],
    [{ max_tokens: 0 }, 'max_tokens: must be an integer in [1, 1000000]'],
    [{ max_tokens: 1.5 }, 'max_tokens: must be an integer'],
    [{ seed: -1 }, 'seed: must be an integer'],
    [{ stream: 'yes' }, 'stream: must be a boolean'],
    [{ temperature: '0.5' }, 'temperature: must be a number'],
  ])('refuses %j with a 400 naming the parameter', async (extra, message) => {
    const before = node.requests.length;
    for (const res of [await completion(extra), await invoke(extra)]) {
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
      expect(res.body.error.message).toContain(message);
      expect(res.body.error.param).toBe(Object.keys(extra)[0]);
    }
    expect(node.requests.length).toBe(before);
  });
});
