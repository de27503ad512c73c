import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { formatBytes, printJson, table } from '../output.js';

interface NodesBody {
  readonly data: readonly {
    id: string;
    address: string;
    backend: string;
    gpus: unknown;
    state: string;
    heartbeat_age_ms: number;
    load: number;
    host_pool_bytes: number;
    residency: { gpu: string[]; host: string[]; gpu_bytes: number; host_bytes: number };
  }[];
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('inspect a cluster-mode installation');
  cluster
    .command('status')
    .description('list nodes: backend, GPUs, state, heartbeat age, residency per tier and load')
    .option('--json', 'print the node list as JSON')
    .action(async (opts: { json?: boolean }) => {
      const body = await createApiClient().json<NodesBody>('GET', '/v1/cluster/nodes');
      if (opts.json) return printJson(body.data);
      if (body.data.length === 0) return console.log('no nodes registered (start one: tidepool node --control-plane <url>)');
      const rows = body.data.map((n) => [
        n.id, n.backend, String(Array.isArray(n.gpus) ? n.gpus.length : 0), n.state, `${(n.heartbeat_age_ms / 1000).toFixed(1)}s`,
        `${n.residency.gpu.join(',') || '-'} (${formatBytes(n.residency.gpu_bytes)})`,
        `${n.residency.host.join(',') || '-'} (${formatBytes(n.residency.host_bytes)} of ${formatBytes(n.host_pool_bytes)})`,
        String(n.load), n.address,
      ]);
      console.log(table([['NODE', 'BACKEND', 'GPUS', 'STATE', 'HEARTBEAT', 'GPU', 'HOST', 'LOAD', 'ADDRESS'], ...rows]));
    });
}
