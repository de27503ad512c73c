import type { Command } from 'commander';
import type { OpsState } from '../../platform/ops/ops-types.js';
import { HIDE_CURSOR, HOME_AND_CLEAR, SHOW_CURSOR, colorWanted, paint } from '../ansi.js';
import { createApiClient } from '../api-client.js';
import { CliError } from '../cli-error.js';
import { printJson } from '../output.js';
import { renderTop } from '../top-view.js';

interface TopOptions {
  readonly interval?: string;
  readonly once?: boolean;
  readonly json?: boolean;
}

export function registerTop(command: Command): void {
  command
    .option('--interval <ms>', 'refresh period in milliseconds, at least 200', '1000')
    .option('--once', 'print one frame and exit (also when stdout is not a terminal)')
    .option('--json', 'print one snapshot of GET /v1/ops/state as JSON and exit')
    .action(async (opts: TopOptions) => {
      const intervalMs = parseInterval(opts.interval ?? '1000');
      const api = createApiClient();
      const read = () => api.json<OpsState>('GET', '/v1/ops/state');
      // The first read fails the command outright (unreachable, bad key) rather than drawing an error screen.
      const first = await read();
      if (opts.json) return printJson(first);
      const color = colorWanted(process.stdout);
      const frame = (state: OpsState) => renderTop(state, { color, source: api.baseUrl }).join('\n');
      if (opts.once || !process.stdout.isTTY) return console.log(frame(first));
      await live(first, read, frame, intervalMs, color);
    });
}

/** Redraws in place until Ctrl-C; a failed refresh keeps the last frame and says why at the bottom. */
async function live(first: OpsState, read: () => Promise<OpsState>, frame: (state: OpsState) => string, intervalMs: number, color: boolean): Promise<never> {
  const restore = () => process.stdout.write(SHOW_CURSOR);
  process.once('SIGINT', () => {
    restore();
    process.stdout.write('\n');
    process.exit(0);
  });
  process.once('exit', restore);
  process.stdout.write(HIDE_CURSOR);
  let last = frame(first);
  let problem = '';
  for (;;) {
    process.stdout.write(`${HOME_AND_CLEAR}${last}\n${problem}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    try {
      last = frame(await read());
      problem = '';
    } catch (error) {
      problem = paint(`refresh failed: ${(error as Error).message}; retrying`, 'red', color);
    }
  }
}

function parseInterval(value: string): number {
  const ms = Number(value);
  if (!/^\d+$/.test(value.trim()) || ms < 200) throw new CliError(`--interval must be a whole number of milliseconds, at least 200, not ${value}`);
  return ms;
}
