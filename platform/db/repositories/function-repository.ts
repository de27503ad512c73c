import { sql } from 'kysely';
import type { Db } from '../database.js';
import { toJson } from '../database-schema.js';
import { inTransaction } from './in-transaction.js';
import { type WeightsDigest, parseWeightsDigest } from '../../../protocol/weights-digest.js';

export interface ArtifactFileRecord {
  readonly name: string;
  readonly digest: string;
  readonly size: number;
}

export interface NewFunctionVersion {
  readonly name: string;
  readonly description: string;
  /** The validated manifest as JSON-compatible data. */
  readonly manifest: unknown;
  readonly weightsDigest: WeightsDigest;
  readonly files: readonly ArtifactFileRecord[];
  readonly sizeBytes: number;
}

export interface FunctionRecord {
  readonly name: string;
  readonly description: string;
  readonly activeVersion: number | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface FunctionVersionRecord {
  readonly functionName: string;
  readonly version: number;
  readonly manifest: unknown;
  readonly weightsDigest: WeightsDigest;
  readonly files: readonly ArtifactFileRecord[];
  readonly sizeBytes: number;
  readonly createdAt: Date;
}

/** A function with its active version's row (null if it somehow has none). */
export interface FunctionSummary extends FunctionRecord {
  readonly active: FunctionVersionRecord | null;
}

/**
 * Registers the next version of `name` and makes it active, in one transaction: upsert the function row, lock
 * it, take max(version)+1, insert, point `active_version` at it. Concurrent deploys of one name serialize on
 * the row lock, so they get consecutive versions and exactly one ends up active (the later commit).
 * `beforeCommit` runs after the insert and before the commit; throwing from it registers nothing. Blob
 * garbage collection cannot run between the two (see `withBlobReferencesLocked`), so a check of the blobs
 * there holds at commit.
 */
export async function createFunctionVersion(db: Db, input: NewFunctionVersion, beforeCommit?: () => Promise<void>): Promise<{ name: string; version: number }> {
  return inTransaction(db, async (trx) => {
    await trx
      .insertInto('functions')
      .values({ name: input.name, description: input.description, active_version: null })
      .onConflict((conflict) => conflict.column('name').doUpdateSet({ description: input.description, updated_at: sql`now()` }))
      .execute();
    await trx.selectFrom('functions').select('name').where('name', '=', input.name).forUpdate().executeTakeFirstOrThrow();
    const { latest } = await trx
      .selectFrom('function_versions')
      .select((eb) => eb.fn.max<number | null>('version').as('latest'))
      .where('function_name', '=', input.name)
      .executeTakeFirstOrThrow();
    const version = (latest ?? 0) + 1;
    await trx
      .insertInto('function_versions')
      .values({
        function_name: input.name,
        version,
        manifest: toJson(input.manifest),
        artifact_digest: input.weightsDigest,
        files: toJson(input.files),
        size_bytes: input.sizeBytes,
      })
      .execute();
    await trx.updateTable('functions').set({ active_version: version, updated_at: sql`now()` }).where('name', '=', input.name).execute();
    await beforeCommit?.();
    return { name: input.name, version };
  });
}

/** Points `name` at an existing version (rollback or roll forward). False when either does not exist. */
export async function setActiveVersion(db: Db, name: string, version: number): Promise<boolean> {
  const result = await db
    .updateTable('functions')
    .set({ active_version: version, updated_at: sql`now()` })
    .where('name', '=', name)
    .where((eb) => eb.exists(eb.selectFrom('function_versions').select('version').where('function_name', '=', name).where('version', '=', version)))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function getFunction(db: Db, name: string): Promise<FunctionRecord | null> {
  const row = await db.selectFrom('functions').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toFunctionRecord(row) : null;
}

/** Every function, by name, each with its active version. */
export async function listFunctions(db: Db): Promise<FunctionSummary[]> {
  const rows = await db
    .selectFrom('functions as f')
    .leftJoin('function_versions as v', (join) => join.onRef('v.function_name', '=', 'f.name').onRef('v.version', '=', 'f.active_version'))
    .selectAll('f')
    .select(['v.manifest', 'v.artifact_digest', 'v.files', 'v.size_bytes', 'v.created_at as version_created_at'])
    .orderBy('f.name')
    .execute();
  return rows.map((row) => ({
    ...toFunctionRecord(row),
    active:
      row.active_version === null || row.artifact_digest === null
        ? null
        : toVersionRecord({
            function_name: row.name,
            version: row.active_version,
            manifest: row.manifest,
            artifact_digest: row.artifact_digest,
            files: row.files ?? [],
            size_bytes: row.size_bytes ?? 0,
            created_at: row.version_created_at ?? row.created_at,
          }),
  }));
}

/** Versions of `name`, newest first. */
export async function listVersions(db: Db, name: string): Promise<FunctionVersionRecord[]> {
  const rows = await db.selectFrom('function_versions').selectAll().where('function_name', '=', name).orderBy('version', 'desc').execute();
  return rows.map(toVersionRecord);
}

export async function getVersion(db: Db, name: string, version: number): Promise<FunctionVersionRecord | null> {
  const row = await db.selectFrom('function_versions').selectAll().where('function_name', '=', name).where('version', '=', version).executeTakeFirst();
  return row ? toVersionRecord(row) : null;
}

/** The version invocations of `name` run; null when the function does not exist. */
export async function getActiveVersion(db: Db, name: string): Promise<FunctionVersionRecord | null> {
  const row = await db
    .selectFrom('functions as f')
    .innerJoin('function_versions as v', (join) => join.onRef('v.function_name', '=', 'f.name').onRef('v.version', '=', 'f.active_version'))
    .selectAll('v')
    .where('f.name', '=', name)
    .executeTakeFirst();
  return row ? toVersionRecord(row) : null;
}

/**
 * Active versions whose manifest sets `min_warm` above 0, by function name: the warm holds every node should
 * have. A manifest without a numeric `min_warm` (stored before the field existed) asks for none.
 */
export async function listWarmHeldVersions(db: Db): Promise<FunctionVersionRecord[]> {
  const rows = await db
    .selectFrom('functions as f')
    .innerJoin('function_versions as v', (join) => join.onRef('v.function_name', '=', 'f.name').onRef('v.version', '=', 'f.active_version'))
    .selectAll('v')
    // CASE, so the cast only ever sees numbers.
    .where((eb) =>
      eb(sql<boolean>`case when jsonb_typeof(v.manifest->'min_warm') = 'number' then (v.manifest->>'min_warm')::numeric > 0 else false end`, '=', true),
    )
    .orderBy('v.function_name')
    .execute();
  return rows.map(toVersionRecord);
}

/** Deletes the function and all its versions (blobs stay in the store). False when it did not exist. */
export async function deleteFunction(db: Db, name: string): Promise<boolean> {
  const result = await db.deleteFrom('functions').where('name', '=', name).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** True when any version of any function uses this digest as its artifact or as one of its files (blob GC). */
export async function isDigestReferenced(db: Db, digest: string): Promise<boolean> {
  const row = await db
    .selectFrom('function_versions')
    .select('version')
    .where((eb) => eb.or([eb('artifact_digest', '=', digest), eb(sql<boolean>`files @> cast(${toJson([{ digest }])} as jsonb)`, '=', true)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Every blob digest that some version of some function lists among its files. */
export async function listReferencedBlobDigests(db: Db): Promise<Set<string>> {
  const { rows } = await sql<{ digest: string }>`select distinct f->>'digest' as digest from function_versions, jsonb_array_elements(files) as f`.execute(db);
  return new Set(rows.map((r) => r.digest));
}

/**
 * Runs `fn` with the referenced blob digests while no function version can be inserted: `function_versions` is
 * locked in SHARE mode, which waits for deploys whose insert is under way and holds new inserts until `fn`
 * returns. Garbage collection deletes inside `fn`, so a deploy either committed first (its blobs are in the
 * set and kept) or checks its blobs after the deletions (and is refused, with nothing registered).
 */
export async function withBlobReferencesLocked<T>(db: Db, fn: (referenced: ReadonlySet<string>) => Promise<T>): Promise<T> {
  return inTransaction(db, async (trx) => {
    await sql`lock table function_versions in share mode`.execute(trx);
    return fn(await listReferencedBlobDigests(trx));
  });
}

interface FunctionRow {
  name: string;
  description: string;
  active_version: number | null;
  created_at: Date;
  updated_at: Date;
}

interface VersionRow {
  function_name: string;
  version: number;
  manifest: unknown;
  artifact_digest: string;
  files: readonly ArtifactFileRecord[];
  size_bytes: number;
  created_at: Date;
}

function toFunctionRecord(row: FunctionRow): FunctionRecord {
  return { name: row.name, description: row.description, activeVersion: row.active_version, createdAt: row.created_at, updatedAt: row.updated_at };
}

function toVersionRecord(row: VersionRow): FunctionVersionRecord {
  return {
    functionName: row.function_name,
    version: row.version,
    manifest: row.manifest,
    weightsDigest: parseWeightsDigest(row.artifact_digest, 'artifact_digest'),
    files: row.files,
    sizeBytes: Number(row.size_bytes),
    createdAt: row.created_at,
  };
}
