import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eServer, type E2eServer } from './e2e-server.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');

/** Runs the real `bin/tidepool.mjs` against the test server. */
function tidepool(server: E2eServer, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, TIDEPOOL_API_URL: server.url, TIDEPOOL_DATA_DIR: server.dataDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function listBlobs(server: E2eServer): Promise<string[]> {
  const entries = await readdir(join(server.dataDir, 'objects'), { recursive: true }).catch(() => []);
  return entries.map(String).sort();
}

describe('tidepool CLI end to end', () => {
  let server: E2eServer;
  beforeAll(async () => {
    server = await startE2eServer();
    console.log(`cli e2e: node is ${server.engine === 'cpu' ? 'the real CPU engine' : 'scripted (engine binary not built)'}`);
  });
  afterAll(async () => server?.close());

  it('deploys, lists, shows, invokes and removes a function', async () => {
    const deploy = await tidepool(server, ['deploy', 'functions/tiny-qwen', '--json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(JSON.parse(deploy.stdout)).toMatchObject({ name: 'tiny-qwen', version: 1, uploaded: 2, skipped: 0 });
    const again = await tidepool(server, ['deploy', 'functions/tiny-qwen', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2, uploaded: 0, skipped: 2 });

    const ls = await tidepool(server, ['ls']);
    expect(ls.stdout).toMatch(/tiny-qwen\s+v2/);
    const show = await tidepool(server, ['show', 'tiny-qwen', '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'tiny-qwen', active_version: 2, versions: [{ version: 2, active: true }, { version: 1, active: false }] });

    const invoke = await tidepool(server, ['invoke', 'tiny-qwen', 'abc', '--max-tokens', '5']);
    expect(invoke.code, invoke.stderr).toBe(0);
    expect(invoke.stdout.length).toBeGreaterThan(0);
    const json = await tidepool(server, ['invoke', 'tiny-qwen', 'abc', '--max-tokens', '5', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ function: 'tiny-qwen', usage: { prompt_tokens: 3, completion_tokens: 5 } });

    expect((await tidepool(server, ['rm', 'tiny-qwen'])).stdout).toContain('deleted tiny-qwen');
    const gone = await tidepool(server, ['show', 'tiny-qwen']);
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain('function tiny-qwen does not exist');
  });

  it('refuses an invalid manifest naming the field and uploads nothing', async () => {
    const dir = join(server.dataDir, 'bad-fn');
    await mkdir(dir, { recursive: true });
    await cp(join(ROOT, 'test/fixtures/models/tiny-llama'), join(dir, 'model'), { recursive: true });
    await writeFile(join(dir, 'function.yaml'), 'name: bad-fn\nmodel: {path: ./model}\nslo: {tpot_ms: -5}\n');
    const blobsBefore = await listBlobs(server);
    const res = await tidepool(server, ['deploy', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('slo.tpot_ms: must be a positive integer');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(await listBlobs(server)).toEqual(blobsBefore);
  });

  it('reports an unreachable control plane in one line', async () => {
    const res = await tidepool({ ...server, url: 'http://127.0.0.1:9' }, ['ls']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^tidepool: cannot reach the control plane at http:\/\/127\.0\.0\.1:9/);
  });
});
