import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * An exclusive lock on a directory for one process: a lock file holding the holder's pid, host, process
 * start time and a nonce. A lock whose holder is no longer alive (killed, crashed, the machine rebooted and
 * the pid now names another process) is stale and taken over. Creation is atomic (`link` of a fully
 * written temp file, which fails when the lock exists), so a reader never sees a half-written lock.
 */
export interface DirLock {
  readonly path: string;
  /** Adds fields to the lock file for others to read (e.g. the URL a server listens on). */
  update(fields: Readonly<Record<string, unknown>>): Promise<void>;
  /** Removes the lock file if it is still this process's. Idempotent. */
  release(): Promise<void>;
}

/**
 * The lock file of a data directory, held while its PGlite database is open; `tidepool up` adds the URL it
 * listens on, which is how the CLI finds a running local platform.
 */
export function dataDirLockPath(dataDir: string): string {
  return join(dataDir, 'tidepool.lock');
}

/** What a lock file says about its holder. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** `/proc/<pid>/stat` start time in clock ticks, where there is a /proc; tells a reused pid apart. */
  readonly processStart?: number;
  readonly since: string;
  readonly command: string;
  readonly nonce: string;
  readonly [field: string]: unknown;
}

/** How a refusal reads: `<what> is in use by process <pid> (<command>, since <time>); <hint> (lock file <path>)`. */
export interface LockWording {
  readonly what: string;
  /** What to do about it; default `stop it first`. */
  readonly hint?: string;
}

export class DirLockedError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: LockHolder,
    wording: LockWording,
  ) {
    const who =
      holder.pid === process.pid && holder.host === hostname()
        ? 'this process'
        : `process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}`;
    super(`${wording.what} is in use by ${who} (${holder.command}, since ${holder.since}); ${wording.hint ?? 'stop it first'} (lock file ${lockPath})`);
    this.name = 'DirLockedError';
  }
}

/** Takes the lock at `path`, or throws `DirLockedError` naming the live holder. */
export async function acquireDirLock(path: string, what: LockWording, fields: Readonly<Record<string, unknown>> = {}): Promise<DirLock> {
  const mine: LockHolder = {
    ...fields,
    pid: process.pid,
    host: hostname(),
    processStart: processStartOf(process.pid),
    since: new Date().toISOString(),
    command: commandLine(),
    nonce: randomBytes(8).toString('hex'),
  };
  // Three tries: a stale lock taken away, then a race with another process taking over the same stale lock.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusive(path, mine)) return heldLock(path, mine);
    const holder = await readHolder(path);
    if (holder && isHolderAlive(holder)) throw new DirLockedError(path, holder, what);
    await takeAwayStale(path, holder, what);
  }
  const holder = await readHolder(path);
  throw new DirLockedError(path, holder ?? { ...mine, pid: -1, command: 'unknown' }, what);
}

/** Who holds the lock at `path` now, if anyone alive does. */
export async function liveLockHolder(path: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(path);
  return holder && isHolderAlive(holder) ? holder : undefined;
}

/** `liveLockHolder` for callers that cannot wait (the CLI resolving its URL at start). */
export function liveLockHolderSync(path: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isSafeInteger(holder.pid) && typeof holder.nonce === 'string' && isHolderAlive(holder) ? holder : undefined;
  } catch {
    return undefined;
  }
}

async function createExclusive(path: string, holder: LockHolder): Promise<boolean> {
  const temp = `${path}.${holder.nonce}.tmp`;
  await writeFile(temp, `${JSON.stringify(holder)}\n`);
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Moves a stale lock aside and deletes it. If what was moved turns out not to be the stale lock inspected
 * (another process took it over in between), it is put back and that process is reported as the holder.
 */
async function takeAwayStale(path: string, stale: LockHolder | undefined, what: LockWording): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readHolder(aside);
  if (moved && moved.nonce !== stale?.nonce && isHolderAlive(moved)) {
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    throw new DirLockedError(path, moved, what);
  }
  await unlink(aside).catch(() => undefined);
}

function heldLock(path: string, holder: LockHolder): DirLock {
  let current = holder;
  let released = false;
  return {
    path,
    async update(fields) {
      current = { ...current, ...fields };
      // Written beside and renamed over: readers see the old content or the new, never a partial file.
      const temp = `${path}.${current.nonce}.update`;
      await writeFile(temp, `${JSON.stringify(current)}\n`);
      await rename(temp, path);
    },
    async release() {
      if (released) return;
      released = true;
      const onDisk = await readHolder(path);
      if (onDisk?.nonce === holder.nonce) await unlink(path).catch(() => undefined);
    },
  };
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    return Number.isSafeInteger(holder.pid) && typeof holder.nonce === 'string' ? holder : undefined;
  } catch {
    // Absent, or not a lock this code wrote: nothing to respect.
    return undefined;
  }
}

/** A process with this pid exists on this host (signal 0 checks; EPERM means it runs as another user). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive when the pid exists (on this host) and, where /proc tells, started when the lock says. */
export function isHolderAlive(holder: LockHolder): boolean {
  // A holder on another host (a data directory on a network filesystem) cannot be checked: assume alive.
  if (holder.host !== hostname()) return true;
  if (!isPidAlive(holder.pid)) return false;
  const start = processStartOf(holder.pid);
  return holder.processStart === undefined || start === undefined || start === holder.processStart;
}

/** Field 22 of /proc/<pid>/stat (start time since boot, in clock ticks); undefined without /proc. */
function processStartOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is parenthesised and may hold spaces; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isSafeInteger(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function commandLine(): string {
  const args = process.argv
    .slice(1)
    .map((arg) => arg.split('/').pop() ?? arg)
    .join(' ');
  return args.length > 120 ? `${args.slice(0, 117)}...` : args;
}
