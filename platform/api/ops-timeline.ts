import type { NodeRuntime } from '../../protocol/node-runtime.js';
import type { NodeTimeline } from '../../protocol/timeline-types.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { ClusterTimeline } from './ops-timeline-types.js';

export type { ClusterTimeline } from './ops-timeline-types.js';

/** The default look-back of a first read: what the Gantt chart shows (5 minutes). */
export const DEFAULT_TIMELINE_LOOKBACK_MS = 5 * 60_000;

/** `since` as epoch ms: absent means the last 5 minutes; anything else must be a non-negative number. */
export function parseSince(raw: unknown, nowMs: number): number {
  if (raw === undefined || raw === '') return nowMs - DEFAULT_TIMELINE_LOOKBACK_MS;
  const since = typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (!Number.isFinite(since) || since < 0) {
    throw new TidepoolError('invalid_parameter', `since: must be a time in epoch milliseconds (a non-negative number), got ${JSON.stringify(raw)}`, {
      param: 'since',
    });
  }
  return since;
}

/** Every node's timeline since `sinceMs` (the same instant for all nodes), asked in parallel. */
export async function readClusterTimeline(nodes: readonly NodeRuntime[], sinceMs: number): Promise<ClusterTimeline> {
  return readWithCursors(nodes, () => sinceMs);
}

async function readWithCursors(nodes: readonly NodeRuntime[], sinceOf: (nodeId: string) => number): Promise<ClusterTimeline> {
  const answers = await Promise.all(
    nodes.map(async (node) => {
      if (!node.timeline) return { nodeId: node.nodeId, message: 'this node keeps no timeline' };
      try {
        return await node.timeline(sinceOf(node.nodeId));
      } catch (error) {
        return { nodeId: node.nodeId, message: (error as Error).message };
      }
    }),
  );
  return {
    nowMs: Date.now(),
    nodes: answers.filter((a): a is NodeTimeline => 'spans' in a),
    unavailable: answers.filter((a): a is { nodeId: string; message: string } => 'message' in a),
  };
}

/**
 * Reads that return each span once across polls. Each node is asked from a little before the last span
 * seen (its own clock, so skew between machines does not matter) and spans already sent are dropped by
 * their `seq`; a span that ends later than anything seen is always new, which also covers a restarted
 * node whose `seq` began again at 1.
 */
export class TimelineCursor {
  private readonly seen = new Map<string, { readonly seq: number; readonly endMs: number }>();

  constructor(private readonly firstSinceMs: number) {}

  async next(nodes: readonly NodeRuntime[]): Promise<ClusterTimeline> {
    // Slack for entries that end in the same millisecond as the last one seen.
    const read = await readWithCursors(nodes, (nodeId) => {
      const last = this.seen.get(nodeId);
      return last ? last.endMs - 1_000 : this.firstSinceMs;
    });
    const fresh = read.nodes.map((node) => {
      const last = this.seen.get(node.nodeId);
      const spans = last ? node.spans.filter((s) => s.seq > last.seq || s.endMs > last.endMs) : node.spans;
      const newest = node.spans.at(-1);
      if (newest) this.seen.set(node.nodeId, { seq: newest.seq, endMs: newest.endMs });
      return { ...node, spans };
    });
    return { ...read, nodes: fresh };
  }
}
