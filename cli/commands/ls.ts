import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { formatBytes, printJson, table } from '../output.js';

interface ListBody {
  readonly data: readonly { name: string; active_version: number | null; size_bytes: number; description: string; updated_at: string }[];
}

export function registerLs(command: Command): void {
  command.option('--json', 'print the list as JSON').action(async (opts: { json?: boolean }) => {
    const body = await createApiClient().json<ListBody>('GET', '/v1/functions');
    if (opts.json) return printJson(body.data);
    if (body.data.length === 0) return console.log('no functions deployed (try: tidepool deploy functions/tiny-chat)');
    const rows = body.data.map((f) => [f.name, `v${f.active_version ?? '-'}`, formatBytes(f.size_bytes), f.updated_at, f.description]);
    console.log(table([['NAME', 'VERSION', 'SIZE', 'UPDATED', 'DESCRIPTION'], ...rows]));
  });
}
