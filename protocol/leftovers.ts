import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Files a process that died without cleaning up leaves behind: an upload's partial `.incoming/*.part`, an
 * engine's socket directory, an instance's host pool directory in shared memory. Each start removes the
 * ones it owns; `tidepool gc` lists the rest (and, without `--dry-run`, deletes them).
 */
export interface Leftover {
  readonly kind: 'upload' | 'engine_socket' | 'host_pool';
  readonly path: string;
  readonly bytes: number;
  /** Why it counts as left over, e.g. `owner process 4242 is gone`. */
  readonly why: string;
}

/** Every leftover the composition root knows where to look for (local mode: store, sockets, shared memory). */
export type LeftoverFinder = () => Promise<readonly Leftover[]>;

export async function removeLeftovers(leftovers: readonly Leftover[]): Promise<void> {
  for (const leftover of leftovers) await rm(leftover.path, { recursive: true, force: true });
}

/** Bytes under `path` (a file, or a directory walked recursively); 0 when it is gone. */
export async function bytesUnder(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await bytesUnder(join(path, name));
  return total;
}
