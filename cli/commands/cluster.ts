import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { formatClusterStatus, type ClusterNodesBody } from '../cluster-status-view.js';
import { printJson } from '../output.js';

export function registerCluster(cluster: Command): void {
  cluster
    .command('status')
    .description("list nodes (backend, GPUs, state, heartbeat age, residency per tier, load) and this replica's routing decisions")
    .option('--json', 'print the node list as JSON')
    .action(async (opts: { json?: boolean }) => {
      const body = await createApiClient().json<ClusterNodesBody>('GET', '/v1/cluster/nodes');
      if (opts.json) return printJson(body.data);
      console.log(formatClusterStatus(body));
    });
}
