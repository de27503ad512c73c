import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobDigestMismatchError, BlobTooLargeError, blobKey, digestOf, hasBlob, putBlob } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import type { ObjectStore } from '../../../platform/storage/object-store.js';
import { storeBlobs } from '../../../platform/functions/store-blobs.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { letTimePass } from '../../helpers/wait-for.js';

// putBlob's failures reach the caller as one rejected promise and nothing else: no stray 'error' event
// becomes an uncaught exception next to it.
describe('putBlob failures', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let stray: unknown[];
  const onStray = (error: unknown) => stray.push(error);

  beforeEach(async () => {
    temp = await makeTempDir('tidepool-blob-store');
    stray = [];
    process.on('uncaughtException', onStray);
    process.on('unhandledRejection', onStray);
  });
  afterEach(async () => {
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    await temp.remove();
  });

  // Gives a stray stream error the ticks it would need to surface as an uncaught exception (none may).
  const settle = () => letTimePass(50);

  it('rejects a mismatching stream once, raises nothing uncaught and keeps nothing', async () => {
    const store = new FsObjectStore(temp.dir);
    const bytes = Buffer.alloc(300_000, 7);
    const wrong = digestOf(Buffer.from('other'));
    const chunks = [bytes.subarray(0, 100_000), bytes.subarray(100_000)];
    await expect(putBlob(store, wrong, Readable.from(chunks))).rejects.toBeInstanceOf(BlobDigestMismatchError);
    await settle();
    expect(stray).toEqual([]);
    expect(await hasBlob(store, wrong)).toBe(false);
    expect(await store.list('')).toEqual([]);
  });

  it('rejects a mismatch once even with a store that ignores stream errors (reads with data/end only)', async () => {
    const fs = new FsObjectStore(temp.dir);
    // Reads the body with 'data' and 'end' and attaches no 'error' listener; gives up after 50 ms.
    const careless = {
      put: (_key: string, body: Readable) =>
        new Promise<void>((resolve) => {
          body.on('data', () => {});
          body.on('end', resolve);
          setTimeout(resolve, 50);
        }),
      delete: (key: string) => fs.delete(key),
    } as unknown as ObjectStore;
    const bytes = Buffer.alloc(200_000, 9);
    const chunks = [bytes.subarray(0, 65_536), bytes.subarray(65_536)];
    await expect(putBlob(careless, digestOf(Buffer.from('other')), Readable.from(chunks))).rejects.toBeInstanceOf(BlobDigestMismatchError);
    await settle();
    expect(stray).toEqual([]);
  });

  it('rejects a body that errors mid-stream and one over maxBytes, with nothing uncaught', async () => {
    const store = new FsObjectStore(temp.dir);
    const bytes = Buffer.alloc(1000, 1);
    const failing = Readable.from(
      (async function* () {
        yield bytes.subarray(0, 500);
        throw new Error('client went away');
      })(),
    );
    await expect(putBlob(store, digestOf(bytes), failing)).rejects.toThrow('client went away');
    await expect(putBlob(store, digestOf(bytes), Readable.from([bytes]), { maxBytes: 999 })).rejects.toBeInstanceOf(BlobTooLargeError);
    await settle();
    expect(stray).toEqual([]);
    expect(await store.list('')).toEqual([]);
    let counted = 0;
    expect(await putBlob(store, digestOf(bytes), Readable.from([bytes]), { maxBytes: 1000, onBytes: (n) => (counted += n) })).toEqual({ size: 1000 });
    expect(counted).toBe(1000);
  });

  it('the upload route service (storeBlobs) maps failures to 400 digest_mismatch and 413 blob_too_large', async () => {
    const blobs = storeBlobs(new FsObjectStore(temp.dir));
    const bytes = Buffer.alloc(5000, 2);
    await expect(blobs.put(digestOf(Buffer.from('z')), Readable.from([bytes]))).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(blobs.put(digestOf(bytes), Readable.from([bytes]), { maxBytes: 4096 })).rejects.toMatchObject({
      code: 'blob_too_large',
      message: 'blob exceeds the 4096-byte upload limit',
    });
    await blobs.put(digestOf(bytes), Readable.from([bytes]), { maxBytes: 5000 });
    expect(await blobs.size(digestOf(bytes))).toBe(5000);
    await settle();
    expect(stray).toEqual([]);
  });

  it('storeBlobs reads a whole blob only when it hashes to its digest (502 blob_corrupt otherwise); a verified put replaces it', async () => {
    const store = new FsObjectStore(temp.dir);
    const blobs = storeBlobs(store);
    const config = Buffer.from('{"max_position_embeddings": 256}');
    const digest = digestOf(config);
    await blobs.put(digest, Readable.from([config]));
    expect(await blobs.read(digest)).toEqual(config);
    const bad = Buffer.from('{"max_position_embeddings": 999}');
    await store.put(blobKey(digest), bad);
    await expect(blobs.read(digest)).rejects.toMatchObject({
      code: 'blob_corrupt',
      message: `stored blob ${digest} is corrupt: its bytes hash to ${digestOf(bad)}; upload the file again (PUT /v1/blobs/${digest}) to repair it`,
    });
    // A ranged read (deploy's safetensors header check) cannot be verified and returns the bytes asked for.
    expect(await blobs.read(digest, { start: 0, end: 4 })).toEqual(bad.subarray(0, 4));
    await blobs.put(digest, Readable.from([config]));
    expect(await blobs.read(digest)).toEqual(config);
  });
});
