import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../helpers/temp-dir.js';
import {
  CLUSTER_TOKEN,
  clusterEnv,
  clusterSkipReason,
  createClusterDatabase,
  deployFixture,
  runCli,
  startNode,
  startServe,
  stopProcesses,
  waitFor,
  type ClusterDatabase,
  type Proc,
  type StartedNode,
} from './cluster-processes.js';

/**
 * min_warm holds on real `tidepool serve` and `tidepool node` processes reach nodes that were not there at
 * deploy time: a node started after the deploy, and the same node killed and started again (empty shared
 * memory, so nothing is rediscovered), both warm the function without a redeploy.
 */

const PINNED = 'converge-pinned';
const NODE_ID = 'converge-node-1';

const skipReason = clusterSkipReason();
if (skipReason) console.warn(`[skip] warm hold convergence test: ${skipReason}`);

interface NodeRow {
  readonly id: string;
  readonly state: string;
  readonly residency: { readonly host: readonly string[]; readonly gpu: readonly string[] };
}

describe.skipIf(skipReason !== undefined)('min_warm holds in a cluster of processes', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: ClusterDatabase;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  let plane: string;

  const hostPoolUsedBytes = async (node: StartedNode) => {
    const res = await fetch(`${node.address}/internal/stats`, { headers: { Authorization: `Bearer ${CLUSTER_TOKEN}` } });
    return ((await res.json()) as { hostPool: { usedBytes: number } }).hostPool.usedBytes;
  };
  const listed = async () => ((await (await fetch(`${plane}/v1/cluster/nodes`)).json()) as { data: NodeRow[] }).data;
  const nodeEnv = (shm: string) => ({ ...env, TIDEPOOL_NODE_ID: NODE_ID, TIDEPOOL_SHM_DIR: join(temp.dir, shm) });

  /** Waits until the node holds the pinned weights and the control plane lists it there as `host`. */
  async function warmed(node: StartedNode): Promise<number> {
    const bytes = await waitFor("the pinned weights in the node's host memory", 20_000, async () => {
      const used = await hostPoolUsedBytes(node);
      return used > 0 ? used : undefined;
    });
    await waitFor('cluster status listing the pinned function as host', 30_000, async () =>
      (await listed()).find((n) => n.id === NODE_ID && n.state === 'ready' && n.residency.host.includes(PINNED)),
    );
    return bytes;
  }

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-warm-converge');
    database = await createClusterDatabase('tidepool_converge');
    env = clusterEnv(database.url, join(temp.dir, 'data'));
    plane = await startServe(env, procs);
    // Deployed before any node exists: the deploy's own hold reaches nobody.
    await deployFixture(join(temp.dir, 'pinned'), PINNED, env, plane, 'min_warm: 1\nkeep_warm_ms: 0\n');
  });

  afterAll(async () => {
    await stopProcesses(procs);
    await database?.drop();
    await temp?.remove();
  });

  it('warms a node that registers after the deploy, and shows the never-invoked function as host', async () => {
    const node = await startNode(plane, nodeEnv('shm-1'), procs);
    expect(await warmed(node)).toBeGreaterThan(400_000); // the tiny-llama fixture's safetensors and config
    // `show` reads residency from the replica's node table, refreshed every heartbeat interval, so it may lag
    // `cluster status` (a fresh read) by one interval: wait for `show` itself to say host.
    const shown = await waitFor('`tidepool show` listing the pinned function as host', 30_000, async () => {
      const show = await runCli(['show', PINNED], { ...env, TIDEPOOL_API_URL: plane });
      return show.code === 0 && show.stdout.includes(`resident: host on ${NODE_ID}`) ? show.stdout : undefined;
    });
    expect(shown).toContain(`resident: host on ${NODE_ID}`);
  });

  it('warms the node again after it is killed and restarted with empty shared memory', async () => {
    const old = procs.at(-1)!;
    old.child.kill('SIGKILL');
    await old.exited;
    const node = await startNode(plane, nodeEnv('shm-2'), procs);
    expect(node.id).toBe(NODE_ID);
    expect(await warmed(node)).toBeGreaterThan(400_000);
    // Removing the function releases it: keep_warm_ms 0 lets the weights go at once.
    const rm = await runCli(['rm', PINNED], { ...env, TIDEPOOL_API_URL: plane });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await waitFor('the removed function to leave host memory', 15_000, async () => ((await hostPoolUsedBytes(node)) === 0 ? true : undefined))).toBe(
      true,
    );
  });
});
