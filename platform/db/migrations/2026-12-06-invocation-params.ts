import { type Kysely, sql } from 'kysely';

/**
 * What each invocation ran with (`params`, JSON): the endpoint, the complete sampling record (the grammar by
 * its hash), `n` and the choice index, response format, tool names and tool choice. Null for rows written
 * before this migration and for refusals that never resolved their parameters.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('invocations').addColumn('params', sql`jsonb`).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('invocations').dropColumn('params').execute();
}
