import { mkdtempSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPidAlive } from '../../protocol/dir-lock.js';
import { bytesUnder, type Leftover } from '../../protocol/leftovers.js';

/**
 * Where engine sockets live: `<tmp>/tidepool-engine-<owner pid>-<random>/engine-<n>.sock`, one directory per
 * supervisor. The owner's pid in the name lets a later start tell the directory of a process that died
 * without cleaning up (SIGKILL, OOM kill, power loss) from one in use. Directories of the older
 * `tp-engine-<random>` form carry no pid; they count as stale when no socket in them accepts a connection.
 */
const PREFIX = 'tidepool-engine-';
const LEGACY_PREFIX = 'tp-engine-';

/** A fresh socket directory owned by this process. Unix socket paths must stay under ~100 bytes. */
export function makeSocketDir(root = tmpdir()): string {
  return mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
}

export interface StaleSocketDir {
  readonly path: string;
  /** The process that made it, when the name says. */
  readonly ownerPid?: number;
}

/** Socket directories under `root` whose owner is gone. */
export async function findStaleSocketDirs(root = tmpdir()): Promise<readonly StaleSocketDir[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const stale: StaleSocketDir[] = [];
  for (const name of names) {
    const path = join(root, name);
    const owner = /^tidepool-engine-(\d+)-/.exec(name);
    if (owner) {
      const ownerPid = Number(owner[1]);
      if (ownerPid !== process.pid && !isPidAlive(ownerPid)) stale.push({ path, ownerPid });
    } else if (name.startsWith(LEGACY_PREFIX) && (await isDir(path)) && !(await anySocketAnswers(path))) {
      stale.push({ path });
    }
  }
  return stale;
}

/** Deletes the stale socket directories; returns what it removed. */
export async function removeStaleSocketDirs(root = tmpdir()): Promise<readonly StaleSocketDir[]> {
  const stale = await findStaleSocketDirs(root);
  for (const dir of stale) await rm(dir.path, { recursive: true, force: true });
  return stale;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function anySocketAnswers(dir: string): Promise<boolean> {
  const sockets = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.sock'));
  const answers = await Promise.all(sockets.map((name) => socketAnswers(join(dir, name))));
  return answers.some(Boolean);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    setTimeout(() => done(false), 1000).unref();
  });
}

/** The stale socket directories as `tidepool gc` lists them. */
export async function socketLeftovers(root = tmpdir()): Promise<readonly Leftover[]> {
  const stale = await findStaleSocketDirs(root);
  return Promise.all(
    stale.map(async (dir) => ({
      kind: 'engine_socket' as const,
      path: dir.path,
      bytes: await bytesUnder(dir.path),
      why:
        dir.ownerPid === undefined ? 'engine socket directory in which no engine answers' : `engine socket directory of process ${dir.ownerPid}, which is gone`,
    })),
  );
}
