import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidKey, assertValidPrefix, resolveRange, sizeCheck } from './object-key.js';
import {
  ObjectNotFoundError,
  ObjectSizeMismatchError,
  type ByteRange,
  type DownloadOptions,
  type ObjectInfo,
  type ObjectListing,
  type ObjectStore,
  type PutOptions,
} from './object-store.js';
import { isPidAlive } from '../../protocol/dir-lock.js';
import type { Leftover } from '../../protocol/leftovers.js';
import { downloadObject } from './parallel-download.js';

/** Uploads in progress live here, on the same filesystem as the objects, so the final rename is atomic. */
const INCOMING_DIR = '.incoming';
/** A part without its owner's pid in its name (older versions) is left over once it stops growing this long. */
const UNOWNED_PART_IDLE_MS = 10 * 60_000;

/**
 * Objects as files under `root` (local mode: `<dataDir>/objects`). Each put streams into a temp file in
 * `<root>/.incoming` and renames it over the key's path, so readers see the old object or the new one whole.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs';
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const stats = await stat(this.pathOf(key)).catch(ifMissing(null));
    return stats?.isFile() ? { size: stats.size } : null;
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<void> {
    const target = this.pathOf(key);
    if (Buffer.isBuffer(body) && options.size !== undefined && body.length !== options.size) {
      throw new ObjectSizeMismatchError(key, options.size, body.length);
    }
    const incoming = path.join(this.root, INCOMING_DIR);
    await mkdir(incoming, { recursive: true });
    // The writer's pid in the name tells a later start which parts a crashed process left (`leftoverParts`).
    const tempPath = path.join(incoming, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
    try {
      if (Buffer.isBuffer(body)) await writeFile(tempPath, body, { signal: options.signal });
      else await pipeline(body, sizeCheck(key, options.size), createWriteStream(tempPath), { signal: options.signal });
      await mkdir(path.dirname(target), { recursive: true });
      await rename(tempPath, target);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
  }

  /**
   * Partial uploads whose writer is gone: a process killed mid-upload cannot delete its `.part` file, which
   * may be gigabytes. Parts of live processes (this one included) are uploads in progress.
   */
  async leftoverParts(now = Date.now()): Promise<readonly Leftover[]> {
    const dir = path.join(this.root, INCOMING_DIR);
    const out: Leftover[] = [];
    for (const name of await readdir(dir).catch(ifMissing([] as string[]))) {
      const info = await stat(path.join(dir, name)).catch(ifMissing(undefined));
      if (!info?.isFile()) continue;
      const owner = /^(\d+)-[0-9a-f]+\.part$/.exec(name);
      const why = owner
        ? isPidAlive(Number(owner[1]))
          ? undefined
          : `partial upload; its process ${owner[1]} is gone`
        : now - info.mtimeMs > UNOWNED_PART_IDLE_MS
          ? `partial upload untouched for ${Math.round((now - info.mtimeMs) / 60_000)} min`
          : undefined;
      if (why) out.push({ kind: 'upload', path: path.join(dir, name), bytes: info.size, why });
    }
    return out;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const handle = await open(this.pathOf(key), 'r').catch(ifMissing(undefined));
    if (!handle) throw new ObjectNotFoundError(key);
    try {
      const { start, end } = resolveRange(range, (await handle.stat()).size);
      if (start === end) {
        await handle.close();
        return Readable.from([]);
      }
      // createReadStream's `end` is inclusive; ours is exclusive. The stream closes the handle when done.
      return handle.createReadStream({ start, end: end - 1 });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  download(key: string, destPath: string, options?: DownloadOptions): Promise<ObjectInfo> {
    return downloadObject(this, key, destPath, options);
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async list(prefix: string): Promise<ObjectListing[]> {
    assertValidPrefix(prefix);
    // Walk only the folder the prefix names; its last segment may be a partial file or folder name.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const listings: ObjectListing[] = [];
    await this.walk(folder, prefix, listings);
    return listings.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(folder: string, prefix: string, into: ObjectListing[]): Promise<void> {
    const entries = await readdir(path.join(this.root, folder), { withFileTypes: true }).catch(ifMissing([]));
    for (const entry of entries) {
      const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (folder === '' && entry.name === INCOMING_DIR) continue;
      if (entry.isDirectory() && (key.startsWith(prefix) || prefix.startsWith(`${key}/`))) await this.walk(key, prefix, into);
      else if (entry.isFile() && key.startsWith(prefix)) {
        const stats = await stat(path.join(this.root, key));
        into.push({ key, size: stats.size, lastModified: stats.mtime });
      }
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    if (key === INCOMING_DIR || key.startsWith(`${INCOMING_DIR}/`)) throw new ObjectNotFoundError(key);
    const resolved = path.resolve(this.root, key);
    // Defence in depth: validation already refuses `..`, but a resolved path must stay under the root.
    if (!resolved.startsWith(`${this.root}${path.sep}`)) throw new ObjectNotFoundError(key);
    return resolved;
  }
}

function ifMissing<T>(fallback: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return fallback;
    throw error;
  };
}
