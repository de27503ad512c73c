import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../../../platform/db/open-database.js';
import { createFunctionVersion, getActiveVersion } from '../../../platform/db/repositories/function-repository.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

it('keeps local-mode data under the data directory across restarts', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tidepool-db-'));
  dirs.push(dataDir);
  const first = await openDatabase({ dataDir });
  expect(first.kind).toBe('pglite');
  await createFunctionVersion(first.db, { name: 'persisted', description: '', manifest: {}, artifactDigest: 'sha256:00', files: [], sizeBytes: 1 });
  await first.close();
  await first.close();

  const second = await openDatabase({ dataDir });
  expect((await getActiveVersion(second.db, 'persisted'))?.version).toBe(1);
  await second.close();
});

it('fails with a clear message when DATABASE_URL cannot be reached', async () => {
  await expect(openDatabase({ databaseUrl: 'postgres://nobody:x@127.0.0.1:1/none' })).rejects.toThrow(/cannot connect to DATABASE_URL/);
});
