import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobPutOptions, BlobService } from '../api/blob-routes.js';
import { HttpError } from '../api/http-error.js';
import { blobKey, getBlob, headBlob } from '../storage/blob-store.js';
import type { ObjectStore } from '../storage/object-store.js';

/** Blob routes and deploy checks over the object store (filesystem in local mode, S3 in cluster mode). */
export function storeBlobs(store: ObjectStore): BlobService {
  return {
    async size(digest) {
      return (await headBlob(store, digest))?.size;
    },
    async read(digest, range) {
      const chunks: Buffer[] = [];
      for await (const chunk of await getBlob(store, digest, range)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    async put(digest, body, options = {}) {
      // One generator-backed stream (no .pipe chain): a mismatch, an oversize body or a dropped client
      // rejects the store's write, which then keeps nothing, and no stray 'error' event escapes.
      await store.put(blobKey(digest), Readable.from(verified(digest, body, options)));
    },
  };
}

async function* verified(digest: string, body: AsyncIterable<Buffer>, options: BlobPutOptions): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (options.maxBytes !== undefined && bytes > options.maxBytes) {
      throw new HttpError(413, 'blob_too_large', `blob exceeds the ${options.maxBytes}-byte upload limit`);
    }
    hash.update(chunk);
    options.onBytes?.(chunk.length);
    yield chunk;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw new HttpError(400, 'digest_mismatch', `uploaded bytes hash to ${actual}, not ${digest}`, 'digest');
}
