import type { BlobService } from '../api/blob-routes.js';
import { HttpError } from '../api/http-error.js';
import { BlobDigestMismatchError, BlobTooLargeError, getBlob, headBlob, putBlob } from '../storage/blob-store.js';
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
      // putBlob verifies while streaming: a mismatch, an oversize body or a dropped client rejects the
      // store's write, which then keeps nothing.
      try {
        await putBlob(store, digest, body, { maxBytes: options.maxBytes, onBytes: options.onBytes });
      } catch (error) {
        if (error instanceof BlobDigestMismatchError) {
          throw new HttpError(400, 'digest_mismatch', `uploaded bytes hash to ${error.actual}, not ${digest}`, 'digest');
        }
        if (error instanceof BlobTooLargeError) throw new HttpError(413, 'blob_too_large', error.message);
        throw error;
      }
    },
  };
}
