import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The PostgreSQL 15 binaries as Debian and Ubuntu install them. */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, trust auth on loopback. */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m fast`: every connection is terminated, as in a restart or failover. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

/**
 * Why a private server cannot run here, or undefined when it can. initdb and pg_ctl refuse to run as root,
 * so as root they run as the `postgres` user.
 */
export async function privatePostgresUnavailable(): Promise<string | undefined> {
  for (const tool of ['initdb', 'pg_ctl']) {
    if (!existsSync(path.join(POSTGRES_BIN, tool))) return `${path.join(POSTGRES_BIN, tool)} is not installed`;
  }
  if (userInfo().uid !== 0) return undefined;
  try {
    await run('runuser', ['-u', 'postgres', '--', 'true']);
    return undefined;
  } catch (error) {
    return `cannot run as the postgres user (runuser -u postgres): ${(error as Error).message}`;
  }
}

/**
 * A throwaway PostgreSQL 15 server of its own (temp data directory, free port), so a test can stop and start
 * it without disturbing the machine's shared cluster that other tests use at the same time.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'tidepool-pg-'));
  const dataDir = path.join(dir, 'data');
  if (asRoot) {
    const ids = await postgresIds();
    await chown(dir, ids.uid, ids.gid);
  }
  await chmod(dir, 0o700);
  const tool = (name: string, args: readonly string[]) => {
    const bin = path.join(POSTGRES_BIN, name);
    return asRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, [...args]);
  };
  await tool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  // Unix sockets in the private directory: the shared cluster's /var/run/postgresql is left alone.
  const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=50`;
  const start = async () => {
    await tool('pg_ctl', ['start', '-D', dataDir, '-w', '-t', '30', '-l', path.join(dir, 'server.log'), '-o', serverOptions]);
  };
  const stop = async () => {
    await tool('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
  };
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await stop().catch(() => undefined);
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** A port nothing listens on right now (bound and released; the window for a race is tiny). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
