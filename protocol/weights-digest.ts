// The identity of a model's weights: the artifact digest every layer keys the model by (host pool, GPU slots,
// scheduler, engine, routing). A branded string, so a function name, a file digest or any other text cannot
// be passed where the weights' identity is meant; one constructor checks its form where it comes in.
import { TidepoolError } from './errors.js';

declare const weightsDigestBrand: unique symbol;

export type WeightsDigest = string & { readonly [weightsDigestBrand]: true };

const FORM = /^sha256:[0-9a-f]{64}$/;

/** `sha256:<64 lowercase hex>` over the artifact's file list (platform/functions/artifact.ts). */
export function isWeightsDigest(value: unknown): value is WeightsDigest {
  return typeof value === 'string' && FORM.test(value);
}

/** Checks text from outside (a request body, a stored row, a manifest) and brands it. */
export function parseWeightsDigest(value: unknown, field: string): WeightsDigest {
  if (!isWeightsDigest(value)) throw new TidepoolError('invalid_parameter', `${field}: must be a weights digest, sha256:<64 hex digits>`, { param: field });
  return value;
}

/**
 * The simulator's models have no weight files, so none has a digest: each is known by `<shape>/<name>`,
 * which stands in for one wherever the scheduler and the router key a model, and never reaches an engine.
 */
export function simulatedWeightsDigest(shape: string, name: string): WeightsDigest {
  return `${shape}/${name}` as WeightsDigest;
}
