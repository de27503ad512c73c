// One listening control plane over one local node on the real engine, with a chosen scheduler policy and
// the replay's functions deployed the way `tidepool deploy` does it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createApiClient } from '../../../cli/api-client.js';
import { deployFunction } from '../../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../../cli/function-dir.js';
import { createControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import { storeBlobs } from '../../../platform/functions/store-blobs.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { createLocalNodeRuntime } from '../../../runtime/node.js';
import type { PolicyName } from '../../../runtime/scheduler/gpu-scheduler.js';
import { storeBlobSource } from '../../../platform/storage/blob-store.js';

export interface BenchPlatform {
  readonly url: string;
  close(): Promise<void>;
}

export interface BenchPlatformOptions {
  readonly engineBin: string;
  readonly backend: 'cpu' | 'cuda';
  readonly engineThreads: number;
  readonly engineMemoryBytes: number;
  readonly policy: PolicyName;
  /** Function folders (function.yaml + model) to deploy. */
  readonly functionDirs: readonly string[];
}

export async function startBenchPlatform(o: BenchPlatformOptions): Promise<BenchPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tidepool-e2e-bench-'));
  const database = await openDatabase({ dataDir });
  const store = new FsObjectStore(join(dataDir, 'objects'));
  const registry = new Registry();
  const node = await createLocalNodeRuntime({
    fetchBlob: storeBlobSource(store),
    shmDir: join(dataDir, 'shm'),
    hostPoolBytes: 8 * 2 ** 30,
    engineBin: o.engineBin,
    backend: o.backend,
    engineMemoryBytes: o.engineMemoryBytes,
    engineThreads: o.engineThreads,
    policy: o.policy,
    queueLimit: 1024,
    queueTimeoutMs: 120_000,
    registry,
  });
  const plane = createControlPlane({ database, blobs: storeBlobs(store), nodes: [node], registry, recorder: { flushIntervalMs: 100 } });
  const url = await plane.listen(0, '127.0.0.1');
  const api = createApiClient({ baseUrl: url });
  for (const dir of o.functionDirs) await deployFunction(api, await prepareFunctionDir(dir, join(dataDir, 'synth')), { progress: false });
  return {
    url,
    async close() {
      await plane.close();
      await node.close();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
