import { expect, it } from 'vitest';
import { createApiKey, findApiKeyByHash, getApiKey, hasAnyApiKey, listApiKeys, revokeApiKey } from '../../../platform/db/repositories/api-key-repository.js';
import { withDatabases } from '../../helpers/databases.js';

withDatabases(({ database }) => {
  it('stores a key by hash with scopes and an optional function list', async () => {
    const { db } = database();
    const created = await createApiKey(db, { name: 'ci', keyHash: 'hash-ci', scopes: ['invoke', 'deploy'], functions: ['chat', 'summarize'] });
    expect(created.id).toMatch(/[0-9a-f-]{36}/);
    expect(await hasAnyApiKey(db)).toBe(true);
    expect(await findApiKeyByHash(db, 'hash-ci')).toEqual(created);
    expect(created).toMatchObject({ scopes: ['invoke', 'deploy'], functions: ['chat', 'summarize'], revokedAt: null });
    const all = await createApiKey(db, { id: 'key-all', name: 'admin', keyHash: 'hash-admin', scopes: ['admin'], functions: null });
    expect((await getApiKey(db, 'key-all'))?.functions).toBeNull();
    expect(all.functions).toBeNull();
    await expect(createApiKey(db, { name: 'dup', keyHash: 'hash-ci', scopes: [], functions: null })).rejects.toThrow();
  });

  it('revokes a key once and hides it from the active list', async () => {
    const { db } = database();
    await createApiKey(db, { id: 'key-revoke', name: 'old', keyHash: 'hash-revoke', scopes: ['invoke'], functions: null });
    expect(await revokeApiKey(db, 'key-revoke')).toBe(true);
    expect(await revokeApiKey(db, 'key-revoke')).toBe(false);
    expect((await findApiKeyByHash(db, 'hash-revoke'))?.revokedAt).toBeInstanceOf(Date);
    expect((await listApiKeys(db, { activeOnly: true })).map((key) => key.id)).not.toContain('key-revoke');
    expect((await listApiKeys(db)).map((key) => key.id)).toContain('key-revoke');
  });

  it('stores per-key limits; a key without them reads back unlimited', async () => {
    const { db } = database();
    const limited = await createApiKey(db, {
      name: 'metered',
      keyHash: 'hash-metered',
      scopes: ['invoke'],
      functions: null,
      limits: { rpm: 60, tpm: null, concurrency: 4 },
    });
    expect(limited.limits).toEqual({ rpm: 60, tpm: null, concurrency: 4 });
    expect((await findApiKeyByHash(db, 'hash-metered'))?.limits).toEqual({ rpm: 60, tpm: null, concurrency: 4 });
    await createApiKey(db, { id: 'key-free', name: 'free', keyHash: 'hash-free', scopes: ['invoke'], functions: null });
    expect((await getApiKey(db, 'key-free'))?.limits).toEqual({ rpm: null, tpm: null, concurrency: null });
  });
});
