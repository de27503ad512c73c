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
  type ClusterDatabase,
  type Outcome,
  type Proc,
  type StartedNode,
} from './cluster-processes.js';
import { waitFor } from '../../helpers/wait-for.js';

/**
 * Cluster mode on loopback: two `tidepool serve` replicas sharing one PostgreSQL database and one filesystem
 * object store, three `tidepool node` processes with the CPU engine. Load goes through both replicas while
 * one node is SIGKILLed mid-run; no request may be lost and each has exactly one invocation record.
 */

const REQUESTS = 60;
const CONCURRENCY = 6;
const FN = 'cluster-tiny';

const skipReason = clusterSkipReason();
if (skipReason) console.warn(`[skip] cluster test: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('cluster on loopback', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: ClusterDatabase;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  const planes: string[] = [];
  let nodes: StartedNode[] = [];

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-cluster');
    database = await createClusterDatabase('tidepool_cluster');
    env = clusterEnv(database.url, join(temp.dir, 'data'));
    // Replicas one after the other: the first one migrates the fresh database.
    for (let i = 0; i < 2; i++) planes.push(await startServe(env, procs));
    nodes = await Promise.all([0, 1, 2].map((i) => startNode(planes[i % 2]!, { ...env, TIDEPOOL_SHM_DIR: join(temp.dir, `shm-${i}`) }, procs)));
    await deployFixture(join(temp.dir, 'fn'), FN, env, planes[0]!);
  });

  afterAll(async () => {
    await stopProcesses(procs);
    await database?.drop();
    await temp?.remove();
  });

  it('refuses unauthenticated nodes and unauthenticated generate calls', async () => {
    const res = await fetch(`${planes[0]}/internal/cluster/nodes/intruder`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer wrong' },
      body: JSON.stringify({ address: 'http://127.0.0.1:1' }),
    });
    expect(res.status).toBe(401);
    const generate = await fetch(`${nodes[0]!.address}/internal/generate`, { method: 'POST', body: '{}' });
    expect(generate.status).toBe(401);
    const intruder = await runCli(['node', '--control-plane', planes[0]!, '--port', '0'], {
      ...env,
      TIDEPOOL_CLUSTER_TOKEN: 'wrong',
      TIDEPOOL_SHM_DIR: join(temp.dir, 'shm-x'),
    });
    expect(intruder.code).toBe(1);
    expect(intruder.stderr).toContain('refused this node');
  });

  it('lists every node in tidepool cluster status', async () => {
    const status = await runCli(['cluster', 'status', '--json'], { ...env, TIDEPOOL_API_URL: planes[1]! });
    expect(status.code, status.stderr).toBe(0);
    const listed = JSON.parse(status.stdout) as { id: string; state: string; backend: string }[];
    expect(listed.map((n) => n.id).sort()).toEqual(nodes.map((n) => n.id).sort());
    expect(listed.every((n) => n.state === 'ready' && n.backend === 'cpu')).toBe(true);
  });

  it('loses no request when a node is killed mid-run, and records each request once', async () => {
    const outcomes: Outcome[] = [];
    let next = 0;
    let killed: string | undefined;
    const worker = async () => {
      for (let i = next++; i < REQUESTS; i = next++) {
        if (i === 20 && killed === undefined) {
          // Kill the node with the most sequences in flight right now (asked live, with the cluster token).
          const loads = await Promise.all(
            nodes.map(async (n) => {
              const models = (await (await fetch(`${n.address}/internal/residency`, { headers: { Authorization: `Bearer ${CLUSTER_TOKEN}` } })).json()) as {
                queued: number;
                running: number;
              }[];
              return { n, load: models.reduce((sum, m) => sum + m.queued + m.running, 0) };
            }),
          );
          const victim = loads.sort((a, b) => b.load - a.load)[0]!.n;
          console.log(`cluster: killing ${victim.id} with ${loads[0]!.load} sequence(s) in flight`);
          killed = victim.id;
          victim.proc.child.kill('SIGKILL');
        }
        outcomes[i] = await invoke(planes[i % 2]!, FN, i).catch((error: Error) => ({ status: 0, tokens: 0, done: false, error: error.message }));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(killed).toBeDefined();
    expect(outcomes).toHaveLength(REQUESTS);
    const problems = outcomes
      .map((o, i) => ({ i, ...o }))
      .filter((o) => o.status !== 200 || o.id === undefined || !(o.done || (o.error !== undefined && o.tokens > 0 && /node .* was lost/.test(o.error))));
    expect(problems).toEqual([]);
    const torn = outcomes.filter((o) => !o.done);
    console.log(
      `cluster: ${REQUESTS} requests, ${REQUESTS - torn.length} completed, ${torn.length} ended with an error event after streaming (node ${killed} killed)`,
    );

    // Records are batched; every replica flushes within its interval. Each response's invocation id must have
    // exactly one record, and no record may belong to anything else.
    const ids = outcomes.map((o) => o.id!);
    expect(new Set(ids).size).toBe(REQUESTS);
    const db = await database.connect();
    try {
      const rows = await waitFor(
        async () => {
          const found = (
            await db.query<{ id: string; status: string; node_id: string }>('select id, status, node_id from invocations where function_name = $1', [FN])
          ).rows;
          return found.length >= REQUESTS ? found : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250, message: `${REQUESTS} invocation records` },
      ).catch(
        async () =>
          (await db.query<{ id: string; status: string; node_id: string }>('select id, status, node_id from invocations where function_name = $1', [FN])).rows,
      );
      const recordsPerId = new Map<string, number>();
      for (const row of rows) recordsPerId.set(row.id, (recordsPerId.get(row.id) ?? 0) + 1);
      expect(
        ids.filter((id) => recordsPerId.get(id) !== 1),
        'response ids without exactly one record',
      ).toEqual([]);
      expect(
        rows.filter((row) => !ids.includes(row.id)),
        'records with no response',
      ).toEqual([]);
      const statusOf = new Map(rows.map((row) => [row.id, row.status]));
      expect(torn.map((o) => statusOf.get(o.id!))).toEqual(torn.map(() => 'error'));
      // A completed stream is recorded with its finish reason.
      expect(outcomes.filter((o) => o.done && !['length', 'stop'].includes(statusOf.get(o.id!)!))).toEqual([]);
      const byNode: Record<string, number> = {};
      for (const row of rows) byNode[row.node_id] = (byNode[row.node_id] ?? 0) + 1;
      console.log(`cluster: records per node ${JSON.stringify(byNode)}`);
      expect(byNode[killed!], 'the killed node had served requests').toBeGreaterThan(0);
    } finally {
      await db.end();
    }

    // The killed node is down for both replicas; the survivors still serve.
    const after = await waitFor(
      async () => {
        const nodes = (await (await fetch(`${planes[1]}/v1/cluster/nodes`)).json()) as { data: { id: string; state: string }[] };
        return nodes.data.find((n) => n.id === killed)?.state === 'down' ? nodes : undefined;
      },
      { intervalMs: 100, message: 'the killed node to read as down' },
    );
    expect(after.data.filter((n) => n.state === 'ready')).toHaveLength(2);
    const metrics = (await Promise.all(planes.map(async (url) => (await fetch(`${url}/metrics`)).text()))).join('\n');
    console.log(
      `cluster: ${metrics
        .split('\n')
        .filter((l) => l.startsWith('tidepool_route_decisions_total'))
        .join('; ')}`,
    );
    expect(metrics).toMatch(/tidepool_route_decisions_total\{reason="(hot|warm|least_loaded)"\} [1-9]/);
  });

  it('shows the answering replica its routing decisions in the text of tidepool cluster status', async () => {
    const status = await runCli(['cluster', 'status'], { ...env, TIDEPOOL_API_URL: planes[1]! });
    expect(status.code, status.stderr).toBe(0);
    console.log(`cluster: tidepool cluster status\n${status.stdout}`);
    const lines = status.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+BACKEND\s+GPUS\s+STATE/);
    for (const node of nodes)
      expect(
        lines.some((line) => line.startsWith(`${node.id} `)),
        node.id,
      ).toBe(true);
    const port = new URL(planes[1]!).port;
    const heading = lines.findIndex((line) => line.startsWith('ROUTING  replica '));
    expect(lines[heading]).toMatch(new RegExp(`^ROUTING  replica \\S+:${port}, since \\S+ \\(this replica only\\), [1-9]\\d* decisions$`));
    const printed = Object.fromEntries(
      lines
        .slice(heading + 2)
        .map((line) => line.split(/\s+/))
        .map(([reason, n]) => [reason, Number(n)]),
    );
    // The same counts this replica exports on /metrics, reason by reason (zeros are not exported).
    const metrics = await (await fetch(`${planes[1]}/metrics`)).text();
    const exported = Object.fromEntries([...metrics.matchAll(/^tidepool_route_decisions_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.keys(printed)).toEqual(['hot', 'warm', 'least_loaded', 'spread', 'retry', 'no_node']);
    expect(Object.fromEntries(Object.entries(printed).filter(([, n]) => n > 0))).toEqual(exported);
  });
});
