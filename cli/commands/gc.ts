import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { formatDurationMs, parseDurationMs } from '../duration.js';
import { formatBytes, printJson, table } from '../output.js';

interface GcBody {
  readonly dry_run: boolean;
  readonly min_age_ms: number;
  readonly scanned: number;
  readonly referenced: number;
  readonly young: number;
  readonly unreferenced: readonly { digest: string; size: number; last_modified: string }[];
  readonly unreferenced_bytes: number;
  readonly deleted: number;
  readonly leftovers?: readonly { kind: string; path: string; bytes: number; why: string }[];
  readonly leftover_bytes?: number;
}

export function registerGc(command: Command): void {
  command
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--min-age <duration>', 'keep blobs written more recently than this, e.g. 24h, 30m, 0 (default 24h)')
    .option('--json', "print the server's report as JSON")
    .action(async (opts: { dryRun?: boolean; minAge?: string; json?: boolean }) => {
      const minAgeMs = opts.minAge === undefined ? undefined : parseDurationMs('--min-age', opts.minAge);
      const body = await createApiClient().json<GcBody>('POST', '/v1/blobs/gc', {
        dry_run: opts.dryRun === true,
        ...(minAgeMs !== undefined && { min_age_ms: minAgeMs }),
      });
      if (opts.json) return printJson(body);
      const count = body.unreferenced.length;
      const what = `${count} unreferenced blob(s), ${formatBytes(body.unreferenced_bytes)}`;
      console.log(
        `${body.dry_run ? `would delete ${what}` : `deleted ${what}`} (${body.scanned} stored: ${body.referenced} referenced, ${body.young} younger than ${formatDurationMs(body.min_age_ms)} kept)`,
      );
      if (count > 0) console.log(table([['DIGEST', 'SIZE', 'WRITTEN'], ...body.unreferenced.map((b) => [b.digest, formatBytes(b.size), b.last_modified])]));
      const leftovers = body.leftovers ?? [];
      if (leftovers.length === 0) return;
      console.log(
        `${body.dry_run ? 'would delete' : 'deleted'} ${leftovers.length} file(s) left by processes that died, ${formatBytes(body.leftover_bytes ?? 0)}`,
      );
      console.log(table([['KIND', 'SIZE', 'PATH', 'WHY'], ...leftovers.map((l) => [l.kind, formatBytes(l.bytes), l.path, l.why])]));
    });
}
