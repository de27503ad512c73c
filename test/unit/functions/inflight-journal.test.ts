import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInflightJournal, INTERRUPTED_MESSAGE, takeInterruptedInvocations } from '../../../platform/functions/inflight-journal.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const entry = (id: string) => ({
  id,
  functionName: 'fn',
  version: 2,
  apiKeyId: null,
  nodeId: null,
  promptTokens: 7,
  startedMs: Date.parse('2026-11-30T10:00:00Z'),
});

// The in-flight journal: what a crashed process had in flight becomes one `error` record each at the next
// start; a clean stop leaves nothing behind.
describe('in-flight journal', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let path: string;
  beforeEach(async () => {
    work = await makeTempDir('tidepool-journal');
    path = join(work.dir, 'inflight.json');
  });
  afterEach(async () => work.remove());

  it('lists the invocations still in flight when the process stopped, as interrupted error records, once', async () => {
    const journal = createInflightJournal({ path, intervalMs: 60_000 });
    journal.begin(entry('a'));
    journal.begin(entry('b'));
    journal.end('a');
    // A process that dies now leaves the file as its last write had it; close() writes that same state.
    await journal.close();
    const rows = await takeInterruptedInvocations(path);
    expect(rows).toEqual([
      expect.objectContaining({
        id: 'b',
        functionName: 'fn',
        version: 2,
        status: 'error',
        promptTokens: 7,
        completionTokens: 0,
        error: INTERRUPTED_MESSAGE,
        startedAt: new Date(entry('b').startedMs),
      }),
    ]);
    expect(existsSync(path)).toBe(false);
    expect(await takeInterruptedInvocations(path)).toEqual([]);
  });

  it('leaves no file after a clean stop with nothing in flight', async () => {
    const journal = createInflightJournal({ path, intervalMs: 60_000 });
    journal.begin(entry('a'));
    journal.end('a');
    await journal.close();
    expect(existsSync(path)).toBe(false);
  });

  it('ignores a damaged journal instead of failing the start', async () => {
    await writeFile(path, '[{"id": 1}, "x", {"id": "ok"');
    expect(await takeInterruptedInvocations(path)).toEqual([]);
    await writeFile(path, JSON.stringify([entry('good'), { id: 'bad' }]));
    expect((await takeInterruptedInvocations(path)).map((r) => r.id)).toEqual(['good']);
  });
});
