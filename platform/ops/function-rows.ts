import type { InvocationWindowStats } from '../db/repositories/invocation-repository.js';
import type { FunctionSummary } from '../db/repositories/function-repository.js';
import type { NodeSnapshot } from './node-snapshot.js';
import type { OpsFunction, OpsTier } from './ops-types.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

const TIER_RANK: Readonly<Record<OpsTier, number>> = { gpu: 0, host: 1, store: 2 };
/** Manifest defaults (docs/cli.md), for a version whose manifest lacks an `slo` block. */
const DEFAULT_SLO = { ttft_ms: 10_000, tpot_ms: 100 };

/**
 * One row per deployed function: catalog facts (active version, SLO), where its active weights are at best,
 * live load summed over nodes, and the recent window's SLO attainment and median latencies. Pure: the
 * inputs are read by the caller.
 */
export function functionRows(catalog: readonly FunctionSummary[], nodes: readonly NodeSnapshot[], recent: readonly InvocationWindowStats[]): OpsFunction[] {
  const windowByName = new Map(recent.map((row) => [row.functionName, row]));
  return catalog.map((fn) => {
    const weightsDigest = fn.active?.weightsDigest;
    const load = loadOf(fn.name, nodes);
    const window = windowByName.get(fn.name);
    return {
      name: fn.name,
      version: fn.activeVersion,
      tier: weightsDigest === undefined ? 'store' : bestTier(weightsDigest, nodes),
      slo: sloOf(fn.active?.manifest),
      attainment: window && window.judged > 0 ? window.met / window.judged : null,
      invocations5m: window?.invocations ?? 0,
      ttftP50Ms: window?.ttftP50Ms ?? null,
      tpotP50Ms: window?.tpotP50Ms ?? null,
      queueDepth: load.queued,
      running: load.running,
    };
  });
}

function bestTier(weightsDigest: WeightsDigest, nodes: readonly NodeSnapshot[]): OpsTier {
  let best: OpsTier = 'store';
  for (const snapshot of nodes) {
    for (const model of snapshot.residency) {
      if (model.weightsDigest === weightsDigest && TIER_RANK[model.tier] < TIER_RANK[best]) best = model.tier;
    }
  }
  return best;
}

/** Requests of the function on every node, whatever version they run; a node's stats win over its residency. */
function loadOf(functionName: string, nodes: readonly NodeSnapshot[]): { queued: number; running: number } {
  let queued = 0;
  let running = 0;
  for (const snapshot of nodes) {
    const counts = snapshot.stats?.functions ?? snapshot.residency;
    for (const model of counts) {
      if (model.functionName !== functionName) continue;
      queued += model.queued;
      running += model.running;
    }
  }
  return { queued, running };
}

function sloOf(manifest: unknown): OpsFunction['slo'] {
  const slo = (manifest as { slo?: { ttft_ms?: unknown; tpot_ms?: unknown } } | undefined)?.slo;
  return {
    ttft_ms: typeof slo?.ttft_ms === 'number' ? slo.ttft_ms : DEFAULT_SLO.ttft_ms,
    tpot_ms: typeof slo?.tpot_ms === 'number' ? slo.tpot_ms : DEFAULT_SLO.tpot_ms,
  };
}
