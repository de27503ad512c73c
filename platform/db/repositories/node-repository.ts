import type { Db } from '../database.js';
import { toJson } from '../database-schema.js';
import type { ModelResidency } from '../../../protocol/node-runtime.js';
import { parseResidencyList, residencyToWire } from '../../../protocol/node-reports.js';

export type NodeState = 'ready' | 'draining' | 'down' | (string & {});

export interface NodeRegistration {
  readonly id: string;
  /** Where the control plane reaches the node runtime, e.g. `http://10.0.3.7:8081`. */
  readonly address: string;
  readonly backend: string;
  /** Per-GPU facts as the runtime reports them (name, memory bytes, ...). */
  readonly gpus: unknown;
  readonly hostPoolBytes: number;
  readonly state: NodeState;
  /** Models the node holds, as the runtime reports them; kept as is when absent. */
  readonly residency?: readonly ModelResidency[];
  /** Sequences queued or running; kept as is when absent. */
  readonly load?: number;
}

export interface NodeRecord extends NodeRegistration {
  readonly residency: readonly ModelResidency[];
  readonly load: number;
  readonly heartbeatAt: Date;
  readonly registeredAt: Date;
}

/** Registers a node or refreshes its registration; either way counts as a heartbeat. */
export async function upsertNode(db: Db, node: NodeRegistration, now: Date = new Date()): Promise<NodeRecord> {
  const values = {
    address: node.address,
    backend: node.backend,
    gpus: toJson(node.gpus),
    host_pool_bytes: node.hostPoolBytes,
    state: node.state,
    heartbeat_at: now,
    ...(node.residency !== undefined && { residency: toJson(residencyToWire(node.residency)) }),
    ...(node.load !== undefined && { load: node.load }),
  };
  const row = await db
    .insertInto('nodes')
    .values({ id: node.id, ...values, registered_at: now })
    .onConflict((conflict) => conflict.column('id').doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toNodeRecord(row);
}

/** Records a heartbeat, optionally with a new state. False when the node is unknown (it must register). */
export async function heartbeatNode(db: Db, id: string, options: { readonly state?: NodeState; readonly now?: Date } = {}): Promise<boolean> {
  const result = await db
    .updateTable('nodes')
    .set({ heartbeat_at: options.now ?? new Date(), ...(options.state !== undefined && { state: options.state }) })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function getNode(db: Db, id: string): Promise<NodeRecord | null> {
  const row = await db.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toNodeRecord(row) : null;
}

/** Nodes by id; `heartbeatSince` keeps only those heard from at or after that instant. */
export async function listNodes(db: Db, filter: { readonly state?: NodeState; readonly heartbeatSince?: Date } = {}): Promise<NodeRecord[]> {
  let query = db.selectFrom('nodes').selectAll();
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.heartbeatSince !== undefined) query = query.where('heartbeat_at', '>=', filter.heartbeatSince);
  return (await query.orderBy('id').execute()).map(toNodeRecord);
}

/** Marks nodes silent since `before` as `down`; returns how many changed. */
export async function markSilentNodesDown(db: Db, before: Date): Promise<number> {
  const result = await db.updateTable('nodes').set({ state: 'down' }).where('heartbeat_at', '<', before).where('state', '!=', 'down').executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Sets a node's state without counting as a heartbeat (a replica that saw the node fail marks it down). */
export async function setNodeState(db: Db, id: string, state: NodeState): Promise<boolean> {
  const result = await db.updateTable('nodes').set({ state }).where('id', '=', id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteNode(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('nodes').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

function toNodeRecord(row: {
  id: string;
  address: string;
  backend: string;
  gpus: unknown;
  host_pool_bytes: number;
  state: string;
  heartbeat_at: Date;
  registered_at: Date;
  residency: unknown;
  load: number;
}): NodeRecord {
  return {
    id: row.id,
    address: row.address,
    backend: row.backend,
    gpus: row.gpus,
    hostPoolBytes: Number(row.host_pool_bytes),
    state: row.state,
    residency: storedResidency(row.residency),
    load: Number(row.load),
    heartbeatAt: row.heartbeat_at,
    registeredAt: row.registered_at,
  };
}

/** The column holds the heartbeat's wire form, checked when it was written; a row that fails the check reads as none. */
function storedResidency(value: unknown): readonly ModelResidency[] {
  try {
    return parseResidencyList(value);
  } catch {
    return [];
  }
}
