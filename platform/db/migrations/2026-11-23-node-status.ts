import { sql, type Kysely } from 'kysely';

/** Nodes report what they hold and how busy they are with every heartbeat; the router reads both. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('nodes')
    .addColumn('residency', 'jsonb', (col) => col.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema
    .alterTable('nodes')
    .addColumn('load', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('nodes').dropColumn('load').execute();
  await db.schema.alterTable('nodes').dropColumn('residency').execute();
}
