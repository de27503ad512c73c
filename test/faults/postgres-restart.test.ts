import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { privatePostgresUnavailable, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { complete, recordedStatuses, startFaultPlane, total, type Answer, type FaultPlane } from './fault-plane.js';
import { letTimePass } from '../helpers/wait-for.js';

const unavailable = ENGINE_BUILT ? await privatePostgresUnavailable() : `the engine binary ${ENGINE_BIN} is not built`;
if (unavailable) console.log(`skip: PostgreSQL restart fault test: ${unavailable}`);

// A private PostgreSQL server (never the machine's shared cluster) is stopped and started while requests
// flow through a control plane on it: requests keep being answered from cached function versions, invocation
// records wait in the recorder's buffer and land after the restart, none lost.
describe.skipIf(unavailable !== undefined)('fault: PostgreSQL restarts during traffic', () => {
  let postgres: PrivatePostgres;
  let database: Database;
  let fault: FaultPlane;
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    database = await openDatabase({ databaseUrl: postgres.url, poolSize: 4 });
    fault = await startFaultPlane({ database });
  });
  afterAll(async () => {
    await fault?.close();
    await database?.close();
    await postgres?.destroy();
  });

  it('answers every request through the restart and records every invocation', { timeout: 60_000 }, async () => {
    const answers: Answer[] = [];
    let buffering = 0;
    let stopping = false;
    const worker = async () => {
      while (!stopping) answers.push(await complete(fault.url, { max_tokens: 4, temperature: 0 }));
    };
    const workers = Array.from({ length: 4 }, worker);
    await letTimePass(1000); // a second of traffic before the outage
    const before = answers.length;
    await postgres.stop();
    // The outage lasts past the active-version cache's TTL, so reloads fail and the stale answer serves.
    const outageStart = Date.now();
    while (Date.now() - outageStart < 3000) {
      buffering = Math.max(buffering, fault.plane.recorder.buffered());
      await letTimePass(50); // samples the recorder's buffer through the outage
    }
    const during = answers.length - before;
    await postgres.start();
    await letTimePass(1000); // a second of traffic after it
    stopping = true;
    await Promise.all(workers);

    const statuses = countBy(answers.map((a) => a.status));
    console.log(`${answers.length} requests (${during} while PostgreSQL was down), statuses ${JSON.stringify(statuses)}, up to ${buffering} records buffered`);
    expect(statuses).toEqual({ 200: answers.length });
    expect(during).toBeGreaterThan(0);
    expect(buffering).toBeGreaterThan(0);
    expect(fault.log.some((line) => line.startsWith('invocation records not written'))).toBe(true);

    // The recorder retries with backoff; wait for its buffer to drain into the restarted server.
    const drainStart = Date.now();
    while (fault.plane.recorder.buffered() > 0 && Date.now() - drainStart < 15_000) await fault.plane.recorder.flush();
    const recorded = await recordedStatuses(fault);
    expect(total(recorded)).toBe(answers.length);
    expect(Object.keys(recorded).every((status) => status === 'length' || status === 'stop')).toBe(true);
    expect(fault.log.some((line) => line.startsWith('invocation records lost'))).toBe(false);
  });
});

function countBy(values: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
