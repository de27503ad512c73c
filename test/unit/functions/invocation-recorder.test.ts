import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait-for.js';
import { createInvocationRecorder, type InvocationRecord } from '../../../platform/functions/invocation-recorder.js';

function row(id: string): InvocationRecord {
  const at = new Date(0);
  return {
    id,
    functionName: 'fn',
    version: 1,
    apiKeyId: null,
    nodeId: null,
    status: 'length',
    promptTokens: 1,
    completionTokens: 1,
    ttftMs: 1,
    tpotMs: null,
    sloAttainment: 1,
    sloMet: true,
    error: null,
    startedAt: at,
    finishedAt: at,
  };
}

/** A table that stores rows by id (a repeated id is ignored, as the repository does) and can be taken down. */
function flakyTable() {
  const stored = new Map<string, InvocationRecord>();
  const state = { down: false, attempts: 0 };
  return {
    stored,
    state,
    write: async (rows: readonly InvocationRecord[]) => {
      state.attempts++;
      if (state.down) throw new Error('connection terminated');
      for (const r of rows) if (!stored.has(r.id)) stored.set(r.id, r);
    },
  };
}

describe('invocation recorder', () => {
  it('keeps rows buffered while the database is down and writes them all once it is back', async () => {
    const table = flakyTable();
    const errors: number[] = [];
    let recovered = 0;
    const recorder = createInvocationRecorder({
      write: table.write,
      flushIntervalMs: 5,
      maxBatch: 3,
      retryBackoffMs: 10,
      onWriteError: (_error, _buffered, retryInMs) => errors.push(retryInMs),
      onRecovered: () => recovered++,
      onDropped: () => expect.unreachable('nothing may be dropped'),
    });
    table.state.down = true;
    for (let i = 0; i < 10; i++) recorder.record(row(`r${i}`));
    await waitFor(() => errors.length >= 4, { message: 'four failed writes' });
    expect(table.stored.size).toBe(0);
    expect(recorder.buffered()).toBe(10);
    // Backoff doubles between attempts instead of hammering the database every tick.
    expect(errors.slice(0, 4)).toEqual([10, 20, 40, 80]);
    expect(table.state.attempts).toBeLessThan(10);
    table.state.down = false;
    await recorder.flush();
    expect([...table.stored.keys()]).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect(recorder.buffered()).toBe(0);
    expect(recovered).toBe(1);
    await recorder.close();
  });

  it('does not duplicate a batch whose write landed although it reported failure', async () => {
    const table = flakyTable();
    let failOnce = true;
    const recorder = createInvocationRecorder({
      write: async (rows) => {
        await table.write(rows);
        if (failOnce) {
          failOnce = false;
          throw new Error('connection lost after commit');
        }
      },
      flushIntervalMs: 1000,
      retryBackoffMs: 1,
    });
    recorder.record(row('a'));
    recorder.record(row('b'));
    await recorder.flush();
    expect(recorder.buffered()).toBe(2);
    await recorder.flush();
    expect(recorder.buffered()).toBe(0);
    expect(table.stored.size).toBe(2);
    await recorder.close();
  });

  it('drops and counts only what exceeds maxBuffered', async () => {
    const table = flakyTable();
    table.state.down = true;
    let dropped = 0;
    const recorder = createInvocationRecorder({ write: table.write, flushIntervalMs: 1000, maxBuffered: 5, onDropped: (n) => (dropped += n) });
    for (let i = 0; i < 8; i++) recorder.record(row(`r${i}`));
    expect(dropped).toBe(3);
    table.state.down = false;
    await recorder.flush();
    expect([...table.stored.keys()]).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    await recorder.close();
  });

  it('close retries until its deadline, then drops the rest with the last error', async () => {
    const table = flakyTable();
    table.state.down = true;
    const dropped: { count: number; error: unknown }[] = [];
    const recorder = createInvocationRecorder({
      write: table.write,
      flushIntervalMs: 1000,
      retryBackoffMs: 5,
      closeTimeoutMs: 100,
      onDropped: (count, error) => dropped.push({ count, error }),
    });
    recorder.record(row('a'));
    const started = Date.now();
    await recorder.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(table.state.attempts).toBeGreaterThan(2);
    expect(dropped).toEqual([{ count: 1, error: expect.objectContaining({ message: 'connection terminated' }) }]);
  });

  it('close writes what the database accepts again before its deadline', async () => {
    const table = flakyTable();
    table.state.down = true;
    const recorder = createInvocationRecorder({ write: table.write, flushIntervalMs: 1000, retryBackoffMs: 10, closeTimeoutMs: 2000 });
    recorder.record(row('a'));
    setTimeout(() => (table.state.down = false), 60); // the outage ends while close waits: part of the scenario
    await recorder.close();
    expect(table.stored.has('a')).toBe(true);
  });
});
