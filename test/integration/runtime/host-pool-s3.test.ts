import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, downloadBlobTo, putBlob } from '../../../platform/storage/blob-store.js';
import { S3ObjectStore } from '../../../platform/storage/s3-object-store.js';
import type { Artifact } from '../../../protocol/node-runtime.js';
import { createHostPool } from '../../../runtime/pool/host-pool.js';
import type { HostPool } from '../../../runtime/pool/host-pool-contract.js';
import { startS3rver, type RunningS3rver } from '../../helpers/s3rver.js';
import { digest } from '../../helpers/weights-digest.js';

// The host pool's cold start over the S3 protocol (s3rver), as cluster-mode nodes run it.
describe('host pool on an S3-compatible store', () => {
  let server: RunningS3rver;
  let store: S3ObjectStore;
  let root: string;
  let stopped = false;
  const gets: string[] = [];
  const pools: HostPool[] = [];

  async function pool(): Promise<HostPool> {
    const created = await createHostPool({
      shmDir: join(root, `shm-${pools.length}`),
      budgetBytes: 64 << 20,
      fetchBlob: (digest, path) => downloadBlobTo(store, digest, path),
      registry: new Registry(),
    });
    pools.push(created);
    return created;
  }

  async function artifact(seed: string): Promise<Artifact> {
    const contents = [Buffer.from(JSON.stringify({ seed })), Buffer.alloc(3 << 20, seed)];
    const files = [];
    for (const [index, bytes] of contents.entries()) {
      await putBlob(store, digestOf(bytes), bytes);
      files.push({ name: index === 0 ? 'config.json' : 'model.safetensors', digest: digestOf(bytes), size: bytes.length });
    }
    const bytes = files.reduce((total, f) => total + f.size, 0);
    return { weightsDigest: digest(digestOf(Buffer.from(files.map((f) => f.digest).join()))), files, bytes };
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tp-pool-s3-'));
    server = await startS3rver();
    server.client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetObjectCommand') gets.push(String((args.input as { Key?: string }).Key));
        return next(args);
      },
      { step: 'initialize' },
    );
    store = new S3ObjectStore({ bucket: server.bucket, prefix: 'weights/', client: server.client });
  });
  afterAll(async () => {
    for (const p of pools) await p.close();
    if (!stopped) await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('fetches each blob of a cold model once for many concurrent requests, bytes intact', async () => {
    const hostPool = await pool();
    const model = await artifact('s3');
    gets.length = 0;
    const leases = await Promise.all(Array.from({ length: 6 }, () => hostPool.acquire(model, { functionName: 'fn', keepWarmMs: 60_000 })));
    expect(new Set(gets).size).toBe(2);
    expect(gets.filter((key) => key.endsWith(model.files[1]!.digest.slice(7)))).toHaveLength(1);
    expect(digestOf(await readFile(join(leases[0]!.dir, 'model.safetensors')))).toBe(model.files[1]!.digest);
  });

  it('reports store_unavailable when the store stops answering', async () => {
    const hostPool = await pool();
    const model = await artifact('gone');
    await server.stop();
    stopped = true;
    await expect(hostPool.acquire(model, { functionName: 'fn', keepWarmMs: 1 })).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});
