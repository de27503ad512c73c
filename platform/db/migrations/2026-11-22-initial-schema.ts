import { sql, type Kysely } from 'kysely';

// Migrations take `Kysely<any>`: they describe the schema at their own date, not today's types.

// biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema of its own date, not today's types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('functions')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('active_version', 'integer')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('function_versions')
    .addColumn('function_name', 'text', (col) => col.notNull().references('functions.name').onDelete('cascade'))
    .addColumn('version', 'integer', (col) => col.notNull().check(sql`version > 0`))
    .addColumn('manifest', 'jsonb', (col) => col.notNull())
    .addColumn('artifact_digest', 'text', (col) => col.notNull())
    .addColumn('files', 'jsonb', (col) => col.notNull())
    .addColumn('size_bytes', 'bigint', (col) => col.notNull().check(sql`size_bytes >= 0`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('function_versions_pk', ['function_name', 'version'])
    .execute();
  // Blob garbage collection asks "is this artifact still referenced?".
  await db.schema.createIndex('function_versions_artifact_digest_idx').on('function_versions').column('artifact_digest').execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('key_hash', 'text', (col) => col.notNull().unique())
    .addColumn('scopes', 'jsonb', (col) => col.notNull())
    .addColumn('functions', 'jsonb')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('nodes')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('address', 'text', (col) => col.notNull())
    .addColumn('backend', 'text', (col) => col.notNull())
    .addColumn('gpus', 'jsonb', (col) => col.notNull())
    .addColumn('host_pool_bytes', 'bigint', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('heartbeat_at', 'timestamptz', (col) => col.notNull())
    .addColumn('registered_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('invocations')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('function_name', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('node_id', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('prompt_tokens', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('completion_tokens', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('ttft_ms', 'double precision')
    .addColumn('tpot_ms', 'double precision')
    .addColumn('slo_attainment', 'double precision')
    .addColumn('slo_met', 'boolean')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  // Invocations outlive their function (history), so no foreign key; these serve the two listing queries.
  await db.schema.createIndex('invocations_created_at_idx').on('invocations').column('created_at').execute();
  await db.schema.createIndex('invocations_function_created_at_idx').on('invocations').columns(['function_name', 'created_at']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as up
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['invocations', 'nodes', 'api_keys', 'function_versions', 'functions']) {
    await db.schema.dropTable(table).execute();
  }
}
