import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { downloadBlobTo } from '../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../platform/storage/fs-object-store.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { complete, recordedStatuses, startFaultPlane, total, type FaultPlane } from './fault-plane.js';

if (!ENGINE_BUILT) console.log(`skip: node restart fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// The node runtime (here with its control plane, as `tidepool up` runs them) stops and starts again over the
// same shared-memory directory: weights already there are adopted after their files hash to their digests,
// so the next request needs no fetch from the store; a copy that no longer matches is refetched.
describe.skipIf(!ENGINE_BUILT)('fault: the node runtime restarts', () => {
  let root: { dir: string; remove(): Promise<void> };
  let database: Database;
  let store: FsObjectStore;
  let fault: FaultPlane | undefined;
  const fetched: string[] = [];

  const start = (deploy: boolean) =>
    startFaultPlane({
      database,
      store,
      deploy,
      node: {
        shmDir: join(root.dir, 'shm'),
        fetchBlob: async (digest, path) => {
          fetched.push(digest);
          await downloadBlobTo(store, digest, path);
        },
      },
    });
  const hostLoads = async (plane: FaultPlane) =>
    (await plane.registry.getSingleMetric('tidepool_model_loads_total')!.get()).values.find((v) => v.labels.tier === 'host')?.value ?? 0;

  beforeAll(async () => {
    root = await makeTempDir('tidepool-node-restart');
    database = await openDatabase({ dataDir: root.dir });
    store = new FsObjectStore(join(root.dir, 'objects'));
  });
  afterAll(async () => {
    await fault?.close();
    await database?.close();
    await root?.remove();
  });

  it('adopts verified weights from shared memory instead of refetching them', { timeout: 90_000 }, async () => {
    fault = await start(true);
    expect((await complete(fault.url, {})).status).toBe(200);
    const files = fetched.length;
    expect(files).toBeGreaterThan(0);
    await fault.close();

    fault = await start(false);
    // Rediscovered at start: warm in host memory before any request, and no fetch for the next one.
    const hostBytes = (await fault.registry.getSingleMetric('tidepool_model_residency_bytes')!.get()).values.find((v) => v.labels.tier === 'host')?.value;
    expect(hostBytes).toBeGreaterThan(0);
    expect((await complete(fault.url, {})).status).toBe(200);
    expect(fetched).toHaveLength(files);
    expect(await hostLoads(fault)).toBe(0);
    await fault.close();

    // A weights file changed in shared memory fails its digest check at the next start: refetched.
    const [modelDir] = await readdir(join(root.dir, 'shm'));
    const weights = (await readdir(join(root.dir, 'shm', modelDir!))).find((f) => f.endsWith('.safetensors'))!;
    await writeFile(join(root.dir, 'shm', modelDir!, weights), 'not the weights');
    fault = await start(false);
    expect((await complete(fault.url, {})).status).toBe(200);
    expect(fetched).toHaveLength(2 * files);
    expect(await hostLoads(fault)).toBe(1);
    console.log(`${files} blob(s) fetched at first start, none after a clean restart, ${files} again after corrupting ${weights}`);

    // Every request across the three runs has its record in the one database.
    const recorded = await recordedStatuses(fault);
    expect(total(recorded)).toBe(3);
  });
});
