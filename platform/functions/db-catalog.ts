import type { Db } from '../db/database.js';
import {
  createFunctionVersion,
  deleteFunction,
  getActiveVersion,
  getFunction,
  listFunctions,
  listVersions,
  type FunctionVersionRecord as VersionRow,
} from '../db/repositories/function-repository.js';
import { insertInvocations } from '../db/repositories/invocation-repository.js';
import type { FunctionCatalog, FunctionVersionRecord } from './catalog.js';
import { assertManifest } from './manifest.js';

/** The catalog over the kysely repositories; the same code runs on PGlite (local) and PostgreSQL (cluster). */
export function createDbCatalog(db: Db): FunctionCatalog {
  return {
    createVersion: (input, beforeCommit) => createFunctionVersion(db, input, beforeCommit),
    async getActive(name) {
      const row = await getActiveVersion(db, name);
      return row ? toRecord(row, true) : undefined;
    },
    async list() {
      const rows = await listFunctions(db);
      return rows.map((f) => ({
        name: f.name,
        description: f.description,
        activeVersion: f.activeVersion,
        weightsDigest: f.active?.weightsDigest ?? null,
        sizeBytes: f.active?.sizeBytes ?? 0,
        createdAt: f.createdAt,
        updatedAt: f.updatedAt,
      }));
    },
    async listVersions(name) {
      const [fn, rows] = await Promise.all([getFunction(db, name), listVersions(db, name)]);
      return rows.map((row) => toRecord(row, row.version === fn?.activeVersion, fn?.description));
    },
    remove: (name) => deleteFunction(db, name),
    insertInvocations: (rows) =>
      insertInvocations(
        db,
        rows.map((r) => ({
          id: r.id,
          functionName: r.functionName,
          version: r.version,
          apiKeyId: r.apiKeyId,
          nodeId: r.nodeId,
          status: r.status,
          promptTokens: r.promptTokens,
          completionTokens: r.completionTokens,
          ttftMs: r.ttftMs,
          tpotMs: r.tpotMs,
          sloAttainment: r.sloAttainment,
          sloMet: r.sloMet,
          error: r.error,
          params: r.params ?? null,
          createdAt: r.startedAt,
          finishedAt: r.finishedAt,
        })),
      ),
  };
}

function toRecord(row: VersionRow, active: boolean, description?: string): FunctionVersionRecord {
  // Stored manifests were validated at deploy; parsing again restores defaults and the frozen type.
  const manifest = assertManifest(row.manifest);
  return {
    name: row.functionName,
    description: description ?? manifest.description,
    manifest,
    weightsDigest: row.weightsDigest,
    files: row.files,
    sizeBytes: row.sizeBytes,
    version: row.version,
    active,
    createdAt: row.createdAt,
  };
}
