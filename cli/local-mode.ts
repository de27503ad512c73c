import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { LocalNodeRuntime } from '../runtime/node.js';
import { instanceShmDir } from '../runtime/pool/shm-namespace.js';
import type { TidepoolConfig } from '../platform/config.js';
import { createControlPlane, type ControlPlane } from '../platform/control-plane.js';
import { openDatabase } from '../platform/db/open-database.js';
import type { Database } from '../platform/db/database.js';
import { createInflightJournal, takeInterruptedInvocations } from '../platform/functions/inflight-journal.js';
import { storeBlobs } from '../platform/functions/store-blobs.js';
import { createObjectStore } from '../platform/storage/create-object-store.js';
import { createApiClient, type ApiClient } from './api-client.js';
import { crashLeftovers, sweepPartialUploads } from './crash-leftovers.js';
import { deployFunction } from './deploy-function.js';
import { prepareFunctionDir } from './function-dir.js';
import { startNodeRuntime } from './start-node-runtime.js';
import { storeBlobSource } from '../platform/storage/blob-store.js';
import type { Logger } from '../protocol/logger.js';
import { installRoot } from '../protocol/install-root.js';

/** The example functions shipped in the repository's `functions/` folder. */
export const EXAMPLES_DIR = join(installRoot(), 'functions');

export interface LocalMode {
  readonly url: string;
  readonly plane: ControlPlane;
  readonly node: LocalNodeRuntime;
  readonly database: Database;
  close(): Promise<void>;
}

/**
 * Local mode: control plane and one node runtime in this process, PGlite under the data directory, the
 * filesystem object store, the engine on CUDA when a GPU is present and on the CPU otherwise.
 */
export async function startLocalMode(config: TidepoolConfig, log: Logger): Promise<LocalMode> {
  await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: Error) => log.error(`shutdown: ${error.message}`));
  };
  try {
    const store = createObjectStore(config);
    await sweepPartialUploads(store, log);
    const registry = new Registry();
    const shmDir = instanceShmDir(config.shmDir, { dataDir: config.dataDir });
    const node = await startNodeRuntime(config, { fetchBlob: storeBlobSource(store), shmDir, registry, log });
    closers.push(() => node.close());
    // Read before the new journal writes: what the previous process had in flight when it ended.
    const journalPath = join(config.dataDir, 'inflight.json');
    const interrupted = await takeInterruptedInvocations(journalPath);
    const plane = createControlPlane({
      database,
      blobs: storeBlobs(store),
      nodes: [node],
      registry,
      maxBodyBytes: config.maxBodyBytes,
      maxUploadBytes: config.maxUploadBytes,
      apiKey: config.apiKey,
      metricsPublic: config.metricsPublic,
      log,
      journal: createInflightJournal({ path: journalPath }),
      leftovers: crashLeftovers(store, { root: config.shmDir, own: shmDir }),
    });
    for (const row of interrupted) plane.recorder.record(row);
    if (interrupted.length > 0) log.warn(`recorded ${interrupted.length} invocation(s) the previous process left in flight as error (interrupted)`);
    const url = await plane.listen(config.port, config.host);
    // The CLI reads it from the data directory's lock: `tidepool ls` finds a platform started on any port.
    await database.lock?.update({ url });
    // Runs first on close: drain requests and flush records, then the node (engine) and the database stop.
    closers.push(async () => {
      await plane.shutdown(config.shutdownGraceMs);
    });
    return { url, plane, node, database, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Deploys every example not deployed yet (first start), synthesizing weights when a manifest asks. */
export async function deployExamples(api: ApiClient, cacheRoot: string, log: (line: string) => void): Promise<string[]> {
  if (!existsSync(EXAMPLES_DIR)) return [];
  const deployed: string[] = [];
  for (const entry of (await readdir(EXAMPLES_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const fn = await prepareFunctionDir(join(EXAMPLES_DIR, entry.name), cacheRoot, log);
    const exists = await api.raw('GET', `/v1/functions/${fn.manifest.name}`, { allow: [404] });
    if (exists.status !== 404) continue;
    const outcome = await deployFunction(api, fn, { progress: false });
    log(`deployed example ${outcome.name} v${outcome.version}`);
    deployed.push(outcome.name);
  }
  return deployed;
}

export { createApiClient };
