import { randomUUID } from 'node:crypto';
import type { Db } from '../database.js';
import { toJson } from '../database-schema.js';
import { UNLIMITED, type QuotaLimits } from '../../quota/quota-limits.js';

export interface NewApiKey {
  /** Default: a random UUID. */
  readonly id?: string;
  readonly name: string;
  /** The hash of the secret (hashing is auth's job); the secret itself is never stored. */
  readonly keyHash: string;
  readonly scopes: readonly string[];
  /** Function names the key may invoke; null for all. */
  readonly functions: readonly string[] | null;
  /** Per-key rate and concurrency limits; absent or null fields are unlimited. */
  readonly limits?: QuotaLimits;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly keyHash: string;
  readonly scopes: readonly string[];
  readonly functions: readonly string[] | null;
  readonly limits: QuotaLimits;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** Inserts a key; a duplicate id or hash throws (the unique constraint decides). */
export async function createApiKey(db: Db, key: NewApiKey): Promise<ApiKeyRecord> {
  const row = await db
    .insertInto('api_keys')
    .values({
      id: key.id ?? randomUUID(),
      name: key.name,
      key_hash: key.keyHash,
      scopes: toJson(key.scopes),
      functions: toJson(key.functions),
      rpm_limit: key.limits?.rpm ?? null,
      tpm_limit: key.limits?.tpm ?? null,
      concurrency_limit: key.limits?.concurrency ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApiKeyRecord(row);
}

/** The key with this hash, revoked or not: the caller decides what a revoked key gets. */
export async function findApiKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRecord | null> {
  const row = await db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  return row ? toApiKeyRecord(row) : null;
}

export async function getApiKey(db: Db, id: string): Promise<ApiKeyRecord | null> {
  const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toApiKeyRecord(row) : null;
}

/** Oldest first; revoked keys are included unless `activeOnly`. */
export async function listApiKeys(db: Db, options: { readonly activeOnly?: boolean } = {}): Promise<ApiKeyRecord[]> {
  let query = db.selectFrom('api_keys').selectAll();
  if (options.activeOnly) query = query.where('revoked_at', 'is', null);
  return (await query.orderBy('created_at').orderBy('id').execute()).map(toApiKeyRecord);
}

/** Revokes once; false when the key is unknown or already revoked. */
export async function revokeApiKey(db: Db, id: string, now: Date = new Date()): Promise<boolean> {
  const result = await db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** True when no key exists yet: local mode bootstraps its first key then. */
export async function hasAnyApiKey(db: Db): Promise<boolean> {
  return (await db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst()) !== undefined;
}

function toApiKeyRecord(row: {
  id: string;
  name: string;
  key_hash: string;
  scopes: readonly string[];
  functions: readonly string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  concurrency_limit: number | null;
  created_at: Date;
  revoked_at: Date | null;
}): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    keyHash: row.key_hash,
    scopes: row.scopes,
    functions: row.functions,
    limits:
      row.rpm_limit === null && row.tpm_limit === null && row.concurrency_limit === null
        ? UNLIMITED
        : { rpm: row.rpm_limit, tpm: row.tpm_limit, concurrency: row.concurrency_limit },
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}
