import type { Readable } from 'node:stream';
import { ObjectNotFoundError } from '../../protocol/blob-source.js';

export { ObjectNotFoundError };

/**
 * Where model bytes live when no node holds them: the cold tier. Keys are `/`-separated relative paths
 * (`blobs/sha256/<hex>`); a key with an empty, `.` or `..` segment, a leading `/`, a backslash or a NUL is
 * refused with `InvalidObjectKeyError` by every implementation, so a key can never escape its root or prefix.
 *
 * Writes are atomic: an object is either absent or complete under its key, never half-written. A failed or
 * aborted `put` (including a body stream that errors) leaves whatever was there before.
 */
export interface ObjectStore {
  /** `fs` or `s3`, for logs and metrics. */
  readonly kind: string;

  /** The object's size, or null when absent. */
  head(key: string): Promise<ObjectInfo | null>;

  /**
   * Stores `body` under `key`, replacing any previous object. With `size`, a body of any other length fails
   * the put (nothing is stored), which catches truncated uploads.
   */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void>;

  /**
   * Streams the object, or the bytes [start, end) of it: `end` is exclusive and clamped to the size.
   * Throws `ObjectNotFoundError` when absent and `RangeError` when start > end or start > size.
   */
  get(key: string, range?: ByteRange): Promise<Readable>;

  /**
   * Copies the object to the local file `destPath` with `parallelism` ranged reads of `partBytes` each. The
   * file appears complete or not at all (written beside it, then renamed). `onChunk` sees every byte in
   * order, e.g. to hash while downloading.
   */
  download(key: string, destPath: string, options?: DownloadOptions): Promise<ObjectInfo>;

  /** Removes the object; absent is not an error. */
  delete(key: string): Promise<void>;

  /** Objects whose keys start with `prefix` (a plain string prefix, not only folders), sorted by key. */
  list(prefix: string): Promise<ObjectListing[]>;
}

export interface ObjectInfo {
  readonly size: number;
}

export interface ObjectListing extends ObjectInfo {
  readonly key: string;
  /** When the object was last written (a put that replaced it counts); blob garbage collection ages by it. */
  readonly lastModified: Date;
}

export interface PutOptions {
  /** Expected byte length; enables multipart planning on S3 and truncation checks everywhere. */
  readonly size?: number;
  readonly signal?: AbortSignal;
}

export interface ByteRange {
  /** Inclusive; default 0. */
  readonly start?: number;
  /** Exclusive; default the object's size. */
  readonly end?: number;
}

export interface DownloadOptions {
  /** Ranged reads in flight at once; default 8. */
  readonly parallelism?: number;
  /** Bytes per ranged read; default 8 MiB. */
  readonly partBytes?: number;
  readonly signal?: AbortSignal;
  /** Every chunk of the object, in order. */
  readonly onChunk?: (chunk: Buffer) => void;
  /** Bytes written so far and the total. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export class InvalidObjectKeyError extends Error {
  readonly code = 'invalid_object_key';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidObjectKeyError';
  }
}

/** The body's byte count differed from the `size` promised in `PutOptions`. */
export class ObjectSizeMismatchError extends Error {
  readonly code = 'object_size_mismatch';
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`object ${key}: expected ${expected} bytes, got ${actual}`);
    this.name = 'ObjectSizeMismatchError';
  }
}
