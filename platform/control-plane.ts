import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import type { NodeRuntime } from '../protocol/node-runtime.js';
import { createApp, type AppOptions } from './api/app.js';
import type { BlobService } from './functions/blob-service.js';
import { errorBody } from './api/http-error.js';
import { TidepoolError } from '../protocol/errors.js';
import { createApiKeyService, type ApiKeyService } from './auth/api-keys.js';
import type { ChatMessage } from './api/request-params.js';
import type { Database } from './db/database.js';
import { createBlobCollector } from './functions/blob-gc.js';
import { createDbCatalog } from './functions/db-catalog.js';
import { createFunctionService, type FunctionService } from './functions/function-service.js';
import type { InflightJournal } from './functions/inflight-journal.js';
import type { LeftoverFinder } from '../protocol/leftovers.js';
import { createInvocationRecorder, type InvocationRecorder } from './functions/invocation-recorder.js';
import { createInvoker } from './functions/invoker.js';
import type { FunctionTokenizer } from './functions/resolved-function.js';
import { createInvocationLog } from './ops/invocation-log.js';
import { createOpsStateReader } from './ops/ops-state.js';
import { createControlPlaneMetrics } from './metrics.js';
import { createQuotaGate } from './quota/quota-gate.js';
import { ChatTemplateError, renderChat } from './models/chat-template.js';
import { byteLevelTokenizer, tokenizerFromJson } from './models/tokenizer.js';
import { tokenBytes } from '../protocol/token-bytes.js';
import { chatFamilyOfTokenizerJson } from './models/chat-family.js';
import { checkModelParts } from './models/validate-model.js';
import { createRouter, type Router } from './router/router.js';
import { type Logger, silentLogger } from '../protocol/logger.js';

export interface ControlPlaneOptions {
  readonly database: Database;
  readonly blobs: BlobService;
  /** Local mode: the in-process node. Cluster mode passes `router` instead. */
  readonly nodes?: readonly NodeRuntime[];
  /** Cluster mode: a router over registered nodes (see `router/cluster-router.ts`). */
  readonly router?: Router;
  readonly clusterRoutes?: AppOptions['clusterRoutes'];
  readonly registry?: Registry;
  readonly maxBodyBytes?: number;
  readonly maxUploadBytes?: number;
  /** `TIDEPOOL_API_KEY`: a bootstrap admin key; while it is unset and no key exists, the API runs open. */
  readonly apiKey?: string;
  /** Invocation recorder batching: flush every `flushIntervalMs` or at `maxBatch` rows. */
  readonly recorder?: { readonly flushIntervalMs?: number; readonly maxBatch?: number };
  readonly activeVersionTtlMs?: number;
  /** `TIDEPOOL_METRICS_PUBLIC`: serve `/metrics` without a key even when keys are in use. */
  readonly metricsPublic?: boolean;
  readonly log?: Logger;
  /** Local mode: invocations in flight on disk (`inflight-journal.ts`); closed after shutdown's last flush. */
  readonly journal?: InflightJournal;
  /** Where `POST /v1/blobs/gc` finds what crashed processes left (uploads; in local mode also sockets and host pools). */
  readonly leftovers?: LeftoverFinder;
}

export interface ControlPlane {
  readonly app: Express;
  readonly functions: FunctionService;
  readonly recorder: InvocationRecorder;
  readonly registry: Registry;
  readonly keys: ApiKeyService;
  /**
   * Starts listening; resolves with the base URL (`http://host:port`). Refuses a non-loopback `host` unless
   * some key can authenticate (`TIDEPOOL_API_KEY` or an unrevoked stored key): keys are required off loopback.
   */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting, flushes invocation records. Nodes and the database belong to the caller. */
  close(): Promise<void>;
  /**
   * Graceful stop (SIGTERM): from now on every new request but the liveness probe (`GET /healthz`), on new or
   * kept-alive connections, gets 503 `shutting_down`; in-flight requests (streams included) get `graceMs` to
   * finish, then their connections are cut; then invocation records are flushed. Resolves with how many
   * requests were cut.
   */
  shutdown(graceMs: number): Promise<{ readonly cut: number }>;
}

/** Wires catalog, store, router, invoker, recorder and metrics into the HTTP app. */
export function createControlPlane(options: ControlPlaneOptions): ControlPlane {
  const registry = options.registry ?? new Registry();
  const metrics = createControlPlaneMetrics(registry);
  const catalog = createDbCatalog(options.database.db);
  const router = options.router ?? createRouter({ nodes: options.nodes ?? [] });
  const log = options.log ?? silentLogger;
  const recorder = createInvocationRecorder({
    write: (rows) => catalog.insertInvocations(rows),
    ...options.recorder,
    onDropped: (count, error) => {
      metrics.recorderDropped.inc(count);
      log.error(`invocation records lost (${count})${error ? `: ${(error as Error).message}` : ''}`);
    },
    onWriteError: (error, buffered, retryInMs) =>
      log.warn(`invocation records not written (${(error as Error).message}); ${buffered} kept, retrying in ${retryInMs} ms`),
    onRecovered: (failures) => log.info(`invocation records written again after ${failures} failed attempt(s)`),
  });
  const functions = createFunctionService({
    catalog,
    blobs: options.blobs,
    router,
    metrics,
    cacheTtlMs: options.activeVersionTtlMs,
    validateModel: (config, shards) => {
      const check = checkModelParts(
        config,
        shards.map((s) => ({ name: s.file, header: s.header })),
      );
      return check.ok ? [] : check.problems.map((p) => p.message);
    },
    loadTokenizer,
  });
  const invoker = createInvoker({ router, recorder, metrics, quotas: createQuotaGate({ registry }), journal: options.journal });
  const blobGc = createBlobCollector({ db: options.database.db, blobs: options.blobs, leftovers: options.leftovers });
  const keys = createApiKeyService({ db: options.database.db, bootstrapKey: options.apiKey });
  const app = createApp({
    functions,
    invoker,
    blobs: options.blobs,
    blobGc,
    router,
    registry,
    metrics,
    renderChat: renderChatOr400,
    maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
    maxUploadBytes: options.maxUploadBytes ?? 64 * 2 ** 30,
    keys,
    health: async () => ({ database: options.database.kind }),
    ready: async () => {
      await sql`select 1`.execute(options.database.db);
    },
    clusterRoutes: options.clusterRoutes,
    metricsPublic: options.metricsPublic,
    ops: { state: createOpsStateReader({ db: options.database.db, router }), invocations: createInvocationLog(options.database.db) },
    log,
  });
  let server: Server | undefined;
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // The liveness probe keeps answering while draining, so an orchestrator does not restart a process that is
    // finishing its streams; readiness (`/readyz`) gets the 503 like everything else and takes it out of rotation.
    if (draining && !(req.method === 'GET' && req.url === '/healthz')) {
      const refusal = new TidepoolError('shutting_down', 'the server is shutting down and takes no new requests; retry shortly');
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '1', Connection: 'close' });
      res.end(JSON.stringify(errorBody(refusal)));
      return;
    }
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
    app(req, res);
  };
  return {
    app,
    functions,
    recorder,
    registry,
    keys,
    listen: async (port, host) => {
      if (!isLoopback(host) && !(await keys.hasUsableKey())) {
        throw new Error(
          `refusing to listen on ${host} without API keys: set TIDEPOOL_API_KEY (an admin key), or bind to 127.0.0.1 and create one with \`tidepool keys create --scope admin\``,
        );
      }
      if (await keys.isOpen()) log.warn('running open: no API keys; bound to loopback');
      return new Promise((resolve, reject) => {
        const s = createServer(handle);
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          const address = s.address() as AddressInfo;
          resolve(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
        });
        // Streams can be long; the default request timeout would cut them.
        s.requestTimeout = 0;
        s.keepAliveTimeout = 65_000;
        server = s;
      });
    },
    async close() {
      if (server) {
        const s = server;
        // A kept-alive connection whose request was still running goes idle later; close each as it does,
        // rather than waiting out its keep-alive timeout.
        const sweep = setInterval(() => s.closeIdleConnections(), 100);
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        }).finally(() => clearInterval(sweep));
      }
      await recorder.close();
      await options.journal?.close();
    },
    async shutdown(graceMs) {
      draining = true;
      let cut = 0;
      if (server) {
        const s = server;
        // Keep listening while draining, so a new request gets the 503 with its reason rather than a refused
        // connection; idle kept-alive connections are closed so their clients reconnect and get it too.
        s.closeIdleConnections();
        if (inFlight > 0) {
          let timer: NodeJS.Timeout | undefined;
          const drained = await Promise.race([
            new Promise<boolean>((resolve) => {
              onIdle = () => resolve(true);
            }),
            new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(false), graceMs);
            }),
          ]);
          clearTimeout(timer);
          if (!drained) {
            cut = inFlight;
            log.warn(`shutdown: ${cut} request(s) still running after ${graceMs} ms; cutting their connections`);
            s.closeAllConnections();
          }
        }
        // Kept-alive connections are idle now; without this, close would wait for their keep-alive timeout.
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeIdleConnections();
        await closed;
      }
      // A stream whose client left can close its socket before its generation notices and records it.
      if (!(await invoker.idle(5000))) log.error('shutdown: some generations did not finish; their records are lost');
      await recorder.close();
      await options.journal?.close();
      return { cut };
    },
  };
}

/** 127.0.0.0/8, ::1 and localhost: the addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

function renderChatOr400(messages: readonly ChatMessage[]): string {
  try {
    return renderChat(messages as Parameters<typeof renderChat>[0]);
  } catch (error) {
    if (error instanceof ChatTemplateError) throw new TidepoolError('invalid_parameter', error.message, { param: 'messages' });
    throw error;
  }
}

/** The function's tokenizer, with every id's bytes over the model's vocabulary (logprobs, constrained decoding). */
function loadTokenizer(tokenizerJson: string | undefined, config: Record<string, unknown>): FunctionTokenizer {
  const raw = config.eos_token_id;
  const eosTokenIds = (Array.isArray(raw) ? raw : [raw]).filter((id): id is number => Number.isSafeInteger(id) && (id as number) >= 0);
  const vocabSize = typeof config.vocab_size === 'number' ? config.vocab_size : undefined;
  const json = tokenizerJson === undefined ? undefined : (JSON.parse(tokenizerJson) as Record<string, unknown>);
  const tokenizer = json ? tokenizerFromJson(json, { eosTokenIds }) : byteLevelTokenizer({ eosTokenIds, ...(vocabSize !== undefined ? { vocabSize } : {}) });
  const bytes = tokenBytes(json, vocabSize ?? tokenizer.vocabSize);
  return { ...tokenizer, chatFamily: chatFamilyOfTokenizerJson(json), ...(bytes ? { tokenBytes: bytes } : {}) };
}
