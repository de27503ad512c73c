import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BlobDigestMismatchError, blobKey, digestOf, downloadBlobTo, getBlob, hasBlob, putBlob } from '../../../platform/storage/blob-store.js';
import { InvalidObjectKeyError, ObjectNotFoundError, type ObjectStore } from '../../../platform/storage/object-store.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

export interface StoreFixture {
  readonly store: ObjectStore;
  close(): Promise<void>;
}

const MiB = 2 ** 20;

/** Feeds `bytes` in small chunks, as a network upload would arrive. */
function streamOf(bytes: Buffer, chunkBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += chunkBytes) yield bytes.subarray(offset, offset + chunkBytes);
    })(),
  );
}

/** A stream that delivers `bytes` and then fails, like a dropped client connection. */
function failingStream(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield bytes;
      throw new Error('connection reset');
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The behaviour every `ObjectStore` must show; each store's test file calls this with its own fixture. */
export function objectStoreBehaviour(open: () => Promise<StoreFixture>): void {
  let fixture: StoreFixture;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  const store = (): ObjectStore => fixture.store;
  beforeAll(async () => {
    fixture = await open();
    temp = await makeTempDir('tidepool-download');
  });
  afterAll(async () => {
    await fixture?.close();
    await temp?.remove();
  });

  it('stores, sizes and reads back an object, and reports absent ones', async () => {
    await store().put('things/hello.txt', Buffer.from('hello, tidepool'));
    expect(await store().head('things/hello.txt')).toEqual({ size: 15 });
    expect((await readAll(await store().get('things/hello.txt'))).toString()).toBe('hello, tidepool');
    expect(await store().head('things/missing')).toBeNull();
    await expect(store().get('things/missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('replaces an object whole and keeps the old one when a put fails', async () => {
    await store().put('atomic/object', Buffer.from('version one'));
    await expect(store().put('atomic/object', streamOf(Buffer.from('trunc')), { size: 100 })).rejects.toThrow(/expected 100 bytes/);
    await expect(store().put('atomic/object', failingStream(Buffer.alloc(1000, 7)))).rejects.toThrow(/connection reset/);
    expect((await readAll(await store().get('atomic/object'))).toString()).toBe('version one');
    await store().put('atomic/object', streamOf(Buffer.from('version two')), { size: 11 });
    expect((await readAll(await store().get('atomic/object'))).toString()).toBe('version two');
    expect((await store().list('atomic/')).map((o) => o.key)).toEqual(['atomic/object']);
  });

  it('reads byte ranges with an exclusive end, clamped to the size', async () => {
    const bytes = Buffer.from('0123456789');
    await store().put('ranges/digits', bytes);
    const read = async (start?: number, end?: number) => (await readAll(await store().get('ranges/digits', { start, end }))).toString();
    expect(await read(2, 5)).toBe('234');
    expect(await read(7)).toBe('789');
    expect(await read(undefined, 3)).toBe('012');
    expect(await read(8, 100)).toBe('89');
    expect(await read(10)).toBe('');
    expect(await read(4, 4)).toBe('');
    await expect(store().get('ranges/digits', { start: 11 })).rejects.toBeInstanceOf(RangeError);
    await expect(store().get('ranges/digits', { start: 5, end: 3 })).rejects.toBeInstanceOf(RangeError);
  });

  it('lists by plain string prefix, sorted, and deletes idempotently', async () => {
    for (const key of ['list/b/2', 'list/a/1', 'list/ab', 'list/b/1', 'other/x']) await store().put(key, Buffer.from(key));
    expect((await store().list('list/')).map((o) => o.key)).toEqual(['list/a/1', 'list/ab', 'list/b/1', 'list/b/2']);
    const written = Date.now();
    const listed = await store().list('list/a');
    expect(listed).toEqual([
      { key: 'list/a/1', size: 8, lastModified: expect.any(Date) },
      { key: 'list/ab', size: 7, lastModified: expect.any(Date) },
    ]);
    // S3 dates have whole seconds; either way the listing says when the object was written.
    for (const { lastModified } of listed) expect(Math.abs(lastModified.getTime() - written)).toBeLessThan(5_000);
    expect(await store().list('nothing-here/')).toEqual([]);
    await store().delete('list/ab');
    await store().delete('list/ab');
    expect((await store().list('list/a')).map((o) => o.key)).toEqual(['list/a/1']);
  });

  it('refuses keys that could escape the store', async () => {
    for (const key of ['../escape', 'a/../../escape', '/etc/passwd', 'a//b', 'a/./b', 'a\\..\\b', '', 'nul\0byte']) {
      await expect(store().put(key, Buffer.from('x')), key).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store().get(key), key).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store().head(key), key).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store().delete(key), key).rejects.toBeInstanceOf(InvalidObjectKeyError);
    }
    await expect(store().list('../')).rejects.toBeInstanceOf(InvalidObjectKeyError);
  });

  it('stores a blob larger than one multipart part and downloads it in parallel ranges', async () => {
    const bytes = randomBytes(12 * MiB + 12_345);
    const digest = digestOf(bytes);
    expect(await hasBlob(store(), digest)).toBe(false);
    expect(await putBlob(store(), digest, streamOf(bytes), { size: bytes.length })).toEqual({ size: bytes.length });
    expect(await hasBlob(store(), digest)).toBe(true);
    expect(await store().head(blobKey(digest))).toEqual({ size: bytes.length });

    const destPath = path.join(temp.dir, 'weights.safetensors');
    let progress = 0;
    await downloadBlobTo(store(), digest, destPath, { parallelism: 4, partBytes: MiB + 7, onProgress: (done) => (progress = done) });
    expect(
      createHash('sha256')
        .update(await readFile(destPath))
        .digest('hex'),
    ).toBe(digest.slice('sha256:'.length));
    expect(progress).toBe(bytes.length);
    expect((await readAll(await getBlob(store(), digest, { start: 5 * MiB, end: 5 * MiB + 10 }))).equals(bytes.subarray(5 * MiB, 5 * MiB + 10))).toBe(true);
    expect(await readdir(temp.dir)).toEqual(['weights.safetensors']);
  });

  it('never shows a blob under a digest its bytes do not hash to', async () => {
    const bytes = randomBytes(6 * MiB);
    const wrongDigest = digestOf(Buffer.from('something else'));
    await expect(putBlob(store(), wrongDigest, streamOf(bytes))).rejects.toBeInstanceOf(BlobDigestMismatchError);
    await expect(putBlob(store(), wrongDigest, bytes)).rejects.toBeInstanceOf(BlobDigestMismatchError);
    await expect(putBlob(store(), wrongDigest, Buffer.from('tiny'))).rejects.toBeInstanceOf(BlobDigestMismatchError);
    expect(await hasBlob(store(), wrongDigest)).toBe(false);
    await expect(putBlob(store(), 'sha256:XYZ', bytes)).rejects.toThrow(/invalid digest/);
  });

  it('handles empty objects like any other', async () => {
    const digest = digestOf(Buffer.alloc(0));
    await putBlob(store(), digest, streamOf(Buffer.alloc(0)), { size: 0 });
    expect(await store().head(blobKey(digest))).toEqual({ size: 0 });
    expect((await readAll(await getBlob(store(), digest))).length).toBe(0);
    expect((await readAll(await getBlob(store(), digest, { start: 0 }))).length).toBe(0);
    const destPath = path.join(temp.dir, 'empty', 'file');
    await downloadBlobTo(store(), digest, destPath);
    expect((await readFile(destPath)).length).toBe(0);
  });

  it('refuses to download a corrupted blob and leaves no file behind', async () => {
    const expected = Buffer.from('the real weights');
    const digest = digestOf(expected);
    // Simulates corruption at rest: other bytes planted straight under the digest's key.
    await store().put(blobKey(digest), Buffer.from('tampered weights'));
    const destPath = path.join(temp.dir, 'corrupt', 'model.safetensors');
    await expect(downloadBlobTo(store(), digest, destPath)).rejects.toBeInstanceOf(BlobDigestMismatchError);
    expect(await readdir(path.dirname(destPath))).toEqual([]);
    await expect(downloadBlobTo(store(), digestOf(Buffer.from('absent')), destPath)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
}
