import type { WarmHoldReport, WarmHoldTarget } from '../../protocol/node-runtime.js';
import type { Db } from '../db/database.js';
import { listWarmHeldVersions } from '../db/repositories/function-repository.js';
import { listNodes } from '../db/repositories/node-repository.js';
import { assertManifest } from '../functions/manifest.js';
import { HttpNodeRuntime } from './http-node.js';
import { type Logger, silentLogger } from '../../protocol/logger.js';

/** Where a replica reaches a node. */
export interface NodeAddress {
  readonly id: string;
  readonly address: string;
}

export interface WarmHoldSyncOptions {
  readonly db: Db;
  readonly token: string;
  /** Nodes silent this long are skipped at start-up (they resync when they heartbeat again). */
  readonly downAfterMs: number;
  /** How long the wanted holds read from the database are reused; default 1 s. */
  readonly cacheMs?: number;
  /** After a failed send to a node, how long before this replica tries that node again; default 30 s. */
  readonly retryAfterMs?: number;
  readonly now?: () => number;
  readonly log?: Logger;
  /** How the set reaches a node; `HttpNodeRuntime.setWarmHolds` by default. */
  readonly send?: (node: NodeAddress, holds: readonly WarmHoldTarget[]) => Promise<void>;
}

export interface WarmHoldSync {
  /**
   * A node's heartbeat with the holds it reports. When they differ from what the database wants (a node
   * first seen, back from down or restarted has none; one that missed a remove has one too many), the node
   * is sent the whole wanted set in the background. Never throws.
   */
  heartbeat(node: NodeAddress, reported: readonly WarmHoldReport[]): void;
  /** Sends every live node the wanted set (control-plane start-up); resolves when every send settled. */
  syncAll(): Promise<void>;
  /** Resolves once the sends in flight have settled (tests, shutdown). */
  idle(): Promise<void>;
}

/**
 * Keeps `min_warm` holds converged across a cluster. The wanted holds come from the database (active versions
 * with `min_warm` > 0), never from a replica's memory, and a node is sent the whole set (`PUT
 * /internal/warm-holds`), which it applies idempotently: several replicas sending the same set, or the same
 * replica sending it twice, changes nothing. A replica whose read was a moment stale may send an old set;
 * the node's next heartbeat then differs again and gets the current one.
 */
export function createWarmHoldSync(options: WarmHoldSyncOptions): WarmHoldSync {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 1_000;
  const retryAfterMs = options.retryAfterMs ?? 30_000;
  const log = options.log ?? silentLogger;
  const send = options.send ?? ((node, holds) => new HttpNodeRuntime(node.id, node.address, options.token).setWarmHolds(holds));
  /** Nodes with a send in flight from this replica: a heartbeat meanwhile would only send the same set again. */
  const sending = new Map<string, Promise<void>>();
  /** When a send to a node last failed; it is not retried sooner than `retryAfterMs`. */
  const failedAt = new Map<string, number>();
  /** Heartbeats still being compared with the wanted holds. */
  const checking = new Set<Promise<void>>();
  let cached: { readonly at: number; readonly holds: Promise<readonly WarmHoldTarget[]> } | undefined;

  function wanted(fresh = false): Promise<readonly WarmHoldTarget[]> {
    if (fresh || !cached || now() - cached.at >= cacheMs) {
      const holds = readWanted(options.db);
      cached = { at: now(), holds };
      holds.catch(() => (cached = undefined));
    }
    return cached.holds;
  }

  function sendTo(node: NodeAddress, holds: readonly WarmHoldTarget[], why: string): Promise<void> {
    const done = send(node, holds)
      .then(() => {
        failedAt.delete(node.id);
        log.info(`warm holds: sent node ${node.id} ${describe(holds)} (${why})`);
      })
      .catch((error: Error) => {
        failedAt.set(node.id, now());
        log.warn(`warm holds: could not send node ${node.id} its holds (${error.message}); retrying after ${Math.round(retryAfterMs / 1000)} s`);
      })
      .finally(() => sending.delete(node.id));
    sending.set(node.id, done);
    return done;
  }

  async function reconcile(node: NodeAddress, reported: readonly WarmHoldReport[]): Promise<void> {
    if (sending.has(node.id)) return;
    const failed = failedAt.get(node.id);
    if (failed !== undefined && now() - failed < retryAfterMs) return;
    let holds = await wanted();
    if (signature(holds) === signature(reported)) return;
    // The cached read may predate a deploy or remove the node has already been told of (its heartbeat says
    // so); sending that stale set would undo it. A read made after this heartbeat arrived sees every change
    // the node had seen.
    holds = await wanted(true);
    if (signature(holds) === signature(reported)) return;
    if (sending.has(node.id)) return;
    await sendTo(node, holds, `it reported ${reported.length === 0 ? 'none' : reported.map((r) => r.functionName).join(', ')}`);
  }

  return {
    heartbeat(node, reported) {
      const check = reconcile(node, reported)
        .catch((error: Error) => log.warn(`warm holds: cannot read the wanted holds: ${error.message}`))
        .finally(() => checking.delete(check));
      checking.add(check);
    },
    async syncAll() {
      const [holds, nodes] = await Promise.all([wanted(), listNodes(options.db, { state: 'ready', heartbeatSince: new Date(now() - options.downAfterMs) })]);
      await Promise.all(nodes.map((node) => sending.get(node.id) ?? sendTo(node, holds, 'control plane start-up')));
    },
    async idle() {
      while (checking.size > 0 || sending.size > 0) await Promise.all([...checking, ...sending.values()]);
    },
  };
}

async function readWanted(db: Db): Promise<readonly WarmHoldTarget[]> {
  return (await listWarmHeldVersions(db)).map((row) => ({
    functionName: row.functionName,
    artifact: { weightsDigest: row.weightsDigest, files: row.files, bytes: row.sizeBytes },
    // Parsed again for the defaults, as the catalog does with every stored manifest.
    keepWarmMs: assertManifest(row.manifest).keep_warm_ms,
  }));
}

/** The holds as comparable text: one `function<TAB>artifact digest` line each, in name order. */
function signature(holds: readonly (WarmHoldReport | WarmHoldTarget)[]): string {
  return holds
    .map((h) => `${h.functionName}\t${'artifact' in h ? h.artifact.weightsDigest : h.weightsDigest}`)
    .sort()
    .join('\n');
}

function describe(holds: readonly WarmHoldTarget[]): string {
  return holds.length === 0 ? 'no holds' : `its holds: ${holds.map((h) => h.functionName).join(', ')}`;
}
