import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../platform/db/open-database.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import {
  CLUSTER_TOKEN,
  clusterEnv,
  clusterSkipReason,
  createClusterDatabase,
  invoke,
  isRunning,
  runCli,
  startNode,
  startServe,
  stopProcesses,
  waitFor,
  type ClusterDatabase,
  type Proc,
  type StartedNode,
} from '../integration/cluster/cluster-processes.js';
import { ENGINE_BUILT } from './e2e-server.js';

const BIN = join(import.meta.dirname, '../../bin/tidepool.mjs');

// `tidepool up` as a real process: SIGTERM mid-stream stops admission (503), lets the stream finish, records
// the invocation and exits 0.
describe.skipIf(!ENGINE_BUILT)('graceful shutdown of tidepool up', () => {
  let dataDir: string | undefined;
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('drains an in-flight stream on SIGTERM, refuses new requests with 503, records it and exits 0', { timeout: 120_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tidepool-shutdown-'));
    const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--json'], {
      env: {
        ...process.env,
        TIDEPOOL_DATA_DIR: dataDir,
        TIDEPOOL_SHM_DIR: join(dataDir, 'shm'),
        TIDEPOOL_HOST_POOL_BYTES: '1GiB',
        TIDEPOOL_ENGINE_BACKEND: 'cpu',
        TIDEPOOL_ENGINE_THREADS: '2',
        TIDEPOOL_GPU_MEMORY_BYTES: '1GiB',
        TIDEPOOL_SHUTDOWN_GRACE_MS: '60000',
        TIDEPOOL_HOST: '127.0.0.1',
        TIDEPOOL_API_KEY: '',
        // The records are read back from the embedded database below, whatever database the suite runs on.
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await new Promise<{ url: string; functions: string[] }>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
      void exited.then((code) => reject(new Error(`tidepool up exited ${code}: ${stderr}`)));
    });
    expect(ready.functions).toContain('tiny-chat');
    expect(stderr).toContain('running open: no API keys; bound to loopback');

    const res = await fetch(`${ready.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-chat', prompt: 'The tide', max_tokens: 1500, temperature: 0, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    // A new request while the stream drains gets 503 naming the reason.
    const refused = await waitFor('the server to refuse new requests while it drains', 5_000, async () => {
      const res = await fetch(`${ready.url}/v1/models`);
      if (res.status === 503) return res;
      await res.body?.cancel();
      return undefined;
    });
    expect((await refused.json()).error).toMatchObject({ code: 'shutting_down', type: 'server_error' });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const drainedMs = Date.now() - signalledAt;
    expect(text.trimEnd().endsWith('data: [DONE]'), text.slice(-300)).toBe(true);
    const chunks = text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => JSON.parse(f.slice(6)));
    const finish = chunks.at(-1).choices[0].finish_reason;
    expect(['length', 'stop']).toContain(finish);
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('shutdown complete');
    console.log(`stream of ${chunks.length - 1} chunks finished ${drainedMs} ms after SIGTERM (finish_reason ${finish}); exit 0`);

    const database = await openDatabase({ dataDir });
    try {
      const rows = await database.db.selectFrom('invocations').select(['function_name', 'status', 'completion_tokens']).execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ function_name: 'tiny-chat', status: finish });
    } finally {
      await database.close();
    }
  });
});

// Cluster mode as real processes: `tidepool serve` (the Kubernetes control-plane Deployment) and `tidepool node`
// (the DaemonSet) on PostgreSQL. SIGTERM to a node stops it taking generations (the router sends new ones to
// the other node), tells the control plane it is draining, lets its in-flight stream finish and exits 0;
// SIGTERM to serve answers new requests 503, lets its stream finish, flushes the record and exits 0.
const clusterSkip = clusterSkipReason();
if (clusterSkip) console.warn(`[skip] graceful shutdown of serve and node: ${clusterSkip}`);

describe.skipIf(clusterSkip !== undefined)('graceful shutdown of tidepool serve and tidepool node', () => {
  const FN = 'tiny-chat';
  const LONG = 1500;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: ClusterDatabase;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  let serve: Proc;
  let plane: string;
  let nodes: StartedNode[];

  /** Sequences running on `node` right now, asked live with the cluster token. */
  const running = async (node: StartedNode): Promise<number> => {
    const res = await fetch(`${node.address}/internal/residency`, { headers: { Authorization: `Bearer ${CLUSTER_TOKEN}` } });
    return ((await res.json()) as { running: number }[]).reduce((sum, m) => sum + m.running, 0);
  };
  const busyNode = () =>
    waitFor('a node running the long stream', 20_000, async () => {
      for (const node of nodes) if (isRunning(node.proc) && (await running(node)) > 0) return node;
      return undefined;
    });

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-cluster-shutdown');
    database = await createClusterDatabase('tidepool_shutdown');
    env = { ...clusterEnv(database.url, join(temp.dir, 'data')), TIDEPOOL_SHUTDOWN_GRACE_MS: '60000' };
    plane = await startServe(env, procs);
    serve = procs[0]!;
    nodes = await Promise.all([0, 1].map((i) => startNode(plane, { ...env, TIDEPOOL_SHM_DIR: join(temp.dir, `shm-${i}`) }, procs)));
    const deploy = await runCli(['deploy', 'functions/tiny-chat', '--json'], { ...env, TIDEPOOL_API_URL: plane });
    expect(deploy.code, deploy.stderr).toBe(0);
  });

  afterAll(async () => {
    await stopProcesses(procs);
    await database?.drop();
    await temp?.remove();
  });

  it('a node drains on SIGTERM: new generations go elsewhere, its stream finishes, it is marked draining and exits 0', { timeout: 120_000 }, async () => {
    const long = invoke(plane, FN, 1, LONG);
    const victim = await busyNode();
    const signalledAt = Date.now();
    victim.proc.child.kill('SIGTERM');

    // The node refuses a generation as a retryable 503 before any token...
    const refused = await waitFor('the node to refuse generations', 5000, async () => {
      const res = await fetch(`${victim.address}/internal/generate`, { method: 'POST', headers: { Authorization: `Bearer ${CLUSTER_TOKEN}` }, body: '{}' });
      return res.status === 503 ? ((await res.json()) as { error: { code: string; message: string } }).error : undefined;
    });
    expect(refused).toEqual({ code: 'engine_down', message: `node ${victim.id} is draining (shutting down) and takes no new generations` });
    // ...the control plane lists it as draining, and a new request is served by the other node.
    const listed = await waitFor('the node listed as draining', 5000, async () => {
      const body = (await (await fetch(`${plane}/v1/cluster/nodes`)).json()) as { data: { id: string; state: string }[] };
      return body.data.find((n) => n.id === victim.id && n.state === 'draining');
    });
    expect(listed).toBeDefined();
    const meanwhile = await invoke(plane, FN, 2, 8);
    expect(meanwhile, JSON.stringify(meanwhile)).toMatchObject({ status: 200, done: true, tokens: 8 });

    const finished = await long;
    expect(finished, JSON.stringify(finished)).toMatchObject({ status: 200, done: true, tokens: LONG });
    expect(await victim.proc.exited, victim.proc.stderr).toBe(0);
    expect(victim.proc.stderr).toContain('SIGTERM: draining (in-flight generations get up to 60000 ms)');
    expect(victim.proc.stderr).toContain('shutdown complete');
    console.log(`node ${victim.id}: stream of ${LONG} tokens finished and the node exited 0 ${Date.now() - signalledAt} ms after SIGTERM`);
  });

  it('serve drains on SIGTERM: 503 shutting_down with Retry-After, the stream finishes, its record is flushed, exit 0', { timeout: 120_000 }, async () => {
    const long = invoke(plane, FN, 3, LONG);
    await busyNode();
    const signalledAt = Date.now();
    serve.child.kill('SIGTERM');
    const refused = await waitFor('serve to refuse new requests', 5000, async () => {
      const res = await fetch(`${plane}/v1/models`);
      return res.status === 503 ? res : undefined;
    });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ code: 'shutting_down', type: 'server_error' });
    // Liveness holds while draining (no restart mid-drain); readiness takes the replica out of the Service.
    expect((await fetch(`${plane}/healthz`)).status).toBe(200);
    expect((await fetch(`${plane}/readyz`)).status).toBe(503);

    const finished = await long;
    expect(finished, JSON.stringify(finished)).toMatchObject({ status: 200, done: true, tokens: LONG });
    expect(await serve.exited, serve.stderr).toBe(0);
    expect(serve.stderr).toContain('SIGTERM: shutting down (draining in-flight requests for up to 60000 ms)');
    expect(serve.stderr).toContain('shutdown complete');
    console.log(`serve: stream of ${LONG} tokens finished and serve exited 0 ${Date.now() - signalledAt} ms after SIGTERM`);

    // Every invocation of this suite has its record, the drained one included: written before the exit.
    const db = await database.connect();
    try {
      const rows = (await db.query<{ id: string; status: string }>('select id, status from invocations where function_name = $1', [FN])).rows;
      expect(rows).toHaveLength(3);
      expect(rows.find((row) => row.id === finished.id)?.status).toBe('length');
    } finally {
      await db.end();
    }
  });
});
