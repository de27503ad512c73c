import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { objectStoreBehaviour } from './object-store-suite.js';

describe('FsObjectStore', () => {
  objectStoreBehaviour(async () => {
    const temp = await makeTempDir('tidepool-fs-store');
    return { store: new FsObjectStore(temp.dir), close: temp.remove };
  });

  it('keeps objects as plain files under its root and nothing outside it', async () => {
    const temp = await makeTempDir('tidepool-fs-root');
    try {
      const root = path.join(temp.dir, 'objects');
      const store = new FsObjectStore(root);
      await store.put('blobs/sha256/abc', Buffer.from('bytes'));
      expect(await readFile(path.join(root, 'blobs', 'sha256', 'abc'), 'utf8')).toBe('bytes');
      await writeFile(path.join(temp.dir, 'secret'), 'outside');
      await expect(store.get('../secret')).rejects.toThrow(/invalid object key/);
      expect((await readdir(temp.dir)).sort()).toEqual(['objects', 'secret']);
      // In-progress uploads are not objects.
      expect((await store.list('')).map((o) => o.key)).toEqual(['blobs/sha256/abc']);
      await expect(store.get('.incoming/x')).rejects.toThrow(/not found/);
    } finally {
      await temp.remove();
    }
  });
});
