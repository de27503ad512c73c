/**
 * Which scheduling policies a node can run. Every policy name runs in the simulator (`tidepool plan`, the
 * pool benchmark); three of them are cluster-wide plans that only the simulator carries out, so a node's
 * configuration refuses them with the reason given here. Pure data.
 */
export const SIMULATOR_ONLY_POLICIES: Readonly<Record<string, string>> = Object.freeze({
  aegaeon:
    'the published Aegaeon runs disaggregated prefill and decode instances across GPUs, which only the simulator builds; a node runs its single-GPU variant, aegaeon-unified',
  'static-colocation': "its placement (which models share which GPU, planned from every function's rate) exists only in the simulator",
  dedicated: 'its placement (GPUs given to functions by rate) exists only in the simulator',
});

/** Why a node cannot run `policy`, or undefined when it can (unknown names are the caller's to report). */
export function simulatorOnlyReason(policy: string): string | undefined {
  return Object.hasOwn(SIMULATOR_ONLY_POLICIES, policy) ? SIMULATOR_ONLY_POLICIES[policy] : undefined;
}
