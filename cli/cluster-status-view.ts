import { formatBytes, table } from './output.js';

/** `GET /v1/cluster/nodes` as `tidepool cluster status` reads it. */
export interface ClusterNodesBody {
  readonly data: readonly {
    readonly id: string;
    readonly address: string;
    readonly backend: string;
    readonly gpus: unknown;
    readonly state: string;
    readonly heartbeat_age_ms: number;
    readonly load: number;
    readonly host_pool_bytes: number;
    readonly residency: { readonly gpu: readonly string[]; readonly host: readonly string[]; readonly gpu_bytes: number; readonly host_bytes: number };
  }[];
  /** Absent from control planes that predate it. */
  readonly routing?: {
    readonly replica: string;
    readonly since: string;
    readonly decisions: Readonly<Record<string, number>>;
  };
}

/** The text form: one row per node, then the answering replica's routing decisions by reason. */
export function formatClusterStatus(body: ClusterNodesBody): string {
  const lines = [body.data.length === 0 ? 'no nodes registered (start one: tidepool node --control-plane <url>)' : nodeTable(body.data)];
  if (body.routing) lines.push('', ...routingLines(body.routing));
  return lines.join('\n');
}

function nodeTable(nodes: ClusterNodesBody['data']): string {
  const rows = nodes.map((n) => [
    n.id,
    n.backend,
    String(Array.isArray(n.gpus) ? n.gpus.length : 0),
    n.state,
    `${(n.heartbeat_age_ms / 1000).toFixed(1)}s`,
    `${n.residency.gpu.join(',') || '-'} (${formatBytes(n.residency.gpu_bytes)})`,
    `${n.residency.host.join(',') || '-'} (${formatBytes(n.residency.host_bytes)} of ${formatBytes(n.host_pool_bytes)})`,
    String(n.load),
    n.address,
  ]);
  return table([['NODE', 'BACKEND', 'GPUS', 'STATE', 'HEARTBEAT', 'GPU', 'HOST', 'LOAD', 'ADDRESS'], ...rows]);
}

function routingLines(routing: NonNullable<ClusterNodesBody['routing']>): string[] {
  const entries = Object.entries(routing.decisions);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return [
    // Each replica counts only what it routed; /metrics on every replica gives the cluster-wide sum.
    `ROUTING  replica ${routing.replica}, since ${routing.since} (this replica only), ${total} decision${total === 1 ? '' : 's'}`,
    table([['REASON', 'DECISIONS'], ...entries.map(([reason, n]) => [reason, String(n)])]),
  ];
}
