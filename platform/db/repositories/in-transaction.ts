import type { Transaction } from 'kysely';
import type { Db } from '../database.js';
import type { DatabaseSchema } from '../database-schema.js';

/** Runs `fn` in a transaction, or inside the caller's when `db` already is one (Kysely cannot nest them). */
export async function inTransaction<T>(db: Db, fn: (trx: Transaction<DatabaseSchema>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<DatabaseSchema>);
  return db.transaction().execute(fn);
}
