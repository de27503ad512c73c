import { BlobDigestMismatchError, InvalidDigestError } from '../../protocol/blob-source.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

export type HostPoolErrorCode =
  /** The object store could not be read (unreachable, missing blob, I/O error). */
  | 'store_unavailable'
  /** A stored blob's bytes do not hash to its digest: the store's copy is corrupt (re-upload repairs it). */
  | 'digest_mismatch'
  /** The artifact itself is malformed (a file name that is not a plain name, a malformed digest): no retry can help. */
  | 'bad_artifact'
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

  /** Classifies a failed blob fetch: corrupt stored bytes, a malformed artifact, or else the store's failure. */
  static fromFetch(weightsDigest: WeightsDigest, fileName: string, error: unknown): HostPoolError {
    if (error instanceof BlobDigestMismatchError) {
      return new HostPoolError(
        'digest_mismatch',
        `stored blob ${error.expected} (${fileName} of model ${weightsDigest}) is corrupt: its bytes hash to ${error.actual}; upload the file again (PUT /v1/blobs/${error.expected}) to repair it`,
      );
    }
    const detail = error instanceof Error ? error.message : String(error);
    const code = error instanceof InvalidDigestError ? 'bad_artifact' : 'store_unavailable';
    return new HostPoolError(code, `fetching ${fileName} of ${weightsDigest}: ${detail}`);
  }

  /** An artifact file name that could escape the model directory: refused before any fetch, never retried. */
  static unsafeFileName(weightsDigest: WeightsDigest, fileName: string): HostPoolError {
    return new HostPoolError(
      'bad_artifact',
      `model ${weightsDigest} lists the file name ${JSON.stringify(fileName)}, which is not a plain file name; nothing was fetched`,
    );
  }
}
