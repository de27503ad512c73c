import type { SamplingParams } from '../../protocol/sampling.js';

/**
 * The parameters an invocation ran with, as its record keeps them (`invocations.params`): the complete
 * sampling record, its automaton reduced to the hash, and the request's other features (endpoint, n, response
 * format, tools). Stop strings are kept: they are the caller's, like the prompt they are not logged with.
 */
export function recordedParams(sampling: SamplingParams, features: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const { grammar, ...rest } = sampling;
  return { ...features, sampling: { ...rest, grammar: grammar?.hash ?? null } };
}
