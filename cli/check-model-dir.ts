import { inspectModelDir, type ModelSummary } from '../platform/models/validate-model.js';
import { CliError } from './cli-error.js';
import type { FunctionDir } from './function-dir.js';

/**
 * Refuses a model the control plane would refuse, before anything is hashed or uploaded: the server checks
 * the same things only after the blobs are stored, so a bad model caught there leaves orphan blobs behind.
 * Uses the validators the server uses (config.json against every safetensors header, truncation included,
 * tokenizer.json against the vocabulary, every count within the shared model limits).
 */
export async function checkModelDir(fn: FunctionDir): Promise<ModelSummary> {
  const check = await inspectModelDir(fn.modelDir);
  if (!check.ok) throw new CliError(`invalid model in ${fn.modelDir}: ${check.problems.map((p) => p.message).join('; ')}`);
  const limit = fn.manifest.context_length;
  const maxPositions = check.summary.config.maxPositionEmbeddings;
  if (limit !== null && limit > maxPositions) {
    throw new CliError(`context_length: ${limit} exceeds the model's max_position_embeddings ${maxPositions}`);
  }
  return check.summary;
}
