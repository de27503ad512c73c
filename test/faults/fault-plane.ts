import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { createControlPlane, type ControlPlane } from '../../platform/control-plane.js';
import type { Database } from '../../platform/db/database.js';
import { openDatabase } from '../../platform/db/open-database.js';
import { storeBlobs } from '../../platform/functions/store-blobs.js';
import { FsObjectStore } from '../../platform/storage/fs-object-store.js';
import type { ObjectStore } from '../../platform/storage/object-store.js';
import { createLocalNodeRuntime, type LocalNodeRuntime } from '../../runtime/node.js';
import type { LocalNodeRuntimeOptions } from '../../runtime/node-options.js';
import { ENGINE_BIN } from '../e2e/e2e-server.js';
import { storeBlobSource } from '../../platform/storage/blob-store.js';
import { messageLogger } from '../helpers/message-logger.js';

/** A listening control plane over one local node on the real CPU engine, with tiny-chat deployed. */
export interface FaultPlane {
  readonly url: string;
  readonly dataDir: string;
  readonly plane: ControlPlane;
  readonly node: LocalNodeRuntime;
  readonly database: Database;
  readonly store: ObjectStore;
  readonly registry: Registry;
  /** What the control plane logged (recorder failures, request errors). */
  readonly log: string[];
  close(): Promise<void>;
}

export interface FaultPlaneOptions {
  /** Default: PGlite under the data dir. The plane never closes a database it was given. */
  readonly database?: Database;
  /** Default: the filesystem store under the data dir. */
  readonly store?: ObjectStore;
  /** Overrides for the node (shm directory, queue limits, store fetch). */
  readonly node?: Partial<LocalNodeRuntimeOptions>;
  /** Deploy tiny-chat once listening; default true (false: a restart over a database that has it). */
  readonly deploy?: boolean;
}

export async function startFaultPlane(options: FaultPlaneOptions = {}): Promise<FaultPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tidepool-fault-'));
  const database = options.database ?? (await openDatabase({ dataDir }));
  const store = options.store ?? new FsObjectStore(join(dataDir, 'objects'));
  const registry = new Registry();
  const node = await createLocalNodeRuntime({
    fetchBlob: storeBlobSource(store),
    shmDir: join(dataDir, 'shm'),
    hostPoolBytes: 2 ** 30,
    engineBin: ENGINE_BIN,
    backend: 'cpu',
    engineMemoryBytes: 2 ** 30,
    engineThreads: 1,
    queueLimit: 64,
    queueTimeoutMs: 30_000,
    registry,
    ...options.node,
  });
  const log: string[] = [];
  const plane = createControlPlane({
    database,
    blobs: storeBlobs(store),
    nodes: [node],
    registry,
    recorder: { flushIntervalMs: 20 },
    log: messageLogger(log),
  });
  const url = await plane.listen(0, '127.0.0.1');
  if (options.deploy !== false)
    await deployFunction(createApiClient({ baseUrl: url }), await prepareFunctionDir('functions/tiny-chat', dataDir), { progress: false });
  return {
    url,
    dataDir,
    plane,
    node,
    database,
    store,
    registry,
    log,
    async close() {
      await plane.close();
      await node.close();
      if (!options.database) await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** How a request ended: an HTTP status with its body, or status 0 when no response came at all. */
export interface Answer {
  readonly status: number;
  readonly body: string;
}

/** POSTs a completion and reads the whole answer (SSE included); never throws. */
export async function complete(url: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Answer> {
  try {
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal,
      body: JSON.stringify({ model: 'tiny-chat', prompt: 'The tide', max_tokens: 4, ...body }),
    });
    return { status: res.status, body: await res.text() };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/** Invocation rows by status, once the recorder has written everything it holds. */
export async function recordedStatuses(fault: FaultPlane): Promise<Record<string, number>> {
  await fault.plane.recorder.flush();
  const rows = await fault.database.db.selectFrom('invocations').select('status').where('function_name', '=', 'tiny-chat').execute();
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.status] = (counts[row.status] ?? 0) + 1;
  return counts;
}

export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}
