import type { Migration, MigrationProvider } from 'kysely';
import * as initialSchema from './2026-11-22-initial-schema.js';
import * as nodeStatus from './2026-11-23-node-status.js';
import * as quotas from './2026-11-24-quotas.js';
import * as invocationsFinishedIndex from './2026-11-25-invocations-finished-index.js';
import * as invocationParams from './2026-12-06-invocation-params.js';

/**
 * Every migration, keyed by its dated file name. A static list (not a directory scan) so bundling and
 * `tsx` both work; add new files here. Kysely applies them in key order.
 */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '2026-11-22-initial-schema': initialSchema,
  '2026-11-23-node-status': nodeStatus,
  '2026-11-24-quotas': quotas,
  '2026-11-25-invocations-finished-index': invocationsFinishedIndex,
  '2026-12-06-invocation-params': invocationParams,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
