import { sql, type Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { InvocationsTable } from '../database-schema.js';

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
  /** What it ran with (JSON); null when unknown (refused before its parameters were resolved, older rows). */
  readonly params?: Readonly<Record<string, unknown>> | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

export interface ListInvocationsOptions {
  readonly functionName?: string;
  /** Newest first; at most this many (capped at 1000). */
  readonly limit: number;
  /** Keyset paging: only invocations created strictly before this instant. */
  readonly before?: Date;
  /** Keyset paging by row: only invocations after this one in newest-first order (created_at, then id). */
  readonly afterId?: string;
  /** Only these statuses; absent or empty: any. */
  readonly statuses?: readonly string[];
}

// Rows per statement: bounds one statement's size (a retried batch resends all of it).
const ROWS_PER_INSERT = 500;

const INSERT_COLUMNS = [
  'id',
  'function_name',
  'version',
  'api_key_id',
  'node_id',
  'status',
  'prompt_tokens',
  'completion_tokens',
  'ttft_ms',
  'tpot_ms',
  'slo_attainment',
  'slo_met',
  'error',
  'params',
  'created_at',
  'finished_at',
] as const satisfies readonly (keyof InvocationsTable)[];

/**
 * Inserts many invocations in a few statements. Ids already present are skipped, so a recorder may retry a
 * batch after a failure without duplicating rows. A batch travels as one JSON parameter that the database
 * expands into rows (`json_populate_recordset` over the table's own row type): binding 15 parameters a row
 * cost about twice as much per row, and on PGlite that work runs on the control plane's event loop.
 */
export async function insertInvocations(db: Db, rows: readonly InvocationRecord[]): Promise<void> {
  const columns = sql.join(INSERT_COLUMNS.map((column) => sql.ref(column)));
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const batch = rows.slice(start, start + ROWS_PER_INSERT).map(
      (row): Record<(typeof INSERT_COLUMNS)[number], unknown> => ({
        id: row.id,
        function_name: row.functionName,
        version: number(row.version),
        api_key_id: row.apiKeyId,
        node_id: row.nodeId,
        status: row.status,
        prompt_tokens: number(row.promptTokens),
        completion_tokens: number(row.completionTokens),
        ttft_ms: number(row.ttftMs),
        tpot_ms: number(row.tpotMs),
        slo_attainment: number(row.sloAttainment),
        slo_met: row.sloMet,
        error: row.error,
        params: row.params ?? null,
        created_at: row.createdAt,
        finished_at: row.finishedAt,
      }),
    );
    await sql`insert into invocations (${columns})
      select ${columns} from json_populate_recordset(null::invocations, ${wellFormed(JSON.stringify(batch))}::json)
      on conflict (id) do nothing`.execute(db);
  }
}

/**
 * JSON has no NaN or ±Infinity (it would write null): they go as the strings Postgres's float8 parser reads,
 * so they are stored as bound parameters stored them.
 */
function number(value: number | null): number | string | null {
  return value === null || Number.isFinite(value) ? value : String(value);
}

/**
 * Postgres refuses the JSON escape of a lone UTF-16 surrogate; the drivers' UTF-8 encoding of a bound
 * parameter made it U+FFFD, and so does this. JSON.stringify escapes only lone surrogates (as `\udXXX`,
 * lowercase), and an escape is one only after an even number of backslashes.
 */
function wellFormed(json: string): string {
  const surrogatesFixed = json.includes('\\ud') ? json.replace(/(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g, '$1\\ufffd') : json;
  // NUL has no place in a Postgres text value (a bound parameter would fail the whole batch): U+FFFD instead.
  return surrogatesFixed.includes('\\u0000') ? surrogatesFixed.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : surrogatesFixed;
}

export async function listInvocations(db: Db, options: ListInvocationsOptions): Promise<InvocationRecord[]> {
  let query = db.selectFrom('invocations').selectAll();
  if (options.functionName !== undefined) query = query.where('function_name', '=', options.functionName);
  if (options.before !== undefined) query = query.where('created_at', '<', options.before);
  if (options.afterId !== undefined) {
    query = query.where(sql<boolean>`(created_at, id) < (select c.created_at, c.id from invocations c where c.id = ${options.afterId})`);
  }
  if (options.statuses?.length) query = query.where('status', 'in', options.statuses);
  const rows = await query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.max(0, Math.min(options.limit, 1000)))
    .execute();
  return rows.map(toInvocationRecord);
}

export interface InvocationsSinceOptions {
  readonly functionName?: string;
  readonly statuses?: readonly string[];
  /** Rows that finished strictly after this instant, or after this row in (finished_at, id) order. */
  readonly since: { readonly at: Date } | { readonly id: string };
  /** Oldest first; at most this many (capped at 1000). */
  readonly limit: number;
}

/**
 * Invocations in the order they finished, oldest first, after a point: what `tidepool logs --follow` polls.
 * Finish order, not start order, because a record lands when its invocation ends (a long stream started
 * before rows already shown still appears).
 */
export async function listInvocationsFinishedSince(db: Db, options: InvocationsSinceOptions): Promise<InvocationRecord[]> {
  let query = db.selectFrom('invocations').selectAll().where('finished_at', 'is not', null);
  if (options.functionName !== undefined) query = query.where('function_name', '=', options.functionName);
  if (options.statuses?.length) query = query.where('status', 'in', options.statuses);
  const since = options.since;
  query =
    'at' in since
      ? query.where('finished_at', '>', since.at)
      : query.where(sql<boolean>`(finished_at, id) > (select c.finished_at, c.id from invocations c where c.id = ${since.id})`);
  const rows = await query
    .orderBy('finished_at', 'asc')
    .orderBy('id', 'asc')
    .limit(Math.max(0, Math.min(options.limit, 1000)))
    .execute();
  return rows.map(toInvocationRecord);
}

/** Whether an invocation with this id was recorded. */
export async function invocationExists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('invocations').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Whether any invocation of this function was recorded (history outlives a deleted function). */
export async function functionHasInvocations(db: Db, functionName: string): Promise<boolean> {
  const row = await db.selectFrom('invocations').select('id').where('function_name', '=', functionName).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** One function's invocations over a recent window. */
export interface InvocationWindowStats {
  readonly functionName: string;
  readonly invocations: number;
  /** Invocations the SLO judged (slo_met not null; quota refusals are not judged). */
  readonly judged: number;
  readonly met: number;
  /** Medians over rows that have the value (an invocation with no token has no TTFT). */
  readonly ttftP50Ms: number | null;
  readonly tpotP50Ms: number | null;
}

/** Per function: counts, SLO hits and median TTFT/TPOT of invocations started at or after `since`. */
export async function invocationStatsSince(db: Db, since: Date): Promise<InvocationWindowStats[]> {
  const rows = await db
    .selectFrom('invocations')
    .where('created_at', '>=', since)
    .groupBy('function_name')
    .select([
      'function_name',
      sql<string>`count(*)`.as('invocations'),
      sql<string>`count(slo_met)`.as('judged'),
      sql<string>`count(*) filter (where slo_met)`.as('met'),
      sql<number | null>`percentile_cont(0.5) within group (order by ttft_ms)`.as('ttft_p50'),
      sql<number | null>`percentile_cont(0.5) within group (order by tpot_ms)`.as('tpot_p50'),
    ])
    .orderBy('function_name')
    .execute();
  return rows.map((row) => ({
    functionName: row.function_name,
    invocations: Number(row.invocations),
    judged: Number(row.judged),
    met: Number(row.met),
    ttftP50Ms: row.ttft_p50 === null ? null : Number(row.ttft_p50),
    tpotP50Ms: row.tpot_p50 === null ? null : Number(row.tpot_p50),
  }));
}

function toInvocationRecord(row: Selectable<InvocationsTable>): InvocationRecord {
  return {
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
    params: (row.params ?? null) as InvocationRecord['params'],
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

export async function countInvocations(db: Db, filter: { readonly functionName?: string; readonly status?: string } = {}): Promise<number> {
  let query = db.selectFrom('invocations').select((eb) => eb.fn.countAll<number>().as('count'));
  if (filter.functionName !== undefined) query = query.where('function_name', '=', filter.functionName);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  const { count } = await query.executeTakeFirstOrThrow();
  return Number(count);
}
