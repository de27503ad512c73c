import type { BlobService } from './blob-service.js';
import { TidepoolError } from '../../protocol/errors.js';
import { BlobDigestMismatchError, BlobTooLargeError, deleteBlob, digestOf, getBlob, headBlob, listBlobs, putBlob } from '../storage/blob-store.js';
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
      const bytes = Buffer.concat(chunks);
      // A whole blob (config.json, tokenizer.json) is hashed before use: a corrupt stored copy is reported,
      // never parsed. Ranged reads (safetensors headers at deploy) cannot be checked against the digest.
      if (range === undefined) {
        const actual = digestOf(bytes);
        if (actual !== digest) throw blobCorrupt(digest, actual);
      }
      return bytes;
    },
    list: () => listBlobs(store),
    delete: (digest) => deleteBlob(store, digest),
    async put(digest, body, options = {}) {
      // putBlob verifies while streaming: a mismatch, an oversize body or a dropped client rejects the
      // store's write, which then keeps nothing.
      try {
        await putBlob(store, digest, body, { maxBytes: options.maxBytes, onBytes: options.onBytes });
      } catch (error) {
        if (error instanceof BlobDigestMismatchError) {
          throw new TidepoolError('digest_mismatch', `uploaded bytes hash to ${error.actual}, not ${digest}`, { param: 'digest' });
        }
        if (error instanceof BlobTooLargeError) throw new TidepoolError('blob_too_large', error.message);
        throw error;
      }
    },
  };
}

/** 502: the object store returned bytes that fail their digest; the same wording as the host pool's report. */
function blobCorrupt(digest: string, actual: string): TidepoolError {
  return new TidepoolError(
    'blob_corrupt',
    `stored blob ${digest} is corrupt: its bytes hash to ${actual}; upload the file again (PUT /v1/blobs/${digest}) to repair it`,
  );
}
