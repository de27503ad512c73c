import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectModelFiles } from '../../../platform/functions/artifact.js';
import { digestOf } from '../../../platform/storage/blob-store.js';
import { startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { FIXTURE_QWEN } from './api-helpers.js';

// Deploy-time checks over real HTTP, PGlite on disk and the filesystem object store.
describe('deploy validation', () => {
  let server: E2eServer;
  let files: Awaited<ReturnType<typeof collectModelFiles>>;
  const manifest = { name: 'qwen', model: { path: '.' } };

  beforeAll(async () => {
    server = await startE2eServer();
    files = await collectModelFiles(FIXTURE_QWEN);
    for (const f of files) {
      await request(server.url)
        .put(`/v1/blobs/${f.digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(await readFile(join(FIXTURE_QWEN, f.name)))
        .expect(201);
    }
  });
  afterAll(async () => server?.close());

  it('answers HEAD for stored and missing blobs and refuses a body that does not match its digest', async () => {
    await request(server.url).head(`/v1/blobs/${files[0]!.digest}`).expect(200).expect('Content-Length', String(files[0]!.size));
    const wrong = `sha256:${'0'.repeat(64)}`;
    await request(server.url).head(`/v1/blobs/${wrong}`).expect(404);
    const res = await request(server.url).put(`/v1/blobs/${wrong}`).set('Content-Type', 'application/octet-stream').send(Buffer.from('hello'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('digest_mismatch');
    await request(server.url).head(`/v1/blobs/${wrong}`).expect(404);
  });

  it('refuses a blob over the upload cap and keeps nothing', async () => {
    const { createControlPlane } = await import('../../../platform/control-plane.js');
    const capped = createControlPlane({ database: server.database, blobs: server.blobs, nodes: [server.node], maxUploadBytes: 4 });
    const body = Buffer.from('more than four bytes');
    const res = await request(capped.app)
      .put(`/v1/blobs/${digestOf(body)}`)
      .set('Content-Type', 'application/octet-stream')
      .send(body);
    expect(res.status).toBe(413);
    await request(server.url)
      .head(`/v1/blobs/${digestOf(body)}`)
      .expect(404);
    await capped.close();
  });

  it('names every problem of an invalid manifest', async () => {
    const res = await request(server.url)
      .post('/v1/functions')
      .send({ manifest: { name: 'Bad_Name', model: { path: '.' }, slo: { tpot_ms: 0 } }, files });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('name: must be 1-63 characters');
    expect(res.body.error.message).toContain('slo.tpot_ms: must be a positive integer');
  });

  it.each([
    { name: '.', problem: 'starts with "."' },
    { name: '..', problem: 'starts with "."' },
    { name: '.fetch-model.safetensors', problem: 'starts with "."' },
    { name: '../model.safetensors', problem: 'is not a plain file name' },
  ])('refuses the file name $name with a 400 naming it', async ({ name, problem }) => {
    const weights = files.find((f) => f.name === 'model.safetensors')!;
    const res = await request(server.url)
      .post('/v1/functions')
      .send({ manifest, files: [...files, { ...weights, name }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_files', param: 'files' });
    expect(res.body.error.message).toContain(`files[${files.length}].name: ${JSON.stringify(name)} ${problem}`);
  });

  it('refuses a deploy whose blobs were never uploaded', async () => {
    const missing = files.map((f) => (f.name === 'config.json' ? { ...f, digest: `sha256:${'1'.repeat(64)}` } : f));
    const res = await request(server.url).post('/v1/functions').send({ manifest, files: missing });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'missing_blobs' });
    expect(res.body.error.message).toContain('config.json');
  });

  it('refuses a truncated safetensors file with the reason', async () => {
    const full = await readFile(join(FIXTURE_QWEN, 'model.safetensors'));
    const truncated = full.subarray(0, full.length - 1000);
    const digest = digestOf(truncated);
    await request(server.url).put(`/v1/blobs/${digest}`).set('Content-Type', 'application/octet-stream').send(truncated).expect(201);
    const bad = files.map((f) => (f.name === 'model.safetensors' ? { ...f, digest, size: truncated.length } : f));
    const res = await request(server.url).post('/v1/functions').send({ manifest, files: bad });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid_model');
    expect(res.body.error.message).toMatch(/model\.safetensors/);
  });

  it('refuses a config that does not match the tensors', async () => {
    const config = JSON.parse(await readFile(join(FIXTURE_QWEN, 'config.json'), 'utf8')) as Record<string, unknown>;
    const body = Buffer.from(JSON.stringify({ ...config, hidden_size: (config.hidden_size as number) * 2 }));
    const digest = digestOf(body);
    await request(server.url).put(`/v1/blobs/${digest}`).set('Content-Type', 'application/octet-stream').send(body).expect(201);
    const bad = files.map((f) => (f.name === 'config.json' ? { ...f, digest, size: body.length } : f));
    const res = await request(server.url).post('/v1/functions').send({ manifest, files: bad });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/shape/);
  });

  it('gives two concurrent deploys of one name two versions, one of them active', async () => {
    const [a, b] = await Promise.all([
      request(server.url)
        .post('/v1/functions')
        .send({ manifest: { ...manifest, name: 'race' }, files }),
      request(server.url)
        .post('/v1/functions')
        .send({ manifest: { ...manifest, name: 'race' }, files }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect([a.body.version, b.body.version].sort()).toEqual([1, 2]);
    const show = await request(server.url).get('/v1/functions/race');
    expect(show.body.versions.filter((v: { active: boolean }) => v.active)).toHaveLength(1);
    expect(show.body.active_version).toBe(2);
  });
});
