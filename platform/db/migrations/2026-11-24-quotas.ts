import type { Kysely } from 'kysely';

/** Per-key limits: requests and tokens per minute, requests at once; null is unlimited. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('api_keys')
    .addColumn('rpm_limit', 'integer')
    .addColumn('tpm_limit', 'integer')
    .addColumn('concurrency_limit', 'integer')
    .execute();
  // Attribution queries ("what did this key use?") filter invocations by key.
  await db.schema.createIndex('invocations_api_key_created_at_idx').on('invocations').columns(['api_key_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('invocations_api_key_created_at_idx').execute();
  await db.schema.alterTable('api_keys').dropColumn('concurrency_limit').dropColumn('tpm_limit').dropColumn('rpm_limit').execute();
}
