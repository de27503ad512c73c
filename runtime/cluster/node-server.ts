import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP_STATUS } from '../../protocol/error-status.js';
import { TidepoolError, coded, toWireError } from '../../protocol/errors.js';
import { ChoiceProgress } from '../../protocol/choice-progress.js';
import { parseChoiceCancel, parseGenerateRequest } from '../../protocol/internal-generate.js';
import { nodeStatsToWire, residencyToWire } from '../../protocol/node-reports.js';
import { NodeError, choiceCount, type NodeEvent, type NodeRuntime, type WarmHoldTarget } from '../../protocol/node-runtime.js';
import { bearerMatches } from '../../protocol/cluster-token.js';
import { createGenerationDrain } from './generation-drain.js';
import { HoldWarmRequestError, parseHoldWarmRequest, parseWarmHoldSet, type HoldWarmRequest } from './hold-warm-request.js';
import type { Logger } from '../../protocol/logger.js';

/**
 * The node runtime's internal HTTP API in cluster mode, for control-plane replicas only:
 *
 * - `POST /internal/generate`: body `NodeGenerateRequest`; 200 with NDJSON `NodeEvent` lines, or, when the
 *   request is refused before its first event, a non-2xx status with `{ error: { code, message, retryAfterMs } }`.
 *   A group (`seeds`) streams every choice's events and ends after one `done` per choice, also on a failure.
 * - `POST /internal/cancel`: body `{ id, choice }`; ends one choice of a group streaming here (a stop string
 *   matched in it). 200 `{ cancelled }`: false when no such request or choice is running.
 * - `GET /internal/residency`: `ModelResidency[]`.
 * - `GET /internal/timeline?since=<epoch ms>`: `NodeTimeline` (404 when the node keeps none).
 * - `GET /internal/stats`: `NodeStats` (404 when the node keeps none).
 * - `POST /internal/hold-warm`: body `{ functionName, artifact | null, keepWarmMs }`; pins the function's
 *   weights in host memory (`min_warm`) or releases the pin. 200 `{ function, held }` once done, 400 for a bad
 *   body, 404 when the node keeps no holds.
 * - `PUT /internal/warm-holds`: body `{ holds: [{ functionName, artifact, keepWarmMs }] }`, the whole set of
 *   holds this node should have (every other is released). 200 `{ holds: [function names] }` as soon as the
 *   set is taken: fetches go on in the background, and heartbeats report the holds. 400 for a bad body.
 * - `GET /healthz`, `GET /readyz`: unauthenticated probes.
 *
 * Everything under `/internal` needs the cluster token; anything else is refused with 401.
 */
export interface NodeServer {
  readonly url: string;
  readonly port: number;
  /** Closes at once, cutting every connection (streams included). */
  close(): Promise<void>;
  /**
   * Graceful stop: from now on `POST /internal/generate` answers 503 `engine_down` ("draining"), a refusal
   * before the first token that the control plane's router retries on another node; generations in flight
   * get `graceMs` to finish, then the server closes and cuts what is left. Resolves with how many were cut.
   */
  drain(graceMs: number): Promise<{ readonly cut: number }>;
}

const MAX_BODY_BYTES = 64 * 2 ** 20;

export async function startNodeServer(options: {
  readonly node: NodeRuntime;
  readonly token: string;
  readonly host: string;
  readonly port: number;
  /** False until registered and while draining; `/readyz` answers 503 then. */
  readonly ready?: () => boolean;
  readonly log?: Logger;
}): Promise<NodeServer> {
  const { node, token } = options;
  const generations = createGenerationDrain();
  /** Per group streaming here, by request id: what ends each of its choices. */
  const choiceCancels = new Map<string, readonly AbortController[]>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: Error) => {
      options.log?.error(`node api: ${error.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: error.message } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok', node: node.nodeId });
    if (req.method === 'GET' && path === '/readyz') {
      const ready = options.ready?.() ?? true;
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', node: node.nodeId });
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      return sendJson(res, 401, { error: { code: 'invalid_cluster_token', message: 'missing or invalid cluster token' } });
    }
    if (req.method === 'GET' && path === '/internal/residency') return sendJson(res, 200, residencyToWire(await node.residency()));
    if (req.method === 'GET' && path === '/internal/timeline' && node.timeline) return sendJson(res, 200, await node.timeline(sinceParam(req.url)));
    if (req.method === 'GET' && path === '/internal/stats' && node.stats) return sendJson(res, 200, nodeStatsToWire(await node.stats()));
    if (req.method === 'POST' && path === '/internal/generate') {
      if (!generations.admit()) {
        return sendJson(res, 503, { error: { code: 'engine_down', message: `node ${node.nodeId} is draining (shutting down) and takes no new generations` } });
      }
      return generate(req, res).finally(() => generations.done());
    }
    if (req.method === 'POST' && path === '/internal/cancel') return cancelChoice(req, res);
    if (req.method === 'POST' && path === '/internal/hold-warm' && node.holdWarm) return holdWarm(req, res);
    if (req.method === 'PUT' && path === '/internal/warm-holds' && node.setWarmHolds) return setWarmHolds(req, res);
    return sendJson(res, 404, { error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
  }

  async function holdWarm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let hold: HoldWarmRequest;
    try {
      hold = parseHoldWarmRequest(await readBody(req));
    } catch (error) {
      if (!(error instanceof HoldWarmRequestError)) throw error;
      return sendJson(res, 400, { error: { code: 'invalid_parameter', message: error.message } });
    }
    await node.holdWarm!(hold.functionName, hold.artifact, hold.keepWarmMs);
    sendJson(res, 200, { function: hold.functionName, held: hold.artifact !== undefined });
  }

  async function setWarmHolds(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let holds: readonly WarmHoldTarget[];
    try {
      holds = parseWarmHoldSet(await readBody(req));
    } catch (error) {
      if (!(error instanceof HoldWarmRequestError)) throw error;
      return sendJson(res, 400, { error: { code: 'invalid_parameter', message: error.message } });
    }
    // Fetching held weights can take minutes: answer once the set is taken, and report failures here.
    node.setWarmHolds!(holds).catch((error: Error) => options.log?.warn(`warm holds: ${error.message}`));
    sendJson(res, 200, { holds: holds.map((h) => h.functionName) });
  }

  async function generate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readChecked(req, res, (body) => parseGenerateRequest(parseJson(body)));
    if (!request) return;
    const abort = new AbortController();
    // The control plane hanging up (client gone, stop string matched) cancels the sequence.
    res.on('close', () => abort.abort());
    const choices = choiceCount(request);
    const cancels = choices > 1 ? Array.from({ length: choices }, () => new AbortController()) : undefined;
    if (cancels) choiceCancels.set(request.id, cancels);
    const events = node
      .generate(
        request,
        abort.signal,
        cancels?.map((c) => c.signal),
      )
      [Symbol.asyncIterator]();
    const progress = new ChoiceProgress(request);
    try {
      let first: IteratorResult<NodeEvent>;
      try {
        first = await events.next();
      } catch (error) {
        if (!(error instanceof NodeError)) throw error;
        return sendJson(res, HTTP_STATUS[error.code], { error: { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs } });
      }
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
      res.flushHeaders();
      try {
        for (let next = first; !next.done; next = await events.next()) {
          if (res.destroyed) break;
          progress.see(next.value);
          res.write(`${JSON.stringify(next.value)}\n`);
        }
      } catch (error) {
        // The runtime failed after admission: every choice still open ends with an error event rather than a torn stream.
        for (const end of progress.endOpen('error', toWireError(coded(error)))) res.write(`${JSON.stringify(end)}\n`);
      } finally {
        await events.return?.();
      }
      res.end();
    } finally {
      if (choiceCancels.get(request.id) === cancels) choiceCancels.delete(request.id);
    }
  }

  async function cancelChoice(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cancel = await readChecked(req, res, (body) => parseChoiceCancel(parseJson(body)));
    if (!cancel) return;
    const controller = choiceCancels.get(cancel.id)?.[cancel.choice];
    const cancelled = controller !== undefined && !controller.signal.aborted;
    controller?.abort();
    sendJson(res, 200, { cancelled });
  }

  /** The body read and checked by `parse`; undefined once a refusal (its code's status) has been sent. */
  async function readChecked<T>(req: IncomingMessage, res: ServerResponse, parse: (body: string) => T): Promise<T | undefined> {
    try {
      return parse(await readBody(req));
    } catch (error: unknown) {
      if (!(error instanceof TidepoolError)) throw error;
      const refused: TidepoolError = error;
      sendJson(res, HTTP_STATUS[refused.code], { error: { code: refused.code, message: refused.message } });
      return undefined;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    port,
    close,
    async drain(graceMs) {
      const { unfinished } = await generations.drain(graceMs);
      await close();
      return { cut: unfinished };
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TidepoolError('invalid_json', `body is not JSON: ${(error as Error).message}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `since` from the query string; absent or not a number means the node's whole window. */
function sinceParam(url: string | undefined): number | undefined {
  const since = Number(new URL(url ?? '/', 'http://node').searchParams.get('since') ?? Number.NaN);
  return Number.isFinite(since) ? since : undefined;
}
