/**
 * The one thing a node needs of the object store: the bytes of one blob, named by its digest, written to
 * `path` and verified, or a rejection. The control plane's storage implements it; the node never sees a
 * store. Rejections with the errors below are final (trying again cannot change them); any other rejection
 * is the store's own failure (unreachable, 5xx, reset) and worth a retry.
 */
export type BlobSource = (digest: string, path: string) => Promise<void>;

/** The bytes under a digest hash to something else: the stored copy is corrupt. */
export class BlobDigestMismatchError extends Error {
  readonly code = 'blob_digest_mismatch';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
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

/** The store answered that nothing is stored under the key. */
export class ObjectNotFoundError extends Error {
  readonly code = 'object_not_found';
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}
