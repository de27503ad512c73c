import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findStaleSocketDirs, makeSocketDir, removeStaleSocketDirs } from '../../../runtime/engine/engine-socket-dir.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

// Engine socket directories left by a process that died (SIGKILL, OOM) are found and removed at the next
// start; directories of live processes, this one included, are never touched.
describe('engine socket directories', () => {
  let root: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    root = await makeTempDir('tidepool-sockets');
  });
  afterEach(async () => root.remove());

  it('removes the directories of dead owners and keeps live ones', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const dead = join(root.dir, `tidepool-engine-${deadPid}-abc123`);
    await mkdir(dead);
    await writeFile(join(dead, 'engine-1.sock'), '');
    const mine = makeSocketDir(root.dir);
    const parentOwned = join(root.dir, `tidepool-engine-${process.ppid}-def456`);
    await mkdir(parentOwned);
    expect((await findStaleSocketDirs(root.dir)).map((d) => d.path)).toEqual([dead]);
    expect(await removeStaleSocketDirs(root.dir)).toEqual([{ path: dead, ownerPid: deadPid }]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(mine)).toBe(true);
    expect(existsSync(parentOwned)).toBe(true);
  });

  it('judges an older directory without a pid by whether any socket in it answers', async () => {
    const legacyDead = join(root.dir, 'tp-engine-Xy12');
    await mkdir(legacyDead);
    await writeFile(join(legacyDead, 'engine-1.sock'), 'not a socket');
    const legacyLive = join(root.dir, 'tp-engine-Zz99');
    await mkdir(legacyLive);
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(join(legacyLive, 'engine-1.sock'), resolve));
    try {
      expect((await findStaleSocketDirs(root.dir)).map((d) => d.path)).toEqual([legacyDead]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
