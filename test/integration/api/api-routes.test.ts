import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { NodeError } from '../../../protocol/node-runtime.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';

// Routes against the real app and a real (in-memory) PGlite; the node is scripted so these run without an
// engine. test/integration/api/engine-api.test.ts runs the same paths on the real CPU engine.
const manifest = { name: 'echo', model: { path: '.' }, defaults: { max_tokens: 8, temperature: 0 } };

describe('control plane API (scripted node)', () => {
  let database: Database;
  let plane: ControlPlane;
  let blobs: ReturnType<typeof memoryBlobs>;
  let node: ReturnType<typeof scriptedNode>;

  async function setup(nodeOptions: Parameters<typeof scriptedNode>[0] = {}): Promise<void> {
    node = scriptedNode(nodeOptions);
    plane = createControlPlane({ database, blobs, nodes: [node], recorder: { flushIntervalMs: 10 } });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    const res = await request(plane.app).post('/v1/functions').send({ manifest, files });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  beforeEach(async () => {
    database = await openDatabase({});
    blobs = memoryBlobs();
  });
  afterEach(async () => {
    await plane?.close();
    await database.close();
  });

  it('deploys, lists, shows and deletes a function', async () => {
    await setup();
    const list = await request(plane.app).get('/v1/functions');
    expect(list.body.data.map((f: { name: string }) => f.name)).toEqual(['echo']);
    const show = await request(plane.app).get('/v1/functions/echo');
    expect(show.body).toMatchObject({ name: 'echo', active_version: 1, residency: [{ tier: 'store' }] });
    expect((await request(plane.app).delete('/v1/functions/echo')).status).toBe(200);
    const gone = await request(plane.app).get('/v1/functions/echo');
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'function_not_found', type: 'not_found_error' });
  });

  it('answers chat completions with usage and finish_reason length', async () => {
    await setup();
    const res = await request(plane.app)
      .post('/v1/chat/completions')
      .send({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.choices[0]).toMatchObject({ message: { role: 'assistant', content: ' hello' }, finish_reason: 'length' });
    expect(res.body.usage.completion_tokens).toBe(6);
    expect(node.requests[0]!.sampling.temperature).toBe(0);
  });

  it('cuts at a stop string, holds back partial matches and reports finish_reason stop', async () => {
    await setup();
    const res = await request(plane.app)
      .post('/v1/completions')
      .send({ model: 'echo', prompt: 'x', max_tokens: 12, stop: ['wor'] });
    expect(res.body.choices[0]).toMatchObject({ text: ' hello ', finish_reason: 'stop' });
  });

  it('streams SSE chunks ending in [DONE], with a usage chunk when asked', async () => {
    await setup();
    const res = await request(plane.app)
      .post('/v1/chat/completions')
      .send({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    expect(res.headers['content-type']).toContain('text/event-stream');
    const frames = res.text.split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(' he');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).usage).toMatchObject({ completion_tokens: 3 });
  });

  it('refuses bad requests with the OpenAI error shape', async () => {
    await setup();
    const unknown = await request(plane.app)
      .post('/v1/chat/completions')
      .send({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'function_not_found', param: 'model' });
    const malformed = await request(plane.app).post('/v1/chat/completions').set('Content-Type', 'application/json').send('{"model":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_json');
    const over = await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'abc', max_tokens: 100_000 });
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/prompt \(3 tokens\) \+ max_tokens \(100000\) = 100003 exceeds the context length \d+ of function echo/);
  });

  it('maps queue_full to 429 with Retry-After and records the rejection', async () => {
    await setup({ failWith: new NodeError('queue_full', 'queue of echo is full', 2500) });
    const res = await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    const cold = createControlPlane({ database, blobs, nodes: [scriptedNode({ failWith: new NodeError('cold_start_timeout', 'slow') })] });
    expect((await request(cold.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi' })).status).toBe(503);
    await cold.close();
    await plane.recorder.flush();
    const rows = await database.db.selectFrom('invocations').selectAll().execute();
    expect(rows.map((r) => r.status)).toContain('rejected');
  });

  it('sends an SSE error frame when the engine fails mid-stream', async () => {
    await setup({ failAfter: 2 });
    const res = await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi', max_tokens: 5, stream: true });
    const frames = res.text.split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toContain('"error"');
    expect(frames).not.toContain('data: [DONE]');
  });

  it('records finished invocations with tokens and SLO attainment', async () => {
    await setup();
    await request(plane.app).post('/v1/functions/echo/invoke').send({ prompt: 'hi', max_tokens: 4 }).expect(200);
    await plane.recorder.flush();
    const rows = await database.db.selectFrom('invocations').selectAll().execute();
    expect(rows[0]).toMatchObject({ function_name: 'echo', version: 1, status: 'length', completion_tokens: 4, slo_met: true });
    const metrics = await request(plane.app).get('/metrics');
    expect(metrics.text).toContain('tidepool_invocations_total{function="echo",status="length"} 1');
    expect(metrics.text).toContain('tidepool_slo_attainment_ratio_count{function="echo"} 1');
    expect(metrics.text).toContain('tidepool_slo_tokens_total{function="echo",outcome="on_time"} 4');
    expect(metrics.text).toContain('tidepool_slo_tokens_total{function="echo",outcome="late"} 0');
  });
});
