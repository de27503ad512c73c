import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { apiKeyAuth } from '../auth/api-key-auth.js';
import type { ApiKeyService } from '../auth/api-keys.js';
import type { BlobCollector } from '../functions/blob-gc.js';
import type { FunctionService } from '../functions/function-service.js';
import type { Invoker } from '../functions/invoker.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { Router as NodeRouter } from '../router/router.js';
import type { BlobService } from '../functions/blob-service.js';
import { blobRoutes } from './blob-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { urlControlCharProblem } from '../db/control-chars.js';
import { errorMiddleware, notFoundHandler } from './error-middleware.js';
import { functionRoutes } from './function-routes.js';
import { keyRoutes } from './key-routes.js';
import { openAiRoutes } from './openai-routes.js';
import { opsRoutes, type OpsSources } from './ops-routes.js';
import type { ChatMessage } from './request-params.js';
import type { Logger } from '../../protocol/logger.js';
import { TidepoolError } from '../../protocol/errors.js';

export interface AppOptions {
  readonly functions: FunctionService;
  readonly invoker: Invoker;
  readonly blobs: BlobService;
  /** Blob garbage collection (`POST /v1/blobs/gc`); absent, the route is not served. */
  readonly blobGc?: BlobCollector;
  readonly router: NodeRouter;
  readonly registry: Registry;
  readonly metrics: ControlPlaneMetrics;
  readonly renderChat: (messages: readonly ChatMessage[]) => string;
  readonly maxBodyBytes: number;
  readonly maxUploadBytes: number;
  /** API keys: the `/v1` bearer check and the `/v1/keys` routes. */
  readonly keys: ApiKeyService;
  /** Extra health facts (database kind, backend). */
  readonly health?: () => Promise<Record<string, unknown>>;
  /** Failures the API did not expect (a 500 from an error without a code). */
  readonly log?: Logger;
  /** `/readyz`: resolves when the process can take traffic (database reachable); absent, ready once listening. */
  readonly ready?: () => Promise<void>;
  /** Cluster mode: `internal` (node traffic, cluster token) mounts before the API-key check, `public` after it. */
  readonly clusterRoutes?: { readonly internal: express.Router; readonly public: express.Router };
  /** Operator API (`/v1/ops/state`, `/v1/invocations`); not mounted when absent. */
  readonly ops?: OpsSources;
  /** `TIDEPOOL_METRICS_PUBLIC`: `/metrics` without a key even when keys are in use; default false (admin key). */
  readonly metricsPublic?: boolean;
}

/** The control plane's HTTP app: native API, OpenAI API, blobs, `/metrics` (admin key) and `/healthz`, `/readyz` (public). */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', async (_req, res) => {
    const nodes = await Promise.all(options.router.nodes.map(async (node) => ({ id: node.nodeId, models: (await node.residency().catch(() => [])).length })));
    res.json({ status: 'ok', nodes, ...(await options.health?.()) });
  });
  // Metric labels name every function, which /v1/models hides from keys not granted them: once keys are in
  // use, scraping takes an admin key, unless the operator opted out (TIDEPOOL_METRICS_PUBLIC). The probes
  // stay public. Open mode (loopback, no keys) lets everyone through, as on /v1.
  const metricsAccess: RequestHandler = options.metricsPublic ? (_req, _res, next) => next() : apiKeyAuth(options.keys);
  app.get('/metrics', metricsAccess, async (_req, res) => {
    res.set('Content-Type', options.registry.contentType).send(await options.registry.metrics());
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await options.ready?.();
      res.json({ status: 'ready' });
    } catch (error) {
      res.status(503).json({ status: 'not_ready', reason: (error as Error).message });
    }
  });
  if (options.clusterRoutes) app.use(options.clusterRoutes.internal);
  // Names and ids in paths and queries reach database queries; none holds a control character.
  app.use('/v1', (req, _res, next) => {
    const problem = urlControlCharProblem(req.originalUrl);
    next(problem ? new TidepoolError('invalid_parameter', `the request URL ${problem}; no function name, id or query value holds one`) : undefined);
  });
  app.use('/v1', apiKeyAuth(options.keys));
  // vLLM's tokenizer routes sit outside /v1 and take the same keys.
  app.use(['/tokenize', '/detokenize'], apiKeyAuth(options.keys));
  if (options.clusterRoutes) app.use(options.clusterRoutes.public);
  // Blob bodies are raw streams; register before the JSON parser so it never buffers them.
  app.use(blobRoutes({ blobs: options.blobs, maxUploadBytes: options.maxUploadBytes, metrics: options.metrics, gc: options.blobGc }));
  app.use(express.json({ limit: options.maxBodyBytes, type: () => true }));
  // The OpenAI routes carry nearly all traffic: mounted first, a completion is not matched against every
  // key, ops and function route on its way (no path is shared, so the order changes no answer).
  app.use(openAiRoutes(options));
  app.use(keyRoutes(options.keys));
  if (options.ops) app.use(opsRoutes(options.ops));
  app.use(functionRoutes(options));
  app.use(dashboardRoutes({ router: options.router, ops: options.ops }));
  app.use(notFoundHandler);
  app.use(errorMiddleware({ log: options.log }));
  return app;
}
