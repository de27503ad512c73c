import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveApiTarget } from '../../../cli/api-client.js';
import { acquireDirLock, dataDirLockPath } from '../../../protocol/dir-lock.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

// Where the CLI looks for the control plane: TIDEPOOL_API_URL, then a running `tidepool up` on the data
// directory (whatever port it took), then TIDEPOOL_HOST/TIDEPOOL_PORT, then 127.0.0.1:8080.
describe('the CLI finds its control plane', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    work = await makeTempDir('tidepool-target');
    await mkdir(join(work.dir, '.tidepool'));
  });
  afterEach(async () => work.remove());

  it('uses TIDEPOOL_API_URL first', () => {
    expect(resolveApiTarget({ TIDEPOOL_API_URL: 'http://cp:9000', TIDEPOOL_PORT: '1' }, work.dir)).toEqual({
      url: 'http://cp:9000',
      source: 'TIDEPOOL_API_URL',
    });
  });

  it('finds a running tidepool up on the data directory, whatever port it was started on', async () => {
    const lock = await acquireDirLock(dataDirLockPath(join(work.dir, '.tidepool')), { what: 'test' }, { url: 'http://127.0.0.1:18100' });
    try {
      expect(resolveApiTarget({}, work.dir)).toEqual({
        url: 'http://127.0.0.1:18100',
        source: `the tidepool up (pid ${process.pid}) on ${join(work.dir, '.tidepool')}`,
      });
      expect(resolveApiTarget({ TIDEPOOL_DATA_DIR: 'elsewhere' }, work.dir).url).toBe('http://127.0.0.1:8080');
    } finally {
      await lock.release();
    }
  });

  it('ignores the address left by a platform that died, and falls back to TIDEPOOL_HOST and TIDEPOOL_PORT', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(
      dataDirLockPath(join(work.dir, '.tidepool')),
      JSON.stringify({ pid: deadPid, host: hostname(), since: 'then', command: 'up', nonce: 'x', url: 'http://127.0.0.1:1' }),
    );
    expect(resolveApiTarget({ TIDEPOOL_PORT: '18100' }, work.dir)).toEqual({ url: 'http://127.0.0.1:18100', source: 'TIDEPOOL_PORT' });
    expect(resolveApiTarget({ TIDEPOOL_HOST: '0.0.0.0', TIDEPOOL_PORT: '18101' }, work.dir).url).toBe('http://127.0.0.1:18101');
    expect(resolveApiTarget({ TIDEPOOL_HOST: '10.0.0.5' }, work.dir).url).toBe('http://10.0.0.5:8080');
    expect(resolveApiTarget({}, work.dir)).toEqual({ url: 'http://127.0.0.1:8080', source: 'the default address' });
  });
});
