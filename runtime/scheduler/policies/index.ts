import type { SchedulerPolicy } from '../policy.js';
import type { PolicyName } from '../types.js';
import { createAegaeonPolicy } from './aegaeon.js';
import { createPinnedPolicy } from './pinned.js';
import { createRequestLevelPolicy } from './request-level.js';
import { createTidepoolPolicy } from './tidepool.js';

/** A fresh policy object (policies may hold per-GPU state, so never share one between GPUs). */
export function createPolicy(name: PolicyName): SchedulerPolicy {
  switch (name) {
    case 'tidepool':
      return createTidepoolPolicy();
    case 'aegaeon':
      return createAegaeonPolicy();
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
