import type { Kysely } from 'kysely';

/**
 * `tidepool logs --follow` and the dashboard ask "what finished for this function since T?" every second;
 * without this index that is a scan of the whole invocations table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('invocations_function_finished_at_idx').on('invocations').columns(['function_name', 'finished_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('invocations_function_finished_at_idx').execute();
}
