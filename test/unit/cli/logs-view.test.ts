import { describe, expect, it } from 'vitest';
import type { OpsInvocation } from '../../../platform/ops/ops-types.js';
import { FollowCursor } from '../../../cli/follow-cursor.js';
import { logHeader, logLine } from '../../../cli/logs-view.js';

function row(id: string, finishedAt: string, overrides: Partial<OpsInvocation> = {}): OpsInvocation {
  return {
    id,
    function: 'chat',
    version: 1,
    node: 'node-a',
    status: 'stop',
    prompt_tokens: 12,
    completion_tokens: 64,
    ttft_ms: 250,
    tpot_ms: 42.5,
    slo_attainment: 1,
    slo_met: true,
    started_at: finishedAt,
    finished_at: finishedAt,
    error: null,
    params: null,
    ...overrides,
  };
}

describe('tidepool logs lines', () => {
  it('keep fixed columns, so followed rows line up under the header', () => {
    const header = logHeader(false);
    const line = logLine(row('a', '2026-11-24T07:00:00.000Z'), { ttft_ms: 1000, tpot_ms: 100 }, false);
    for (const column of ['STATUS', 'TOKENS', 'TTFT', 'TPOT', 'ID', 'NODE']) expect(header.indexOf(column)).toBeGreaterThan(0);
    const answered = logLine(row('chatcmpl-5f0c2a9d1b7e4c3a8f6d0e2b4a6c8e0f', '2026-11-24T07:00:00.000Z'), undefined, false);
    expect(answered.indexOf('chatcmpl-5f0c2a9d1b7e4c3a8f6d0e2b4a6c8e0f')).toBe(header.indexOf('ID'));
    expect(answered.indexOf('node-a')).toBe(header.indexOf('NODE'));
    expect(line.indexOf('stop')).toBe(header.indexOf('STATUS'));
    expect(line.indexOf('12/64')).toBe(header.indexOf('TOKENS'));
    expect(line.indexOf('250 ms')).toBe(header.indexOf('TTFT'));
    expect(line.indexOf('42.5 ms')).toBe(header.indexOf('TPOT'));
    expect(line.endsWith('node-a')).toBe(true);
  });

  it('mark TTFT and TPOT over the SLO with ! (and red on a terminal), and show errors on one line', () => {
    const slow = row('b', '2026-11-24T07:00:00.000Z', { ttft_ms: 1500, tpot_ms: 120, status: 'error', error: 'engine\nexploded', node: null });
    expect(logLine(slow, { ttft_ms: 1000, tpot_ms: 100 }, false)).toMatch(/error\s+12\/64\s+1500 ms !\s+120 ms !\s+b\s+- {2}engine exploded$/);
    expect(logLine(slow, { ttft_ms: 1000, tpot_ms: 100 }, true)).toContain('\x1b[31m1500 ms !');
    expect(logLine(slow, undefined, false)).not.toContain('!');
  });
});

describe('follow cursor', () => {
  it('asks from the overlap before the newest finish and prints each row once', () => {
    const cursor = new FollowCursor(5_000);
    expect(cursor.since()).toBe('1970-01-01T00:00:00.000Z');
    const first = [row('a', '2026-11-24T07:00:00.000Z'), row('b', '2026-11-24T07:00:10.000Z')];
    expect(cursor.fresh(first).map((r) => r.id)).toEqual(['a', 'b']);
    expect(cursor.since()).toBe('2026-11-24T07:00:05.000Z');
    // `b` again (overlap), and `c` that landed late with an earlier finish than `b`.
    const again = [row('c', '2026-11-24T07:00:09.000Z'), row('b', '2026-11-24T07:00:10.000Z'), row('d', '2026-11-24T07:00:11.000Z')];
    expect(cursor.fresh(again).map((r) => r.id)).toEqual(['c', 'd']);
    expect(cursor.fresh(again)).toEqual([]);
  });
});
