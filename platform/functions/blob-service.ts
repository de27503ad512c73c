import type { StoredBlob } from '../storage/blob-store.js';
import type { BlobReader } from './model-check.js';

/**
 * The object store as blob routes need it. `put` stores `body` under `digest` only when the bytes hash to it
 * (`digest_mismatch` otherwise) and fails with 413 past `maxBytes`; on failure the store keeps
 * what it had, and on success the verified bytes replace any stored copy atomically.
 */
export interface BlobService extends BlobReader {
  put(digest: string, body: AsyncIterable<Buffer>, options?: BlobPutOptions): Promise<void>;
  /** Every stored blob with its size and last write, for garbage collection. */
  list(): Promise<readonly StoredBlob[]>;
  /** Removes the blob; absent is not an error. */
  delete(digest: string): Promise<void>;
}

export interface BlobPutOptions {
  readonly maxBytes?: number;
  readonly onBytes?: (n: number) => void;
}
