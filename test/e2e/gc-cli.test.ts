import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobService } from '../../platform/functions/blob-service.js';
import { createControlPlane, type ControlPlane } from '../../platform/control-plane.js';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { storeBlobs } from '../../platform/functions/store-blobs.js';
import { blobKey, digestOf } from '../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../platform/storage/fs-object-store.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { FIXTURE_QWEN, putModelFiles, scriptedNode } from '../integration/api/api-helpers.js';
import { runCli, stderrLines } from './run-cli.js';

// `tidepool gc`, the real CLI against a listening control plane on PGlite and the filesystem store.
describe('tidepool gc', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: Database;
  let plane: ControlPlane;
  let blobs: BlobService;
  let url: string;
  let old: string;
  let young: string;

  const tidepool = (args: readonly string[]) => runCli(args, { TIDEPOOL_API_URL: url });
  const stored = async (digest: string) => (await blobs.size(digest)) !== undefined;

  async function blob(text: string, ageMs: number): Promise<string> {
    const digest = digestOf(Buffer.from(text));
    await blobs.put(digest, Readable.from([Buffer.from(text)]));
    const at = new Date(Date.now() - ageMs);
    await utimes(join(temp.dir, blobKey(digest)), at, at);
    return digest;
  }

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-gc-cli');
    database = await openDatabase({});
    blobs = storeBlobs(new FsObjectStore(temp.dir));
    plane = createControlPlane({ database, blobs, nodes: [scriptedNode()] });
    url = await plane.listen(0, '127.0.0.1');
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    const res = await fetch(`${url}/v1/functions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ manifest: { name: 'kept', model: { path: '.' } }, files }),
    });
    expect(res.status).toBe(201);
    old = await blob('left behind', 3 * 86_400_000);
    young = await blob('just uploaded', 0);
  });
  afterAll(async () => {
    await plane?.close();
    await database?.close();
    await temp?.remove();
  });

  it('lists what it would delete with --dry-run and deletes nothing', async () => {
    const run = await tidepool(['gc', '--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    const [summary, header, row] = run.stdout.trim().split('\n');
    expect(summary).toMatch(/^would delete 1 unreferenced blob\(s\), 11 B \(\d+ stored: \d+ referenced, 1 younger than 24h kept\)$/);
    expect(header).toMatch(/^DIGEST\s+SIZE\s+WRITTEN$/);
    expect(row).toMatch(new RegExp(`^${old}\\s+11 B\\s+\\d{4}-`));
    expect(await stored(old)).toBe(true);
  });

  it('deletes old unreferenced blobs, and young ones too with --min-age 0', async () => {
    const run = await tidepool(['gc', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ dry_run: false, min_age_ms: 86_400_000, young: 1, deleted: 1, unreferenced: [{ digest: old, size: 11 }] });
    expect(await stored(old)).toBe(false);
    expect(await stored(young)).toBe(true);
    const all = await tidepool(['gc', '--min-age', '0']);
    expect(all.stdout).toMatch(/^deleted 1 unreferenced blob\(s\), 13 B \(\d+ stored: \d+ referenced, 0 younger than 0 kept\)\n/);
    expect(await stored(young)).toBe(false);
  });

  it('refuses a --min-age that is not a duration with one line naming it, before calling the server', async () => {
    for (const value of ['5x', '24', '-1h', 'h']) {
      const run = await tidepool(['gc', '--min-age', value]);
      expect(run.code).toBe(1);
      expect(stderrLines(run)).toEqual([`tidepool: --min-age: expected a duration such as 24h, 30m, 90s or 0, got "${value}"`]);
    }
  });
});
