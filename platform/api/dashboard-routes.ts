import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';
import type { Router as NodeRouter } from '../router/router.js';
import type { OpsSources } from './ops-routes.js';
import { streamOpsEvents } from './ops-events.js';
import { parseSince, readClusterTimeline } from './ops-timeline.js';
import { installRoot } from '../../protocol/install-root.js';

/** How many invocations each `invocations` event carries (newest first). */
export const RECENT_INVOCATIONS = 15;

/** Where `scripts/build-dashboard.mjs` writes the bundle (`npm install` runs it). */
export const DEFAULT_DASHBOARD_DIR = join(installRoot(), 'dashboard', 'dist');

export interface DashboardRoutesOptions {
  readonly router: NodeRouter;
  /** The operator API's sources, for `state` and `invocations` events; absent, the stream sends only `timeline`. */
  readonly ops?: OpsSources;
  readonly dashboardDir?: string;
  readonly timelinePollMs?: number;
  readonly statePollMs?: number;
}

/**
 * The dashboard: its static bundle at `/dashboard` (public: the page holds no data and asks for an admin
 * key), `GET /v1/ops/timeline?since=<epoch ms>` and the `GET /v1/ops/events` stream. Both data routes sit
 * under `/v1`, so the API-key check in front of them requires an admin key (unless the API runs open).
 */
export function dashboardRoutes(options: DashboardRoutesOptions): Router {
  const router = Router();
  const nodes = () => options.router.nodes;
  const { ops } = options;

  router.get('/v1/ops/timeline', async (req, res) => {
    const since = parseSince(req.query.since, Date.now());
    res.set('Cache-Control', 'no-store').json(await readClusterTimeline(nodes(), since));
  });

  router.get('/v1/ops/events', (req, res) => {
    const since = parseSince(req.query.since, Date.now());
    streamOpsEvents(res, {
      nodes,
      state: ops?.state,
      invocations: ops && (() => ops.invocations({ limit: RECENT_INVOCATIONS })),
      timelinePollMs: options.timelinePollMs ?? 500,
      statePollMs: options.statePollMs ?? 2_000,
      sinceMs: since,
    });
  });

  const dir = options.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  router.use('/dashboard', (_req, res, next) => {
    if (existsSync(dir)) return next();
    res.status(503).type('text/plain').send(`dashboard bundle not built (${dir} is missing): run \`node scripts/build-dashboard.mjs\` or \`npm install\`\n`);
  });
  // Not hashed file names: every load revalidates (Last-Modified), which costs little on an operator page.
  router.use('/dashboard', express.static(dir, { index: 'index.html', setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') }));
  return router;
}
