import type { Kysely } from 'kysely';
import type { DirLock } from '../../protocol/dir-lock.js';
import type { DatabaseSchema } from './database-schema.js';

/** A Kysely handle or a transaction on it; repositories take either as their first argument. */
export type Db = Kysely<DatabaseSchema>;

/**
 * An open, migrated database. `kind` says which engine backs it: `pglite` runs in-process (local mode),
 * `postgres` is a pooled connection to `DATABASE_URL` (cluster mode). The SQL is the same for both.
 */
export interface Database {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  /** PGlite on disk: the data directory's lock, held until `close` (a server adds its URL to it). */
  readonly lock?: DirLock;
  /** Ends the pool or closes PGlite; in-flight queries finish first. Idempotent. */
  close(): Promise<void>;
}
