import type { BlobService } from './blob-service.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { Db } from '../db/database.js';
import { listReferencedBlobDigests, withBlobReferencesLocked } from '../db/repositories/function-repository.js';
import type { StoredBlob } from '../storage/blob-store.js';
import { removeLeftovers, type Leftover, type LeftoverFinder } from '../../protocol/leftovers.js';

export interface BlobGcOptions {
  /** Report what would be deleted, delete nothing. */
  readonly dryRun: boolean;
  /** Blobs written more recently than this are kept, referenced or not: their deploy may still be uploading. */
  readonly minAgeMs: number;
}

export interface BlobGcReport extends BlobGcOptions {
  /** Files crashed processes left (partial uploads, engine sockets, idle host pool directories); deleted unless `dryRun`. */
  readonly leftovers: readonly Leftover[];
  /** Blobs in the store. */
  readonly scanned: number;
  /** Kept: some version of some function lists them. */
  readonly referenced: number;
  /** Kept: referenced by nothing, but younger than `minAgeMs`. */
  readonly young: number;
  /** Old and referenced by nothing: deleted, or with `dryRun` the ones that would be. */
  readonly unreferenced: readonly StoredBlob[];
  /** How many were deleted; 0 with `dryRun`. */
  readonly deleted: number;
}

/** One collection pass; see `createBlobCollector`. */
export type BlobCollector = (options: BlobGcOptions) => Promise<BlobGcReport>;

/** Deletions per database lock: deploys wait while one batch is deleted, never for the whole pass. */
const BATCH = 100;
/** Deletions in flight at once within a batch. */
const PARALLEL = 8;

/**
 * Garbage collection of the content-addressed store: deletes the blobs that no function version references
 * (left by a deploy refused after its upload, or by a removed function) once they are older than `minAgeMs`.
 * Every version counts as a reference, not only active ones, so a rollback target keeps its weights. Each batch is deleted while new versions are locked out, and a deploy
 * re-checks its blobs inside its own transaction, so a deploy that reuses an old unreferenced blob either
 * keeps it or is refused with `missing_blobs` (upload it again); it never registers a version whose blobs
 * are gone. Works on any `ObjectStore` (filesystem or S3) through the blob service.
 */
export function createBlobCollector(options: {
  readonly db: Db;
  readonly blobs: Pick<BlobService, 'list' | 'delete'>;
  readonly now?: () => number;
  /** Where this process can see leftovers of crashed ones (local mode); none by default. */
  readonly leftovers?: LeftoverFinder;
}): BlobCollector {
  const now = options.now ?? Date.now;
  return async ({ dryRun, minAgeMs }) => {
    const [stored, referenced, leftovers] = await Promise.all([options.blobs.list(), listReferencedBlobDigests(options.db), options.leftovers?.() ?? []]);
    const cutoff = now() - minAgeMs;
    const unreferenced = stored.filter((b) => !referenced.has(b.digest));
    const old = unreferenced.filter((b) => b.lastModified.getTime() <= cutoff);
    const counts = {
      dryRun,
      minAgeMs,
      scanned: stored.length,
      referenced: stored.length - unreferenced.length,
      young: unreferenced.length - old.length,
      leftovers,
    };
    if (dryRun) return { ...counts, unreferenced: old, deleted: 0 };
    await removeLeftovers(leftovers);
    const deleted: StoredBlob[] = [];
    for (let start = 0; start < old.length; start += BATCH) {
      await withBlobReferencesLocked(options.db, async (current) => {
        // A deploy may have committed a reference since the first read: those blobs stay.
        const batch = old.slice(start, start + BATCH).filter((b) => !current.has(b.digest));
        for (let i = 0; i < batch.length; i += PARALLEL) {
          const group = batch.slice(i, i + PARALLEL);
          await Promise.all(group.map((b) => options.blobs.delete(b.digest))).catch((error: Error) => {
            throw new TidepoolError(
              'store_unavailable',
              `the object store failed a deletion (${error.message}) after ${deleted.length} blob(s) were deleted; run gc again`,
            );
          });
          deleted.push(...group);
        }
      });
    }
    const kept = old.length - deleted.length;
    return { ...counts, referenced: counts.referenced + kept, unreferenced: deleted, deleted: deleted.length };
  };
}
