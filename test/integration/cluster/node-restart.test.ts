import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../helpers/temp-dir.js';
import {
  CLUSTER_TOKEN,
  clusterEnv,
  clusterSkipReason,
  createClusterDatabase,
  deployFixture,
  invoke,
  runCli,
  startNode,
  startServe,
  stopProcesses,
  waitFor,
  type ClusterDatabase,
  type Proc,
  type StartedNode,
} from './cluster-processes.js';
import { letTimePass } from '../../helpers/wait-for.js';

/**
 * One `tidepool serve` and one `tidepool node` process with an explicit TIDEPOOL_NODE_ID: min_warm holds
 * reach the node over its internal API, its readiness follows its engine, and after a SIGKILL and a restart
 * under the same id it is re-admitted (down, then ready again) and serves.
 */

const NODE_ID = 'restart-node-1';
const FN = 'restart-tiny';
const PINNED = 'restart-pinned';

const skipReason = clusterSkipReason();
if (skipReason) console.warn(`[skip] node restart test: ${skipReason}`);

interface NodeRow {
  readonly id: string;
  readonly state: string;
  readonly address: string;
}

describe.skipIf(skipReason !== undefined)('a node process in cluster mode', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: ClusterDatabase;
  let env: Record<string, string>;
  let nodeEnv: Record<string, string>;
  const procs: Proc[] = [];
  let plane: string;
  let node: StartedNode;

  const internal = (path: string) => fetch(`${node.address}${path}`, { headers: { Authorization: `Bearer ${CLUSTER_TOKEN}` } });
  // A hold shows in the host pool's fill: the bytes that only the hold brought into host memory.
  const hostPoolUsedBytes = async () => ((await (await internal('/internal/stats')).json()) as { hostPool: { usedBytes: number } }).hostPool.usedBytes;
  const listed = async () => ((await (await fetch(`${plane}/v1/cluster/nodes`)).json()) as { data: NodeRow[] }).data;

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-node-restart');
    database = await createClusterDatabase('tidepool_restart');
    env = clusterEnv(database.url, join(temp.dir, 'data'));
    nodeEnv = { ...env, TIDEPOOL_NODE_ID: NODE_ID, TIDEPOOL_SHM_DIR: join(temp.dir, 'shm') };
    plane = await startServe(env, procs);
    node = await startNode(plane, nodeEnv, procs);
    await deployFixture(join(temp.dir, 'fn'), FN, env, plane);
  });

  afterAll(async () => {
    await stopProcesses(procs);
    await database?.drop();
    await temp?.remove();
  });

  it('registers under TIDEPOOL_NODE_ID, and the control plane refuses an id that cannot be one', async () => {
    expect(node.id).toBe(NODE_ID);
    expect((await listed()).map((n) => n.id)).toEqual([NODE_ID]);
    const res = await fetch(`${plane}/internal/cluster/nodes/${encodeURIComponent('gpu 7')}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${CLUSTER_TOKEN}` },
      body: JSON.stringify({ address: 'http://127.0.0.1:1' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^node id must be 1-128 letters/);
  });

  it('holds a min_warm function in host memory on the node process, and lets it go when the function is removed', async () => {
    // Nothing was invoked yet, and keep_warm_ms is 0: only the hold brings (and keeps) the weights here.
    expect(await hostPoolUsedBytes()).toBe(0);
    await deployFixture(join(temp.dir, 'pinned'), PINNED, env, plane, 'min_warm: 1\nkeep_warm_ms: 0\n');
    const held = await waitFor('the pinned function in host memory', 15_000, async () => {
      const used = await hostPoolUsedBytes();
      return used > 0 ? used : undefined;
    });
    expect(held).toBeGreaterThan(400_000); // the tiny-llama fixture's safetensors and config
    // Still there well after its zero keep-warm window.
    await letTimePass(1000); // well past the zero keep-warm window: the hold must keep it
    expect(await hostPoolUsedBytes()).toBe(held);
    const rm = await runCli(['rm', PINNED], { ...env, TIDEPOOL_API_URL: plane });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await waitFor('the pinned function to leave host memory', 15_000, async () => ((await hostPoolUsedBytes()) === 0 ? true : undefined))).toBe(true);
  });

  it('answers /readyz 503 while its engine restarts, and 200 once it is back', async () => {
    expect((await fetch(`${node.address}/readyz`)).status).toBe(200);
    const engine = Number(
      execFileSync('ps', ['-o', 'pid=', '--ppid', String(node.proc.child.pid)], { encoding: 'utf8' })
        .trim()
        .split(/\s+/)[0],
    );
    expect(engine).toBeGreaterThan(0);
    process.kill(engine, 'SIGKILL');
    // Polled back to back: the restart (200 ms backoff, then the engine's start) is a short window.
    const transitions: number[] = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const status = (await fetch(`${node.address}/readyz`)).status;
      if (transitions.at(-1) !== status) transitions.push(status);
      if (transitions.includes(503) && status === 200) break;
    }
    // It may still answer 200 for a moment, before the node notices the engine is gone.
    expect(transitions.slice(-2)).toEqual([503, 200]);
  });

  it('is marked down when killed, comes back under the same id on restart, and serves again', async () => {
    const before = await invoke(plane, FN, 1, 8);
    expect(before).toMatchObject({ status: 200, done: true });
    const oldAddress = node.address;
    node.proc.child.kill('SIGKILL');
    await node.proc.exited;
    const down = await waitFor('the killed node marked down', 30_000, async () => {
      const row = (await listed()).find((n) => n.id === NODE_ID);
      return row?.state === 'down' ? row : undefined;
    });
    expect(down.address).toBe(oldAddress);

    node = await startNode(plane, nodeEnv, procs);
    expect(node.id).toBe(NODE_ID);
    const back = await waitFor('the restarted node ready', 30_000, async () => {
      const rows = await listed();
      return rows.find((n) => n.id === NODE_ID && n.state === 'ready') ? rows : undefined;
    });
    // One row, re-admitted in place at the new address (port 0 picked a new port): no stale `down` twin.
    expect(back).toEqual([expect.objectContaining({ id: NODE_ID, state: 'ready', address: node.address })]);
    expect(node.address).not.toBe(oldAddress);

    // A replica reuses its read of the node table for 0.5 s; past that, it must route to the node again.
    await letTimePass(600); // past the replicas' 0.5 s node-table cache: what is checked is what they read after it
    const after = await Promise.all([2, 3, 4].map((i) => invoke(plane, FN, i, 8)));
    expect(after.map((o) => [o.status, o.done])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    const db = await database.connect();
    try {
      const ids = [before, ...after].map((o) => o.id!);
      const rows = await waitFor('the records of the four requests', 15_000, async () => {
        const found = (await db.query<{ id: string; node_id: string }>('select id, node_id from invocations where id = any($1)', [ids])).rows;
        return found.length === ids.length ? found : undefined;
      });
      expect(rows.map((r) => r.node_id)).toEqual(ids.map(() => NODE_ID));
    } finally {
      await db.end();
    }
  });
});
