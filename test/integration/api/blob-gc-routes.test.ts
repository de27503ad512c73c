import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobService } from '../../../platform/functions/blob-service.js';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import type { Database } from '../../../platform/db/database.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import { storeBlobs } from '../../../platform/functions/store-blobs.js';
import { blobKey, digestOf } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { socketLeftovers } from '../../../runtime/engine/engine-socket-dir.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { FIXTURE_QWEN, putModelFiles, scriptedNode } from './api-helpers.js';

// POST /v1/blobs/gc over PGlite and the filesystem store, and the deploy check that keeps it safe.
describe('blob garbage collection route', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: Database;
  let plane: ControlPlane;
  let blobs: BlobService;
  const root = () => join(temp.dir, 'objects');

  beforeEach(async () => {
    temp = await makeTempDir('tidepool-gc-route');
    database = await openDatabase({});
    blobs = storeBlobs(new FsObjectStore(root()));
  });
  afterEach(async () => {
    await plane?.close();
    await database.close();
    await temp.remove();
  });

  function start(service: BlobService = blobs): void {
    plane = createControlPlane({ database, blobs: service, nodes: [scriptedNode()], recorder: { flushIntervalMs: 10 } });
  }

  /** Stores `text` as a blob written `ageMs` ago. */
  async function orphan(text: string, ageMs: number): Promise<string> {
    const digest = digestOf(Buffer.from(text));
    await blobs.put(digest, Readable.from([Buffer.from(text)]));
    const at = new Date(Date.now() - ageMs);
    await utimes(join(root(), blobKey(digest)), at, at);
    return digest;
  }

  const stored = async (digest: string) => (await blobs.size(digest)) !== undefined;

  it('deletes old blobs no version references, keeps referenced and young ones, and a dry run deletes nothing', async () => {
    start();
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    await request(plane.app)
      .post('/v1/functions')
      .send({ manifest: { name: 'kept', model: { path: '.' } }, files })
      .expect(201);
    for (const f of files) await utimes(join(root(), blobKey(f.digest)), new Date(0), new Date(0));
    const old = await orphan('left by a refused deploy', 2 * 86_400_000);
    const young = await orphan('still uploading', 60_000);

    const dry = await request(plane.app).post('/v1/blobs/gc').send({ dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      dry_run: true,
      min_age_ms: 86_400_000,
      scanned: files.length + 2,
      referenced: files.length,
      young: 1,
      unreferenced: [{ digest: old, size: 24, last_modified: expect.any(String) }],
      unreferenced_bytes: 24,
      deleted: 0,
      leftovers: [],
      leftover_bytes: 0,
    });
    expect(await stored(old)).toBe(true);

    const run = await request(plane.app).post('/v1/blobs/gc').send({});
    expect(run.body).toMatchObject({ dry_run: false, deleted: 1, young: 1, unreferenced: [{ digest: old }] });
    expect(await stored(old)).toBe(false);
    expect(await stored(young)).toBe(true);
    for (const f of files) expect(await stored(f.digest)).toBe(true);
    // The function still serves: its weights were never candidates.
    await request(plane.app).post('/v1/functions/kept/invoke').send({ prompt: 'hi', max_tokens: 2 }).expect(200);

    // A smaller minimum age takes the young one too.
    expect((await request(plane.app).post('/v1/blobs/gc').send({ min_age_ms: 1_000 })).body).toMatchObject({ deleted: 1, unreferenced: [{ digest: young }] });
  });

  it('lists the partial uploads and engine sockets of processes that died, and deletes them unless dry_run', async () => {
    const store = new FsObjectStore(root());
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const incoming = join(root(), '.incoming');
    await mkdir(incoming, { recursive: true });
    const dead = join(incoming, `${deadPid}-00aa11bb22cc33dd.part`);
    await writeFile(dead, Buffer.alloc(1000));
    const live = join(incoming, `${process.pid}-44ee55ff66007788.part`);
    await writeFile(live, Buffer.alloc(10));
    const sockets = join(temp.dir, 'tmp');
    await mkdir(join(sockets, `tidepool-engine-${deadPid}-x1`), { recursive: true });
    plane = createControlPlane({
      database,
      blobs,
      nodes: [scriptedNode()],
      leftovers: async () => [...(await store.leftoverParts()), ...(await socketLeftovers(sockets))],
    });
    const dry = await request(plane.app).post('/v1/blobs/gc').send({ dry_run: true });
    expect(dry.body).toMatchObject({
      leftover_bytes: 1000,
      leftovers: [
        { kind: 'upload', path: dead, bytes: 1000, why: `partial upload; its process ${deadPid} is gone` },
        { kind: 'engine_socket', path: join(sockets, `tidepool-engine-${deadPid}-x1`), bytes: 0, why: expect.stringContaining(`process ${deadPid}`) },
      ],
    });
    expect(existsSync(dead)).toBe(true);
    const run = await request(plane.app).post('/v1/blobs/gc').send({});
    expect(run.body.leftovers).toHaveLength(2);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(join(sockets, `tidepool-engine-${deadPid}-x1`))).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('refuses an invoke key with 403 and bad parameters with a 400 naming them', async () => {
    start();
    const admin = (await request(plane.app).post('/v1/keys').send({ name: 'ops', scope: 'admin' }).expect(201)).body.key as string;
    const invoke = (await request(plane.app).post('/v1/keys').set('Authorization', `Bearer ${admin}`).send({ name: 'app', scope: 'invoke' }).expect(201)).body
      .key as string;
    const old = await orphan('orphan', 2 * 86_400_000);
    const refused = await request(plane.app).post('/v1/blobs/gc').set('Authorization', `Bearer ${invoke}`).send({});
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('insufficient_scope');
    expect((await request(plane.app).post('/v1/blobs/gc').send({})).status).toBe(401);
    expect(await stored(old)).toBe(true);

    const gc = (body: unknown) =>
      request(plane.app).post('/v1/blobs/gc').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
    const cases = [
      [{ dry_run: 'yes' }, 'dry_run', 'dry_run must be true or false, got "yes"'],
      [{ min_age_ms: -1 }, 'min_age_ms', 'min_age_ms must be a non-negative integer (milliseconds), got -1'],
      [{ min_age_ms: '24h' }, 'min_age_ms', 'min_age_ms must be a non-negative integer (milliseconds), got "24h"'],
      [{ minAge: 5 }, 'minAge', '"minAge" is not a field of a gc request (dry_run, min_age_ms)'],
      [[1], null, 'body must be a JSON object: {"dry_run": true, "min_age_ms": 86400000}'],
    ] as const;
    for (const [body, param, message] of cases) {
      const res = await gc(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param, message });
    }
    expect(await stored(old)).toBe(true);
  });

  it('refuses a deploy whose reused blob was deleted after the first check, registering nothing', async () => {
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    const weights = files.find((f) => f.name.endsWith('.safetensors'))!;
    // Stands in for a gc pass that deletes the blob between the deploy's checks and its commit.
    let sizeCalls = 0;
    start({
      ...blobs,
      async size(digest) {
        if (digest === weights.digest && ++sizeCalls === 2) await blobs.delete(digest);
        return blobs.size(digest);
      },
    });
    const res = await request(plane.app)
      .post('/v1/functions')
      .send({ manifest: { name: 'raced', model: { path: '.' } }, files });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'missing_blobs', message: `blobs not uploaded: ${weights.name} (${weights.digest})` });
    await request(plane.app).get('/v1/functions/raced').expect(404);
  });
});
