import { randomBytes } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunctionVersion, deleteFunction } from '../../../platform/db/repositories/function-repository.js';
import { createBlobCollector } from '../../../platform/functions/blob-gc.js';
import { storeBlobs } from '../../../platform/functions/store-blobs.js';
import { blobKey, digestOf, hasBlob, putBlob } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import type { ObjectStore } from '../../../platform/storage/object-store.js';
import { S3ObjectStore } from '../../../platform/storage/s3-object-store.js';
import { withDatabases } from '../../helpers/databases.js';
import { startS3rver, type RunningS3rver } from '../../helpers/s3rver.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { digest } from '../../helpers/weights-digest.js';

/**
 * Blob garbage collection on PGlite and PostgreSQL, over the filesystem store and the S3 protocol (s3rver):
 * referenced blobs survive, old unreferenced ones go, young ones stay, and a dry run deletes nothing.
 */

const DAY_MS = 86_400_000;

withDatabases(({ database }) => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let s3: RunningS3rver;
  beforeAll(async () => {
    temp = await makeTempDir('tidepool-blob-gc');
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
    await temp?.remove();
  });

  async function upload(store: ObjectStore, label: string): Promise<string> {
    const bytes = Buffer.concat([Buffer.from(label), randomBytes(16)]);
    const digest = digestOf(bytes);
    await putBlob(store, digest, bytes);
    return digest;
  }

  /** Registers a function version listing these blobs as its files. */
  async function register(name: string, digests: readonly string[]): Promise<void> {
    const files = digests.map((digest, i) => ({ name: `part-${i}.safetensors`, digest, size: 16 }));
    await createFunctionVersion(database().db, {
      name,
      description: '',
      manifest: { name, model: { path: './model' } },
      weightsDigest: digest(digestOf(Buffer.from(name))),
      files,
      sizeBytes: 16 * files.length,
    });
  }

  /** A collector whose clock reads `offsetMs` past the real one, so blobs written now are that much older. */
  function collector(store: ObjectStore, offsetMs = 0) {
    return createBlobCollector({ db: database().db, blobs: storeBlobs(store), now: () => Date.now() + offsetMs });
  }

  const stores: [string, () => ObjectStore][] = [
    ['filesystem', () => new FsObjectStore(join(temp.dir, `fs-${randomBytes(4).toString('hex')}`))],
    ['S3 (s3rver)', () => new S3ObjectStore({ bucket: s3.bucket, client: s3.client, prefix: `gc-${randomBytes(4).toString('hex')}/` })],
  ];

  describe.each(stores)('on the %s store', (_label, makeStore) => {
    it('keeps blobs any version references, also an old inactive one, and deletes old unreferenced ones', async () => {
      const store = makeStore();
      const [active, replaced, removed, orphan] = await Promise.all(['active', 'replaced', 'removed', 'orphan'].map((l) => upload(store, l)));
      await register('gc-kept', [replaced!]);
      await register('gc-kept', [active!]); // v2 is active; v1 still references `replaced` (a rollback target)
      await register('gc-removed', [removed!]);
      await deleteFunction(database().db, 'gc-removed');

      const dry = await collector(store, 2 * DAY_MS)({ dryRun: true, minAgeMs: DAY_MS });
      expect(dry).toMatchObject({ dryRun: true, scanned: 4, referenced: 2, young: 0, deleted: 0 });
      expect(dry.unreferenced.map((b) => b.digest).sort()).toEqual([removed!, orphan!].sort());
      for (const digest of [active!, replaced!, removed!, orphan!]) expect(await hasBlob(store, digest)).toBe(true);

      const report = await collector(store, 2 * DAY_MS)({ dryRun: false, minAgeMs: DAY_MS });
      expect(report).toMatchObject({ dryRun: false, scanned: 4, referenced: 2, young: 0, deleted: 2 });
      expect(report.unreferenced.map((b) => b.digest).sort()).toEqual([removed!, orphan!].sort());
      expect(report.unreferenced.every((b) => b.size > 16 && b.lastModified instanceof Date)).toBe(true);
      expect(await hasBlob(store, active!)).toBe(true);
      expect(await hasBlob(store, replaced!)).toBe(true);
      expect(await hasBlob(store, removed!)).toBe(false);
      expect(await hasBlob(store, orphan!)).toBe(false);
      await deleteFunction(database().db, 'gc-kept');
    });

    it('keeps unreferenced blobs younger than the minimum age, so an upload in progress is never deleted', async () => {
      const store = makeStore();
      const fresh = await upload(store, 'fresh');
      const report = await collector(store)({ dryRun: false, minAgeMs: DAY_MS });
      expect(report).toMatchObject({ scanned: 1, referenced: 0, young: 1, deleted: 0, unreferenced: [] });
      expect(await hasBlob(store, fresh)).toBe(true);
      // A day and a bit later the same blob is old enough to go.
      expect(await collector(store, DAY_MS + 60_000)({ dryRun: false, minAgeMs: DAY_MS })).toMatchObject({ young: 0, deleted: 1 });
      expect(await hasBlob(store, fresh)).toBe(false);
    });
  });

  it('ages blobs by when they were written: of two unreferenced blobs in one pass, only the old one goes', async () => {
    const root = join(temp.dir, 'fs-ages');
    const store = new FsObjectStore(root);
    const [old, young] = [await upload(store, 'old'), await upload(store, 'young')];
    const twoDaysAgo = new Date(Date.now() - 2 * DAY_MS);
    await utimes(join(root, blobKey(old)), twoDaysAgo, twoDaysAgo);
    const report = await collector(store)({ dryRun: false, minAgeMs: DAY_MS });
    expect(report).toMatchObject({ scanned: 2, referenced: 0, young: 1, deleted: 1 });
    expect(report.unreferenced.map((b) => b.digest)).toEqual([old]);
    expect(await hasBlob(store, young)).toBe(true);
  });
});
