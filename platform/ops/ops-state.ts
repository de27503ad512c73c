import type { Db } from '../db/database.js';
import { listFunctions } from '../db/repositories/function-repository.js';
import { invocationStatsSince } from '../db/repositories/invocation-repository.js';
import { listNodes } from '../db/repositories/node-repository.js';
import type { Router } from '../router/router.js';
import { functionRows } from './function-rows.js';
import { snapshotNodes } from './node-snapshot.js';
import type { OpsState } from './ops-types.js';

/** The window behind `attainment`, `invocations5m` and the p50 latencies. */
export const OPS_WINDOW_MS = 5 * 60_000;

export interface OpsStateOptions {
  readonly db: Db;
  /** Live nodes (the in-process node in local mode, registered ready nodes in cluster mode). */
  readonly router: Router;
  /** How long one node may take to answer before it shows as `unreachable`. Default 2 s. */
  readonly nodeTimeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Assembles `GET /v1/ops/state` on demand: the catalog, the nodes table (cluster registrations) and the
 * recent invocations window from the database, residency and stats from each live node, all in parallel.
 * Nothing is cached: a dashboard polling every second costs one small query set and one call per node.
 */
export function createOpsStateReader(options: OpsStateOptions): () => Promise<OpsState> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.nodeTimeoutMs ?? 2_000;
  return async () => {
    const at = now();
    const [catalog, recent, nodes] = await Promise.all([
      listFunctions(options.db),
      invocationStatsSince(options.db, new Date(at - OPS_WINDOW_MS)),
      // `router.nodes` is read once: in cluster mode each access lists the live nodes afresh.
      listNodes(options.db).then((registered) => snapshotNodes(options.router.nodes, registered, timeoutMs)),
    ]);
    return {
      generatedAt: new Date(at).toISOString(),
      nodes: nodes.map((snapshot) => snapshot.node),
      functions: functionRows(catalog, nodes, recent),
    };
  };
}
