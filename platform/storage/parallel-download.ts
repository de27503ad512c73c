import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ObjectNotFoundError, type DownloadOptions, type ObjectInfo, type ObjectStore } from './object-store.js';

const DEFAULT_PARALLELISM = 8;
const DEFAULT_PART_BYTES = 8 * 2 ** 20;

/**
 * `ObjectStore.download` for any store: a sliding window of `parallelism` ranged reads, each buffered whole
 * (memory stays at parallelism × partBytes), written at its offset and handed to `onChunk` strictly in order.
 * The file is written beside `destPath` and renamed into place only when every byte arrived.
 */
export async function downloadObject(
  store: Pick<ObjectStore, 'head' | 'get'>,
  key: string,
  destPath: string,
  options: DownloadOptions = {},
): Promise<ObjectInfo> {
  const info = await store.head(key);
  if (!info) throw new ObjectNotFoundError(key);
  const partBytes = positive(options.partBytes ?? DEFAULT_PART_BYTES, 'partBytes');
  const parallelism = positive(options.parallelism ?? DEFAULT_PARALLELISM, 'parallelism');
  await mkdir(path.dirname(destPath), { recursive: true });
  const tempPath = `${destPath}.partial-${randomBytes(6).toString('hex')}`;
  const file = await open(tempPath, 'w');
  try {
    const partCount = Math.ceil(info.size / partBytes);
    const inFlight: Promise<Buffer>[] = [];
    let nextPart = 0;
    const startNext = (): void => {
      const start = nextPart++ * partBytes;
      const part = readRange(store, key, start, Math.min(info.size, start + partBytes));
      // Awaited later, in order; marking it handled now keeps an early failure from being "unhandled".
      part.catch(() => {});
      inFlight.push(part);
    };
    while (nextPart < partCount && inFlight.length < parallelism) startNext();
    let doneBytes = 0;
    for (let index = 0; index < partCount; index++) {
      options.signal?.throwIfAborted();
      const buffer = await inFlight.shift()!;
      if (nextPart < partCount) startNext();
      await file.write(buffer, 0, buffer.length, index * partBytes);
      options.onChunk?.(buffer);
      doneBytes += buffer.length;
      options.onProgress?.(doneBytes, info.size);
    }
    await file.close();
    await rename(tempPath, destPath);
    return { size: info.size };
  } catch (error) {
    await file.close().catch(() => {});
    await rm(tempPath, { force: true });
    throw error;
  }
}

async function readRange(store: Pick<ObjectStore, 'get'>, key: string, start: number, end: number): Promise<Buffer> {
  const stream = await store.get(key, { start, end });
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  if (length !== end - start) throw new Error(`object ${key} changed while downloading: range ${start}-${end} returned ${length} bytes`);
  return Buffer.concat(chunks, length);
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
