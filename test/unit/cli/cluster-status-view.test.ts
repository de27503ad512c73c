import { describe, expect, it } from 'vitest';
import { formatClusterStatus, type ClusterNodesBody } from '../../../cli/cluster-status-view.js';

const NODE: ClusterNodesBody['data'][number] = {
  id: 'gpu7-8081',
  address: 'http://10.0.3.7:8081',
  backend: 'cuda',
  gpus: [{ index: 0 }],
  state: 'ready',
  heartbeat_age_ms: 1200,
  load: 3,
  host_pool_bytes: 2 ** 30,
  residency: { gpu: ['chat'], host: ['chat', 'code'], gpu_bytes: 2 ** 20, host_bytes: 3 * 2 ** 20 },
};
const ROUTING = {
  replica: 'cp-1:8080',
  since: '2026-01-01T00:00:00.000Z',
  decisions: { hot: 12, warm: 3, least_loaded: 5, spread: 2, retry: 1, no_node: 0 },
};

describe('formatClusterStatus', () => {
  it('prints one row per node, then the replica routing decisions by reason with their total', () => {
    const lines = formatClusterStatus({ data: [NODE], routing: ROUTING }).split('\n');
    expect(lines[0]).toMatch(/^NODE\s+BACKEND\s+GPUS\s+STATE\s+HEARTBEAT\s+GPU\s+HOST\s+LOAD\s+ADDRESS$/);
    expect(lines[1]).toMatch(/^gpu7-8081\s+cuda\s+1\s+ready\s+1\.2s\s+chat \(1\.0 MiB\)\s+chat,code \(3\.0 MiB of 1\.0 GiB\)\s+3\s+http:\/\/10\.0\.3\.7:8081$/);
    expect(lines[3]).toBe('ROUTING  replica cp-1:8080, since 2026-01-01T00:00:00.000Z (this replica only), 23 decisions');
    expect(lines.slice(4).map((line) => line.split(/\s+/))).toEqual([
      ['REASON', 'DECISIONS'],
      ['hot', '12'],
      ['warm', '3'],
      ['least_loaded', '5'],
      ['spread', '2'],
      ['retry', '1'],
      ['no_node', '0'],
    ]);
  });

  it('still shows the routing decisions when no node is registered (no_node counts refusals)', () => {
    const text = formatClusterStatus({ data: [], routing: { ...ROUTING, decisions: { ...ROUTING.decisions, no_node: 4 } } });
    expect(text).toMatch(/^no nodes registered \(start one: tidepool node --control-plane <url>\)\n/);
    expect(text).toMatch(/\nno_node\s+4$/);
  });

  it('prints only the nodes for a control plane that sends no routing summary', () => {
    expect(formatClusterStatus({ data: [NODE] }).split('\n')).toHaveLength(2);
  });
});
