import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../../../platform/db/open-database.js';
import { createFunctionVersion, getActiveVersion } from '../../../platform/db/repositories/function-repository.js';
import { realDigest } from '../../helpers/weights-digest.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

it('keeps local-mode data under the data directory across restarts', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tidepool-db-'));
  dirs.push(dataDir);
  const first = await openDatabase({ dataDir });
  expect(first.kind).toBe('pglite');
  await createFunctionVersion(first.db, { name: 'persisted', description: '', manifest: {}, weightsDigest: realDigest('00'), files: [], sizeBytes: 1 });
  await first.close();
  await first.close();

  const second = await openDatabase({ dataDir });
  expect((await getActiveVersion(second.db, 'persisted'))?.version).toBe(1);
  await second.close();
});

it('refuses a second open of a data directory in use, naming the holder, and opens it again once closed', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tidepool-db-'));
  dirs.push(dataDir);
  const first = await openDatabase({ dataDir });
  await expect(openDatabase({ dataDir })).rejects.toThrow(
    new RegExp(`^the data directory ${dataDir} is in use by this process \\(.*\\); stop that process, or set TIDEPOOL_DATA_DIR to another directory`),
  );
  await first.close();
  await (await openDatabase({ dataDir })).close();
});

it('fails with a clear message when DATABASE_URL cannot be reached', async () => {
  await expect(openDatabase({ databaseUrl: 'postgres://nobody:x@127.0.0.1:1/none' })).rejects.toThrow(/cannot connect to DATABASE_URL/);
});

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) console.warn('[skip] concurrent PostgreSQL migration test: DATABASE_URL is not set');

it.skipIf(!databaseUrl)('lets several replicas open and migrate one PostgreSQL database at once', async () => {
  const schema = `test_replicas_${Date.now().toString(36)}`;
  const settled = await Promise.allSettled([1, 2, 3].map(() => openDatabase({ databaseUrl, schema, poolSize: 2 })));
  const replicas = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    expect(settled.filter((result) => result.status === 'rejected')).toEqual([]);
    await createFunctionVersion(replicas[0]!.db, { name: 'shared', description: '', manifest: {}, weightsDigest: realDigest('00'), files: [], sizeBytes: 1 });
    expect((await getActiveVersion(replicas[2]!.db, 'shared'))?.version).toBe(1);
  } finally {
    await sql`drop schema ${sql.id(schema)} cascade`.execute(replicas[0]!.db);
    await Promise.all(replicas.map((replica) => replica.close()));
  }
});
