export type HostPoolErrorCode =
  /** The object store could not be read (unreachable, missing blob, I/O error). */
  | 'store_unavailable'
  /** A blob's bytes did not match its digest. */
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

  /** Classifies a failed blob fetch; digest problems are told apart by their message. */
  static fromFetch(artifactDigest: string, fileName: string, error: unknown): HostPoolError {
    const detail = error instanceof Error ? error.message : String(error);
    const code = /digest|mismatch|checksum/i.test(detail) ? 'digest_mismatch' : 'store_unavailable';
    return new HostPoolError(code, `fetching ${fileName} of ${artifactDigest}: ${detail}`);
  }
}
