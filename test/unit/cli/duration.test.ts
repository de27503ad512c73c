import { describe, expect, it } from 'vitest';
import { CliError } from '../../../cli/cli-error.js';
import { formatDurationMs, parseDurationMs } from '../../../cli/duration.js';

describe('durations on the command line', () => {
  it.each([
    ['24h', 86_400_000],
    ['30m', 1_800_000],
    ['90s', 90_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['0', 0],
    ['0s', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDurationMs('--min-age', text)).toBe(ms);
  });

  it.each(['24', '1 h', '-1h', '1e3s', 'h', '', '99999999999999d'])('refuses %j naming the option', (text) => {
    expect(() => parseDurationMs('--min-age', text)).toThrow(CliError);
    expect(() => parseDurationMs('--min-age', text)).toThrow(`--min-age: expected a duration such as 24h, 30m, 90s or 0, got ${JSON.stringify(text)}`);
  });

  it('prints a duration in its largest whole unit, hours up to two days', () => {
    expect([0, 250, 90_000, 1_800_000, 86_400_000, 172_800_000, 259_200_000, 5_400_000].map(formatDurationMs)).toEqual([
      '0',
      '250ms',
      '90s',
      '30m',
      '24h',
      '48h',
      '3d',
      '90m',
    ]);
  });
});
