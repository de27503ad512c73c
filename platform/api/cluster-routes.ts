import express, { Router, type RequestHandler } from 'express';
import { bearerMatches } from '../../protocol/cluster-token.js';
import { parseResidencyList, parseWarmHoldReports, residencyToWire } from '../../protocol/node-reports.js';
import type { WarmHoldReport } from '../../protocol/node-runtime.js';
import { NODE_ID_PATTERN } from '../config.js';
import type { Db } from '../db/database.js';
import { listNodes, upsertNode } from '../db/repositories/node-repository.js';
import type { RoutingSummary } from '../router/route-decisions.js';
import type { WarmHoldSync } from '../router/warm-hold-sync.js';
import { TidepoolError } from '../../protocol/errors.js';

export interface ClusterRoutesOptions {
  readonly db: Db;
  readonly token: string;
  readonly downAfterMs: number;
  readonly heartbeatMs: number;
  /** The answering replica's routing decisions (counts are per replica, since its start); absent, none shown. */
  readonly routing?: () => RoutingSummary & { readonly replica: string };
  /** Told of each ready node's reported `min_warm` holds, so it can send the node the ones it should have. */
  readonly warmHolds?: Pick<WarmHoldSync, 'heartbeat'>;
  readonly now?: () => number;
}

/**
 * Node registration and heartbeats (`PUT /internal/cluster/nodes/:id`, cluster token). Mounted before the
 * API-key check: nodes authenticate with the cluster token, never with a user's key.
 */
export function clusterInternalRoutes(options: ClusterRoutesOptions): Router {
  const router = Router();
  const auth: RequestHandler = (req, _res, next) => {
    if (!bearerMatches(req.headers.authorization, options.token)) {
      next(new TidepoolError('invalid_cluster_token', 'missing or invalid cluster token (TIDEPOOL_CLUSTER_TOKEN)'));
      return;
    }
    next();
  };
  router.use('/internal', auth, express.json({ limit: 4 << 20, type: () => true }));
  router.put('/internal/cluster/nodes/:id', async (req, res) => {
    if (!NODE_ID_PATTERN.test(req.params.id!)) {
      throw new TidepoolError('invalid_parameter', 'node id must be 1-128 letters, digits, dots, underscores, colons or hyphens (TIDEPOOL_NODE_ID)', {
        param: 'id',
      });
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const address = body.address;
    if (typeof address !== 'string' || !/^https?:\/\//.test(address)) {
      throw new TidepoolError('invalid_parameter', 'address must be an http(s) URL', { param: 'address' });
    }
    const state = body.state === 'draining' ? 'draining' : 'ready';
    const residency = body.residency === undefined ? [] : parseResidencyList(body.residency);
    const record = await upsertNode(options.db, {
      id: req.params.id!,
      address: address.replace(/\/+$/, ''),
      backend: typeof body.backend === 'string' ? body.backend : 'unknown',
      gpus: Array.isArray(body.gpus) ? body.gpus : [],
      hostPoolBytes: typeof body.hostPoolBytes === 'number' ? body.hostPoolBytes : 0,
      state,
      residency,
      load: typeof body.load === 'number' && Number.isSafeInteger(body.load) ? body.load : 0,
    });
    const warmHolds = warmHoldReport(body.warmHolds);
    if (warmHolds && state === 'ready') options.warmHolds?.heartbeat({ id: record.id, address: record.address }, warmHolds);
    res.json({ id: record.id, state: record.state, heartbeat_ms: options.heartbeatMs, down_after_ms: options.downAfterMs });
  });
  return router;
}

/** The heartbeat's `warmHolds`; undefined when absent or malformed (a node that keeps no holds sends none). */
function warmHoldReport(value: unknown): readonly WarmHoldReport[] | undefined {
  try {
    return value === undefined ? undefined : parseWarmHoldReports(value);
  } catch {
    return undefined;
  }
}

/**
 * `GET /v1/cluster/nodes`: what `tidepool cluster status` prints: the nodes, and the answering replica's
 * routing decisions by reason. Behind the API-key check like all of `/v1`.
 */
export function clusterPublicRoutes(options: ClusterRoutesOptions): Router {
  const now = options.now ?? Date.now;
  const router = Router();
  router.get('/v1/cluster/nodes', async (_req, res) => {
    const nodes = await listNodes(options.db);
    const at = now();
    const routing = options.routing?.();
    res.json({
      down_after_ms: options.downAfterMs,
      ...(routing && {
        routing: { scope: 'replica', replica: routing.replica, since: routing.since.toISOString(), decisions: routing.decisions },
      }),
      data: nodes.map((node) => {
        const age = at - node.heartbeatAt.getTime();
        const models = node.residency;
        const tier = (t: string) => models.filter((m) => m.tier === t);
        return {
          id: node.id,
          address: node.address,
          backend: node.backend,
          gpus: node.gpus,
          host_pool_bytes: node.hostPoolBytes,
          // A silent node reads as down even before a router got round to marking it.
          state: node.state === 'ready' && age > options.downAfterMs ? 'down' : node.state,
          heartbeat_age_ms: age,
          registered_at: node.registeredAt.toISOString(),
          load: node.load,
          residency: {
            gpu: tier('gpu').map((m) => m.functionName),
            host: tier('host').map((m) => m.functionName),
            gpu_bytes: tier('gpu').reduce((sum, m) => sum + m.bytes, 0),
            host_bytes: tier('host').reduce((sum, m) => sum + m.bytes, 0),
          },
          models: residencyToWire(models),
        };
      }),
    });
  });
  return router;
}
