import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createFunctionVersion } from '../../../platform/db/repositories/function-repository.js';
import { upsertNode } from '../../../platform/db/repositories/node-repository.js';
import { createOpsStateReader } from '../../../platform/ops/ops-state.js';
import { createClusterRouter } from '../../../platform/router/cluster-router.js';
import { startNodeServer, type NodeServer } from '../../../runtime/cluster/node-server.js';
import type { NodeStats } from '../../../protocol/node-stats.js';
import type { ModelResidency, NodeRuntime } from '../../../protocol/node-runtime.js';
import { withDatabases } from '../../helpers/databases.js';
import { scriptedNode } from '../api/api-helpers.js';
import { realDigest } from '../../helpers/weights-digest.js';

const TOKEN = 'ops-cluster-token';
const DIGEST = realDigest('ops');

const STATS: NodeStats = {
  functions: [{ functionName: 'chat', weightsDigest: DIGEST, queued: 3, running: 2 }],
  gpus: [
    { index: 0, name: 'H100', memoryBytes: 100, weightsBytes: 40, kvBytes: 30, kvUsedBytes: 3, scratchBytes: 10, freeBytes: 20, resident: ['chat'], up: true },
  ],
  hostPool: { capacityBytes: 1000, usedBytes: 400 },
};
const RESIDENCY: ModelResidency[] = [{ weightsDigest: DIGEST, functionName: 'chat', tier: 'gpu', bytes: 40, queued: 3, running: 2 }];

/** A node that reports fixed stats and residency, so the HTTP path and the assembly are what is tested. */
function reportingNode(): NodeRuntime {
  return { ...scriptedNode(), nodeId: 'gpu-1', residency: async () => RESIDENCY, stats: async () => STATS };
}

// GET /v1/ops/state's assembly in cluster mode: stats travel over the node API and the HTTP node client.
withDatabases(({ database }) => {
  it('lists live nodes with the stats they serve, a silent one as unreachable and registered down or draining ones as they are', async () => {
    const db = database().db;
    const servers: NodeServer[] = [await startNodeServer({ node: reportingNode(), token: TOKEN, host: '127.0.0.1', port: 0 })];
    try {
      const now = new Date();
      const base = { backend: 'cuda', gpus: [{ index: 0 }], hostPoolBytes: 1000, residency: RESIDENCY };
      await upsertNode(db, { ...base, id: 'gpu-1', address: servers[0]!.url, state: 'ready', load: 5 }, now);
      await upsertNode(db, { ...base, id: 'gpu-2', address: 'http://127.0.0.1:9', state: 'ready' }, now);
      await upsertNode(db, { ...base, id: 'gpu-3', address: 'http://127.0.0.1:9', state: 'draining' }, now);
      await createFunctionVersion(db, {
        name: 'chat',
        description: '',
        manifest: { name: 'chat', slo: { ttft_ms: 2000, tpot_ms: 50 } },
        weightsDigest: DIGEST,
        files: [],
        sizeBytes: 40,
      });
      const router = createClusterRouter({ db, token: TOKEN, downAfterMs: 60_000, registry: new Registry(), cacheMs: 0 });
      await router.refresh();
      const state = await createOpsStateReader({ db, router, nodeTimeoutMs: 1000 })();
      expect(state.nodes.map((n) => [n.id, n.status, n.url])).toEqual([
        ['gpu-1', 'ready', servers[0]!.url],
        ['gpu-2', 'unreachable', 'http://127.0.0.1:9'],
        ['gpu-3', 'draining', 'http://127.0.0.1:9'],
      ]);
      expect(state.nodes[0]).toMatchObject({ gpus: STATS.gpus, hostPool: STATS.hostPool });
      expect(state.nodes[1]).toMatchObject({ gpus: [], hostPool: { capacityBytes: 1000, usedBytes: 0 } });
      // gpu-2's heartbeat residency is not counted twice: the load comes from the node that answered.
      expect(state.functions).toEqual([
        {
          name: 'chat',
          version: 1,
          tier: 'gpu',
          slo: { ttft_ms: 2000, tpot_ms: 50 },
          attainment: null,
          invocations5m: 0,
          ttftP50Ms: null,
          tpotP50Ms: null,
          queueDepth: 3,
          running: 2,
        },
      ]);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});
