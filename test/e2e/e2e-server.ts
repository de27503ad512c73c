import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../../platform/config.js';
import { createControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../platform/control-plane.js';
import { openDatabase } from '../../platform/db/open-database.js';
import type { Database } from '../../platform/db/database.js';
import type { BlobService } from '../../platform/functions/blob-service.js';
import { storeBlobs } from '../../platform/functions/store-blobs.js';
import { FsObjectStore } from '../../platform/storage/fs-object-store.js';
import { createLocalNodeRuntime } from '../../runtime/node.js';
import type { NodeRuntime } from '../../protocol/node-runtime.js';
import { scriptedNode } from '../integration/api/api-helpers.js';
import { storeBlobSource } from '../../platform/storage/blob-store.js';

export const ENGINE_BIN = loadConfig({}).engineBin;
export const ENGINE_BUILT = existsSync(ENGINE_BIN);

export interface E2eServer {
  readonly url: string;
  readonly dataDir: string;
  readonly plane: ControlPlane;
  readonly node: NodeRuntime;
  readonly database: Database;
  readonly blobs: BlobService;
  /** `cpu` when the real engine serves, `scripted` without it, `supplied` for the caller's node (say so in the output). */
  readonly engine: 'cpu' | 'scripted' | 'supplied';
  close(): Promise<void>;
}

/**
 * A real listening control plane (PGlite on disk, filesystem store) with the real CPU engine when it is
 * built, or a scripted node otherwise, so the HTTP, SSE and CLI paths are exercised either way. `node`
 * replaces both (the api bench's instant node measures the control plane alone); it is closed with the server.
 */
export async function startE2eServer(
  options: {
    readonly requireEngine?: boolean;
    readonly node?: NodeRuntime;
    /** Invocation recorder batching; default a 20 ms flush, so tests see records at once (production: 250 ms). */
    readonly recorder?: ControlPlaneOptions['recorder'];
  } = {},
): Promise<E2eServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tidepool-e2e-'));
  const database = await openDatabase({ dataDir });
  const store = new FsObjectStore(join(dataDir, 'objects'));
  const registry = new Registry();
  let node: NodeRuntime;
  let engine: E2eServer['engine'];
  if (options.node) {
    node = options.node;
    engine = 'supplied';
  } else if (ENGINE_BUILT) {
    node = await createLocalNodeRuntime({
      fetchBlob: storeBlobSource(store),
      shmDir: join(dataDir, 'shm'),
      hostPoolBytes: 2 ** 30,
      engineBin: ENGINE_BIN,
      backend: 'cpu',
      engineMemoryBytes: 2 ** 30,
      engineThreads: 2,
      queueLimit: 64,
      queueTimeoutMs: 30_000,
      registry,
    });
    engine = 'cpu';
  } else {
    if (options.requireEngine) throw new Error(`engine binary ${ENGINE_BIN} is not built`);
    node = scriptedNode({ text: ' tide pool' });
    engine = 'scripted';
  }
  const blobs = storeBlobs(store);
  const plane = createControlPlane({ database, blobs, nodes: [node], registry, recorder: options.recorder ?? { flushIntervalMs: 20 } });
  const url = await plane.listen(0, '127.0.0.1');
  return {
    url,
    dataDir,
    plane,
    node,
    database,
    blobs,
    engine,
    async close() {
      await plane.close();
      await node.close();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
