import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactFileEntry } from '../../../platform/functions/artifact.js';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';
import { messageLogger } from '../../helpers/message-logger.js';

// A few hundred arbitrary bodies through the real app (routes, JSON parser, error middleware, PGlite): every
// answer is a success or a 4xx in the OpenAI error shape, and every invocation record is written. A 500, a
// malformed error or a record the database refuses means a validator let something through to code that
// cannot handle it.
describe('arbitrary request bodies', () => {
  let database: Database;
  let plane: ControlPlane;
  let files: ArtifactFileEntry[];
  const logged: unknown[] = [];
  // Unknown body fields are logged once per name by design (docs/api.md); anything else said is a fault.
  const serverErrors = () => logged.filter((message) => message !== 'unknown request field ignored');

  beforeAll(async () => {
    database = await openDatabase({});
    const blobs = memoryBlobs();
    plane = createControlPlane({ database, blobs, nodes: [scriptedNode()], maxBodyBytes: 16_384, log: messageLogger(logged) });
    files = await putModelFiles(blobs, FIXTURE_QWEN);
    const res = await request(plane.app)
      .post('/v1/functions')
      .send({ manifest: { name: 'small', model: { path: '.' }, context_length: 64 }, files });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
  afterAll(async () => {
    await plane?.close();
    await database?.close();
  });

  /** Success, or a 4xx whose body is `{error: {message, type, code, param}}`. */
  function expectHandled(res: request.Response, body: unknown): void {
    const context = `${res.status} ${res.text.slice(0, 300)} for ${JSON.stringify(body)?.slice(0, 300)}`;
    if (res.status < 300) return;
    expect(res.status >= 400 && res.status < 500, context).toBe(true);
    const error = res.body?.error;
    expect(typeof error?.message, context).toBe('string');
    expect(typeof error?.type, context).toBe('string');
    expect(typeof error?.code, context).toBe('string');
    expect(error.param === null || typeof error.param === 'string', context).toBe(true);
  }

  // A valid body with up to two fields replaced by arbitrary JSON, so requests reach every later check
  // (and some succeed) instead of all failing the first one.
  const anyValue = fc.jsonValue({ maxDepth: 3 });
  const withMutations = <T extends object>(valid: fc.Arbitrary<T>, keys: readonly string[]) =>
    fc.tuple(valid, fc.dictionary(fc.constantFrom(...keys), anyValue, { maxKeys: 2 })).map(([base, changes]) => ({ ...base, ...changes }));
  const validGeneration = fc
    .record(
      {
        model: fc.constant('small'),
        max_tokens: fc.integer({ min: 1, max: 8 }),
        temperature: fc.double({ min: 0, max: 2, noNaN: true }),
        top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        // Any code point, and what jsonb cannot store (the record keeps stop strings): NUL, a lone surrogate.
        stop: fc.array(fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }), fc.constantFrom('\u0000', 'a\ud800', '\udc00b')), { maxLength: 4 }),
        stream: fc.boolean(),
        stream_options: fc.record({ include_usage: fc.boolean() }),
      },
      { requiredKeys: ['model', 'max_tokens'] },
    )
    .chain((base) =>
      fc
        .oneof(
          fc.record({ prompt: fc.string({ minLength: 1, maxLength: 40 }) }),
          fc.record({
            messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'developer'), content: fc.string({ maxLength: 20 }) }), {
              minLength: 1,
              maxLength: 3,
            }),
          }),
        )
        .map((input) => ({ ...base, ...input })),
    );
  const GENERATION_KEYS = [
    'model',
    'prompt',
    'messages',
    'max_tokens',
    'max_completion_tokens',
    'temperature',
    'top_p',
    'seed',
    'stop',
    'stream',
    'stream_options',
    'n',
  ];
  const body = fc.oneof({ weight: 5, arbitrary: withMutations(validGeneration, GENERATION_KEYS) }, { weight: 1, arbitrary: anyValue });
  const routes = ['/v1/completions', '/v1/chat/completions', '/v1/functions/small/invoke'];

  it('answers every generation request with a success or an OpenAI-shaped 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (route, sent) => {
        // supertest sends non-objects as text, so JSON bodies are serialized by hand.
        const res = await request(plane.app).post(route).set('Content-Type', 'application/json').send(JSON.stringify(sent));
        expectHandled(res, sent);
      }),
      { numRuns: 240 },
    );
    await plane.recorder.flush();
    expect(serverErrors()).toEqual([]);
  });

  it('answers malformed JSON text with a 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes, '/v1/functions'), fc.string({ unit: 'binary', maxLength: 64 }), async (route, text) => {
        const res = await request(plane.app).post(route).set('Content-Type', 'application/json').send(text);
        expectHandled(res, text);
      }),
      { numRuns: 40 },
    );
    expect(serverErrors()).toEqual([]);
  });

  it('answers every deploy request with a success or an OpenAI-shaped 4xx', async () => {
    const manifest = withMutations(
      fc.record({ name: fc.stringMatching(/^fn-[a-z0-9]{1,8}$/), model: fc.constant({ path: '.' }), context_length: fc.integer({ min: 1, max: 256 }) }),
      ['name', 'model', 'context_length', 'limits', 'defaults', 'slo', 'min_warm', 'keep_warm_ms', 'description'],
    );
    const deploy = withMutations(fc.record({ manifest, files: fc.constant(files) }), ['manifest', 'files', 'name']);
    await fc.assert(
      fc.asyncProperty(deploy, async (sent) => {
        const res = await request(plane.app).post('/v1/functions').set('Content-Type', 'application/json').send(JSON.stringify(sent));
        expectHandled(res, sent);
      }),
      { numRuns: 100 },
    );
    expect(serverErrors()).toEqual([]);
  });
});
