import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../platform/db/open-database.js';
import { ENGINE_BUILT } from './e2e-server.js';

const BIN = join(import.meta.dirname, '../../bin/tidepool.mjs');

// `tidepool up` as a real process: SIGTERM mid-stream stops admission (503), lets the stream finish, records
// the invocation and exits 0.
describe.skipIf(!ENGINE_BUILT)('graceful shutdown of tidepool up', () => {
  let dataDir: string | undefined;
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('drains an in-flight stream on SIGTERM, refuses new requests with 503, records it and exits 0', { timeout: 120_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tidepool-shutdown-'));
    const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--json'], {
      env: {
        ...process.env, TIDEPOOL_DATA_DIR: dataDir, TIDEPOOL_SHM_DIR: join(dataDir, 'shm'), TIDEPOOL_HOST_POOL_BYTES: '1GiB',
        TIDEPOOL_ENGINE_BACKEND: 'cpu', TIDEPOOL_ENGINE_THREADS: '2', TIDEPOOL_GPU_MEMORY_BYTES: '1GiB', TIDEPOOL_SHUTDOWN_GRACE_MS: '60000',
        TIDEPOOL_HOST: '127.0.0.1', TIDEPOOL_API_KEY: '',
        // The records are read back from the embedded database below, whatever database the suite runs on.
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await new Promise<{ url: string; functions: string[] }>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
      void exited.then((code) => reject(new Error(`tidepool up exited ${code}: ${stderr}`)));
    });
    expect(ready.functions).toContain('tiny-chat');
    expect(stderr).toContain('running open: no API keys; bound to loopback');

    const res = await fetch(`${ready.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-chat', prompt: 'The tide', max_tokens: 1500, temperature: 0, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    // A new request while the stream drains gets 503 naming the reason.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await fetch(`${ready.url}/v1/models`);
    expect(refused.status).toBe(503);
    expect((await refused.json()).error).toMatchObject({ code: 'shutting_down', type: 'server_error' });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const drainedMs = Date.now() - signalledAt;
    expect(text.trimEnd().endsWith('data: [DONE]'), text.slice(-300)).toBe(true);
    const chunks = text.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
    const finish = chunks.at(-1).choices[0].finish_reason;
    expect(['length', 'stop']).toContain(finish);
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('shutdown complete');
    console.log(`stream of ${chunks.length - 1} chunks finished ${drainedMs} ms after SIGTERM (finish_reason ${finish}); exit 0`);

    const database = await openDatabase({ dataDir });
    try {
      const rows = await database.db.selectFrom('invocations').select(['function_name', 'status', 'completion_tokens']).execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ function_name: 'tiny-chat', status: finish });
    } finally {
      await database.close();
    }
  });
});
