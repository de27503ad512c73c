import type { ColumnType, Generated } from 'kysely';

/**
 * Table shapes as Kysely sees them. Column names are the SQL names; repositories map rows to camelCase
 * records. `int8` columns come back as JavaScript numbers (every byte count we store is below 2^53);
 * `jsonb` columns are written as JSON text (see `toJson`) and read back parsed, identically on PGlite and pg.
 */
export interface DatabaseSchema {
  readonly functions: FunctionsTable;
  readonly function_versions: FunctionVersionsTable;
  readonly api_keys: ApiKeysTable;
  readonly nodes: NodesTable;
  readonly invocations: InvocationsTable;
}

/** Read as `T`, written as JSON text. */
export type JsonColumn<T> = ColumnType<T, string, string>;
/** `timestamptz` with a database default. */
export type CreatedAt = ColumnType<Date, Date | undefined, Date>;

export interface FunctionsTable {
  name: string;
  description: Generated<string>;
  /** The one active version; null only between creating the row and inserting its first version. */
  active_version: number | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface FunctionVersionsTable {
  function_name: string;
  /** 1, 2, 3... per function, assigned under a row lock on `functions`. */
  version: number;
  manifest: JsonColumn<unknown>;
  /** `sha256:<hex>` over the artifact's sorted file list. */
  artifact_digest: string;
  files: JsonColumn<readonly { readonly name: string; readonly digest: string; readonly size: number }[]>;
  size_bytes: number;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  /** Only the hash is stored; the secret is shown once when the key is created. */
  key_hash: string;
  scopes: JsonColumn<readonly string[]>;
  /** Function names the key may call; null means every function. */
  functions: JsonColumn<readonly string[] | null>;
  created_at: CreatedAt;
  revoked_at: Date | null;
  /** Requests per minute, tokens (prompt + completion) per minute, requests at once; null is unlimited. */
  rpm_limit: ColumnType<number | null, number | null | undefined, number | null>;
  tpm_limit: ColumnType<number | null, number | null | undefined, number | null>;
  concurrency_limit: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface NodesTable {
  id: string;
  address: string;
  backend: string;
  gpus: JsonColumn<unknown>;
  host_pool_bytes: number;
  state: string;
  heartbeat_at: Date;
  registered_at: CreatedAt;
  /** Models the node holds, as its last heartbeat reported them (`ModelResidency[]`). */
  residency: ColumnType<unknown, string | undefined, string>;
  /** Sequences queued or running on the node at its last heartbeat. */
  load: ColumnType<number, number | undefined, number>;
}

export interface InvocationsTable {
  id: string;
  function_name: string;
  version: number;
  /** The caller's `api_keys` id; null in open mode and for the bootstrap key. */
  api_key_id: string | null;
  node_id: string | null;
  status: string;
  prompt_tokens: number;
  completion_tokens: number;
  ttft_ms: number | null;
  tpot_ms: number | null;
  /** Fraction of per-token deadlines met, 0..1. */
  slo_attainment: number | null;
  slo_met: boolean | null;
  error: string | null;
  /** What it ran with (`recorded-params.ts`): endpoint, sampling record, n, response format, tools. */
  params: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: CreatedAt;
  finished_at: Date | null;
}

/** JSON text for a `jsonb` parameter; pg would turn a raw JS array into a Postgres array literal. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}
