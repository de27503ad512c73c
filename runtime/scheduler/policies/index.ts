import type { SchedulerPolicy } from '../policy.js';
import type { PolicyName } from '../types.js';
import { createTidepoolPolicy } from './tidepool.js';

/** A fresh policy object (policies may hold per-GPU state, so never share one between GPUs). */
export function createPolicy(name: PolicyName): SchedulerPolicy {
  switch (name) {
    case 'tidepool':
      return createTidepoolPolicy();
    default:
      throw new Error(`policy ${name} is not available yet`);
  }
}
