import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../platform/control-plane.js';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { memoryBlobs, scriptedNode } from '../integration/api/api-helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');
const BOOT = 'cli-bootstrap-key';

// `tidepool keys create --rpm/--tpm/--concurrency` and `keys ls`, the real CLI against a listening control plane.
describe('tidepool keys with limits', () => {
  let database: Database;
  let plane: ControlPlane;
  let url: string;

  function tidepool(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, TIDEPOOL_API_URL: url, TIDEPOOL_API_KEY: BOOT } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

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
});
