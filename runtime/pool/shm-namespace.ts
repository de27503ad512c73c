import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

/**
 * The host pool directory of one instance under the host-wide shared-memory root (`TIDEPOOL_SHM_DIR`,
 * /dev/shm/tidepool by default): `local-<12 hex of the data directory's path hash>` for `tidepool up`, and
 * `node-<node id>` for `tidepool node`. Instances on one host then never see, adopt or evict each other's
 * models, and a restarted instance finds its own again.
 */
export function instanceShmDir(shmRoot: string, instance: { readonly dataDir: string } | { readonly nodeId: string }): string {
  if ('nodeId' in instance) return join(shmRoot, `node-${instance.nodeId}`);
  const hash = createHash('sha256').update(resolve(instance.dataDir)).digest('hex').slice(0, 12);
  return join(shmRoot, `local-${hash}`);
}
