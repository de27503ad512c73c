import type { SchedulerPolicy } from '../policy.js';
import type { PolicyName } from '../types.js';
import { createAegaeonUnifiedPolicy } from './aegaeon-unified.js';
import { createPinnedPolicy } from './pinned.js';
import { createRequestLevelPolicy } from './request-level.js';
import { createTidepoolPolicy } from './tidepool.js';

/**
 * A fresh policy object for one GPU (policies may hold per-GPU state, so never share one between GPUs).
 * `aegaeon` has none: it is a split of the GPUs into prefill and decode instances, each with its own policy
 * (aegaeon-prefill.ts, aegaeon-decode.ts), which runtime/sim/disaggregated-cluster.ts builds.
 */
export function createPolicy(name: PolicyName): SchedulerPolicy {
  switch (name) {
    case 'tidepool':
      return createTidepoolPolicy();
    case 'aegaeon':
      throw new Error(
        "aegaeon runs disaggregated prefill and decode instances, not one policy per GPU: use aegaeon-unified on a GPU, or the simulator's disaggregated cluster",
      );
    case 'aegaeon-unified':
      return createAegaeonUnifiedPolicy();
    case 'request-level':
      return createRequestLevelPolicy(false);
    case 'request-level+srtf':
      return createRequestLevelPolicy(true);
    case 'static-colocation':
    case 'dedicated':
      return createPinnedPolicy(name);
    default:
      throw new Error(`unknown policy ${String(name)}`);
  }
}
