import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact } from '../../protocol/node-runtime.js';

/**
 * The host pool's on-disk layout under `shmDir`:
 *   <hex>/<file name>     a complete, verified model (the only kind of directory the engine is given)
 *   .fetch-<hex>-<rand>/  a fetch in progress; renamed to <hex> when every file is in and verified
 *   .trash-<hex>-<rand>/  an evicted model being deleted, renamed away first so it vanishes atomically
 */

/** The hex part of `sha256:<hex>`; throws on anything else, since it becomes a path component. */
export function digestHex(digest: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw new Error(`not a sha256 digest: ${digest}`);
  return match[1]!;
}

export function modelDir(shmDir: string, digest: string): string {
  return join(shmDir, digestHex(digest));
}

/** True for a name that stays inside the directory it is joined to: not empty, `.`, `..`, no separator or NUL. */
export function isPlainFileName(name: string): boolean {
  return !(name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0'));
}

export async function makeFetchDir(shmDir: string, digest: string): Promise<string> {
  const dir = join(shmDir, `.fetch-${digestHex(digest)}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Publishes a fetched directory under its final name; a concurrent leftover with that name is replaced. */
export async function publishDir(fetchDir: string, finalDir: string): Promise<void> {
  await removeDir(finalDir);
  await rename(fetchDir, finalDir);
}

/** Renames first, then deletes, so no reader ever sees a half-deleted model under its real name. */
export async function removeDir(dir: string): Promise<void> {
  const trash = join(dir, '..', `.trash-${dir.split('/').pop()}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(dir, trash);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await rm(trash, { recursive: true, force: true });
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** True when `dir` holds every artifact file with the right size and digest. */
export async function verifyModelDir(dir: string, artifact: Artifact): Promise<boolean> {
  for (const file of artifact.files) {
    // A manifest naming an unsafe file is as untrustworthy as a wrong hash: the directory is not adopted.
    if (!isPlainFileName(file.name)) return false;
    const path = join(dir, file.name);
    try {
      if ((await stat(path)).size !== file.size) return false;
      if ((await sha256File(path)) !== file.digest) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Deletes leftovers of fetches and evictions that a crash interrupted. */
export async function sweepLeftovers(shmDir: string): Promise<void> {
  await mkdir(shmDir, { recursive: true });
  for (const name of await readdir(shmDir)) {
    if (name.startsWith('.fetch-') || name.startsWith('.trash-')) await rm(join(shmDir, name), { recursive: true, force: true });
  }
}

/** Names of directories under `shmDir` that look like published models. */
export async function listModelDirs(shmDir: string): Promise<readonly string[]> {
  const entries = await readdir(shmDir, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory() && /^[0-9a-f]{64}$/.test(entry.name)).map((entry) => entry.name);
}
