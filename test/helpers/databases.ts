import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe } from 'vitest';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';

export interface DatabaseContext {
  readonly kind: 'pglite' | 'postgres';
  /** The open, migrated database of the current block; valid inside tests and hooks. */
  database(): Database;
}

let skipReasonPrinted = false;

/**
 * Declares the tests in `body` once per database: always on an in-memory PGlite, and on PostgreSQL when
 * `DATABASE_URL` is set (each block in its own throwaway schema, dropped afterwards). Without `DATABASE_URL`
 * the PostgreSQL block is skipped with a printed reason, never silently passed.
 * One database per block, opened in `beforeAll`: tests should use unique names rather than assume empty tables.
 */
export function withDatabases(body: (context: DatabaseContext) => void): void {
  describe('on pglite', () => declareBlock('pglite', undefined, body));
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    describe('on postgres', () => declareBlock('postgres', databaseUrl, body));
  } else {
    if (!skipReasonPrinted) {
      console.warn('[skip] PostgreSQL tests: DATABASE_URL is not set (run `eval "export $(scripts/postgres.sh)"` to enable)');
      skipReasonPrinted = true;
    }
    describe.skip('on postgres (skipped: DATABASE_URL is not set)', () => body({ kind: 'postgres', database: unavailable }));
  }
}

/** Opens one fresh database outside `withDatabases`, e.g. for a single migration test. */
export async function openTestDatabase(kind: 'pglite' | 'postgres'): Promise<Database> {
  if (kind === 'pglite') return openDatabase({});
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set');
  const schema = `test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl, schema, poolSize: 4 });
  return {
    db: database.db,
    kind: database.kind,
    close: async () => {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db);
      await database.close();
    },
  };
}

function declareBlock(kind: 'pglite' | 'postgres', databaseUrl: string | undefined, body: (context: DatabaseContext) => void): void {
  let database: Database | undefined;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });
  body({
    kind,
    database: () => {
      if (!database) throw new Error(`${kind} database is not open (${databaseUrl ? 'open failed' : 'beforeAll has not run'})`);
      return database;
    },
  });
}

function unavailable(): never {
  throw new Error('DATABASE_URL is not set');
}
