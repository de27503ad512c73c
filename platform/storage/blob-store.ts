import { createHash, randomBytes, type Hash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BlobDigestMismatchError, InvalidDigestError, type BlobSource } from '../../protocol/blob-source.js';
import type { ByteRange, DownloadOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';

export { BlobDigestMismatchError, InvalidDigestError };

/**
 * Content addressing over any `ObjectStore`: a blob's key is `blobs/sha256/<hex>` of its bytes, so identical
 * files are stored once and a digest names exactly one content. The invariant every function here keeps:
 * bytes that do not hash to a digest are never visible under that digest's key, neither in the store nor in
 * a downloaded file.
 */

export const BLOB_KEY_PREFIX = 'blobs/sha256/';

const DIGEST_PATTERN = /^sha256:([0-9a-f]{64})$/;

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

export class BlobTooLargeError extends Error {
  readonly code = 'blob_too_large';
  constructor(readonly maxBytes: number) {
    super(`blob exceeds the ${maxBytes}-byte upload limit`);
    this.name = 'BlobTooLargeError';
  }
}

export interface PutBlobOptions extends PutOptions {
  /** Fail with `BlobTooLargeError` once the body passes this many bytes. */
  readonly maxBytes?: number;
  /** Called with each chunk's length as it passes (upload metrics). */
  readonly onBytes?: (n: number) => void;
}

/**
 * Stores `body` as the blob `digest`, hashing while it streams. When the bytes hash to something else (or pass
 * `maxBytes`, or the body fails) the stream fails before it ends, so the store never commits it, and the
 * returned promise rejects (`BlobDigestMismatchError`, `BlobTooLargeError`, or the body's error). That
 * rejection is the only report: the stream handed to the store always has an 'error' listener, so a store
 * that ignores stream errors cannot turn one into an uncaught exception.
 */
export async function putBlob(store: ObjectStore, digest: string, body: AsyncIterable<Buffer> | Buffer, options: PutBlobOptions = {}): Promise<ObjectInfo> {
  const key = blobKey(digest);
  const { maxBytes, onBytes, ...putOptions } = options;
  if (Buffer.isBuffer(body)) {
    if (maxBytes !== undefined && body.length > maxBytes) throw new BlobTooLargeError(maxBytes);
    const actual = digestOf(body);
    if (actual !== digest) throw new BlobDigestMismatchError(digest, actual);
    onBytes?.(body.length);
    await store.put(key, body, putOptions);
    return { size: body.length };
  }
  const state = { size: 0, actual: undefined as string | undefined };
  // One generator-backed stream, no pipe chain: the body is read by the generator, so its errors and an
  // early stop by the store end in one place.
  const source = Readable.from(verifying(digest, body, maxBytes, onBytes, state), { objectMode: false });
  let streamError: unknown;
  source.on('error', (error) => {
    streamError ??= error;
  });
  try {
    await store.put(key, source, putOptions);
  } catch (error) {
    throw streamError ?? error;
  }
  if (streamError !== undefined || state.actual !== digest) {
    // Only reachable with a store that committed despite the failed stream; undo it rather than keep it.
    await store.delete(key);
    throw streamError ?? new BlobDigestMismatchError(digest, state.actual ?? 'an incomplete stream');
  }
  return { size: state.size };
}

async function* verifying(
  digest: string,
  body: AsyncIterable<Buffer>,
  maxBytes: number | undefined,
  onBytes: ((n: number) => void) | undefined,
  state: { size: number; actual: string | undefined },
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of body) {
    state.size += chunk.length;
    if (maxBytes !== undefined && state.size > maxBytes) throw new BlobTooLargeError(maxBytes);
    hash.update(chunk);
    onBytes?.(chunk.length);
    yield chunk;
  }
  state.actual = `sha256:${hash.digest('hex')}`;
  if (state.actual !== digest) throw new BlobDigestMismatchError(digest, state.actual);
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

/** A blob as the store lists it. */
export interface StoredBlob {
  readonly digest: string;
  readonly size: number;
  /** When its bytes were last written (uploaded, or uploaded again). */
  readonly lastModified: Date;
}

/** Every blob in the store, by digest. Keys under the blob prefix that are not `<64 lowercase hex>` are left out. */
export async function listBlobs(store: ObjectStore): Promise<StoredBlob[]> {
  const blobs: StoredBlob[] = [];
  for (const object of await store.list(BLOB_KEY_PREFIX)) {
    const digest = `sha256:${object.key.slice(BLOB_KEY_PREFIX.length)}`;
    if (DIGEST_PATTERN.test(digest)) blobs.push({ digest, size: object.size, lastModified: object.lastModified });
  }
  return blobs;
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

/** The node's `BlobSource` over this store: each blob downloaded and verified with `downloadBlobTo`. */
export function storeBlobSource(store: ObjectStore): BlobSource {
  return (digest, path) => downloadBlobTo(store, digest, path);
}
