import type { NodeRuntime, ResidencyTier } from '../../protocol/node-runtime.js';
import { chooseRoute } from '../../protocol/routing/route.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/**
 * Picks the node that serves a request for a model. Preference follows the invoke path in ARCHITECTURE.md:
 * a node where the model is on a GPU, then one holding it in host memory, then the least loaded node (the
 * routing core, protocol/routing/route.ts, without spreading). A node that does not answer comes last.
 */
export interface Router {
  pick(weightsDigest: WeightsDigest): Promise<NodeRuntime>;
  /** Every node, for residency reports. */
  readonly nodes: readonly NodeRuntime[];
}

const TIER_RANK: Readonly<Record<ResidencyTier, number>> = { gpu: 0, host: 1, store: 2 };

export function createRouter(options: { readonly nodes: readonly NodeRuntime[] }): Router {
  const nodes = options.nodes;
  if (nodes.length === 0) throw new Error('router needs at least one node');
  return {
    nodes,
    async pick(weightsDigest) {
      // One node (local mode) needs no residency round trip on the hot path.
      if (nodes.length === 1) return nodes[0]!;
      const scored = await Promise.all(nodes.map((node) => score(node, weightsDigest)));
      return nodes[chooseRoute(scored, { kind: 'none' })!.index]!;
    },
  };
}

async function score(node: NodeRuntime, weightsDigest: WeightsDigest): Promise<{ tier: number; load: number }> {
  const models = await node.residency().catch(() => undefined);
  if (!models) return { tier: Number.POSITIVE_INFINITY, load: Number.POSITIVE_INFINITY };
  const own = models.find((m) => m.weightsDigest === weightsDigest);
  const load = models.reduce((sum, m) => sum + m.queued + m.running, 0);
  return { tier: own ? TIER_RANK[own.tier] : TIER_RANK.store, load };
}
