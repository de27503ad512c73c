/** The scheduler policies a node (and the simulator) can run; `TIDEPOOL_SCHEDULER_POLICY` takes one. */
export type PolicyName =
  | 'tidepool'
  | 'aegaeon'
  | 'request-level'
  | 'request-level+srtf'
  | 'static-colocation'
  | 'dedicated';

export const POLICY_NAMES: readonly PolicyName[] = [
  'tidepool',
  'aegaeon',
  'request-level',
  'request-level+srtf',
  'static-colocation',
  'dedicated',
];
