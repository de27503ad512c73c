import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { printJson } from '../output.js';

export function registerRm(command: Command): void {
  command
    .argument('<fn>', 'function name')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const body = await createApiClient().json<{ name: string; deleted: boolean }>('DELETE', `/v1/functions/${encodeURIComponent(name)}`);
      if (opts.json) return printJson(body);
      console.log(`deleted ${body.name}`);
    });
}
