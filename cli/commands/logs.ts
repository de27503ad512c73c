import type { Command } from 'commander';
import type { OpsInvocation, OpsInvocationPage } from '../../platform/ops/ops-types.js';
import { colorWanted } from '../ansi.js';
import { createApiClient, type ApiClient } from '../api-client.js';
import { CliError } from '../cli-error.js';
import { FollowCursor } from '../follow-cursor.js';
import { logHeader, logLine, type LogSlo } from '../logs-view.js';
import { printJson } from '../output.js';

const FOLLOW_POLL_MS = 1_000;
/** The API's page size limit: a poll that fills it is followed at once by another. */
const MAX_PAGE = 1000;

interface LogsOptions {
  readonly limit?: string;
  readonly follow?: boolean;
  readonly json?: boolean;
}

export function registerLogs(command: Command): void {
  command
    .argument('<fn>', 'function name')
    .option('--limit <n>', 'how many recent invocations to show, 1-1000', '20')
    .option('-f, --follow', 'keep printing invocations as they are recorded, until Ctrl-C')
    .option('--json', 'print invocations as JSON (with --follow: one JSON object per line)')
    .action(async (name: string, opts: LogsOptions) => {
      const limit = parseLimit(opts.limit ?? '20');
      const api = createApiClient();
      const fn = encodeURIComponent(name);
      const page = await api.json<OpsInvocationPage>('GET', `/v1/invocations?function=${fn}&limit=${limit}`);
      const rows = [...page.data].reverse();
      if (opts.json && !opts.follow) return printJson(rows);
      const color = colorWanted(process.stdout);
      const slo = await sloOf(api, fn);
      const print = (row: OpsInvocation) => console.log(opts.json ? JSON.stringify(row) : logLine(row, slo, color));
      if (!opts.json) console.log(logHeader(color));
      rows.forEach(print);
      if (!opts.json && rows.length === 0 && !opts.follow) console.log(`no invocations of ${name} recorded yet`);
      if (!opts.follow) return;
      const cursor = new FollowCursor();
      cursor.fresh(rows);
      for (;;) {
        const next = await api.json<OpsInvocationPage>('GET', `/v1/invocations?function=${fn}&limit=${MAX_PAGE}&since=${encodeURIComponent(cursor.since())}`);
        const fresh = cursor.fresh(next.data);
        fresh.forEach(print);
        // A full page may have more behind it, unless it was all overlap already printed.
        if (next.data.length < MAX_PAGE || fresh.length === 0) await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
      }
    });
}

/** The active version's SLO; none for a deleted function whose history is still listed. */
async function sloOf(api: ApiClient, fn: string): Promise<LogSlo | undefined> {
  const res = await api.raw('GET', `/v1/functions/${fn}`, { allow: [404] });
  if (res.status === 404) return undefined;
  const body = (await res.json()) as { manifest?: { slo?: LogSlo } };
  return body.manifest?.slo;
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || limit < 1 || limit > MAX_PAGE) throw new CliError(`--limit must be an integer from 1 to ${MAX_PAGE}, not ${value}`);
  return limit;
}
