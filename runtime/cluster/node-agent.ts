import type { ModelResidency, NodeRuntime, WarmHoldReport } from '../../protocol/node-runtime.js';
import { bearer } from '../../protocol/cluster-token.js';
import { residencyToWire, warmHoldReportsToWire } from '../../protocol/node-reports.js';
import type { Logger } from '../../protocol/logger.js';

/** What a node tells the control plane about itself; every heartbeat carries all of it. */
export interface NodeReport {
  readonly address: string;
  readonly backend: string;
  readonly gpus: readonly Record<string, unknown>[];
  readonly hostPoolBytes: number;
  readonly state: 'ready' | 'draining';
  readonly residency: readonly ModelResidency[];
  /** Sequences queued or running. */
  readonly load: number;
  /**
   * The `min_warm` holds this node was asked for (absent when it keeps none): a replica that finds them
   * differing from what the database wants sends the node its holds (a restarted or new node has none).
   */
  readonly warmHolds?: readonly WarmHoldReport[];
}

export interface NodeAgent {
  /** Resolves after the first accepted registration; rejects when the control plane refuses the token. */
  readonly registered: Promise<void>;
  /**
   * Stops heartbeating and sends one last report as `draining`, after any heartbeat already on its way (a
   * late `ready` must not overwrite it): the control plane routes nothing new here from then on.
   */
  stop(): Promise<void>;
}

export class ClusterAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterAuthError';
  }
}

/**
 * Registers a node with the control plane and keeps it fresh: `PUT /internal/cluster/nodes/:id` every
 * `heartbeatMs` with residency and load. Registration and heartbeat are the same call, so a node that the
 * control plane marked down is re-admitted by its next heartbeat. A 401 is fatal (wrong token); anything
 * else is retried on the next tick.
 */
export function startNodeAgent(options: {
  readonly node: NodeRuntime;
  readonly controlPlaneUrl: string;
  readonly token: string;
  readonly heartbeatMs: number;
  readonly describe: () => Omit<NodeReport, 'residency' | 'load' | 'state' | 'warmHolds'>;
  readonly onFatal: (error: Error) => void;
  readonly log?: Logger;
}): NodeAgent {
  const base = options.controlPlaneUrl.replace(/\/+$/, '');
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;
  let resolveRegistered!: () => void;
  let rejectRegistered!: (error: Error) => void;
  const registered = new Promise<void>((resolve, reject) => {
    resolveRegistered = resolve;
    rejectRegistered = reject;
  });
  registered.catch(() => {});

  async function send(state: NodeReport['state']): Promise<void> {
    const residency = await options.node.residency();
    const report: NodeReport = {
      ...options.describe(),
      state,
      residency,
      load: residency.reduce((sum, m) => sum + m.queued + m.running, 0),
      ...(options.node.warmHoldReport && { warmHolds: options.node.warmHoldReport() }),
    };
    const res = await fetch(`${base}/internal/cluster/nodes/${encodeURIComponent(options.node.nodeId)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...bearer(options.token) },
      body: JSON.stringify({
        ...report,
        residency: residencyToWire(report.residency),
        ...(report.warmHolds && { warmHolds: warmHoldReportsToWire(report.warmHolds) }),
      }),
      signal: AbortSignal.timeout(Math.max(1000, options.heartbeatMs)),
    });
    const text = await res.text();
    if (res.status === 401) throw new ClusterAuthError(`control plane ${base} refused this node: ${text || 'invalid cluster token'}`);
    if (!res.ok) throw new Error(`control plane ${base} answered ${res.status}: ${text.slice(0, 200)}`);
  }

  async function tick(): Promise<void> {
    try {
      await send('ready');
      if (failures > 0) options.log?.info(`heartbeat: control plane reachable again after ${failures} failure(s)`);
      failures = 0;
      resolveRegistered();
    } catch (error) {
      if (error instanceof ClusterAuthError) {
        stopped = true;
        rejectRegistered(error);
        options.onFatal(error);
        return;
      }
      if (failures++ === 0) options.log?.warn(`heartbeat failed: ${(error as Error).message}`);
    }
    if (!stopped) timer = setTimeout(() => (ticking = tick()), options.heartbeatMs);
  }

  ticking = tick();
  return {
    registered,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await ticking?.catch(() => {});
      await send('draining').catch(() => {});
    },
  };
}
