import type { ModelResidency, NodeRuntime } from '../../protocol/node-runtime.js';
import type { NodeStats } from '../../protocol/node-stats.js';
import type { NodeRecord } from '../db/repositories/node-repository.js';
import type { OpsGpu, OpsNode, OpsNodeStatus } from './ops-types.js';

/** What one node said for this snapshot: its operator view plus the residency and load the function rows need. */
export interface NodeSnapshot {
  readonly node: OpsNode;
  /** Empty when the node did not answer. */
  readonly residency: readonly ModelResidency[];
  /** Undefined when the node keeps no stats or did not answer; residency's counts stand in then. */
  readonly stats?: NodeStats;
}

/**
 * Asks every live node for residency and stats in parallel, each bounded by `timeoutMs` so one stuck node
 * cannot stall the view. Registered nodes that are not live (cluster mode: draining, down) are listed from
 * their registration, without a call. Local mode has no registrations: its in-process node is the only one.
 */
export async function snapshotNodes(live: readonly NodeRuntime[], registered: readonly NodeRecord[], timeoutMs: number): Promise<NodeSnapshot[]> {
  const records = new Map(registered.map((record) => [record.id, record]));
  const answered = await Promise.all(live.map((node) => askNode(node, records.get(node.nodeId), timeoutMs)));
  const liveIds = new Set(live.map((node) => node.nodeId));
  const silent = registered.filter((record) => !liveIds.has(record.id)).map(fromRegistration);
  return [...answered, ...silent].sort((a, b) => a.node.id.localeCompare(b.node.id));
}

async function askNode(node: NodeRuntime, record: NodeRecord | undefined, timeoutMs: number): Promise<NodeSnapshot> {
  const [residency, stats] = await Promise.all([
    within(node.residency(), timeoutMs),
    node.stats ? within(node.stats(), timeoutMs) : Promise.resolve(undefined),
  ]);
  const reached = residency !== undefined && (stats !== undefined || !node.stats);
  const status: OpsNodeStatus = reached ? statusOf(record?.state ?? 'ready') : 'unreachable';
  return {
    node: {
      id: node.nodeId,
      status,
      ...(record && { url: record.address }),
      gpus: (stats?.gpus ?? []).map((gpu): OpsGpu => ({ ...gpu, resident: [...gpu.resident] })),
      hostPool: stats ? { ...stats.hostPool } : { capacityBytes: record?.hostPoolBytes ?? 0, usedBytes: 0 },
    },
    // An unreachable node's load and residency are unknown now (in cluster mode `residency` is its last heartbeat's).
    residency: reached ? residency : [],
    ...(stats && { stats }),
  };
}

function fromRegistration(record: NodeRecord): NodeSnapshot {
  // A `ready` registration that the router does not list as live missed its heartbeats or failed a request.
  const status = record.state === 'ready' ? 'unreachable' : statusOf(record.state);
  return {
    node: { id: record.id, status, url: record.address, gpus: [], hostPool: { capacityBytes: record.hostPoolBytes, usedBytes: 0 } },
    residency: [],
  };
}

function statusOf(state: string): OpsNodeStatus {
  return state === 'draining' || state === 'down' ? state : 'ready';
}

/** The promise's value, or undefined when it rejects or takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
