import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { liveLockHolder } from '../../protocol/dir-lock.js';
import { bytesUnder, type Leftover } from '../../protocol/leftovers.js';
import { HOST_POOL_LOCK } from './host-pool.js';

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

/**
 * Host pool directories under `shmRoot` that no running instance holds: instances stopped (or killed) for
 * good keep their warm weights in shared memory, which is RAM. A stopped instance that comes back reuses
 * its own; `tidepool gc` lists the others. Models of the older single-directory layout (`<shmRoot>/<hex>`,
 * no lock) count too. `own` is never listed.
 */
export async function idleHostPoolDirs(shmRoot: string, own: string): Promise<readonly Leftover[]> {
  const out: Leftover[] = [];
  for (const entry of await readdir(shmRoot, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    const dir = join(shmRoot, entry.name);
    if (resolve(dir) === resolve(own)) continue;
    let why: string | undefined;
    if (/^(local|node)-/.test(entry.name)) {
      const holder = await liveLockHolder(join(dir, HOST_POOL_LOCK));
      if (!holder) why = 'host pool directory of an instance that is not running';
    } else if (/^[0-9a-f]{64}$/.test(entry.name) || /^\.(fetch|trash)-/.test(entry.name)) {
      why = 'model directory of the older shared layout (no instance owns it)';
    }
    if (why) out.push({ kind: 'host_pool', path: dir, bytes: await bytesUnder(dir), why });
  }
  return out;
}
