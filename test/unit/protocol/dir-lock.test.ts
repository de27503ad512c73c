import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDirLock, DirLockedError, liveLockHolder } from '../../../protocol/dir-lock.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const wording = { what: 'the test directory' };

describe('directory lock', () => {
  let root: Awaited<ReturnType<typeof makeTempDir>>;
  let lockPath: string;
  beforeEach(async () => {
    root = await makeTempDir('tidepool-lock');
    lockPath = join(root.dir, 'tidepool.lock');
  });
  afterEach(async () => root.remove());

  it('is held by one opener at a time, in this process too, and free again once released', async () => {
    const lock = await acquireDirLock(lockPath, wording, { url: 'http://127.0.0.1:1' });
    await expect(acquireDirLock(lockPath, wording)).rejects.toThrow(
      /the test directory is in use by this process .* stop it first \(lock file .*tidepool.lock\)/,
    );
    expect(await liveLockHolder(lockPath)).toMatchObject({ pid: process.pid, url: 'http://127.0.0.1:1' });
    await lock.update({ url: 'http://127.0.0.1:2' });
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ url: 'http://127.0.0.1:2' });
    await lock.release();
    expect(await liveLockHolder(lockPath)).toBeUndefined();
    await (await acquireDirLock(lockPath, wording)).release();
  });

  it('names another live process as the holder', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await writeFile(lockPath, JSON.stringify({ pid: child.pid, host: hostname(), since: '2026-01-01T00:00:00Z', command: 'tidepool up', nonce: 'n1' }));
      const refusal = await acquireDirLock(lockPath, { what: 'the data directory /d', hint: 'or set TIDEPOOL_DATA_DIR' }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(DirLockedError);
      expect((refusal as Error).message).toBe(
        `the data directory /d is in use by process ${child.pid} (tidepool up, since 2026-01-01T00:00:00Z); or set TIDEPOOL_DATA_DIR (lock file ${lockPath})`,
      );
    } finally {
      child.kill();
    }
  });

  it('takes over the lock of a dead process, and of a live pid that started at another time (reused)', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(lockPath, JSON.stringify({ pid: deadPid, host: hostname(), since: 'then', command: 'tidepool up', nonce: 'dead' }));
    const lock = await acquireDirLock(lockPath, wording);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    // Our own pid, but recorded with a start time this process does not have: a pid reused after a reboot.
    await writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), processStart: 1, since: 'then', command: 'tidepool up', nonce: 'reused' }));
    await (await acquireDirLock(lockPath, wording)).release();
  });

  it('lets exactly one of many simultaneous openers in, also over a stale lock', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(lockPath, JSON.stringify({ pid: deadPid, host: hostname(), since: 'then', command: 'x', nonce: 'stale' }));
    const tries = await Promise.allSettled(Array.from({ length: 8 }, () => acquireDirLock(lockPath, wording)));
    expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
    for (const t of tries) if (t.status === 'rejected') expect(t.reason).toBeInstanceOf(DirLockedError);
  });
});
