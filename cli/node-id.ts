import { hostname } from 'node:os';
import type { TidepoolConfig } from '../platform/config.js';

/**
 * The id a node registers under. It must stay the same across restarts on one host, so the restarted node
 * takes over its own row in `nodes` (down → ready) instead of leaving it down and adding another. That rules
 * out the advertise address: a Kubernetes pod gets a new IP (and name) when it is recreated, which is why the
 * DaemonSet sets `TIDEPOOL_NODE_ID` from the node name. Without it: the machine's host name and the node
 * port, so several nodes on one host stay apart. Port 0 has no stable port to name; the process id stands in,
 * and such a node comes back as a new one unless `TIDEPOOL_NODE_ID` is set.
 */
export function nodeIdOf(config: Pick<TidepoolConfig, 'nodeId' | 'nodePort'>, host: string = hostname(), pid: number = process.pid): string {
  return config.nodeId ?? `${host}-${config.nodePort === 0 ? pid : config.nodePort}`;
}
