import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import type { DatabaseSchema } from './database-schema.js';
import { migrationProvider } from './migrations/migration-provider.js';
import { PGliteDialect } from './pglite-dialect.js';
import { acquireDirLock, dataDirLockPath, type DirLock } from '../../protocol/dir-lock.js';

export interface OpenDatabaseOptions {
  /** `postgres://...`: use PostgreSQL. Unset: PGlite. */
  readonly databaseUrl?: string;
  /**
   * PGlite keeps its files in `<dataDir>/pglite`, locked by `<dataDir>/tidepool.lock` for as long as it is
   * open: a second process (or a second open in this one) is refused with the holder's pid, because two
   * PGlite instances on one directory each see only their own writes and lose the other's. Unset (tests): an
   * in-memory PGlite that vanishes on close.
   */
  readonly dataDir?: string;
  /**
   * PostgreSQL only: a schema to create and put first on the search path, so parallel test runs sharing one
   * database never see each other's tables. Production leaves it unset (`public`).
   */
  readonly schema?: string;
  /** Connections in the pg pool; default 10. */
  readonly poolSize?: number;
}

const INT8_OID = 20;

/** Opens PGlite or PostgreSQL and brings the schema to the latest migration before returning. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const database = options.databaseUrl ? await openPostgres(options.databaseUrl, options) : await openPGlite(options.dataDir);
  try {
    await migrateToLatest(database.db);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** Applies every pending migration; throws the first failure with the migration's name. */
export async function migrateToLatest(db: Kysely<DatabaseSchema>): Promise<MigrationResultSet> {
  return checkMigration(await (await migrator(db)).migrateToLatest());
}

/** Undoes the most recent migration (operators and tests; the control plane only migrates up). */
export async function migrateDown(db: Kysely<DatabaseSchema>): Promise<MigrationResultSet> {
  return checkMigration(await (await migrator(db)).migrateDown());
}

async function migrator(db: Kysely<DatabaseSchema>): Promise<Migrator> {
  // Naming the schema matters: without it Kysely looks for its bookkeeping tables in every schema, and a
  // copy in another schema makes it skip creating its own. The Postgres adapter also takes an advisory
  // lock, so replicas starting together migrate one at a time.
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return new Migrator({
    db,
    provider: migrationProvider,
    migrationTableSchema: rows[0]?.schema ?? 'public',
    migrationTableName: 'tidepool_migration',
    migrationLockTableName: 'tidepool_migration_lock',
  });
}

function checkMigration(resultSet: MigrationResultSet): MigrationResultSet {
  if (resultSet.error) {
    const failed = resultSet.results?.find((result) => result.status === 'Error');
    const cause = resultSet.error instanceof Error ? resultSet.error.message : String(resultSet.error);
    throw new Error(`database migration ${failed?.migrationName ?? '(setup)'} failed: ${cause}`, { cause: resultSet.error });
  }
  return resultSet;
}

async function openPGlite(dataDir: string | undefined): Promise<Database> {
  let pglite: PGlite;
  let lock: DirLock | undefined;
  if (dataDir === undefined) {
    pglite = await PGlite.create({ parsers: { [INT8_OID]: parseInt8 } });
  } else {
    const directory = path.join(dataDir, 'pglite');
    await mkdir(directory, { recursive: true });
    lock = await lockDataDir(dataDir);
    try {
      pglite = await PGlite.create(directory, { parsers: { [INT8_OID]: parseInt8 } });
    } catch (error) {
      await lock.release();
      throw error;
    }
  }
  const db = new Kysely<DatabaseSchema>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    lock,
    close: once(async () => {
      await db.destroy();
      await pglite.close();
      await lock?.release();
    }),
  };
}

function lockDataDir(dataDir: string): Promise<DirLock> {
  const absolute = path.resolve(dataDir);
  return acquireDirLock(dataDirLockPath(absolute), {
    what: `the data directory ${absolute}`,
    // Two PGlite instances on one directory each see only their own writes, and one side's are lost.
    hint: 'stop that process, or set TIDEPOOL_DATA_DIR to another directory',
  });
}

async function openPostgres(databaseUrl: string, options: OpenDatabaseOptions): Promise<Database> {
  const types = {
    getTypeParser: ((oid: number, format?: string) =>
      oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
  const schema = options.schema;
  if (schema !== undefined) await createSchema(databaseUrl, schema);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    types,
    ...(schema !== undefined && { options: `-c search_path=${quoteIdentifier(schema)}` }),
  });
  // A client losing its server (failover, restart) must not crash the process. The pool's own listener
  // covers idle clients only; a checked-out client between queries (inside a transaction, or just before its
  // release) emits on itself. Either way the failed query rejects, and the pool drops the broken client on
  // release (it is no longer queryable).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw new Error(`cannot connect to DATABASE_URL: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { db, kind: 'postgres', close: once(() => db.destroy()) };
}

async function createSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
  } catch (error) {
    // Two openers racing can both pass the "if not exists" check; the loser's duplicate is harmless.
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw error;
  } finally {
    await client.end();
  }
}

function quoteIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid schema name "${name}": use lowercase letters, digits and _`);
  return `"${name}"`;
}

/** `int8` as a number when exact, else a bigint: counts and byte sizes stay plain numbers. */
function parseInt8(text: string): number | bigint {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
