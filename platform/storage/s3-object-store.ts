import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { assertValidKey, assertValidPrefix, sizeCheck } from './object-key.js';
import {
  ObjectNotFoundError,
  ObjectSizeMismatchError,
  type ByteRange,
  type DownloadOptions,
  type ObjectInfo,
  type ObjectListing,
  type ObjectStore,
  type PutOptions,
} from './object-store.js';
import { downloadObject } from './parallel-download.js';

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  /** Prepended to every key; empty or ending in `/`. */
  readonly prefix?: string;
  /** A ready client (tests, custom middleware); the connection options below are then ignored. */
  readonly client?: S3Client;
  /** An S3-compatible endpoint (MinIO, R2, Ceph, s3rver); unset for AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Unset: the AWS SDK's default provider chain (env, profile, web identity, instance role). */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Multipart part size for uploads; S3's minimum is 5 MiB. Default 16 MiB. */
  readonly uploadPartBytes?: number;
  /** Parts uploaded at once per object; default 4. */
  readonly uploadConcurrency?: number;
}

const MIN_PART_BYTES = 5 * 2 ** 20;

/**
 * Objects in an S3 bucket under an optional prefix. Uploads go through lib-storage's `Upload`: one PUT for
 * small bodies, multipart beyond `uploadPartBytes`. Either way S3 only makes the object visible when the
 * whole body arrived, and a failed multipart upload is aborted, so `put` is atomic as the interface demands.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly partBytes: number;
  private readonly uploadConcurrency: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) throw new Error(`S3 prefix must end with "/", got "${this.prefix}"`);
    this.client = options.client ?? createS3Client(options);
    this.partBytes = Math.max(MIN_PART_BYTES, options.uploadPartBytes ?? 16 * 2 ** 20);
    this.uploadConcurrency = options.uploadConcurrency ?? 4;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return { size: result.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<void> {
    const objectKey = this.keyOf(key);
    if (Buffer.isBuffer(body) && options.size !== undefined && body.length !== options.size) {
      throw new ObjectSizeMismatchError(key, options.size, body.length);
    }
    let payload: Readable | Buffer = body;
    // The body's own failure is the cause worth reporting: when it fails mid-multipart, the abort that
    // follows can fail too (some S3-compatible servers lack AbortMultipartUpload) and would mask it.
    let bodyError: unknown;
    if (!Buffer.isBuffer(body)) {
      const checked = sizeCheck(key, options.size);
      body.on('error', (error) => checked.destroy(error));
      checked.on('error', (error) => (bodyError ??= error));
      payload = body.pipe(checked);
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: payload },
      partSize: this.partBytes,
      queueSize: this.uploadConcurrency,
      leavePartsOnError: false,
    });
    const abort = (): void => void upload.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      throw bodyError ?? error;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const objectKey = this.keyOf(key);
    const start = range?.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`range start must be a non-negative integer, got ${start}`);
    if (range?.end !== undefined && range.end < start) throw new RangeError(`range start ${start} is after its end ${range.end}`);
    if (range?.end === start) return this.emptyIfExists(key);
    const header = start === 0 && range?.end === undefined ? undefined : `bytes=${start}-${range?.end === undefined ? '' : range.end - 1}`;
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, Range: header }));
      return result.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      if (statusOf(error) === 416) return this.emptyAtEnd(key, start);
      throw error;
    }
  }

  download(key: string, destPath: string, options?: DownloadOptions): Promise<ObjectInfo> {
    return downloadObject(this, key, destPath, options);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  async list(prefix: string): Promise<ObjectListing[]> {
    assertValidPrefix(prefix);
    const listings: ObjectListing[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        // A listing without a date (a nonconforming server) reads as new, so garbage collection keeps it.
        listings.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0, lastModified: object.LastModified ?? new Date() });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return listings.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private keyOf(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private async emptyIfExists(key: string): Promise<Readable> {
    if ((await this.head(key)) === null) throw new ObjectNotFoundError(key);
    return Readable.from([]);
  }

  /** S3 answers 416 for a range starting at the very end; the filesystem store gives an empty read there. */
  private async emptyAtEnd(key: string, start: number): Promise<Readable> {
    const info = await this.head(key);
    if (info === null) throw new ObjectNotFoundError(key);
    if (start === info.size) return Readable.from([]);
    throw new RangeError(`range start ${start} is past the end of a ${info.size}-byte object`);
  }
}

/** A client for the options; S3-compatible endpoints get checksums only where S3 requires them. */
export function createS3Client(options: Pick<S3ObjectStoreOptions, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials'>): S3Client {
  return new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint !== undefined && {
      endpoint: options.endpoint,
      // Many S3-compatible servers reject the SDK's default trailing checksums on streamed uploads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
  });
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(error) === 404;
}
