import { describe, expect, it } from 'vitest';
import { nodeIdOf } from '../../../cli/node-id.js';

describe('nodeIdOf', () => {
  it('uses TIDEPOOL_NODE_ID when set, whatever the host or port', () => {
    expect(nodeIdOf({ nodeId: 'ip-10-0-3-7.ec2.internal', nodePort: 8080 }, 'tidepool-node-x7k2q', 1)).toBe('ip-10-0-3-7.ec2.internal');
  });

  it('names the host and port otherwise, so a restart on the same host and port keeps the id', () => {
    const first = nodeIdOf({ nodeId: undefined, nodePort: 8081 }, 'gpu7', 100);
    expect(first).toBe('gpu7-8081');
    expect(nodeIdOf({ nodeId: undefined, nodePort: 8081 }, 'gpu7', 200)).toBe(first);
    expect(nodeIdOf({ nodeId: undefined, nodePort: 8082 }, 'gpu7', 100)).not.toBe(first);
  });

  it('falls back to the process id on port 0, which has no stable port to name', () => {
    expect(nodeIdOf({ nodeId: undefined, nodePort: 0 }, 'gpu7', 4242)).toBe('gpu7-4242');
  });
});
