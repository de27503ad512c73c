import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFunctionVersion, deleteFunction } from '../../../platform/db/repositories/function-repository.js';
import { upsertNode } from '../../../platform/db/repositories/node-repository.js';
import { createWarmHoldSync, type WarmHoldSyncOptions } from '../../../platform/router/warm-hold-sync.js';
import { digestOf, putBlob, storeBlobSource } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { startNodeServer, type NodeServer } from '../../../runtime/cluster/node-server.js';
import { createLocalNodeRuntime, type LocalNodeRuntime } from '../../../runtime/node.js';
import type { Artifact, WarmHoldTarget } from '../../../protocol/node-runtime.js';
import { withDatabases } from '../../helpers/databases.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { waitFor } from '../../helpers/wait-for.js';
import { messageLogger } from '../../helpers/message-logger.js';
import { digest } from '../../helpers/weights-digest.js';

/**
 * The replica side of min_warm convergence against a real node runtime (over the stub engine) behind the real
 * node server: the wanted holds come from the database, and a heartbeat reporting other holds gets them.
 */

const TOKEN = 'warm-sync-token';
const stubEngine = fileURLToPath(new URL('../../unit/runtime/stub-engine.mjs', import.meta.url));

withDatabases(({ database }) => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let store: FsObjectStore;
  const nodes: { runtime: LocalNodeRuntime; server: NodeServer }[] = [];

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-warm-sync');
    store = new FsObjectStore(join(temp.dir, 'store'));
  });
  afterAll(async () => {
    for (const { runtime, server } of nodes.splice(0)) {
      await server.close();
      await runtime.close();
    }
    await temp?.remove();
  });

  async function startNode(id: string): Promise<{ runtime: LocalNodeRuntime; url: string }> {
    const runtime = await createLocalNodeRuntime({
      nodeId: id,
      fetchBlob: storeBlobSource(store),
      shmDir: join(temp.dir, `shm-${id}`),
      hostPoolBytes: 1 << 20,
      engineBin: stubEngine,
      backend: 'cpu',
      engineMemoryBytes: 1 << 20,
      queueLimit: 4,
      queueTimeoutMs: 5_000,
      registry: new Registry(),
    });
    const server = await startNodeServer({ node: runtime, token: TOKEN, host: '127.0.0.1', port: 0 });
    nodes.push({ runtime, server });
    return { runtime, url: server.url };
  }

  /** Uploads one weights file and registers `name` as a new active version with these manifest fields. */
  async function deploy(name: string, fields: Record<string, unknown>): Promise<Artifact> {
    const bytes = Buffer.from(`weights of ${name} ${JSON.stringify(fields)}`);
    const file = { name: 'model.safetensors', digest: digestOf(bytes), size: bytes.length };
    await putBlob(store, file.digest, bytes);
    const artifact = { weightsDigest: digest(digestOf(Buffer.from(`${name}:${file.digest}`))), files: [file], bytes: bytes.length };
    await createFunctionVersion(database().db, {
      name,
      description: '',
      manifest: { name, model: { path: './model' }, ...fields },
      weightsDigest: artifact.weightsDigest,
      files: [file],
      sizeBytes: artifact.bytes,
    });
    return artifact;
  }

  function sync(overrides: Partial<WarmHoldSyncOptions> = {}) {
    return createWarmHoldSync({ db: database().db, token: TOKEN, downAfterMs: 10_000, cacheMs: 0, ...overrides });
  }

  const reportOf = (runtime: LocalNodeRuntime) => runtime.warmHoldReport!();
  const tierOf = async (runtime: LocalNodeRuntime, fn: string) => (await runtime.residency()).find((m) => m.functionName === fn)?.tier;

  async function warm(runtime: LocalNodeRuntime, fn: string): Promise<void> {
    await waitFor(async () => (await tierOf(runtime, fn)) === 'host', { intervalMs: 20, message: `${fn} to be warm in host memory` }).catch(() => undefined);
  }

  it('sends a node that reports no holds the ones the database wants, and nothing more once they match', async () => {
    await database().db.deleteFrom('functions').execute();
    const pinned = await deploy('sync-pinned', { min_warm: 1, keep_warm_ms: 7 });
    await deploy('sync-cold', {});
    const node = await startNode('sync-a');
    const lines: string[] = [];
    const replica = sync({ log: messageLogger(lines) });
    replica.heartbeat({ id: 'sync-a', address: node.url }, reportOf(node.runtime));
    await replica.idle();
    expect(lines).toEqual(['warm holds: sent node sync-a its holds: sync-pinned (it reported none)']);
    expect(reportOf(node.runtime)).toEqual([{ functionName: 'sync-pinned', weightsDigest: pinned.weightsDigest }]);
    await warm(node.runtime, 'sync-pinned');
    expect(await tierOf(node.runtime, 'sync-pinned')).toBe('host');
    replica.heartbeat({ id: 'sync-a', address: node.url }, reportOf(node.runtime));
    await replica.idle();
    expect(lines).toHaveLength(1);
  });

  it('moves a node to a redeployed artifact and releases a function that was removed while it was away', async () => {
    await database().db.deleteFrom('functions').execute();
    const v1 = await deploy('sync-redeployed', { min_warm: 1 });
    await deploy('sync-removed', { min_warm: 1 });
    const node = await startNode('sync-b');
    const replica = sync();
    replica.heartbeat({ id: 'sync-b', address: node.url }, []);
    await replica.idle();
    expect(reportOf(node.runtime).map((h) => h.functionName)).toEqual(['sync-redeployed', 'sync-removed']);
    // Changed in the database behind the node's back: no deploy or remove call reached it.
    const v2 = await deploy('sync-redeployed', { min_warm: 1, description: 'v2' });
    expect(v2.weightsDigest).not.toBe(v1.weightsDigest);
    await deleteFunction(database().db, 'sync-removed');
    replica.heartbeat({ id: 'sync-b', address: node.url }, reportOf(node.runtime));
    await replica.idle();
    expect(reportOf(node.runtime)).toEqual([{ functionName: 'sync-redeployed', weightsDigest: v2.weightsDigest }]);
    await warm(node.runtime, 'sync-redeployed');
    expect(await tierOf(node.runtime, 'sync-redeployed')).toBe('host');
  });

  it('lets two replicas send the same node its holds at once: one hold, one lease', async () => {
    await database().db.deleteFrom('functions').execute();
    const pinned = await deploy('sync-shared', { min_warm: 2, keep_warm_ms: 0 });
    const node = await startNode('sync-c');
    const [one, two] = [sync(), sync()];
    one.heartbeat({ id: 'sync-c', address: node.url }, []);
    two.heartbeat({ id: 'sync-c', address: node.url }, []);
    await Promise.all([one.idle(), two.idle()]);
    await warm(node.runtime, 'sync-shared');
    expect(reportOf(node.runtime)).toEqual([{ functionName: 'sync-shared', weightsDigest: pinned.weightsDigest }]);
    await node.runtime.setWarmHolds!([]);
    // keep_warm_ms 0 and never invoked: once its one lease is released, the model leaves host memory.
    const used = async () => (await node.runtime.stats()).hostPool.usedBytes;
    await waitFor(async () => (await used()) === 0, { intervalMs: 20, message: 'the released model to leave host memory' });
    expect(await node.runtime.residency()).toEqual([]);
  });

  it('has the node server refuse a malformed set with a 400 naming the entry, and a wrong token with 401', async () => {
    const node = await startNode('sync-bad');
    const put = (body: unknown, token = TOKEN) =>
      fetch(`${node.url}/internal/warm-holds`, { method: 'PUT', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const artifact = { digest: `sha256:${'a'.repeat(64)}`, files: [], bytes: 0 };
    const refusals = [
      [{ holds: 'all' }, 'holds must be an array'],
      [{ holds: [{ functionName: 'a', artifact: null, keepWarmMs: 0 }] }, 'holds[0]: artifact must be set (leave a function out to release it)'],
      [
        {
          holds: [
            { functionName: 'a', artifact, keepWarmMs: 0 },
            { functionName: 'a', artifact, keepWarmMs: 0 },
          ],
        },
        'holds[1]: function a is listed twice',
      ],
      [{ holds: [{ functionName: 'a', artifact, keepWarmMs: -1 }] }, 'holds[0]: keepWarmMs must be a non-negative integer'],
    ] as const;
    for (const [body, message] of refusals) {
      const res = await put(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(message);
    }
    expect((await put({ holds: [] }, 'nope')).status).toBe(401);
    expect(await (await put({ holds: [] })).json()).toEqual({ holds: [] });
  });

  it('at start-up sends every live ready node its holds, and skips draining and silent ones', async () => {
    await database().db.deleteFrom('functions').execute();
    await database().db.deleteFrom('nodes').execute();
    await deploy('sync-startup', { min_warm: 1 });
    const register = (id: string, state: string, heartbeatAt: Date) =>
      upsertNode(database().db, { id, address: `http://127.0.0.1:9/${id}`, backend: 'cpu', gpus: [], hostPoolBytes: 1, state }, heartbeatAt);
    await register('live', 'ready', new Date());
    await register('draining', 'draining', new Date());
    await register('silent', 'ready', new Date(Date.now() - 60_000));
    const sent: [string, string[]][] = [];
    await sync({ send: async (node, holds) => void sent.push([node.id, holds.map((h) => h.functionName)]) }).syncAll();
    expect(sent).toEqual([['live', ['sync-startup']]]);
  });

  it('does not undo a hold the node already has when its cached read of the database predates the deploy', async () => {
    await database().db.deleteFrom('functions').execute();
    const sent: string[][] = [];
    const replica = sync({ cacheMs: 60_000, send: async (_node, holds) => void sent.push(holds.map((h) => h.functionName)) });
    const node = { id: 'sync-stale', address: 'http://127.0.0.1:9' };
    replica.heartbeat(node, []); // reads (and caches) "no holds": the node agrees, nothing is sent
    await replica.idle();
    const artifact = await deploy('sync-fresh', { min_warm: 1 });
    // The deploy's own hold reached the node, whose next heartbeat reports it while the cache is still warm.
    replica.heartbeat(node, [{ functionName: 'sync-fresh', weightsDigest: artifact.weightsDigest }]);
    await replica.idle();
    expect(sent).toEqual([]);
  });

  it('does not resend to a node whose last send failed until the retry time has passed', async () => {
    await database().db.deleteFrom('functions').execute();
    await deploy('sync-retry', { min_warm: 1 });
    let clock = 1_000_000;
    const attempts: WarmHoldTarget[][] = [];
    const lines: string[] = [];
    const replica = sync({
      now: () => clock,
      retryAfterMs: 30_000,
      log: messageLogger(lines),
      send: async (_node, holds) => {
        attempts.push([...holds]);
        throw new Error('connect ECONNREFUSED');
      },
    });
    const beat = async () => {
      replica.heartbeat({ id: 'sync-down', address: 'http://127.0.0.1:9' }, []);
      await replica.idle();
    };
    await beat();
    await beat();
    clock += 29_000;
    await beat();
    expect(attempts).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^warm holds: could not send node sync-down its holds \(connect ECONNREFUSED\); retrying after 30 s$/);
    clock += 1_000;
    await beat();
    expect(attempts).toHaveLength(2);
  });
});
