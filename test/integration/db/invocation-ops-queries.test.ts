import { expect, it } from 'vitest';
import {
  functionHasInvocations,
  insertInvocations,
  invocationExists,
  invocationStatsSince,
  listInvocations,
  listInvocationsFinishedSince,
  type InvocationRecord,
} from '../../../platform/db/repositories/invocation-repository.js';
import { withDatabases } from '../../helpers/databases.js';

const T0 = Date.UTC(2026, 0, 1);

/** Started at T0 + `startMs`, finished `durationMs` later. */
function invocation(functionName: string, id: string, startMs: number, durationMs: number, overrides: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    id,
    functionName,
    version: 1,
    apiKeyId: null,
    nodeId: 'node-a',
    status: 'stop',
    promptTokens: 5,
    completionTokens: 9,
    ttftMs: 100,
    tpotMs: 10,
    sloAttainment: 1,
    sloMet: true,
    error: null,
    createdAt: new Date(T0 + startMs),
    finishedAt: new Date(T0 + startMs + durationMs),
    ...overrides,
  };
}

// The operator API's queries (GET /v1/invocations, GET /v1/ops/state) on PGlite and PostgreSQL.
withDatabases(({ database }) => {
  it('pages newest first by row, so invocations started in the same millisecond are neither lost nor repeated', async () => {
    const { db } = database();
    await insertInvocations(
      db,
      ['a', 'b', 'c', 'd', 'e'].map((id) => invocation('ops-ties', `ops-ties-${id}`, id < 'd' ? 1000 : 2000, 10)),
    );
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await listInvocations(db, { functionName: 'ops-ties', limit: 2, ...(after && { afterId: after }) });
      seen.push(...page.map((r) => r.id));
      if (page.length < 2) break;
      after = page[page.length - 1]!.id;
    }
    expect(seen).toEqual(['ops-ties-e', 'ops-ties-d', 'ops-ties-c', 'ops-ties-b', 'ops-ties-a']);
  });

  it('filters by status list', async () => {
    const { db } = database();
    await insertInvocations(db, [
      invocation('ops-status', 'ops-status-1', 0, 10),
      invocation('ops-status', 'ops-status-2', 1, 10, { status: 'error', error: 'boom' }),
      invocation('ops-status', 'ops-status-3', 2, 10, { status: 'rejected' }),
    ]);
    const rows = await listInvocations(db, { functionName: 'ops-status', limit: 10, statuses: ['error', 'rejected'] });
    expect(rows.map((r) => r.id)).toEqual(['ops-status-3', 'ops-status-2']);
  });

  it('follows in finish order: a long generation that started first appears after short ones that ended before it', async () => {
    const { db } = database();
    await insertInvocations(db, [
      invocation('ops-follow', 'ops-follow-long', 0, 5000),
      invocation('ops-follow', 'ops-follow-short1', 1000, 100),
      invocation('ops-follow', 'ops-follow-short2', 2000, 100),
    ]);
    const byTime = await listInvocationsFinishedSince(db, { functionName: 'ops-follow', since: { at: new Date(T0 + 1100) }, limit: 10 });
    expect(byTime.map((r) => r.id)).toEqual(['ops-follow-short2', 'ops-follow-long']);
    const byId = await listInvocationsFinishedSince(db, { functionName: 'ops-follow', since: { id: 'ops-follow-short1' }, limit: 10 });
    expect(byId.map((r) => r.id)).toEqual(['ops-follow-short2', 'ops-follow-long']);
    expect(await invocationExists(db, 'ops-follow-long')).toBe(true);
    expect(await invocationExists(db, 'ops-follow-none')).toBe(false);
    expect(await functionHasInvocations(db, 'ops-follow')).toBe(true);
    expect(await functionHasInvocations(db, 'ops-never')).toBe(false);
  });

  it('summarizes a window per function: count, SLO judged and met, median TTFT and TPOT', async () => {
    const { db } = database();
    const base = 10 * 60_000;
    await insertInvocations(db, [
      invocation('ops-window', 'ops-window-old', base - 60_000, 10, { ttftMs: 9999, sloMet: false }),
      invocation('ops-window', 'ops-window-1', base, 10, { ttftMs: 10, tpotMs: 1 }),
      invocation('ops-window', 'ops-window-2', base + 1, 10, { ttftMs: 30, tpotMs: 3 }),
      invocation('ops-window', 'ops-window-3', base + 2, 10, { ttftMs: 20, tpotMs: 2, sloMet: false }),
      invocation('ops-window', 'ops-window-4', base + 3, 10, { ttftMs: null, tpotMs: null, sloMet: null, status: 'rejected' }),
    ]);
    const stats = (await invocationStatsSince(db, new Date(T0 + base))).find((s) => s.functionName === 'ops-window');
    expect(stats).toEqual({ functionName: 'ops-window', invocations: 4, judged: 3, met: 2, ttftP50Ms: 20, tpotP50Ms: 2 });
  });
});
