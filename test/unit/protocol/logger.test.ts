import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../protocol/logger.js';

const at = () => new Date('2026-12-05T10:11:12.345Z');

describe('logger', () => {
  it('writes JSON lines with time, level, message and the fields of its children', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json', write: (line) => lines.push(line), now: at }).child({ component: 'node' });
    log.child({ device: 'cuda:1' }).warn('engine restart failed', { attempt: 2 });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { time: '2026-12-05T10:11:12.345Z', level: 'warn', msg: 'engine restart failed', component: 'node', device: 'cuda:1', attempt: 2 },
    ]);
  });

  it('writes readable lines locally, quoting field values with spaces', () => {
    const lines: string[] = [];
    createLogger({ level: 'debug', format: 'text', write: (line) => lines.push(line), now: at }).info('deployed', { function: 'tiny chat', version: 1 });
    expect(lines).toEqual(['10:11:12.345 info  deployed function="tiny chat" version=1']);
  });

  it('drops what is below its level, and everything when silent', () => {
    const lines: string[] = [];
    const write = (line: string) => lines.push(line);
    const warnOnly = createLogger({ level: 'warn', format: 'text', write, now: at });
    warnOnly.debug('a');
    warnOnly.info('b');
    warnOnly.error('c');
    createLogger({ level: 'silent', format: 'json', write }).error('d');
    expect(lines).toEqual(['10:11:12.345 error c']);
  });
});
