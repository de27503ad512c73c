import { Router } from 'express';
import type { InvocationLog } from '../ops/invocation-log.js';
import { parseInvocationQuery } from '../ops/invocation-query.js';
import type { OpsState } from '../ops/ops-types.js';

/** What the operator routes read; absent from the app options, the routes are not mounted. */
export interface OpsSources {
  readonly state: () => Promise<OpsState>;
  readonly invocations: InvocationLog;
}

/**
 * The operator API (admin scope, enforced by the `/v1` key check since neither route is an invoke route):
 * `GET /v1/ops/state` for dashboards and `tidepool top`, `GET /v1/invocations` for `tidepool logs`.
 */
export function opsRoutes(sources: OpsSources): Router {
  const router = Router();
  router.get('/v1/ops/state', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await sources.state());
  });
  router.get('/v1/invocations', async (req, res) => {
    const query = parseInvocationQuery(req.query as Record<string, unknown>);
    res.set('Cache-Control', 'no-store').json(await sources.invocations(query));
  });
  return router;
}
