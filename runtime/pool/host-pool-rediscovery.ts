import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArtifact } from '../../protocol/internal-generate.js';
import type { Artifact } from '../../protocol/node-runtime.js';
import { digestHex, listModelDirs, removeDir, verifyModelDir } from './host-pool-files.js';

/**
 * Finds models a previous run of this node left complete in shared memory, so a restart does not refetch
 * them. A directory counts only when its manifest names the directory's own digest and every file still
 * hashes to its recorded digest; anything else is deleted, since it cannot be trusted or used.
 */
export async function rediscoverModels(shmDir: string, manifestName: string): Promise<readonly Artifact[]> {
  const found: Artifact[] = [];
  for (const hex of await listModelDirs(shmDir)) {
    const dir = join(shmDir, hex);
    const artifact = await readManifest(join(dir, manifestName));
    if (artifact && digestHex(artifact.weightsDigest) === hex && (await verifyModelDir(dir, artifact))) found.push(artifact);
    else await removeDir(dir);
  }
  return found;
}

async function readManifest(path: string): Promise<Artifact | undefined> {
  try {
    const artifact = parseArtifact(JSON.parse(await readFile(path, 'utf8')));
    digestHex(artifact.weightsDigest);
    return artifact;
  } catch {
    return undefined;
  }
}
