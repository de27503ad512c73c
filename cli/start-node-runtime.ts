// The node runtime as both process modes start it (local mode beside the control plane, cluster mode behind
// the node server): the engine backend detected, the binary checked, every option read from one config.
import { existsSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { engineMemoryBytes, type TidepoolConfig } from '../platform/config.js';
import type { BlobSource } from '../protocol/blob-source.js';
import type { Logger } from '../protocol/logger.js';
import { detectBackend } from '../runtime/engine/detect-backend.js';
import { createLocalNodeRuntime, type LocalNodeRuntime } from '../runtime/node.js';

export interface NodeRuntimeStart {
  /** Where the host pool fetches weights from (the object store in both modes). */
  readonly fetchBlob: BlobSource;
  /** This instance's own shared-memory directory (`instanceShmDir`). */
  readonly shmDir: string;
  readonly registry: Registry;
  readonly log: Logger;
  /** Set in cluster mode, where the control plane tells nodes apart. */
  readonly nodeId?: string;
}

export async function startNodeRuntime(config: TidepoolConfig, start: NodeRuntimeStart): Promise<LocalNodeRuntime> {
  const { backend } = await detectBackend({ engineBin: config.engineBin, requested: config.engineBackend });
  if (!existsSync(config.engineBin)) throw new Error(`engine binary ${config.engineBin} not found; build it with \`npm install\` (or set TIDEPOOL_ENGINE_BIN)`);
  return createLocalNodeRuntime({
    ...(start.nodeId === undefined ? {} : { nodeId: start.nodeId }),
    fetchBlob: start.fetchBlob,
    shmDir: start.shmDir,
    hostPoolBytes: config.hostPoolBytes,
    engineBin: config.engineBin,
    backend,
    engineMemoryBytes: engineMemoryBytes(config, backend),
    kvBytes: config.kvBytes,
    engineThreads: config.engineThreads,
    gpus: config.gpus,
    cpuEngines: config.cpuEngines,
    policy: config.schedulerPolicy,
    queueLimit: config.queueLimit,
    queueTimeoutMs: config.queueTimeoutMs,
    registry: start.registry,
    log: start.log,
  });
}
