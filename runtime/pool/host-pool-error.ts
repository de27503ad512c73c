import { BlobDigestMismatchError, InvalidDigestError } from '../../platform/storage/blob-store.js';

export type HostPoolErrorCode =
  /** The object store could not be read (unreachable, missing blob, I/O error). */
  | 'store_unavailable'
  /** A blob's bytes did not match its digest, or the digest itself is malformed. */
  | 'digest_mismatch'
  /** The model alone is bigger than the whole host pool. */
  | 'too_large'
  /** Every caller gave up while the model was being fetched or waiting for room. */
  | 'cancelled';

export class HostPoolError extends Error {
  constructor(
    readonly code: HostPoolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HostPoolError';
  }

  /** Classifies a failed blob fetch: bad content is the artifact's fault, anything else the store's. */
  static fromFetch(artifactDigest: string, fileName: string, error: unknown): HostPoolError {
    const detail = error instanceof Error ? error.message : String(error);
    const badContent = error instanceof BlobDigestMismatchError || error instanceof InvalidDigestError;
    const code = badContent ? 'digest_mismatch' : 'store_unavailable';
    return new HostPoolError(code, `fetching ${fileName} of ${artifactDigest}: ${detail}`);
  }
}
