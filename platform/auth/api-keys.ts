import { createHash, randomBytes } from 'node:crypto';
import { TidepoolError } from '../../protocol/errors.js';
import type { Db } from '../db/database.js';
import { createApiKey, findApiKeyByHash, listApiKeys, revokeApiKey, hasAnyApiKey, type ApiKeyRecord } from '../db/repositories/api-key-repository.js';
import { parseKeyLimits, type QuotaLimits } from '../quota/quota-limits.js';
import { controlCharProblem } from '../db/control-chars.js';

export type ApiKeyScope = 'admin' | 'invoke';

/** Who is calling: an admin may do everything; an invoke key calls functions, all or only `functions`. */
export interface Principal {
  /** The `api_keys` id; null for the bootstrap key (`TIDEPOOL_API_KEY`), the process key and open mode. */
  readonly keyId: string | null;
  readonly admin: boolean;
  /** Function names an invoke key may see and call; null for all. */
  readonly functions: readonly string[] | null;
  /** The key's rate and concurrency limits; null (bootstrap key, process key, open mode) is unlimited. */
  readonly limits: QuotaLimits | null;
}

export const OPEN_PRINCIPAL: Principal = Object.freeze({ keyId: null, admin: true, functions: null, limits: null });

export type Authentication = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: 'unknown' | 'revoked' };

export interface NewKey {
  readonly name: string;
  readonly scope: ApiKeyScope;
  readonly functions?: readonly string[] | null;
  /** `rpm`, `tpm`, `concurrency` as sent (validated here: positive integers, or null/absent for unlimited). */
  readonly limits?: Readonly<Record<string, unknown>>;
}

export interface ApiKeyService {
  /** Checks a bearer token: the bootstrap key, the process key, or a stored (hashed) key. */
  authenticate(token: string): Promise<Authentication>;
  /** True while no key was ever created and no bootstrap key is set: the API runs open (loopback only). */
  isOpen(): Promise<boolean>;
  /** True when some key can authenticate: the bootstrap key or an unrevoked stored key. */
  hasUsableKey(): Promise<boolean>;
  /** Stores the hash; the returned `key` is shown once and never again. */
  create(key: NewKey): Promise<{ readonly record: ApiKeyRecord; readonly key: string }>;
  list(): Promise<ApiKeyRecord[]>;
  revoke(id: string): Promise<boolean>;
  /**
   * A random admin key that lives only in this process's memory, for the process's own calls to its API
   * (`tidepool up` deploying the examples); never stored, never printed.
   */
  readonly processKey: string;
}

export interface ApiKeyServiceOptions {
  readonly db: Db;
  /** `TIDEPOOL_API_KEY`: accepted as an admin key; setting it closes open mode. */
  readonly bootstrapKey?: string;
  /**
   * How long a stored key's lookup (and the "no keys yet" answer) is cached. A revoke in this process takes
   * effect at once; other control-plane replicas see it within this time. Default 5000.
   */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

const MAX_CACHED = 10_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** sha256 hex of the whole token: keys are 256-bit random, so a fast unsalted hash is enough. */
export function hashApiKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `tp_` and 32 random bytes, base64url. */
export function generateApiKey(): string {
  return `tp_${randomBytes(32).toString('base64url')}`;
}

export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { db } = options;
  const ttl = options.cacheTtlMs ?? 5000;
  const now = options.now ?? Date.now;
  const bootstrapHash = options.bootstrapKey ? hashApiKey(options.bootstrapKey) : undefined;
  const processKey = generateApiKey();
  const processHash = hashApiKey(processKey);
  const cache = new Map<string, { readonly at: number; readonly record: ApiKeyRecord | null }>();
  // Keys are revoked, never deleted: once one exists the API stays closed, so `true` is cached for good.
  let anyKeys: { at: number; value: boolean } | undefined;

  async function lookup(hash: string): Promise<ApiKeyRecord | null> {
    const hit = cache.get(hash);
    if (hit && now() - hit.at < ttl) return hit.record;
    const record = await findApiKeyByHash(db, hash);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(hash, { at: now(), record });
    return record;
  }

  return {
    processKey,
    async authenticate(token) {
      const hash = hashApiKey(token);
      if (hash === processHash || hash === bootstrapHash) return { ok: true, principal: OPEN_PRINCIPAL };
      const record = await lookup(hash);
      if (!record) return { ok: false, reason: 'unknown' };
      if (record.revokedAt) return { ok: false, reason: 'revoked' };
      const admin = record.scopes.includes('admin');
      return { ok: true, principal: { keyId: record.id, admin, functions: admin ? null : record.functions, limits: record.limits } };
    },
    async isOpen() {
      if (bootstrapHash) return false;
      if (anyKeys && (anyKeys.value || now() - anyKeys.at < ttl)) return !anyKeys.value;
      try {
        anyKeys = { at: now(), value: await hasAnyApiKey(db) };
      } catch (error) {
        // Database restarting: the last answer stands (keys are never deleted, so "open" can only have been
        // true a moment ago); with no answer yet there is nothing to go on.
        if (!anyKeys) throw error;
      }
      return !anyKeys.value;
    },
    async hasUsableKey() {
      return bootstrapHash !== undefined || (await listApiKeys(db, { activeOnly: true })).length > 0;
    },
    async create(key) {
      if (!NAME_PATTERN.test(key.name)) {
        throw new TidepoolError('invalid_parameter', 'name: must be 1-63 of A-Z, a-z, 0-9, ., _, - starting with a letter or digit', { param: 'name' });
      }
      if (key.scope !== 'admin' && key.scope !== 'invoke') throw new TidepoolError('invalid_parameter', 'scope: must be admin or invoke', { param: 'scope' });
      const functions = key.functions ?? null;
      if (functions !== null) {
        if (key.scope === 'admin')
          throw new TidepoolError('invalid_parameter', 'functions: only invoke keys can be restricted to functions', { param: 'functions' });
        if (
          !Array.isArray(functions) ||
          functions.length === 0 ||
          !functions.every((f) => typeof f === 'string' && f.length > 0 && controlCharProblem(f) === undefined)
        ) {
          throw new TidepoolError('invalid_parameter', 'functions: must be a non-empty array of function names (no control characters)', {
            param: 'functions',
          });
        }
      }
      const limits = parseKeyLimits(key.limits ?? {});
      const secret = generateApiKey();
      const record = await createApiKey(db, {
        name: key.name,
        keyHash: hashApiKey(secret),
        scopes: [key.scope],
        functions: functions ? [...new Set(functions)] : null,
        limits,
      });
      anyKeys = { at: now(), value: true };
      return { record, key: secret };
    },
    list: () => listApiKeys(db),
    async revoke(id) {
      const revoked = await revokeApiKey(db, id);
      cache.clear();
      return revoked;
    },
  };
}

/** Whether `principal` may see and call function `name`. */
export function mayUseFunction(principal: Principal, name: string): boolean {
  return principal.admin || principal.functions === null || principal.functions.includes(name);
}

/**
 * The 404 a key gets for a function it was not granted: the same answer as for a function that does not
 * exist, so a restricted key learns nothing about other functions.
 */
export function functionNotFound(name: string): TidepoolError {
  return new TidepoolError('function_not_found', `function ${name} does not exist`, { param: 'model' });
}
