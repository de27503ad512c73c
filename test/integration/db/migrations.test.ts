import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { migrateDown, migrateToLatest } from '../../../platform/db/open-database.js';
import { withDatabases } from '../../helpers/databases.js';

async function tableNames(db: Parameters<typeof migrateDown>[0]): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_name not like 'tidepool_migration%' order by table_name`.execute(db);
  return rows.map((row) => row.table_name);
}

withDatabases(({ database }) => {
  it('creates every table at open and undoes and redoes cleanly', async () => {
    const { db } = database();
    const tables = ['api_keys', 'function_versions', 'functions', 'invocations', 'nodes'];
    expect(await tableNames(db)).toEqual(tables);
    // One step down per migration: invocation params, the finished-at index, key limits, node status columns,
    // then the initial schema.
    await migrateDown(db);
    expect(await tableNames(db)).toEqual(tables);
    await migrateDown(db);
    expect(await tableNames(db)).toEqual(tables);
    await migrateDown(db);
    expect(await tableNames(db)).toEqual(tables);
    await migrateDown(db);
    expect(await tableNames(db)).toEqual(tables);
    await migrateDown(db);
    expect(await tableNames(db)).toEqual([]);
    const result = await migrateToLatest(db);
    expect(result.results?.map((r) => r.status)).toEqual(['Success', 'Success', 'Success', 'Success', 'Success']);
    expect(await tableNames(db)).toEqual(tables);
    expect((await migrateToLatest(db)).results).toEqual([]);
  });
});
