import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactFileEntry } from '../../../platform/functions/artifact.js';
import { ENGINE_BIN, ENGINE_BUILT, startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { FIXTURE_QWEN, putModelFiles } from './api-helpers.js';

// NUL and other control characters in names, ids, descriptions and query values are refused with a 400
// naming the field, over real PGlite, where they used to surface as a 500 with a database stack trace (or,
// for a stop string, as an invocation record no database write could take).
describe('control characters at the API', () => {
  let server: E2eServer;
  let files: ArtifactFileEntry[];
  const manifest = (fields: Record<string, unknown>) => ({ manifest: { name: 'plain', model: { path: '.' }, ...fields }, files });

  beforeAll(async () => {
    server = await startE2eServer();
    files = await putModelFiles(server.blobs, FIXTURE_QWEN);
  });
  afterAll(async () => server?.close());

  it('refuses NUL and controls in a manifest, keeps line breaks in a description', async () => {
    const nul = await request(server.url)
      .post('/v1/functions')
      .send(manifest({ description: 'one\u0000two' }));
    expect(nul.status).toBe(400);
    expect(nul.body.error).toMatchObject({
      code: 'invalid_manifest',
      message: expect.stringContaining('description: contains the control character U+0000 at index 3'),
    });
    const name = await request(server.url)
      .post('/v1/functions')
      .send(manifest({ name: 'pla\u0000in' }));
    expect(name.status).toBe(400);
    expect(name.body.error.message).toContain('name: contains the control character U+0000');
    const bell = await request(server.url)
      .post('/v1/functions')
      .send(manifest({ description: 'bell \u0007' }));
    expect(bell.body.error.message).toContain('description: contains the control character U+0007');
    const path = await request(server.url)
      .post('/v1/functions')
      .send({ manifest: { name: 'plain', model: { path: 'a\u0000b' } }, files });
    expect(path.body.error.message).toContain('model.path: contains the control character U+0000');
    await request(server.url)
      .post('/v1/functions')
      .send(manifest({ description: 'two lines\nand a\ttab' }))
      .expect(201);
    expect((await request(server.url).get('/v1/functions/plain').expect(200)).body.description).toBe('two lines\nand a\ttab');
  });

  it('refuses a NUL in a function name in a path, a body or a query with 400', async () => {
    for (const url of ['/v1/functions/pla%00in', '/v1/models/pla%00in', '/v1/invocations?function=pla%00in', '/v1/functions/plain%0A']) {
      const res = await request(server.url).get(url);
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'invalid_parameter',
        message: expect.stringMatching(/the request URL contains the control character %0[0A]/),
      });
    }
    const chat = await request(server.url)
      .post('/v1/chat/completions')
      .send({ model: 'pla\u0000in', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(400);
    expect(chat.body.error).toMatchObject({ code: 'invalid_parameter', param: 'model', message: 'model: contains the control character U+0000 at index 3' });
  });

  it('refuses a NUL or a lone surrogate in a stop string (the record keeps stop strings in jsonb), records the rest', async () => {
    await request(server.url)
      .post('/v1/functions')
      .send(manifest({ name: 'stops' }))
      .expect(201);
    const messages = [{ role: 'user', content: 'hi' }];
    const nul = await request(server.url)
      .post('/v1/chat/completions')
      .send({ model: 'stops', messages, max_tokens: 2, stop: ['x', 'a\u0000b'] });
    expect(nul.status).toBe(400);
    expect(nul.body.error).toMatchObject({
      code: 'invalid_parameter',
      param: 'stop',
      message: 'stop: contains the control character U+0000 at index 1 of string 1',
    });
    const native = await request(server.url).post('/v1/functions/stops/invoke').send({ prompt: 'hi', max_tokens: 2, stop: '\u0000' });
    expect(native.body.error).toMatchObject({ code: 'invalid_parameter', param: 'stop' });
    // A lone surrogate is as unstorable in jsonb; a pair (an emoji) is fine.
    const lone = await request(server.url)
      .post('/v1/completions')
      .set('Content-Type', 'application/json')
      .send('{"model":"stops","prompt":"hi","max_tokens":2,"stop":"a\\ud800"}');
    expect(lone.body.error).toMatchObject({ code: 'invalid_parameter', param: 'stop', message: 'stop: contains an unpaired surrogate U+D800 at index 1' });
    if (!ENGINE_BUILT) return console.log(`skip: the recorded stop string needs the engine binary at ${ENGINE_BIN}`);
    const ok = await request(server.url)
      .post('/v1/chat/completions')
      .send({ model: 'stops', messages, max_tokens: 2, stop: ['\n', '\u{1F600}'] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    await server.plane.recorder.flush();
    const rows = (await request(server.url).get('/v1/invocations?function=stops').expect(200)).body.data as {
      id: string;
      params: { sampling: { stop: string[] } };
    }[];
    expect(rows.find((r) => r.id === ok.body.id)?.params.sampling.stop).toEqual(['\n', '\u{1F600}']);
  });

  it('refuses a NUL in a key name and in the functions of a key', async () => {
    const named = await request(server.url).post('/v1/keys').send({ name: 'ops\u0000', scope: 'admin' });
    expect(named.status).toBe(400);
    expect(named.body.error).toMatchObject({ param: 'name', message: 'name: contains the control character U+0000 at index 3' });
    const scoped = await request(server.url)
      .post('/v1/keys')
      .send({ name: 'app', scope: 'invoke', functions: ['pla\u0000in'] });
    expect(scoped.status).toBe(400);
    expect(scoped.body.error.param).toBe('functions');
    // Nothing above reached the database as an error: it still answers.
    await request(server.url).get('/v1/functions').expect(200);
  });
});
