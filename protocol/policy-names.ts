import { simulatorOnlyReason } from './policy-scope.js';

/** Every scheduling policy the simulator runs; `NODE_POLICY_NAMES` are those a node runs (policy-scope.ts). */
export type PolicyName = 'tidepool' | 'aegaeon' | 'aegaeon-unified' | 'request-level' | 'request-level+srtf' | 'static-colocation' | 'dedicated';

export const POLICY_NAMES: readonly PolicyName[] = [
  'tidepool',
  'aegaeon',
  'aegaeon-unified',
  'request-level',
  'request-level+srtf',
  'static-colocation',
  'dedicated',
];

export const NODE_POLICY_NAMES: readonly PolicyName[] = POLICY_NAMES.filter((p) => simulatorOnlyReason(p) === undefined);
