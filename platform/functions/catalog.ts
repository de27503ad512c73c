import type { ArtifactFileEntry } from './artifact.js';
import type { InvocationRecord } from './invocation-recorder.js';
import type { FunctionManifest } from './manifest.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/**
 * The function registry as the control plane sees it. `db-catalog.ts` implements it over the kysely
 * repositories (PGlite or PostgreSQL); the service and routes depend only on this shape.
 */
export interface FunctionCatalog {
  /**
   * Registers a new version and makes it active, in one transaction. Versions count 1, 2, 3... per name.
   * `beforeCommit` runs inside the transaction, after the insert; throwing from it registers nothing.
   */
  createVersion(input: NewFunctionVersion, beforeCommit?: () => Promise<void>): Promise<{ readonly name: string; readonly version: number }>;
  getActive(name: string): Promise<FunctionVersionRecord | undefined>;
  list(): Promise<readonly FunctionSummary[]>;
  /** Newest first; empty when the function does not exist. */
  listVersions(name: string): Promise<readonly FunctionVersionRecord[]>;
  /** Deletes the function and its versions; false when there was none. Blobs stay in the store. */
  remove(name: string): Promise<boolean>;
  insertInvocations(rows: readonly InvocationRecord[]): Promise<void>;
}

export interface NewFunctionVersion {
  readonly name: string;
  readonly description: string;
  readonly manifest: FunctionManifest;
  readonly weightsDigest: WeightsDigest;
  readonly files: readonly ArtifactFileEntry[];
  readonly sizeBytes: number;
}

export interface FunctionVersionRecord extends NewFunctionVersion {
  readonly version: number;
  readonly active: boolean;
  readonly createdAt: Date;
}

export interface FunctionSummary {
  readonly name: string;
  readonly description: string;
  readonly activeVersion: number | null;
  readonly weightsDigest: WeightsDigest | null;
  readonly sizeBytes: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}
