import { Transform, type TransformCallback } from 'node:stream';
import { InvalidObjectKeyError, ObjectSizeMismatchError, type ByteRange } from './object-store.js';

/** Throws `InvalidObjectKeyError` unless `key` is a safe relative path (see `ObjectStore`). */
export function assertValidKey(key: string): void {
  if (key.length === 0) throw new InvalidObjectKeyError(key, 'empty');
  if (key.length > 1024) throw new InvalidObjectKeyError(key, 'longer than 1024 characters');
  checkCharactersAndSegments(key, key.split('/'));
}

/** Like `assertValidKey`, but the last segment may be partial or empty (`blobs/`, `blobs/sha256/ab`). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const segments = prefix.split('/');
  const last = segments.pop()!;
  if (last === '.' || last === '..') throw new InvalidObjectKeyError(prefix, 'a path segment may not be . or ..');
  checkCharactersAndSegments(prefix, segments.length > 0 ? segments : [last || 'x']);
}

function checkCharactersAndSegments(key: string, segments: readonly string[]): void {
  if (key.startsWith('/')) throw new InvalidObjectKeyError(key, 'absolute paths are not allowed');
  if (/[\\\0]/.test(key)) throw new InvalidObjectKeyError(key, 'backslashes and NUL are not allowed');
  for (const segment of segments) {
    if (segment === '') throw new InvalidObjectKeyError(key, 'empty path segment');
    if (segment === '.' || segment === '..') throw new InvalidObjectKeyError(key, 'a path segment may not be . or ..');
  }
}

/** [start, end) within an object of `size` bytes; `end` clamps to the size, as HTTP ranges do. */
export function resolveRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? size, size);
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`range start must be a non-negative integer, got ${start}`);
  if (!Number.isSafeInteger(end)) throw new RangeError(`range end must be an integer, got ${range?.end}`);
  if (start > size) throw new RangeError(`range start ${start} is past the end of a ${size}-byte object`);
  if (start > end) throw new RangeError(`range start ${start} is after its end ${end}`);
  return { start, end };
}

/**
 * Passes bytes through and fails at the end of the stream when the count differs from `expected`. Failing
 * in `flush` (before the stream ends) is what keeps a short body from ever being committed by a store.
 */
export function sizeCheck(key: string, expected: number | undefined): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (expected !== undefined && seen > expected) callback(new ObjectSizeMismatchError(key, expected, seen));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(expected !== undefined && seen !== expected ? new ObjectSizeMismatchError(key, expected, seen) : null);
    },
  });
}
