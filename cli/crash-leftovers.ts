import { socketLeftovers } from '../runtime/engine/engine-socket-dir.js';
import { idleHostPoolDirs } from '../runtime/pool/shm-namespace.js';
import { FsObjectStore } from '../platform/storage/fs-object-store.js';
import type { ObjectStore } from '../platform/storage/object-store.js';
import { removeLeftovers, type LeftoverFinder } from '../protocol/leftovers.js';
import type { Logger } from '../protocol/logger.js';

/** Removes the partial uploads processes that died left in a filesystem store (each may be gigabytes). */
export async function sweepPartialUploads(store: ObjectStore, log: Logger): Promise<void> {
  if (!(store instanceof FsObjectStore)) return;
  const parts = await store.leftoverParts();
  await removeLeftovers(parts);
  if (parts.length > 0) log.warn(`removed ${parts.length} partial upload(s) left by processes that died (${parts.reduce((sum, p) => sum + p.bytes, 0)} bytes)`);
}

/**
 * What `tidepool gc` lists as left by processes that died: partial uploads in a filesystem store, and with a
 * node in this process (local mode) dead processes' engine socket directories and idle host pool directories.
 */
export function crashLeftovers(store: ObjectStore, shm?: { readonly root: string; readonly own: string }): LeftoverFinder {
  return async () => [
    ...(store instanceof FsObjectStore ? await store.leftoverParts() : []),
    ...(shm ? [...(await socketLeftovers()), ...(await idleHostPoolDirs(shm.root, shm.own))] : []),
  ];
}
