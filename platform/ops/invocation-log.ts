import { TidepoolError } from '../../protocol/errors.js';
import type { Db } from '../db/database.js';
import { getFunction } from '../db/repositories/function-repository.js';
import {
  functionHasInvocations,
  invocationExists,
  listInvocations,
  listInvocationsFinishedSince,
  type InvocationRecord,
} from '../db/repositories/invocation-repository.js';
import type { InvocationQuery } from './invocation-query.js';
import type { OpsInvocation, OpsInvocationPage } from './ops-types.js';

/** Reads recorded invocations for `GET /v1/invocations` (validated query in, wire page out). */
export type InvocationLog = (query: InvocationQuery) => Promise<OpsInvocationPage>;

export function createInvocationLog(db: Db): InvocationLog {
  return async (query) => {
    await Promise.all([
      query.functionName === undefined ? undefined : assertKnownFunction(db, query.functionName),
      query.after === undefined ? undefined : assertKnownInvocation(db, 'after', query.after),
      query.since === undefined || !('id' in query.since) ? undefined : assertKnownInvocation(db, 'since', query.since.id),
    ]);
    const filter = { ...(query.functionName !== undefined && { functionName: query.functionName }), ...(query.statuses && { statuses: query.statuses }) };
    if (query.since !== undefined) {
      const rows = await listInvocationsFinishedSince(db, { ...filter, since: query.since, limit: query.limit });
      return { data: rows.map(toWire) };
    }
    const rows = await listInvocations(db, { ...filter, limit: query.limit, ...(query.after !== undefined && { afterId: query.after }) });
    // A full page may have more behind it; one short of the limit cannot.
    return { data: rows.map(toWire), next_cursor: rows.length === query.limit ? rows[rows.length - 1]!.id : null };
  };
}

/** A deleted function's history stays readable, so a name is known while the catalog or the records have it. */
async function assertKnownFunction(db: Db, name: string): Promise<void> {
  const [fn, recorded] = await Promise.all([getFunction(db, name), functionHasInvocations(db, name)]);
  if (!fn && !recorded) throw new TidepoolError('function_not_found', `function ${name} does not exist`, { param: 'function' });
}

async function assertKnownInvocation(db: Db, param: string, id: string): Promise<void> {
  if (!(await invocationExists(db, id))) {
    const hint = param === 'since' ? 'pass an ISO 8601 time or the id of a listed invocation' : "pass the previous page's next_cursor";
    throw new TidepoolError('invalid_parameter', `${param}: no invocation ${id}; ${hint}`, { param: param });
  }
}

function toWire(row: InvocationRecord): OpsInvocation {
  return {
    id: row.id,
    function: row.functionName,
    version: row.version,
    node: row.nodeId,
    status: row.status,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    ttft_ms: row.ttftMs,
    tpot_ms: row.tpotMs,
    slo_attainment: row.sloAttainment,
    slo_met: row.sloMet,
    started_at: row.createdAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    error: row.error,
    params: row.params ?? null,
  };
}
