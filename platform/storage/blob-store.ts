import { createHash, randomBytes, type Hash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ByteRange, DownloadOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';

/**
 * Content addressing over any `ObjectStore`: a blob's key is `blobs/sha256/<hex>` of its bytes, so identical
 * files are stored once and a digest names exactly one content. The invariant every function here keeps:
 * bytes that do not hash to a digest are never visible under that digest's key, neither in the store nor in
 * a downloaded file.
 */

export const BLOB_KEY_PREFIX = 'blobs/sha256/';

const DIGEST_PATTERN = /^sha256:([0-9a-f]{64})$/;

export class BlobDigestMismatchError extends Error {
  readonly code = 'blob_digest_mismatch';
  constructor(readonly expected: string, readonly actual: string) {
    super(`blob content hashes to ${actual}, not ${expected}`);
    this.name = 'BlobDigestMismatchError';
  }
}

export class InvalidDigestError extends Error {
  readonly code = 'invalid_digest';
  constructor(readonly digest: string) {
    super(`invalid digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex digits>`);
    this.name = 'InvalidDigestError';
  }
}

/** True for `sha256:<64 lowercase hex>`. */
export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

/** The object key for a digest; throws `InvalidDigestError` for anything but `sha256:<hex>`. */
export function blobKey(digest: string): string {
  const match = DIGEST_PATTERN.exec(digest);
  if (!match) throw new InvalidDigestError(digest);
  return `${BLOB_KEY_PREFIX}${match[1]}`;
}

/** `sha256:<hex>` of a buffer. */
export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Stores `body` as the blob `digest`, hashing while it streams. When the bytes hash to something else the
 * stream fails before it ends, so the store never commits it, and `BlobDigestMismatchError` is thrown.
 */
export async function putBlob(store: ObjectStore, digest: string, body: Readable | Buffer, options: PutOptions = {}): Promise<ObjectInfo> {
  const key = blobKey(digest);
  if (Buffer.isBuffer(body)) {
    const actual = digestOf(body);
    if (actual !== digest) throw new BlobDigestMismatchError(digest, actual);
    await store.put(key, body, options);
    return { size: body.length };
  }
  const hash = createHash('sha256');
  let size = 0;
  let actual: string | undefined;
  const verifier = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      actual = `sha256:${hash.digest('hex')}`;
      callback(actual === digest ? null : new BlobDigestMismatchError(digest, actual));
    },
  });
  body.on('error', (error) => verifier.destroy(error));
  await store.put(key, body.pipe(verifier), options);
  if (actual !== digest) {
    // Only reachable with a store that committed despite the failed stream; undo it rather than keep it.
    await store.delete(key);
    throw new BlobDigestMismatchError(digest, actual ?? 'an incomplete stream');
  }
  return { size };
}

export async function hasBlob(store: ObjectStore, digest: string): Promise<boolean> {
  return (await store.head(blobKey(digest))) !== null;
}

/** The blob's size, or null when the store lacks it. */
export async function headBlob(store: ObjectStore, digest: string): Promise<ObjectInfo | null> {
  return store.head(blobKey(digest));
}

/** Streams the blob (or a byte range of it, `end` exclusive). The bytes are trusted, not re-hashed. */
export async function getBlob(store: ObjectStore, digest: string, range?: ByteRange): Promise<Readable> {
  return store.get(blobKey(digest), range);
}

export async function deleteBlob(store: ObjectStore, digest: string): Promise<void> {
  await store.delete(blobKey(digest));
}

/**
 * Downloads the blob to `destPath` with parallel ranged reads, hashing in order as parts land. The file
 * appears at `destPath` only once its hash matches; on a mismatch nothing is left behind and
 * `BlobDigestMismatchError` is thrown.
 */
export async function downloadBlobTo(store: ObjectStore, digest: string, destPath: string, options: DownloadOptions = {}): Promise<void> {
  const key = blobKey(digest);
  const hash: Hash = createHash('sha256');
  const verifyingPath = `${destPath}.verify-${randomBytes(6).toString('hex')}`;
  await store.download(key, verifyingPath, {
    ...options,
    onChunk: (chunk) => {
      hash.update(chunk);
      options.onChunk?.(chunk);
    },
  });
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) {
    await rm(verifyingPath, { force: true });
    throw new BlobDigestMismatchError(digest, actual);
  }
  await rename(verifyingPath, destPath);
}
