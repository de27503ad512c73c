import type { Db } from '../database.js';

export type InvocationStatus = 'ok' | 'error' | 'cancelled' | 'timeout' | 'rejected' | (string & {});

/** One finished invocation, as the recorder writes it off the hot path. */
export interface InvocationRecord {
  readonly id: string;
  readonly functionName: string;
  readonly version: number;
  readonly apiKeyId: string | null;
  readonly nodeId: string | null;
  readonly status: InvocationStatus;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly ttftMs: number | null;
  readonly tpotMs: number | null;
  /** Fraction of per-token deadlines met, 0..1. */
  readonly sloAttainment: number | null;
  readonly sloMet: boolean | null;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

export interface ListInvocationsOptions {
  readonly functionName?: string;
  /** Newest first; at most this many (capped at 1000). */
  readonly limit: number;
  /** Keyset paging: only invocations created strictly before this instant. */
  readonly before?: Date;
}

// 15 parameters a row; 500 rows stays far below Postgres's 65535-parameter limit per statement.
const ROWS_PER_INSERT = 500;

/**
 * Inserts many invocations in a few statements. Ids already present are skipped, so a recorder may retry a
 * batch after a failure without duplicating rows.
 */
export async function insertInvocations(db: Db, rows: readonly InvocationRecord[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const batch = rows.slice(start, start + ROWS_PER_INSERT).map((row) => ({
      id: row.id,
      function_name: row.functionName,
      version: row.version,
      api_key_id: row.apiKeyId,
      node_id: row.nodeId,
      status: row.status,
      prompt_tokens: row.promptTokens,
      completion_tokens: row.completionTokens,
      ttft_ms: row.ttftMs,
      tpot_ms: row.tpotMs,
      slo_attainment: row.sloAttainment,
      slo_met: row.sloMet,
      error: row.error,
      created_at: row.createdAt,
      finished_at: row.finishedAt,
    }));
    await db.insertInto('invocations').values(batch).onConflict((conflict) => conflict.column('id').doNothing()).execute();
  }
}

export async function listInvocations(db: Db, options: ListInvocationsOptions): Promise<InvocationRecord[]> {
  let query = db.selectFrom('invocations').selectAll();
  if (options.functionName !== undefined) query = query.where('function_name', '=', options.functionName);
  if (options.before !== undefined) query = query.where('created_at', '<', options.before);
  const rows = await query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.max(0, Math.min(options.limit, 1000)))
    .execute();
  return rows.map((row) => ({
    id: row.id,
    functionName: row.function_name,
    version: row.version,
    apiKeyId: row.api_key_id,
    nodeId: row.node_id,
    status: row.status,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    ttftMs: row.ttft_ms,
    tpotMs: row.tpot_ms,
    sloAttainment: row.slo_attainment,
    sloMet: row.slo_met,
    error: row.error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  }));
}

export async function countInvocations(db: Db, filter: { readonly functionName?: string; readonly status?: string } = {}): Promise<number> {
  let query = db.selectFrom('invocations').select((eb) => eb.fn.countAll<number>().as('count'));
  if (filter.functionName !== undefined) query = query.where('function_name', '=', filter.functionName);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  const { count } = await query.executeTakeFirstOrThrow();
  return Number(count);
}
