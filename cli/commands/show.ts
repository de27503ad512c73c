import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { formatBytes, printJson, table } from '../output.js';

interface ShowBody {
  readonly name: string;
  readonly description: string;
  readonly active_version: number | null;
  readonly size_bytes: number;
  readonly versions: readonly { version: number; active: boolean; artifact_digest: string; size_bytes: number; created_at: string }[];
  readonly residency: readonly { node: string | null; tier: string; queued: number; running: number }[];
}

export function registerShow(command: Command): void {
  command
    .argument('<fn>', 'function name')
    .option('--json', 'print the details as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const d = await createApiClient().json<ShowBody>('GET', `/v1/functions/${encodeURIComponent(name)}`);
      if (opts.json) return printJson(d);
      console.log(`${d.name}  v${d.active_version ?? '-'}  ${formatBytes(d.size_bytes)}${d.description ? `  ${d.description}` : ''}`);
      const where = d.residency.map(
        (r) => `${r.tier}${r.node ? ` on ${r.node}` : ''}${r.running + r.queued > 0 ? ` (${r.running} running, ${r.queued} queued)` : ''}`,
      );
      console.log(`resident: ${where.join(', ')}`);
      const rows = d.versions.map((v) => [`${v.active ? '*' : ' '}v${v.version}`, formatBytes(v.size_bytes), v.created_at, v.artifact_digest]);
      console.log(table([['VERSION', 'SIZE', 'CREATED', 'ARTIFACT'], ...rows]));
    });
}
