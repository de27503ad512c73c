import { expect, it } from 'vitest';
import { countInvocations, insertInvocations, listInvocations, type InvocationRecord } from '../../../platform/db/repositories/invocation-repository.js';
import { withDatabases } from '../../helpers/databases.js';

function invocation(functionName: string, index: number, overrides: Partial<InvocationRecord> = {}): InvocationRecord {
  const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, index));
  return {
    id: `${functionName}-${index}`,
    functionName,
    version: 1,
    apiKeyId: null,
    nodeId: 'node-a',
    status: 'ok',
    promptTokens: 12,
    completionTokens: 34,
    params: { endpoint: 'chat.completions', n: 2, index: index % 2, sampling: { top_k: 40, logit_bias: [[5, -100]], grammar: null } },
    ttftMs: 120.5,
    tpotMs: 21.25,
    sloAttainment: 0.97,
    sloMet: true,
    error: null,
    createdAt,
    finishedAt: new Date(createdAt.getTime() + 900),
    ...overrides,
  };
}

withDatabases(({ database }) => {
  it('inserts more rows than one statement carries and counts them', async () => {
    const { db } = database();
    const rows = Array.from({ length: 1_234 }, (_, index) => invocation('inv-bulk', index));
    await insertInvocations(db, rows);
    expect(await countInvocations(db, { functionName: 'inv-bulk' })).toBe(1_234);
  });

  it('ignores ids already recorded, so a batch can be retried', async () => {
    const { db } = database();
    const rows = [0, 1, 2].map((index) => invocation('inv-retry', index));
    await insertInvocations(db, rows.slice(0, 2));
    await insertInvocations(db, rows);
    expect(await countInvocations(db, { functionName: 'inv-retry' })).toBe(3);
  });

  it('lists newest first with limit, filter and keyset paging, and keeps every field', async () => {
    const { db } = database();
    await insertInvocations(db, [
      invocation('inv-list', 1),
      invocation('inv-list', 2, { status: 'error', error: 'engine_down', sloMet: null, sloAttainment: null, ttftMs: null, tpotMs: null, finishedAt: null }),
      invocation('inv-list', 3, { apiKeyId: 'key-1' }),
      invocation('inv-other', 4),
    ]);
    const page = await listInvocations(db, { functionName: 'inv-list', limit: 2 });
    expect(page.map((row) => row.id)).toEqual(['inv-list-3', 'inv-list-2']);
    expect(page[0]).toEqual(invocation('inv-list', 3, { apiKeyId: 'key-1' }));
    expect(page[1]).toMatchObject({ status: 'error', error: 'engine_down', sloMet: null, ttftMs: null, finishedAt: null });
    const next = await listInvocations(db, { functionName: 'inv-list', limit: 2, before: page[1]!.createdAt });
    expect(next.map((row) => row.id)).toEqual(['inv-list-1']);
    expect(await countInvocations(db, { functionName: 'inv-list', status: 'error' })).toBe(1);
    expect(await countInvocations(db)).toBeGreaterThanOrEqual(4);
  });

  it('stores odd values exactly as bound parameters did: NaN and infinities, quotes, backslashes, lone surrogates', async () => {
    const { db } = database();
    const text = 'quote " backslash \\ literal \\ud800 newline \n tab \t emoji 😀 é';
    await insertInvocations(db, [
      invocation('inv-odd', 1, { ttftMs: Number.NaN, tpotMs: Number.POSITIVE_INFINITY, sloAttainment: Number.NEGATIVE_INFINITY, error: text, status: 'stop' }),
      invocation('inv-odd', 2, { error: 'lone \ud800 high, lone \udc00 low, pair \ud83d\ude00', ttftMs: 1e-9, tpotMs: 123456.789012345 }),
    ]);
    const [second, first] = await listInvocations(db, { functionName: 'inv-odd', limit: 2 });
    expect(first).toMatchObject({ ttftMs: Number.NaN, tpotMs: Number.POSITIVE_INFINITY, sloAttainment: Number.NEGATIVE_INFINITY, error: text, status: 'stop' });
    expect(second).toMatchObject({ error: 'lone \uFFFD high, lone \uFFFD low, pair 😀', ttftMs: 1e-9, tpotMs: 123456.789012345 });
  });

  it('stores a NUL in an error message as U+FFFD instead of failing the batch, and keeps an escaped one as text', async () => {
    const { db } = database();
    await insertInvocations(db, [invocation('inv-nul', 1, { error: 'engine said \u0000 then \\u0000 literally' }), invocation('inv-nul', 2, { error: null })]);
    const rows = await listInvocations(db, { functionName: 'inv-nul', limit: 2 });
    expect(rows.map((r) => r.error).sort()).toEqual(['engine said \uFFFD then \\u0000 literally', null].sort());
  });

  it('accepts an empty batch', async () => {
    await insertInvocations(database().db, []);
  });
});
