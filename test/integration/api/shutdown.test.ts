import { afterEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles, scriptedNode } from './api-helpers.js';

// ControlPlane.shutdown's deadline: a stream longer than the grace period is cut, and the call still returns.
describe('control plane shutdown deadline', () => {
  let database: Database;
  let plane: ControlPlane;
  afterEach(async () => database?.close());

  it('cuts a stream still running after graceMs and reports it', async () => {
    database = await openDatabase({});
    const blobs = memoryBlobs();
    plane = createControlPlane({ database, blobs, nodes: [scriptedNode({ tokenDelayMs: 50 })], recorder: { flushIntervalMs: 10 } });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    expect(
      (
        await request(plane.app)
          .post('/v1/functions')
          .send({ manifest: { name: 'slow', model: { path: '.' } }, files })
      ).status,
    ).toBe(201);
    const url = await plane.listen(0, '127.0.0.1');
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'slow', prompt: 'x', max_tokens: 100, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    const started = Date.now();
    const result = await plane.shutdown(200);
    expect(result).toEqual({ cut: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
    ).rejects.toThrow();
  });
});
