import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../platform/control-plane.js';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { memoryBlobs, scriptedNode } from '../integration/api/api-helpers.js';
import { runCli, stderrLines } from './run-cli.js';

const BOOT = 'cli-bootstrap-key';

// `tidepool keys create --rpm/--tpm/--concurrency`, `keys ls` and `keys revoke`, the real CLI against a listening control plane.
describe('tidepool keys with limits', () => {
  let database: Database;
  let plane: ControlPlane;
  let url: string;

  const tidepool = (args: readonly string[]) => runCli(args, { TIDEPOOL_API_URL: url, TIDEPOOL_API_KEY: BOOT });

  beforeAll(async () => {
    database = await openDatabase({});
    plane = createControlPlane({ database, blobs: memoryBlobs(), nodes: [scriptedNode()], apiKey: BOOT });
    url = await plane.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await plane?.close();
    await database?.close();
  });

  it('creates a key with limits and lists them; unlimited shows as -', async () => {
    const created = await tidepool(['keys', 'create', '--name', 'metered', '--scope', 'invoke', '--rpm', '60', '--tpm', '100000', '--concurrency', '4']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('limits: 60 rpm, 100000 tpm, 4 concurrent');
    const json = await tidepool(['keys', 'create', '--name', 'half', '--scope', 'invoke', '--rpm', '5', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'half', rpm: 5, tpm: null, concurrency: null });
    const ls = await tidepool(['keys', 'ls']);
    expect(ls.stdout).toMatch(/RPM\s+TPM\s+CONCURRENCY/);
    expect(ls.stdout).toMatch(/metered\s+invoke\s+\*\s+60\s+100000\s+4\s/);
    expect(ls.stdout).toMatch(/half\s+invoke\s+\*\s+5\s+-\s+-\s/);
  });

  it('refuses a limit that is not a positive integer, before calling the server', async () => {
    const bad = await tidepool(['keys', 'create', '--name', 'x', '--scope', 'invoke', '--tpm', '1.5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('tidepool: --tpm must be a positive integer, not 1.5');
    const huge = await tidepool(['keys', 'create', '--name', 'x', '--scope', 'invoke', '--rpm', '99999999999']);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain('rpm: must be a positive integer (at most 2147483647)');
  });

  it('revokes a key: it works before and gets 401 after', async () => {
    const created = await tidepool(['keys', 'create', '--name', 'short-lived', '--scope', 'invoke', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    const models = () => fetch(`${url}/v1/models`, { headers: { Authorization: `Bearer ${key}` } });
    expect((await models()).status).toBe(200);

    const revoked = await tidepool(['keys', 'revoke', id, '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ id, revoked: true });
    const refused = await models();
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const listed = (JSON.parse((await tidepool(['keys', 'ls', '--json'])).stdout) as { id: string; revoked_at: string | null }[]).find((k) => k.id === id);
    expect(listed?.revoked_at).toEqual(expect.any(String));

    const again = await tidepool(['keys', 'revoke', id]);
    expect(again.code).toBe(1);
    expect(stderrLines(again)).toEqual([expect.stringMatching(new RegExp(`^tidepool: no active API key ${id}`))]);
  });
});
