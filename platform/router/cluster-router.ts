import type { Registry } from 'prom-client';
import { NodeError, type NodeEvent, type NodeGenerateRequest, type NodeRuntime } from '../../protocol/node-runtime.js';
import { chooseRoute } from '../../protocol/routing/route.js';
import { ChoiceProgress } from '../../protocol/choice-progress.js';
import type { Db } from '../db/database.js';
import { deleteNode, listNodes, markSilentNodesDown, setNodeState, type NodeRecord } from '../db/repositories/node-repository.js';
import { HttpNodeRuntime, NodeLostError, NodeUnreachableError } from './http-node.js';
import { createRouteDecisions, type RouteReason, type RoutingSummary } from './route-decisions.js';
import type { Router } from './router.js';
import { type Logger, silentLogger } from '../../protocol/logger.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

export type { RouteReason } from './route-decisions.js';

export interface ClusterRouterOptions {
  readonly db: Db;
  readonly token: string;
  /** A node silent for this long is marked down and gets no new requests. */
  readonly downAfterMs: number;
  /**
   * A down node's row is deleted once the node has been silent this long (default 1 h), so hosts that never
   * come back leave the table; one that does come back simply registers again.
   */
  readonly downRetentionMs?: number;
  readonly registry: Registry;
  /** How long a node list read from PostgreSQL is reused; short, so replicas converge fast. */
  readonly cacheMs?: number;
  /** Requests for one function on its best node at which a popular function spreads to another node. */
  readonly spreadAt?: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

export interface ClusterRouter extends Router {
  /** Re-reads the node table now (tests, `/readyz`). */
  refresh(): Promise<void>;
  /** This replica's decisions by reason since it started. */
  routing(): RoutingSummary;
}

interface Candidate {
  readonly client: HttpNodeRuntime;
  readonly record: NodeRecord;
  readonly tier: number;
  /** Requests for this function on the node: the node's last report or this replica's count, whichever is larger. */
  readonly fnLoad: number;
  readonly load: number;
}

const TIER_RANK = { gpu: 0, host: 1, store: 2 } as const;

/**
 * Routing in cluster mode, the control plane's configuration of the routing core (protocol/routing/route.ts).
 * Nodes come from the `nodes` table (registrations and heartbeats; no state lives in
 * this replica beyond a short cache and its own in-flight counts). Preference: a node where the model is on a
 * GPU (`hot`), then in host memory (`warm`), then the least loaded (`least_loaded`); when the preferred node
 * already holds `spreadAt` requests for the function and another node is less loaded, the request goes there
 * (`spread`). A request whose node fails before its first token moves to the next node (`retry`); one that
 * had streamed tokens ends with an error event.
 */
export function createClusterRouter(options: ClusterRouterOptions): ClusterRouter {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 500;
  const spread = { kind: 'model-load', at: options.spreadAt ?? 4, belowTier: TIER_RANK.store } as const;
  const downRetentionMs = options.downRetentionMs ?? 3_600_000;
  const log = options.log ?? silentLogger;
  const decisions = createRouteDecisions(options.registry, now);
  const clients = new Map<string, HttpNodeRuntime>();
  /** This replica's in-flight requests per node and per node+model. */
  const inflight = new Map<string, number>();
  /** Nodes this replica saw fail, with the heartbeat they had then; a newer heartbeat clears them. */
  const suspects = new Map<string, number>();
  let records: NodeRecord[] = [];
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;

  async function read(): Promise<void> {
    const cutoff = new Date(now() - options.downAfterMs);
    const marked = await markSilentNodesDown(options.db, cutoff);
    if (marked > 0) log.warn(`marked ${marked} silent node(s) down`);
    records = await removeLongDown(await listNodes(options.db));
    readAt = now();
    for (const record of records) {
      const client = clients.get(record.id);
      if (!client || client.address !== record.address) clients.set(record.id, new HttpNodeRuntime(record.id, record.address, options.token));
      const suspectedAt = suspects.get(record.id);
      if (suspectedAt !== undefined && record.heartbeatAt.getTime() > suspectedAt) suspects.delete(record.id);
    }
  }

  /** Deletes rows of nodes down and silent for longer than the retention; returns the rows that remain. */
  async function removeLongDown(rows: NodeRecord[]): Promise<NodeRecord[]> {
    const cutoff = now() - downRetentionMs;
    const expired = rows.filter((r) => r.state === 'down' && r.heartbeatAt.getTime() < cutoff);
    for (const record of expired) {
      await deleteNode(options.db, record.id);
      clients.delete(record.id);
      suspects.delete(record.id);
      log.info(`removed node ${record.id}: down and silent for over ${Math.round(downRetentionMs / 1000)} s`);
    }
    return expired.length === 0 ? rows : rows.filter((r) => !expired.includes(r));
  }

  async function fresh(): Promise<void> {
    if (now() - readAt < cacheMs) return;
    reading ??= read().finally(() => (reading = undefined));
    await reading;
  }

  function live(): NodeRecord[] {
    const cutoff = now() - options.downAfterMs;
    return records.filter((r) => r.state === 'ready' && r.heartbeatAt.getTime() >= cutoff && !suspects.has(r.id));
  }

  function candidates(weightsDigest: WeightsDigest, exclude: ReadonlySet<string>): Candidate[] {
    return live()
      .filter((record) => !exclude.has(record.id))
      .map((record) => {
        const models = record.residency;
        const own = models.find((m) => m.weightsDigest === weightsDigest);
        const local = inflight.get(record.id) ?? 0;
        const localFn = inflight.get(`${record.id}\0${weightsDigest}`) ?? 0;
        return {
          client: clients.get(record.id)!,
          record,
          tier: own ? TIER_RANK[own.tier] : TIER_RANK.store,
          fnLoad: Math.max(localFn, own ? own.queued + own.running : 0),
          load: Math.max(local, record.load),
        };
      });
  }

  /** The control plane's configuration of the routing core: tiers hot, warm, store; load in requests; spread. */
  function choose(weightsDigest: WeightsDigest, exclude: ReadonlySet<string>): { candidate: Candidate; reason: RouteReason } | undefined {
    // Sorted by node id, so equal candidates resolve the same way on every replica.
    const nodes = candidates(weightsDigest, exclude).sort((a, b) => a.record.id.localeCompare(b.record.id));
    const choice = chooseRoute(
      nodes.map((c) => ({ tier: c.tier, load: c.load, modelLoad: c.fnLoad })),
      spread,
    );
    if (!choice) return undefined;
    const candidate = nodes[choice.index]!;
    if (choice.spilled) return { candidate, reason: 'spread' };
    return { candidate, reason: candidate.tier === TIER_RANK.gpu ? 'hot' : candidate.tier === TIER_RANK.host ? 'warm' : 'least_loaded' };
  }

  function track(nodeId: string, weightsDigest: WeightsDigest, delta: number): void {
    for (const key of [nodeId, `${nodeId}\0${weightsDigest}`]) {
      const n = (inflight.get(key) ?? 0) + delta;
      if (n <= 0) inflight.delete(key);
      else inflight.set(key, n);
    }
  }

  function suspect(node: Candidate, error: unknown): void {
    suspects.set(node.record.id, node.record.heartbeatAt.getTime());
    log.warn(`node ${node.record.id} failed (${(error as Error).message}); marked down until its next heartbeat`);
    void setNodeState(options.db, node.record.id, 'down').catch(() => {});
  }

  /** One request's path through the cluster: first choice, then the next best node while no token was sent. */
  function failover(weightsDigest: WeightsDigest, first: { candidate: Candidate; reason: RouteReason }): NodeRuntime {
    return {
      nodeId: first.candidate.record.id,
      residency: () => first.candidate.client.residency(),
      close: async () => {},
      async *generate(request: NodeGenerateRequest, signal?: AbortSignal, choiceSignals?: readonly AbortSignal[]): AsyncGenerator<NodeEvent> {
        const tried = new Set<string>();
        let choice: { candidate: Candidate; reason: RouteReason } | undefined = first;
        let lastError: unknown;
        while (choice) {
          const node = choice.candidate;
          tried.add(node.record.id);
          track(node.record.id, weightsDigest, 1);
          const progress = new ChoiceProgress(request);
          try {
            for await (const event of node.client.generate(request, signal, choiceSignals)) {
              progress.see(event);
              yield event;
            }
            return;
          } catch (error) {
            if (progress.totalTokens > 0 || signal?.aborted) {
              if (error instanceof NodeLostError) suspect(node, error);
              const message = error instanceof Error ? error.message : String(error);
              // Every choice the lost stream left open ends here, none is left waiting.
              yield* progress.endOpen('error', { code: 'engine_down', message });
              return;
            }
            if (!retryable(error)) throw error;
            if (error instanceof NodeUnreachableError || error instanceof NodeLostError) suspect(node, error);
            lastError = error;
          } finally {
            track(node.record.id, weightsDigest, -1);
          }
          await fresh().catch(() => {});
          choice = choose(weightsDigest, tried);
          if (choice) decisions.count('retry');
        }
        throw lastError instanceof NodeError ? lastError : new NodeError('engine_down', `every node failed: ${(lastError as Error).message}`);
      },
    };
  }

  return {
    /** Live nodes; residency is their last heartbeat's, so health checks make no calls to nodes. */
    get nodes() {
      return live().map((record): NodeRuntime => {
        const client = clients.get(record.id)!;
        return {
          nodeId: record.id,
          generate: (request, signal, choiceSignals) => client.generate(request, signal, choiceSignals),
          residency: async () => record.residency,
          stats: () => client.stats(),
          holdWarm: (functionName, artifact, keepWarmMs) => client.holdWarm(functionName, artifact, keepWarmMs),
          close: async () => {},
        };
      });
    },
    refresh: read,
    routing: () => decisions.summary(),
    async pick(weightsDigest) {
      await fresh();
      const choice = choose(weightsDigest, new Set());
      if (!choice) {
        decisions.count('no_node');
        // Refused through generate, not here, so the invoker records the request like any other refusal.
        return noNode();
      }
      decisions.count(choice.reason);
      return failover(weightsDigest, choice);
    },
  };
}

function noNode(): NodeRuntime {
  return {
    nodeId: 'none',
    residency: async () => [],
    close: async () => {},
    // biome-ignore lint/correctness/useYield: a generator that refuses before its first event, as NodeRuntime.generate may
    async *generate(): AsyncGenerator<NodeEvent> {
      throw new NodeError('engine_down', 'no node is ready: start one with `tidepool node --control-plane <url>`');
    },
  };
}

function retryable(error: unknown): boolean {
  if (error instanceof NodeUnreachableError || error instanceof NodeLostError) return true;
  return error instanceof NodeError && (error.code === 'engine_down' || error.code === 'queue_full' || error.code === 'store_unavailable');
}
